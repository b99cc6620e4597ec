package federation

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Sharing modes of a member's early warnings.
const (
	// ShareImmediate pushes a member's external observables as soon as
	// they are detected (at the alert's TLP level, under its agreements).
	ShareImmediate = "immediate"
	// ShareCorroborated sends them to the hub as pseudonyms only, and
	// releases a value when the hub reports that members in another
	// country saw it too.
	ShareCorroborated = "corroborated"
)

// DefaultCorroborationMembers is how many members must have seen a
// pseudonym (in at least two countries) before the hub asks for its
// release, unless the hub is configured otherwise.
const DefaultCorroborationMembers = 2

// CorroborationSchema is the corroborated release's tables. At a member
// node: each member's sharing mode, and the values withheld as
// pseudonyms, one row per pseudonym (a value sent during the overlap
// after a key rotation has two). At the hub: who reported which
// pseudonym, and the pseudonyms that were corroborated.
func CorroborationSchema() store.Schema {
	return store.Schema{Owner: "federation-corroboration", Migrations: []string{
		`CREATE TABLE federation_sharing (
			member TEXT PRIMARY KEY,
			mode TEXT NOT NULL,
			updated BIGINT NOT NULL
		);
		CREATE TABLE federation_pending (
			pseudonym TEXT NOT NULL,
			member TEXT NOT NULL,
			epoch BIGINT NOT NULL,
			tlp INTEGER NOT NULL,
			type TEXT NOT NULL,
			value TEXT NOT NULL,
			alert TEXT NOT NULL,
			reported BIGINT NOT NULL,
			released BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (pseudonym, member)
		);
		CREATE INDEX IF NOT EXISTS federation_pending_value ON federation_pending (member, type, value);
		CREATE TABLE federation_sightings (
			pseudonym TEXT NOT NULL,
			node TEXT NOT NULL,
			sender TEXT NOT NULL,
			country TEXT NOT NULL,
			type TEXT NOT NULL,
			epoch BIGINT NOT NULL,
			withheld INTEGER NOT NULL,
			seen BIGINT NOT NULL,
			asked BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (pseudonym, node, sender)
		);
		CREATE INDEX IF NOT EXISTS federation_sightings_seen ON federation_sightings (seen);
		CREATE TABLE federation_corroborated (
			pseudonym TEXT PRIMARY KEY,
			members INTEGER NOT NULL,
			countries INTEGER NOT NULL,
			reached BIGINT NOT NULL
		)`,
	}}
}

// ErrBadSharing: a sharing mode that cannot be set.
var ErrBadSharing = errors.New("federation: sharing mode not valid")

// Sharing keeps the sharing mode of each member of a member node in its
// store. A member without one shares immediately (ShareImmediate): its
// alerts' TLP level is already its decision of who may have them, and
// an early warning helps only if it arrives before the threat does.
type Sharing struct {
	DB      *store.DB
	Members *member.Registry
}

// SharingMode is one member's sharing mode.
type SharingMode struct {
	Member  string    `json:"member"`
	Share   string    `json:"share"`
	Updated time.Time `json:"updated,omitzero"`
}

// Set records a member's sharing mode.
func (s *Sharing) Set(ctx context.Context, memberID, mode string) (SharingMode, error) {
	if mode != ShareImmediate && mode != ShareCorroborated {
		return SharingMode{}, fmt.Errorf("%w: %q; want %s or %s", ErrBadSharing, mode, ShareImmediate, ShareCorroborated)
	}
	if _, err := s.Members.Get(ctx, memberID); err != nil {
		return SharingMode{}, fmt.Errorf("%w: member %s: %v", ErrBadSharing, memberID, err)
	}
	m := SharingMode{Member: memberID, Share: mode, Updated: time.Now().UTC()}
	_, err := s.DB.Exec(ctx, `INSERT INTO federation_sharing (member, mode, updated) VALUES (?, ?, ?)
		ON CONFLICT (member) DO UPDATE SET mode = excluded.mode, updated = excluded.updated`, memberID, mode, store.Nanos(m.Updated))
	return m, err
}

