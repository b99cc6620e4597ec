package respond

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
)

// Planned is a playbook that matches an alert, with what its actions would
// do.
type Planned struct {
	Playbook string          `json:"playbook"`
	File     string          `json:"file"`
	Line     int             `json:"line"`
	DryRun   bool            `json:"dry_run,omitempty"`
	Actions  []PlannedAction `json:"actions"`
}

// PlannedAction is one action of a matching playbook, rendered for the
// alert.
type PlannedAction struct {
	Kind string `json:"kind"`
	// Target is where the action goes: a URL, the recipients, "blocklist"
	// or "hub".
	Target string `json:"target"`
	// Detail is the rendered subject, or the values to block.
	Detail string `json:"detail,omitempty"`
	// Error is set when the action cannot be rendered for this alert.
	Error string `json:"error,omitempty"`
}

// step is one action rendered for one alert.
type step struct {
	index   int
	kind    string
	webhook *webhookRequest
	email   *emailMessage
	entries []Entry
	err     error
}

// firing is a playbook that matched, with its rendered steps.
type firing struct {
	pb    *playbook
	steps []step
}

// plan returns the playbooks of set that match a, in order, stopping after
// a matching playbook marked stop.
func (r *Responder) plan(set *playbookSet, a *alert.Alert) []firing {
	var out []firing
	view := alertView{a: a}
	for _, pb := range set.ordered {
		if !pb.when.matches(&view) {
			continue
		}
		f := firing{pb: pb, steps: make([]step, len(pb.actions))}
		for i := range pb.actions {
			f.steps[i] = r.renderStep(pb, i, a)
		}
		out = append(out, f)
		if pb.stop {
			break
		}
	}
	return out
}

func (r *Responder) renderStep(pb *playbook, i int, a *alert.Alert) step {
	act := &pb.actions[i]
	s := step{index: i, kind: act.kind}
	switch act.kind {
	case KindWebhook:
		w := act.webhook
		body, err := render(w.body, *a)
		s.err = err
		s.webhook = &webhookRequest{URL: w.url, Method: w.method, Headers: w.headers, Body: body,
			Timeout: w.timeout}
	case KindEmail:
		e := act.email
		subject, err := render(e.subject, *a)
		body, err2 := render(e.body, *a)
		s.err = errors.Join(err, err2)
		s.email = &emailMessage{Host: e.host, Port: e.port, From: e.from, To: e.to,
			Subject: oneLine(subject), Body: body, Username: e.username, PasswordEnv: e.passwordEnv,
			RequireTLS: e.requireTLS, Timeout: e.timeout}
	case KindBlocklist:
		s.entries = r.blockEntries(pb, act.block, a)
	}
	return s
}

// oneLine keeps a rendered header value on one line, so alert content can
// never inject a header.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// blockEntries picks the alert's observables the action blocks.
func (r *Responder) blockEntries(pb *playbook, b *blocklistAction, a *alert.Alert) []Entry {
	reason := b.reason
	if reason == "" {
		reason = fmt.Sprintf("playbook %s: %s", pb.name, a.RuleTitle)
	}
	now := r.opts.Now()
	var out []Entry
	for _, o := range a.Observables {
		if len(b.roles) > 0 && !slices.Contains(b.roles, o.Role) {
			continue
		}
		typ, val, err := Normalize(o.Type, o.Value)
		if err != nil {
			continue // not a blockable value (a user name, a process...)
		}
		if !slices.Contains(b.types, typ) && !(typ == TypeCIDR && slices.Contains(b.types, TypeIP)) {
			continue
		}
		if !b.includePrivate && !routable(typ, val) {
			continue
		}
		out = append(out, Entry{Member: a.Member, Type: typ, Value: val, Reason: reason,
			SourceAlert: a.ID, TLP: a.TLP, Added: now, Expires: now.Add(b.ttl)})
	}
	return out
}

