package federation

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/store"
)

// Release requests: the hub asks a member node, in its inbox, to release
// the values behind pseudonyms that were corroborated. The kind header
// tells them from forwarded warnings; the hub's seal covers the body
// under its own context, so neither can pass for the other.
const (
	hdrKind        = "Xsoc-Kind"
	kindRelease    = "release"
	releaseContext = "xsoc-release-request-v1"
)

// ReleaseRequest is the hub's request to a member node to release the
// values behind pseudonyms that members in at least two countries
// reported.
type ReleaseRequest struct {
	ID         string    `json:"id"`
	Node       string    `json:"node"`
	Pseudonyms []string  `json:"pseudonyms"`
	Created    time.Time `json:"created"`
}

// releaseDigest is what the hub's seal on a release request covers.
func releaseDigest(subject string, data []byte) []byte {
	return signedDigest(releaseContext+"\x00"+subject, data)
}

// corroborator is the hub's half of the corroborated release: it records
// which member reported which pseudonym (from reports of members in
// corroborated mode, and from the pseudonyms immediate warnings carry),
// and once a pseudonym was reported by at least k members in at least
// two countries, asks each node that withholds its value to release it.
type corroborator struct {
	r *relay
	k int

	mu     sync.Mutex
	pruned time.Time
}

// sighted records the pseudonyms of a warning and asks for the release of
// those now corroborated. It runs again when the warning comes again:
// every step is idempotent, and a node is marked asked only once its
// inbox stored the request.
func (c *corroborator) sighted(ctx context.Context, w *Warning) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.prune(ctx, now)
	country := w.Country
	c.r.mu.Lock()
	if d := c.r.dirs[w.Node]; d != nil {
		for _, m := range d.Members {
			if m.Handle == w.Sender {
				country = m.Country // the directory's word, not the warning's
			}
		}
	}
	c.r.mu.Unlock()
	withheld := 0
	if w.report() {
		withheld = 1
	}
	var touched []string
	err := c.r.h.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		for _, s := range w.Pseudonyms {
			for _, p := range s.Pseudonyms {
				if _, err := tx.Exec(ctx, `INSERT INTO federation_sightings (pseudonym, node, sender, country, type, epoch, withheld, seen)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pseudonym, node, sender) DO UPDATE SET
					country = excluded.country, withheld = excluded.withheld, seen = excluded.seen`,
					p.Value, w.Node, w.Sender, country, s.Type, p.Epoch, withheld, store.Nanos(now)); err != nil {
					return err
				}
				touched = append(touched, p.Value)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.r.h.metrics.corr.reported.Add(float64(len(touched)))
	if e := maxEpoch(w.Pseudonyms); e > c.r.h.metrics.corr.epochValue() {
		c.r.h.metrics.corr.setEpoch(e)
	}
	asks := map[string][]string{} // node → pseudonyms to release
	cutoff := store.Nanos(now.Add(-maxWarningAge))
	waiting, err := c.waiting(ctx, touched)
	if err != nil {
		return err
	}
	for _, p := range waiting {
		var members, countries int
		if err := c.r.h.cfg.DB.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT country) FROM federation_sightings
			WHERE pseudonym = ? AND seen >= ?`, p, cutoff).Scan(&members, &countries); err != nil {
			return err
		}
		if members < c.k || countries < 2 {
			continue
		}
		res, err := c.r.h.cfg.DB.Exec(ctx, `INSERT INTO federation_corroborated (pseudonym, members, countries, reached) VALUES (?, ?, ?, ?)
			ON CONFLICT (pseudonym) DO NOTHING`, p, members, countries, store.Nanos(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			c.r.h.metrics.corr.corroborated.Inc()
			c.r.h.cfg.Log.Info("federation: pseudonym corroborated", "pseudonym", p, "members", members, "countries", countries)
		}
		rows, err := c.r.h.cfg.DB.Query(ctx, `SELECT DISTINCT node FROM federation_sightings WHERE pseudonym = ? AND withheld = 1 AND asked = 0`, p)
		if err != nil {
			return err
		}
		for rows.Next() {
			var node string
			if err := rows.Scan(&node); err != nil {
				rows.Close()
				return err
			}
			if !slices.Contains(asks[node], p) {
				asks[node] = append(asks[node], p)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for node, ps := range asks {
		if err := c.ask(ctx, node, ps); err != nil {
			return fmt.Errorf("release request to %s: %w", node, err)
		}
	}
	if withheld == 1 || len(asks) > 0 {
		c.countPending(ctx)
	}
	return nil
}

// waiting returns those of pseudonyms that some node withholds and was not
// asked for yet: only they can lead to a release request. Most sightings
// come in immediate warnings of values nobody withholds; they are
// recorded, and need no counting.
func (c *corroborator) waiting(ctx context.Context, pseudonyms []string) ([]string, error) {
	if len(pseudonyms) == 0 {
		return nil, nil
	}
	args := make([]any, len(pseudonyms))
	for i, p := range pseudonyms {
		args[i] = p
	}
	rows, err := c.r.h.cfg.DB.Query(ctx, `SELECT DISTINCT pseudonym FROM federation_sightings WHERE withheld = 1 AND asked = 0
		AND pseudonym IN (?`+strings.Repeat(", ?", len(pseudonyms)-1)+`) ORDER BY pseudonym`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ask sends node a release request for pseudonyms and, once its inbox
// stored it, marks them asked.
func (c *corroborator) ask(ctx context.Context, node string, pseudonyms []string) error {
	slices.Sort(pseudonyms)
	for start := 0; start < len(pseudonyms); start += maxReleasePseudonyms {
		chunk := pseudonyms[start:min(start+maxReleasePseudonyms, len(pseudonyms))]
		sum := sha256.Sum256([]byte(node + "\x00" + strings.Join(chunk, ",")))
		req := ReleaseRequest{ID: "release." + hex.EncodeToString(sum[:12]), Node: node, Pseudonyms: chunk, Created: time.Now().UTC()}
		data, err := json.Marshal(&req)
		if err != nil {
			return err
		}
		msg := &nats.Msg{Subject: InboxSubject + "." + node, Data: data, Header: nats.Header{}}
		sig, err := c.r.h.cfg.Identity.sign(releaseDigest(msg.Subject, data))
		if err != nil {
			return err
		}
		msg.Header.Set(hdrKind, kindRelease)
		msg.Header.Set(hdrRelayCert, c.r.h.cfg.Identity.certHeader)
		msg.Header.Set(hdrRelaySignature, base64.StdEncoding.EncodeToString(sig))
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = c.r.h.relayJS.PublishMsg(pctx, msg, jetstream.WithMsgID(req.ID))
		cancel()
		if err != nil {
			return err
		}
		c.r.h.metrics.corr.requested.Inc()
		c.r.h.cfg.Log.Info("federation: release of corroborated values requested", "node", node, "pseudonyms", len(chunk))
		err = c.r.h.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
			for _, p := range chunk {
				if _, err := tx.Exec(ctx, `UPDATE federation_sightings SET asked = ? WHERE pseudonym = ? AND node = ? AND withheld = 1`,
					store.Nanos(time.Now()), p, node); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// prune forgets sightings older than a warning may be, at most once an
// hour: a value seen a week apart is not corroborated by it.
func (c *corroborator) prune(ctx context.Context, now time.Time) {
	if now.Sub(c.pruned) < time.Hour {
		return
	}
	c.pruned = now
	cutoff := store.Nanos(now.Add(-maxWarningAge))
	for _, q := range []string{`DELETE FROM federation_sightings WHERE seen < ?`, `DELETE FROM federation_corroborated WHERE reached < ?`} {
		if _, err := c.r.h.cfg.DB.Exec(ctx, q, cutoff); err != nil {
			c.r.h.cfg.Log.Warn("federation: old sightings not pruned", "err", err)
		}
	}
}

// countPending sets the gauge of pseudonyms withheld at some node and not
// corroborated yet.
func (c *corroborator) countPending(ctx context.Context) {
	if n, err := pendingPseudonyms(ctx, c.r.h.cfg.DB, time.Now()); err == nil {
		c.r.h.metrics.corr.pending.Set(float64(n))
	}
}

// pendingPseudonyms counts, at the hub, the pseudonyms that members in
// corroborated mode reported and that were not corroborated yet.
func pendingPseudonyms(ctx context.Context, db *store.DB, now time.Time) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT COUNT(DISTINCT pseudonym) FROM federation_sightings WHERE withheld = 1 AND asked = 0 AND seen >= ?`,
		store.Nanos(now.Add(-maxWarningAge))).Scan(&n)
	return n, err
}