// Mode returns a member's sharing mode.
func (s *Sharing) Mode(ctx context.Context, memberID string) (string, error) {
	var mode string
	err := s.DB.QueryRow(ctx, `SELECT mode FROM federation_sharing WHERE member = ?`, memberID).Scan(&mode)
	if store.NotFound(err) {
		return ShareImmediate, nil
	}
	return mode, err
}

// List returns every member's sharing mode.
func (s *Sharing) List(ctx context.Context) ([]SharingMode, error) {
	ms, err := s.Members.List(ctx)
	if err != nil {
		return nil, err
	}
	set := map[string]SharingMode{}
	rows, err := s.DB.Query(ctx, `SELECT member, mode, updated FROM federation_sharing`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var m SharingMode
		var at int64
		if err := rows.Scan(&m.Member, &m.Share, &at); err != nil {
			return nil, err
		}
		m.Updated = store.Time(at)
		set[m.Member] = m
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := []SharingMode{}
	for _, m := range ms {
		sm, ok := set[m.ID]
		if !ok {
			sm = SharingMode{Member: m.ID, Share: ShareImmediate}
		}
		out = append(out, sm)
	}
	slices.SortFunc(out, func(a, b SharingMode) int { return strings.Compare(a.Member, b.Member) })
	return out, nil
}

// Sighted is an external observable of a warning as pseudonyms: its type
// and its pseudonym in each epoch given (two during the overlap after a
// rotation of the key).
type Sighted struct {
	Type       string           `json:"type"`
	Pseudonyms []EpochPseudonym `json:"pseudonyms"`
}

// report reports whether a warning carries pseudonyms only: a member in
// corroborated mode telling the hub what it saw, for the hub alone.
func (w *Warning) report() bool {
	return len(w.Bundle) == 0 && len(w.Revoke) == 0 && len(w.Pseudonyms) > 0
}

// checkSighted validates the pseudonyms of a warning.
func checkSighted(list []Sighted) error {
	if len(list) > maxWarningIndicators {
		return refuse(reasonMalformed, "%d pseudonymised observables", len(list))
	}
	for _, s := range list {
		if _, _, ok := kindOfObservable(s.Type); !ok {
			return refuse(reasonMalformed, "pseudonym of a %q", s.Type)
		}
		if len(s.Pseudonyms) == 0 || len(s.Pseudonyms) > 2 {
			return refuse(reasonMalformed, "%d pseudonyms for one observable", len(s.Pseudonyms))
		}
		for _, p := range s.Pseudonyms {
			if !validPseudonym(p.Value) || p.Epoch < 0 {
				return refuse(reasonMalformed, "pseudonym %q of epoch %d", p.Value, p.Epoch)
			}
		}
	}
	return nil
}

// validPseudonym: 32 lower-case hex digits.
func validPseudonym(s string) bool {
	if len(s) != 32 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// sightedOf returns the pseudonyms of the external observables of
// alerts, once per observable.
func sightedOf(p *Pseudonymiser, alerts []*alert.Alert) []Sighted {
	var out []Sighted
	seen := map[string]bool{}
	for _, a := range alerts {
		for _, o := range a.Observables {
			if !Pushable(a, o) {
				continue
			}
			ps, typ := p.PseudonymsAt(pseudonymTime(a), o.Type, o.Value)
			if seen[typ+"|"+ps[0].Value] {
				continue
			}
			seen[typ+"|"+ps[0].Value] = true
			out = append(out, Sighted{Type: typ, Pseudonyms: ps})
		}
	}
	return out
}

// pendingValue is one external observable a member in corroborated mode
// withholds: its pseudonyms, and the alert state it came in (reduced to
// that observable) for the warning that releases it.
type pendingValue struct {
	typ, value string
	pseudonyms []EpochPseudonym
	alert      alert.Alert
}

// corroborated builds the messages of a group of a member in corroborated
// mode: a report of the pseudonyms of the values not released yet (the
// values stay here, in federation_pending), and an ordinary warning for
// those released before, which other members have seen already.
func (w *Warner) corroborated(ctx context.Context, g *group) ([]outgoing, error) {
	mem, partners, ok, err := w.sender(ctx, g)
	if !ok || err != nil {
		return nil, err
	}
	var pending []pendingValue
	var released []*alert.Alert
	seen := map[string]bool{}
	for _, a := range g.alerts {
		for _, o := range a.Observables {
			if !Pushable(a, o) {
				continue
			}
			typ, value := canonical(o.Type, o.Value)
			if seen[typ+"|"+value] {
				continue
			}
			seen[typ+"|"+value] = true
			one := alert.Alert{ID: a.ID, Count: a.Count, EventTime: a.EventTime, LastSeen: a.LastSeen, Detected: a.Detected,
				Severity: a.Severity, Techniques: a.Techniques, Observables: []alert.Observable{o}}
			var n int
			if err := w.cfg.DB.QueryRow(ctx, `SELECT COUNT(*) FROM federation_pending WHERE member = ? AND type = ? AND value = ? AND released > 0`,
				g.member, typ, value).Scan(&n); err != nil {
				return nil, err
			}
			if n > 0 {
				released = append(released, &one)
				continue
			}
			ps, _ := w.cfg.Pseudonyms.PseudonymsAt(pseudonymTime(a), o.Type, o.Value)
			pending = append(pending, pendingValue{typ: typ, value: value, pseudonyms: ps, alert: one})
		}
	}
	if err := w.withhold(ctx, g.member, g.level, pending); err != nil {
		return nil, err
	}
	var out []outgoing
	for start, i := 0, 0; start < len(pending); start, i = start+maxWarningIndicators, i+1 {
		chunk := pending[start:min(start+maxWarningIndicators, len(pending))]
		var sighted []Sighted
		for _, p := range chunk {
			sighted = append(sighted, Sighted{Type: p.typ, Pseudonyms: p.pseudonyms})
		}
		o, err := w.seal(Warning{
			ID: warningID(w.cfg.Identity.Name, append([]string{"corroborate", strconv.Itoa(i)}, g.states...)), Node: w.cfg.Identity.Name,
			Sender: w.memberHandle(g.member), Country: mem.Country, Sector: mem.Sector, TLP: g.level,
			Created: time.Now().UTC(), Partners: partners, Pseudonyms: sighted,
		})
		if err != nil {
			return nil, err
		}
		o.reported = len(sighted)
		out = append(out, o)
	}
	if len(released) > 0 {
		more, err := w.warnings(ctx, &group{member: g.member, level: g.level, alerts: released,
			states: append([]string{"released"}, g.states...)})
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// withhold stores the values a member withholds, before their pseudonyms
// leave: when the hub asks for one, it is here.
func (w *Warner) withhold(ctx context.Context, memberID string, level tlp.Level, values []pendingValue) error {
	if len(values) == 0 {
		return nil
	}
	now := store.Nanos(time.Now())
	err := w.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		for _, v := range values {
			data, err := json.Marshal(&v.alert)
			if err != nil {
				return err
			}
			for _, p := range v.pseudonyms {
				if _, err := tx.Exec(ctx, `INSERT INTO federation_pending (pseudonym, member, epoch, tlp, type, value, alert, reported)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pseudonym, member) DO UPDATE SET
					tlp = excluded.tlp, alert = excluded.alert, reported = excluded.reported`,
					p.Value, memberID, p.Epoch, int(level), v.typ, v.value, string(data), now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.countPending(ctx)
	return nil
}

// countPending sets the gauge of values withheld awaiting corroboration.
func (w *Warner) countPending(ctx context.Context) {
	if n, err := pendingValues(ctx, w.cfg.DB, time.Now()); err == nil {
		w.cfg.Metrics.corr.pending.Set(float64(n))
	}
}

// pendingValues counts the values a member node withholds awaiting
// corroboration: reported within the last seven days (the hub forgets
// older sightings) and not released.
func pendingValues(ctx context.Context, db *store.DB, now time.Time) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT DISTINCT member, type, value FROM federation_pending
		WHERE released = 0 AND reported >= ?) p`, store.Nanos(now.Add(-maxWarningAge))).Scan(&n)
	return n, err
}

// maxReleasePseudonyms bounds the pseudonyms of one release request.
const maxReleasePseudonyms = 1000

// Release releases the values the hub asks for (by pseudonym): each
// member in corroborated mode that withholds one sends it as an ordinary
// signed warning, at the level and under the agreements it has now.
// A value its member's policy no longer lets leave (AMBER without an
// agreement, a member since removed) stays home. Releasing again what
// was released changes nothing.
func (w *Warner) Release(ctx context.Context, pseudonyms []string) error {
	if len(pseudonyms) == 0 {
		return nil
	}
	args := make([]any, len(pseudonyms))
	for i, p := range pseudonyms {
		args[i] = p
	}
	rows, err := w.cfg.DB.Query(ctx, `SELECT member, tlp, type, value, alert FROM federation_pending WHERE released = 0 AND pseudonym IN (?`+
		strings.Repeat(", ?", len(pseudonyms)-1)+`) ORDER BY member, tlp, type, value`, args...)
	if err != nil {
		return err
	}
	type key struct {
		member string
		level  tlp.Level
	}
	groups := map[key]*group{}
	var order []key
	values := map[key][]pendingValue{}
	seen := map[string]bool{}
	for rows.Next() {
		var memberID, typ, value, raw string
		var level int
		if err := rows.Scan(&memberID, &level, &typ, &value, &raw); err != nil {
			rows.Close()
			return err
		}
		if seen[memberID+"|"+typ+"|"+value] {
			continue
		}
		seen[memberID+"|"+typ+"|"+value] = true
		var a alert.Alert
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			continue
		}
		a.Member, a.TLP = memberID, tlp.Level(level)
		k := key{memberID, tlp.Level(level)}
		g := groups[k]
		if g == nil {
			g = &group{member: memberID, level: k.level, states: []string{"release"}}
			groups[k] = g
			order = append(order, k)
		}
		g.alerts = append(g.alerts, &a)
		g.states = append(g.states, typ+"|"+value)
		values[k] = append(values[k], pendingValue{typ: typ, value: value})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// released: 1 and later the time of release; -1 declined (the value
	// stays home, and later sightings are reported as pseudonyms again).
	outcome := map[key]int64{}
	for _, k := range order {
		g := groups[k]
		outcome[k] = -1
		if w.cfg.Member(g.member).Country == "" || !w.mayWarn(&alert.Alert{TLP: g.level, Observables: g.alerts[0].Observables}) {
			w.cfg.Log.Info("federation: corroborated values stay home: the member's policy no longer lets them leave", "member", g.member, "values", len(g.alerts))
			w.cfg.Metrics.corr.declined.Add(float64(len(g.alerts)))
			continue
		}
		out, err := w.warnings(ctx, g)
		if err != nil {
			return err
		}
		if len(out) == 0 {
			w.cfg.Metrics.corr.declined.Add(float64(len(g.alerts)))
			continue
		}
		for _, o := range out {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := w.fed.PublishMsg(pctx, o.msg, jetstream.WithMsgID(o.id))
			cancel()
			if err != nil {
				return err
			}
			w.cfg.Metrics.sent.Add(float64(o.indicators))
		}
		outcome[k] = store.Nanos(time.Now())
		w.cfg.Metrics.corr.released.Add(float64(len(g.alerts)))
		w.cfg.Log.Info("federation: corroborated values released", "member", g.member, "values", len(g.alerts))
	}
	err = w.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		for _, k := range order {
			for _, v := range values[k] {
				if _, err := tx.Exec(ctx, `UPDATE federation_pending SET released = ? WHERE member = ? AND type = ? AND value = ?`,
					outcome[k], k.member, v.typ, v.value); err != nil {
					return err
				}
			}
		}
		return nil
	})
	w.countPending(ctx)
	return err
}