func (s *step) describe() PlannedAction {
	pa := PlannedAction{Kind: s.kind}
	switch s.kind {
	case KindWebhook:
		pa.Target = s.webhook.Method + " " + s.webhook.URL
	case KindEmail:
		pa.Target = strings.Join(s.email.To, ", ")
		pa.Detail = s.email.Subject
	case KindBlocklist:
		pa.Target = "blocklist"
		vals := make([]string, len(s.entries))
		for i, e := range s.entries {
			vals[i] = e.Type + ":" + e.Value
		}
		pa.Detail = strings.Join(vals, " ")
	case KindHub:
		pa.Target = "hub"
	}
	if s.err != nil {
		pa.Error = s.err.Error()
	}
	return pa
}

func (f *firing) describe() []PlannedAction {
	out := make([]PlannedAction, len(f.steps))
	for i := range f.steps {
		out[i] = f.steps[i].describe()
	}
	return out
}

// Simulate returns the playbooks that would fire on a and what each of
// their actions would do, without doing any of it or touching the store.
// Throttles and earlier firings for the same alert are not considered.
func (r *Responder) Simulate(a alert.Alert) []Planned {
	var out []Planned
	for _, f := range r.plan(r.set.Load(), &a) {
		out = append(out, Planned{Playbook: f.pb.name, File: f.pb.file, Line: f.pb.line,
			DryRun: f.pb.dryRun, Actions: f.describe()})
	}
	return out
}

// The outcomes of a playbook firing, as recorded and counted.
const (
	outcomeFired     = "fired"
	outcomeDryRun    = "dry_run"
	outcomeThrottled = "throttled"
	outcomeDuplicate = "duplicate"
)