// maxEpoch is the latest key epoch of a warning's pseudonyms.
func maxEpoch(list []Sighted) int64 {
	var e int64
	for _, s := range list {
		for _, p := range s.Pseudonyms {
			e = max(e, p.Epoch)
		}
	}
	return e
}

// checkRelease verifies a release request in a member node's inbox:
// sealed by the configured hub for this node, fresh, well formed.
func (in *Inbox) checkRelease(m jetstream.Msg, now time.Time) (ReleaseRequest, error) {
	hdr := m.Headers()
	cert, err1 := base64.StdEncoding.DecodeString(hdr.Get(hdrRelayCert))
	sig, err2 := base64.StdEncoding.DecodeString(hdr.Get(hdrRelaySignature))
	if err1 != nil || err2 != nil || len(cert) == 0 || len(sig) == 0 {
		return ReleaseRequest{}, refuse(reasonRelay, "release request without the hub's seal")
	}
	vc, err := in.verify.cert(cert)
	if err != nil {
		return ReleaseRequest{}, refuse(reasonRelay, "%v", err)
	}
	if vc.node != in.cfg.Hub || m.Subject() != InboxSubject+"."+in.cfg.Identity.Name {
		return ReleaseRequest{}, refuse(reasonRelay, "release request of node %s on %s", vc.node, m.Subject())
	}
	if err := verifySignature(vc.cert, releaseDigest(m.Subject(), m.Data()), sig); err != nil {
		return ReleaseRequest{}, refuse(reasonRelay, "release request seal: %v", err)
	}
	var req ReleaseRequest
	if err := json.Unmarshal(m.Data(), &req); err != nil {
		return req, refuse(reasonMalformed, "release request: %v", err)
	}
	switch {
	case req.Node != in.cfg.Identity.Name:
		return req, refuse(reasonMalformed, "release request for node %s", req.Node)
	case req.Created.IsZero() || now.Sub(req.Created) > maxWarningAge || req.Created.Sub(now) > maxClockSkew:
		return req, refuse(reasonStale, "release request created %s", req.Created.Format(time.RFC3339))
	case len(req.Pseudonyms) == 0 || len(req.Pseudonyms) > maxReleasePseudonyms:
		return req, refuse(reasonMalformed, "release request of %d pseudonyms", len(req.Pseudonyms))
	}
	for _, p := range req.Pseudonyms {
		if !validPseudonym(p) {
			return req, refuse(reasonMalformed, "release request of %q", p)
		}
	}
	return req, nil
}

// release answers the hub's release requests of a batch. A failure has
// the whole batch come again: warnings applied already are recognised,
// and values released already are not sent twice.
func (in *Inbox) release(ctx context.Context, reqs []ReleaseRequest) error {
	if in.cfg.Release == nil {
		return nil
	}
	for _, r := range reqs {
		if err := in.cfg.Release(ctx, r.Pseudonyms); err != nil {
			return fmt.Errorf("release of %d pseudonyms: %w", len(r.Pseudonyms), err)
		}
	}
	return nil
}
