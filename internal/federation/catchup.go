package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/store"
)

// Catch-up. A hub routes each warning by the directories it holds when
// the warning comes, so a node whose directory arrives later — a node
// that joins, a member hub announcing itself, a member added to a node,
// a directory relayed up from below a member hub — would miss what came
// before. The hub therefore holds every warning it accepted until it
// expires (federation_held, in its store: it is written in the same
// transaction as the forwards' audit, queried by expiry and by what each
// node was sent, and survives a restart), and whenever a node's
// directory arrives it sends that node, in the order it accepted them,
// the held warnings the node may receive now (TLP and agreements
// checked as for a live forward) and was not forwarded before
// (federation_forwards, which records each forward once). Indicators
// their origin revoked are left out (withheld, as a refused indicator
// is, so the origin's signature still verifies); a revocation goes in a
// catch-up only to a node that was sent an indicator it revokes. A
// warning the receivers would refuse as stale is not held longer than
// they take one (maxWarningAge), nor past its last indicator's expiry.
const (
	// maxHeld bounds the warnings a hub holds; past it the oldest go.
	maxHeld = 100000
	// catchUpPage is how many held warnings a catch-up reads, sends and
	// audits at a time.
	catchUpPage = 128
	// pruneEvery is how often expired held warnings are deleted.
	pruneEvery = time.Hour
	// catchUpReason prefixes the audited reason of a catch-up forward.
	catchUpReason = "catch-up: "
	// kindWiden marks the forward of a TLP:AMBER warning to a node that
	// was sent it before for fewer of its members: it names them all,
	// and the node applies it again for them (a warning taken before is
	// otherwise refused as a replay).
	kindWiden = "widen"
)

// widenID is the message id of a widening forward: one per warning and
// set of members, so that the inbox's duplicate window drops a repeat
// and not a forward for more members.
func widenID(warning string, members []string) string {
	sum := sha256.Sum256([]byte(strings.Join(members, ",")))
	return warning + ".w" + hex.EncodeToString(sum[:6])
}

// heldSchema is the migration that creates the catch-up's tables at a
// hub: the warnings held, and the indicators their origins revoked.
const heldSchema = `CREATE TABLE federation_held (
		warning TEXT PRIMARY KEY,
		ord BIGINT NOT NULL,
		origin_node TEXT NOT NULL,
		from_node TEXT NOT NULL,
		upstream INTEGER NOT NULL,
		path TEXT NOT NULL,
		recipients TEXT NOT NULL,
		indicators TEXT NOT NULL,
		cert TEXT NOT NULL,
		signature TEXT NOT NULL,
		body TEXT NOT NULL,
		expires BIGINT NOT NULL
	);
	CREATE INDEX IF NOT EXISTS federation_held_ord ON federation_held (ord);
	CREATE INDEX IF NOT EXISTS federation_held_expires ON federation_held (expires);
	CREATE TABLE federation_revoked (
		indicator_id TEXT NOT NULL,
		origin_node TEXT NOT NULL,
		expires BIGINT NOT NULL,
		PRIMARY KEY (indicator_id, origin_node)
	)`

// heldUntil is how long a hub holds a warning: until its last indicator
// expires (a revocation: as long as a warning may travel), and no longer
// than receivers take a warning.
func heldUntil(w *Warning, items []Item) time.Time {
	limit := w.Created.Add(maxWarningAge)
	if len(w.Bundle) == 0 {
		return limit
	}
	var last time.Time
	for _, it := range items {
		if it.ValidUntil.After(last) {
			last = it.ValidUntil
		}
	}
	if last.Before(limit) {
		return last
	}
	return limit
}