// HandleAlert runs the playbooks on a. In one transaction it records each
// matching playbook's firing, adds blocklist entries and queues webhooks,
// e-mails and hub escalations; it never waits on a delivery. An alert
// already handled by a playbook (same member and alert id) is not handled
// again by it, so calling HandleAlert twice is harmless.
func (r *Responder) HandleAlert(ctx context.Context, a alert.Alert) error {
	if a.ID == "" || a.Member == "" {
		return errors.New("respond: alert needs an id and a member")
	}
	firings := r.plan(r.set.Load(), &a)
	if len(firings) == 0 {
		return nil
	}
	outcomes := make([]string, len(firings))
	queued := false
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		for i := range firings {
			out, q, err := r.apply(ctx, tx, &a, &firings[i])
			if err != nil {
				return fmt.Errorf("respond: playbook %s: %w", firings[i].pb.name, err)
			}
			outcomes[i], queued = out, queued || q
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, f := range firings {
		r.metrics.firings.WithLabelValues(outcomes[i]).Inc()
		if outcomes[i] == outcomeDryRun {
			r.log.Info("respond: dry run", "playbook", f.pb.name, "alert", a.ID, "member", a.Member,
				"actions", f.describe())
		}
	}
	if queued {
		r.signal()
	}
	return nil
}

// apply records one firing and performs its steps inside tx. It returns
// the outcome and whether it queued deliveries.
func (r *Responder) apply(ctx context.Context, tx *store.Tx, a *alert.Alert, f *firing) (string, bool, error) {
	now := store.Nanos(r.opts.Now())
	outcome := outcomeFired
	if f.pb.dryRun {
		outcome = outcomeDryRun
	}
	plan, err := json.Marshal(f.describe())
	if err != nil {
		return "", false, err
	}
	res, err := tx.Exec(ctx, `INSERT INTO respond_firings (member, alert_id, playbook, rule_id, outcome, plan, fired)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (member, alert_id, playbook) DO NOTHING`,
		a.Member, a.ID, f.pb.name, a.RuleID, outcome, string(plan), now)
	if err != nil {
		return "", false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return outcomeDuplicate, false, nil
	}
	if f.pb.throttle != nil {
		allowed, err := r.throttleAllows(ctx, tx, f.pb, a)
		if err != nil {
			return "", false, err
		}
		if !allowed {
			_, err := tx.Exec(ctx, `UPDATE respond_firings SET outcome = ? WHERE member = ? AND alert_id = ? AND playbook = ?`,
				outcomeThrottled, a.Member, a.ID, f.pb.name)
			return outcomeThrottled, false, err
		}
	}
	if f.pb.dryRun {
		return outcomeDryRun, false, nil
	}
	queued := false
	for i := range f.steps {
		q, err := r.perform(ctx, tx, a, f.pb, &f.steps[i])
		if err != nil {
			return "", false, err
		}
		queued = queued || q
	}
	return outcomeFired, queued, nil
}

// perform carries out one step inside tx: blocklist entries are written
// directly, everything that leaves the node goes to an outbox.
func (r *Responder) perform(ctx context.Context, tx *store.Tx, a *alert.Alert, pb *playbook, s *step) (bool, error) {
	key := dedupKey(a, pb.name, s)
	switch s.kind {
	case KindBlocklist:
		for _, e := range s.entries {
			if err := r.blocklist.add(ctx, tx, e); err != nil {
				return false, err
			}
		}
		return false, nil
	case KindHub:
		return false, r.hub.enqueue(ctx, tx, key, pb.name, a, r.opts.Now())
	case KindWebhook:
		return r.enqueue(ctx, tx, key, a, pb.name, s.kind, s.webhook, s.err)
	case KindEmail:
		return r.enqueue(ctx, tx, key, a, pb.name, s.kind, s.email, s.err)
	}
	return false, fmt.Errorf("unknown action kind %q", s.kind)
}

// dedupKey names one action of one playbook for one alert; the outboxes
// hold each key once. JSON makes it unambiguous whatever the ids contain.
func dedupKey(a *alert.Alert, playbook string, s *step) string {
	b, _ := json.Marshal([]string{a.Member, a.ID, playbook, fmt.Sprintf("%d:%s", s.index, s.kind)})
	return string(b)
}

// throttleAllows counts one firing in the playbook's fixed window for the
// alert's bucket and reports whether the count is within the maximum. The
// upsert is a single statement, so concurrent handlers cannot both take
// the last slot.
func (r *Responder) throttleAllows(ctx context.Context, tx *store.Tx, pb *playbook, a *alert.Alert) (bool, error) {
	t := pb.throttle
	parts := []string{pb.name}
	switch t.by {
	case "member":
		parts = append(parts, a.Member)
	case "rule":
		parts = append(parts, a.Member, a.RuleID)
	case "key":
		parts = append(parts, a.Member, a.RuleID, a.Key)
	}
	bucket, _ := json.Marshal(parts)
	now := r.opts.Now()
	cutoff := store.Nanos(now.Add(-t.per))
	var hits int
	err := tx.QueryRow(ctx, `INSERT INTO respond_throttle (bucket, window_start, hits) VALUES (?, ?, 1)
		ON CONFLICT (bucket) DO UPDATE SET
			hits = CASE WHEN respond_throttle.window_start <= ? THEN 1 ELSE respond_throttle.hits + 1 END,
			window_start = CASE WHEN respond_throttle.window_start <= ? THEN excluded.window_start ELSE respond_throttle.window_start END
		RETURNING hits`, string(bucket), store.Nanos(now), cutoff, cutoff).Scan(&hits)
	if err != nil {
		return false, fmt.Errorf("throttle: %w", err)
	}
	return hits <= t.max, nil
}

// Firing is the record of one playbook acting (or declining to act) on one
// alert.
type Firing struct {
	Member   string
	AlertID  string
	Playbook string
	RuleID   string
	// Outcome is "fired", "dry_run" or "throttled".
	Outcome string
	Fired   time.Time
	Actions []PlannedAction
}

// Firings returns what the playbooks did with one alert, oldest first.
func (r *Responder) Firings(ctx context.Context, member, alertID string) ([]Firing, error) {
	rows, err := r.db.Query(ctx, `SELECT playbook, rule_id, outcome, plan, fired FROM respond_firings
		WHERE member = ? AND alert_id = ? ORDER BY fired, playbook`, member, alertID)
	if err != nil {
		return nil, fmt.Errorf("respond: firings: %w", err)
	}
	defer rows.Close()
	var out []Firing
	for rows.Next() {
		f := Firing{Member: member, AlertID: alertID}
		var plan string
		var fired int64
		if err := rows.Scan(&f.Playbook, &f.RuleID, &f.Outcome, &plan, &fired); err != nil {
			return nil, fmt.Errorf("respond: firings: %w", err)
		}
		f.Fired = store.Time(fired)
		if err := json.Unmarshal([]byte(plan), &f.Actions); err != nil {
			return nil, fmt.Errorf("respond: firing plan: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