// hold keeps a warning the hub accepted for later catch-ups, and the
// indicators a revocation withdraws; ord orders it among the others.
func (r *relay) hold(ctx context.Context, tx *store.Tx, p *pending, ord int64) error {
	if p.origin == nil || p.w.report() {
		return nil
	}
	conflict := `DO NOTHING`
	if p.widened {
		conflict = `DO UPDATE SET recipients = excluded.recipients`
	}
	if _, err := tx.Exec(ctx, `INSERT INTO federation_held (warning, ord, origin_node, from_node, upstream, path, recipients,
		indicators, cert, signature, body, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (warning) `+conflict,
		p.w.ID, ord, p.w.Node, p.from.node, boolInt(p.from.upstream), strings.Join(p.from.path, ","),
		strings.Join(p.from.recipients, ","), strings.Join(p.ids, ","), p.origin.Get(hdrCert), p.origin.Get(hdrSignature),
		string(p.body), store.Nanos(p.expires)); err != nil {
		return err
	}
	for _, id := range p.w.Revoke {
		if _, err := tx.Exec(ctx, `INSERT INTO federation_revoked (indicator_id, origin_node, expires) VALUES (?, ?, ?)
			ON CONFLICT (indicator_id, origin_node) DO NOTHING`, id, p.w.Node, store.Nanos(p.w.Created.Add(maxWarningAge))); err != nil {
			return err
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// noteRevoked remembers the indicators a revocation withdraws from the
// moment it is planned, before it is held: a catch-up that runs between
// its forward and its record must not send them.
func (r *relay) noteRevoked(w *Warning) {
	if len(w.Revoke) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range w.Revoke {
		r.revoking[w.Node+"/"+id] = time.Now()
	}
}

// wantCatchUp asks the catch-up loop to catch node up.
func (r *relay) wantCatchUp(node string) {
	r.mu.Lock()
	r.wanted[node] = true
	r.mu.Unlock()
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// dirStored notes that the directory through which node is reached
// changed; the relay's lock is held.
func (r *relay) dirStored(node string) {
	r.dirGen++
	r.dirAt[node] = r.dirGen
}

// generation is the count of directories stored so far.
func (r *relay) generation() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dirGen
}

// recheck catches up the nodes whose directory changed after a batch
// was routed (since gen): the batch's warnings were held only now, so
// a catch-up that ran in between did not see them.
func (r *relay) recheck(gen uint64) {
	r.mu.Lock()
	var nodes []string
	for n, g := range r.dirAt {
		if g > gen {
			nodes = append(nodes, n)
		}
	}
	r.mu.Unlock()
	for _, n := range nodes {
		r.wantCatchUp(n)
	}
}

// runCatchUp catches nodes up as their directories arrive, until ctx
// ends: at start every node the hub knows (what a crash left unsent),
// then each node asked for; and it prunes what expired.
func (r *relay) runCatchUp(ctx context.Context) {
	r.prune(ctx)
	r.mu.Lock()
	for n := range r.dirs {
		r.wanted[n] = true
	}
	r.mu.Unlock()
	pruned := time.Now()
	retry := minRetry
	for ctx.Err() == nil {
		r.mu.Lock()
		nodes := make([]string, 0, len(r.wanted))
		for n := range r.wanted {
			nodes = append(nodes, n)
		}
		clear(r.wanted)
		r.mu.Unlock()
		sort.Strings(nodes)
		failed := false
		for _, n := range nodes {
			if err := r.catchUp(ctx, n); err != nil {
				if ctx.Err() == nil {
					r.h.cfg.Log.Info("federation: catch-up not finished; trying again", "node", n, "err", err, "retry", retry)
				}
				r.mu.Lock()
				r.wanted[n] = true
				r.mu.Unlock()
				failed = true
			}
		}
		if time.Since(pruned) > pruneEvery {
			r.prune(ctx)
			pruned = time.Now()
		}
		if failed {
			sleep(ctx, retry)
			retry = min(2*retry, maxRetry)
			continue
		}
		retry = minRetry
		select {
		case <-r.poke:
		case <-time.After(pruneEvery):
		case <-ctx.Done():
		}
	}
}

// prune deletes held warnings and revocations that expired, and the
// oldest held warnings past maxHeld.
func (r *relay) prune(ctx context.Context) {
	now := store.Nanos(time.Now())
	err := r.h.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM federation_held WHERE expires <= ?`, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM federation_revoked WHERE expires <= ?`, now); err != nil {
			return err
		}
		var cut int64
		err := tx.QueryRow(ctx, `SELECT ord FROM federation_held ORDER BY ord DESC LIMIT 1 OFFSET ?`, maxHeld).Scan(&cut)
		if store.NotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM federation_held WHERE ord <= ?`, cut)
		return err
	})
	if err != nil && ctx.Err() == nil {
		r.h.cfg.Log.Warn("federation: expired warnings not pruned", "err", err)
	}
	r.mu.Lock()
	for k, at := range r.revoking {
		if time.Since(at) > 10*time.Minute {
			delete(r.revoking, k)
		}
	}
	r.mu.Unlock()
}

// heldRow is a held warning as read for a catch-up.
type heldRow struct {
	warning, fromNode, path, recipients string
	cert, signature, body               string
	ord                                 int64
	upstream                            bool
	// sentTo are the members of the node it was sent for, if it was.
	sentTo string
}

// catchUp sends node the held warnings it may receive now and was not
// forwarded before, oldest first, a page at a time.
func (r *relay) catchUp(ctx context.Context, node string) error {
	r.mu.Lock()
	direct := r.dirs[node] != nil
	r.mu.Unlock()
	if !direct {
		return nil // reached through a member hub: that hub is caught up
	}
	var afterOrd int64
	afterID := ""
	sent := 0
	for {
		rows, err := r.heldFor(ctx, node, afterOrd, afterID)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		n, err := r.sendPage(ctx, rows, func(h heldRow) (*pending, error) { return r.planCatchUp(ctx, node, h) })
		sent += n
		if err != nil {
			return err
		}
		last := rows[len(rows)-1]
		afterOrd, afterID = last.ord, last.warning
	}
	widened, err := r.widen(ctx, node)
	if sent+widened > 0 {
		r.h.cfg.Log.Info("federation: node caught up", "node", node, "warnings", sent, "for more members", widened)
	}
	return err
}

// widen sends node again, for all the members they name now, the held
// TLP:AMBER warnings it was sent for fewer of its members: a member
// added since that an agreement covers.
func (r *relay) widen(ctx context.Context, node string) (int, error) {
	var afterOrd int64
	afterID := ""
	sent := 0
	for {
		rows, err := r.sentFor(ctx, node, afterOrd, afterID)
		if err != nil || len(rows) == 0 {
			return sent, err
		}
		n, err := r.sendPage(ctx, rows, func(h heldRow) (*pending, error) {
			p, err := r.planCatchUp(ctx, node, h)
			if p == nil || err != nil {
				return nil, err
			}
			t := &p.sent[0]
			before := strings.Split(h.sentTo, ",")
			all := union(before, t.members)
			if len(all) == len(before) {
				return nil, nil
			}
			t.members, t.widen = all, true
			return p, nil
		})
		sent += n
		if err != nil {
			return sent, err
		}
		last := rows[len(rows)-1]
		afterOrd, afterID = last.ord, last.warning
	}
}

// union returns the members of a and b, sorted, each once.
func union(a, b []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(a), b...))))
}

// sentFor reads a page of the held TLP:AMBER warnings node was sent, for
// the members recorded, after the given position.
func (r *relay) sentFor(ctx context.Context, node string, afterOrd int64, afterID string) ([]heldRow, error) {
	return r.readHeld(ctx, `SELECT h.warning, h.ord, h.from_node, h.upstream, h.path, h.recipients, h.cert, h.signature, h.body, f.recipients
		FROM federation_held h JOIN federation_forwards f ON f.warning = h.warning AND f.recipient_node = ?
		WHERE h.expires > ? AND f.recipients <> '' AND (h.ord > ? OR h.ord = ? AND h.warning > ?)
		ORDER BY h.ord, h.warning LIMIT ?`, node, store.Nanos(time.Now()), afterOrd, afterOrd, afterID, catchUpPage)
}

// planWiden plans a widening forward from the upstream: to each node
// below this hub that the upstream names members of, the warning again
// for all of them if it was sent for fewer, or for the first time.
func (r *relay) planWiden(ctx context.Context, m jetstream.Msg, o opened, from hop) (*pending, error) {
	w := o.w
	sentTo := map[string][]string{}
	rows, err := r.h.cfg.DB.Query(ctx, `SELECT recipient_node, recipients FROM federation_forwards WHERE warning = ?`, w.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var node, list string
		if err := rows.Scan(&node, &list); err != nil {
			return nil, err
		}
		sentTo[node] = strings.Split(list, ",")
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	p := &pending{msg: m, origin: m.Headers(), body: o.body, path: from.path, from: from, w: w, indicators: len(o.items),
		gen: r.generation(), expires: heldUntil(&w, o.items), widened: true}
	for _, it := range o.items {
		p.ids = append(p.ids, it.ID)
	}
	for _, t := range r.named(&w, from.recipients) {
		if before, ok := sentTo[t.node]; ok {
			all := union(before, t.members)
			if len(all) == len(before) {
				continue
			}
			t.members, t.widen = all, true
		}
		p.targets = append(p.targets, t)
	}
	p.sent = p.targets
	return p, nil
}

// heldFor reads a page of the held warnings not yet forwarded to node
// and not expired, after the given position.
func (r *relay) heldFor(ctx context.Context, node string, afterOrd int64, afterID string) ([]heldRow, error) {
	return r.readHeld(ctx, `SELECT warning, ord, from_node, upstream, path, recipients, cert, signature, body, ''
		FROM federation_held h WHERE expires > ? AND (ord > ? OR ord = ? AND warning > ?)
		AND NOT EXISTS (SELECT 1 FROM federation_forwards f WHERE f.warning = h.warning AND f.recipient_node = ?)
		ORDER BY ord, warning LIMIT ?`, store.Nanos(time.Now()), afterOrd, afterOrd, afterID, node, catchUpPage)
}

// readHeld reads held warnings: q selects their columns, and last the
// members the node was sent one for.
func (r *relay) readHeld(ctx context.Context, q string, args ...any) ([]heldRow, error) {
	rows, err := r.h.cfg.DB.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []heldRow
	for rows.Next() {
		var h heldRow
		var up int
		if err := rows.Scan(&h.warning, &h.ord, &h.fromNode, &up, &h.path, &h.recipients, &h.cert, &h.signature, &h.body, &h.sentTo); err != nil {
			return nil, err
		}
		h.upstream = up != 0
		out = append(out, h)
	}
	return out, rows.Err()
}

// sendPage plans (with plan), sends and audits the forwards of a page of
// held warnings. Sending happens under the relay's send lock, so that a
// revocation routed live meanwhile either reaches the node after these
// warnings or is seen by them. It returns how many it sent.
func (r *relay) sendPage(ctx context.Context, rows []heldRow, plan func(heldRow) (*pending, error)) (int, error) {
	r.sendMu.Lock()
	var out []*pending
	var err error
	for _, h := range rows {
		var p *pending
		if p, err = plan(h); err != nil {
			break
		}
		if p != nil {
			r.send(p)
			out = append(out, p)
		}
	}
	r.sendMu.Unlock()
	var failed error
	for _, p := range out {
		r.await(ctx, p)
		if p.failed != nil && failed == nil {
			failed = p.failed
		}
	}
	now := store.Nanos(time.Now())
	if werr := r.h.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		for _, p := range out {
			for _, t := range p.sent {
				if err := r.audit(ctx, tx, p, t, now); err != nil {
					return err
				}
			}
		}
		return nil
	}); werr != nil {
		return 0, werr
	}
	n := 0
	for _, p := range out {
		n += len(p.sent)
	}
	return n, errors.Join(err, failed)
}

// planCatchUp decides whether a held warning goes to node now, and in
// what form: nil if node may not receive it (or no longer needs it).
func (r *relay) planCatchUp(ctx context.Context, node string, h heldRow) (*pending, error) {
	origin := nats.Header{}
	origin.Set(hdrCert, h.cert)
	origin.Set(hdrSignature, h.signature)
	now := time.Now()
	o, err := openWarning(r.verify, origin, []byte(h.body), now)
	if err != nil {
		return nil, nil // stale by now, or refused for good
	}
	from := hop{node: h.fromNode, upstream: h.upstream}
	if h.path != "" {
		from.path = strings.Split(h.path, ",")
	}
	if h.recipients != "" {
		from.recipients = strings.Split(h.recipients, ",")
	}
	targets, err := r.routes(&o.w, from)
	if err != nil {
		return nil, nil // no agreement covers it any more
	}
	i := slices.IndexFunc(targets, func(t target) bool { return t.node == node })
	if i < 0 {
		return nil, nil
	}
	t := targets[i]
	t.reason = catchUpReason + t.reason
	p := &pending{w: o.w, origin: origin, body: o.body, path: from.path, from: from, sent: []target{t}}
	if len(o.w.Bundle) == 0 {
		got, err := r.wasSent(ctx, node, o.w.Node, o.w.Revoke, h.ord)
		if err != nil || !got {
			return nil, err
		}
		p.indicators = len(o.w.Revoke)
		return p, nil
	}
	p.body, p.indicators, err = r.withoutRevoked(ctx, o, now)
	if err != nil || p.indicators == 0 {
		return nil, err
	}
	return p, nil
}

// wasSent reports whether node was forwarded an indicator of origin
// among ids before a revocation of them was held (at held): what a
// catch-up sent it later left them out.
func (r *relay) wasSent(ctx context.Context, node, origin string, ids []string, held int64) (bool, error) {
	rows, err := r.h.cfg.DB.Query(ctx, `SELECT h.indicators FROM federation_held h JOIN federation_forwards f ON f.warning = h.warning
		WHERE f.recipient_node = ? AND h.origin_node = ? AND f.forwarded < ?`, node, origin, held)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var list string
		if err := rows.Scan(&list); err != nil {
			return false, err
		}
		for _, id := range strings.Split(list, ",") {
			if slices.Contains(ids, id) {
				return true, nil
			}
		}
	}
	return false, rows.Err()
}

// withoutRevoked returns the body of a held warning without the
// indicators (and their sightings) its origin revoked since, and how
// many indicators it keeps.
func (r *relay) withoutRevoked(ctx context.Context, o opened, now time.Time) ([]byte, int, error) {
	revoked, err := r.revokedOf(ctx, o.w.Node, o.items)
	if err != nil || len(revoked) == 0 {
		return o.body, len(o.items), err
	}
	if len(revoked) >= len(o.items) {
		return nil, 0, nil
	}
	w, b, err := decodeWarning(o.body, now)
	if err != nil {
		return nil, 0, nil
	}
	keep := make([]bool, len(b.Objects))
	for i, raw := range b.Objects {
		var obj wireObject
		if decodeObject(raw, &obj) != nil {
			continue
		}
		keep[i] = !revoked[obj.ID] && !revoked[obj.SightingOfRef]
	}
	body, err := withhold(w, b, keep)
	if err != nil {
		return nil, 0, nil
	}
	return body, len(o.items) - len(revoked), nil
}

// revokedOf returns which of a warning's indicators their origin
// revoked: recorded, or being forwarded right now.
func (r *relay) revokedOf(ctx context.Context, origin string, items []Item) (map[string]bool, error) {
	out := map[string]bool{}
	if len(items) == 0 {
		return out, nil
	}
	r.mu.Lock()
	for _, it := range items {
		if _, ok := r.revoking[origin+"/"+it.ID]; ok {
			out[it.ID] = true
		}
	}
	r.mu.Unlock()
	args := make([]any, 0, len(items)+1)
	args = append(args, origin)
	for _, it := range items {
		args = append(args, it.ID)
	}
	rows, err := r.h.cfg.DB.Query(ctx, `SELECT indicator_id FROM federation_revoked WHERE origin_node = ? AND indicator_id IN (?`+
		strings.Repeat(", ?", len(items)-1)+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}
