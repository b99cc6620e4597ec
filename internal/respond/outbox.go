package respond

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
)

// The states of an outbox row.
const (
	StatePending = "pending"
	StateDone    = "done"
	StateDead    = "dead"
)

// Backoff spaces out delivery retries: the n-th retry waits a random time
// up to min(Max, Base·2^(n-1)) ("full jitter", so that many deliveries
// failing together do not retry together), and a delivery is dead-lettered
// after MaxAttempts attempts.
type Backoff struct {
	Base        time.Duration // default 1s
	Max         time.Duration // default 10m, at most 24h
	MaxAttempts int           // default 10
}

func (b *Backoff) setDefaults() {
	if b.Base <= 0 {
		b.Base = time.Second
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Minute
	}
	b.Max = min(max(b.Max, b.Base), 24*time.Hour)
	if b.MaxAttempts <= 0 {
		b.MaxAttempts = 10
	}
}

// Delay returns the wait after the attempt-th failed attempt (1-based),
// given a jitter fraction in [0, 1). The wait is at least a millisecond, so
// a retry never spins.
func (b Backoff) Delay(attempt int, jitter float64) time.Duration {
	ceiling := b.Base
	for i := 1; i < attempt && ceiling < b.Max; i++ {
		ceiling *= 2 // cannot overflow: ceiling < Max <= 24h before doubling
	}
	ceiling = min(ceiling, b.Max)
	d := time.Duration(float64(ceiling) * jitter)
	return max(d, time.Millisecond)
}

// Delivery is an outbox row: one webhook or e-mail for one alert.
type Delivery struct {
	ID          int64     `json:"id"`
	Key         string    `json:"key"`
	Kind        string    `json:"kind"`
	Playbook    string    `json:"playbook"`
	AlertID     string    `json:"alert_id"`
	Member      string    `json:"member"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	// payload is the rendered request, JSON.
	payload string
}

// enqueue writes one delivery inside tx, unless its key is already
// queued. A step whose template failed is written dead at once, so the
// failure is visible where deliveries are inspected.
func (r *Responder) enqueue(ctx context.Context, tx *store.Tx, key string, a *alert.Alert, playbook, kind string,
	payload any, renderErr error) (bool, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return false, err
	}
	state, lastErr := StatePending, ""
	if renderErr != nil {
		state, lastErr = StateDead, "render: "+renderErr.Error()
	}
	now := store.Nanos(r.opts.Now())
	res, err := tx.Exec(ctx, `INSERT INTO respond_outbox
		(dedup_key, kind, playbook, alert_id, member, payload, state, attempts, next_attempt, last_error, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING`,
		key, kind, playbook, a.ID, a.Member, string(body), state, now, lastErr, now, now)
	if err != nil {
		return false, fmt.Errorf("outbox: %w", err)
	}
	n, _ := res.RowsAffected()
	if n > 0 && renderErr != nil {
		r.metrics.deliveries.WithLabelValues(kind, "dead").Inc()
		r.log.Error("respond: action dead-lettered", "playbook", playbook, "alert", a.ID, "error", lastErr)
	}
	return n > 0 && renderErr == nil, nil
}

const deliveryColumns = `id, dedup_key, kind, playbook, alert_id, member, payload, state, attempts,
	next_attempt, last_error, created, updated`

func scanDelivery(row interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var next, created, updated int64
	err := row.Scan(&d.ID, &d.Key, &d.Kind, &d.Playbook, &d.AlertID, &d.Member, &d.payload, &d.State,
		&d.Attempts, &next, &d.LastError, &created, &updated)
	d.NextAttempt, d.Created, d.Updated = store.Time(next), store.Time(created), store.Time(updated)
	return d, err
}

// Deliveries lists outbox rows in state (all states if empty), newest
// first, at most limit (default 100).
func (r *Responder) Deliveries(ctx context.Context, state string, limit int) ([]Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT ` + deliveryColumns + ` FROM respond_outbox`
	args := []any{}
	if state != "" {
		q += ` WHERE state = ?`
		args = append(args, state)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	rows, err := r.db.Query(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("respond: deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("respond: deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Requeue sends a dead delivery again: it becomes pending, due now, with
// its attempts reset.
func (r *Responder) Requeue(ctx context.Context, id int64) error {
	now := store.Nanos(r.opts.Now())
	res, err := r.db.Exec(ctx, `UPDATE respond_outbox SET state = ?, attempts = 0, next_attempt = ?, updated = ?
		WHERE id = ? AND state = ?`, StatePending, now, now, id, StateDead)
	if err != nil {
		return fmt.Errorf("respond: requeue: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("respond: requeue %d: no dead delivery with that id: %w", id, store.ErrNotFound)
	}
	r.signal()
	return nil
}

// Purge deletes delivered rows, firing records and throttle windows older
// than before, and returns how many outbox rows went. Dead rows stay until
// requeued or handled by hand. An alert whose firing record is purged would
// fire again if handled again, so keep before well past the alert
// deduplication window.
func (r *Responder) Purge(ctx context.Context, before time.Time) (int64, error) {
	cut := store.Nanos(before)
	var n int64
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM respond_outbox WHERE state = ? AND updated < ?`, StateDone, cut)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if _, err := tx.Exec(ctx, `DELETE FROM respond_firings WHERE fired < ?`, cut); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM respond_throttle WHERE window_start < ?`, cut)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("respond: purge: %w", err)
	}
	return n, nil
}

// Start runs the delivery workers until ctx ends; Wait waits for them to
// finish. Deliveries left pending by an earlier run (or by a process that
// died) are resumed. Calling Start more than once has no further effect.
func (r *Responder) Start(ctx context.Context) {
	if !r.started.CompareAndSwap(false, true) {
		return
	}
	r.workers.Add(1)
	go func() {
		defer r.workers.Done()
		r.dispatch(ctx)
	}()
}

// Wait blocks until the workers started by Start have stopped.
func (r *Responder) Wait() { r.workers.Wait() }

// dispatch claims due rows one at a time while a worker slot is free and
// hands each to its own goroutine; when nothing is due it sleeps until the
// next row falls due, a wake-up, or the poll interval.
func (r *Responder) dispatch(ctx context.Context) {
	slots := make(chan struct{}, r.opts.Workers)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if ctx.Err() != nil {
			return
		}
		// Shutdown must not cancel a claim half-way: a claim that commits
		// but reports the cancellation would leave its row leased with no
		// attempt running. A claimed row always gets its attempt, which
		// returns it at once when ctx has ended.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		d, ok, err := r.claim(cctx)
		cancel()
		if err != nil {
			r.log.Error("respond: outbox claim", "error", err)
		}
		if ok {
			r.workers.Add(1)
			go func() {
				defer func() { <-slots; r.workers.Done() }()
				r.attempt(ctx, d)
			}()
			continue
		}
		<-slots
		if !r.sleep(ctx, err != nil) {
			return
		}
	}
}

// sleep waits until the earliest pending row falls due (capped by the poll
// interval) or a wake-up, and reports false when ctx has ended. After a
// store error it waits the whole poll interval, so a store that is down
// is not hammered.
func (r *Responder) sleep(ctx context.Context, failed bool) bool {
	wait := r.opts.PollInterval
	var next sql.NullInt64
	if !failed {
		err := r.db.QueryRow(ctx, `SELECT MIN(next_attempt) FROM respond_outbox WHERE state = ?`, StatePending).Scan(&next)
		if err == nil && next.Valid {
			wait = min(wait, max(store.Time(next.Int64).Sub(r.opts.Now()), time.Millisecond))
		}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-r.wake:
	case <-t.C:
	}
	return true
}

// claim takes the earliest due pending row: it counts the attempt and
// pushes next_attempt out by the lease, conditional on the row being
// unchanged, so two processes cannot claim the same row.
func (r *Responder) claim(ctx context.Context) (Delivery, bool, error) {
	for {
		now := r.opts.Now()
		d, err := scanDelivery(r.db.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM respond_outbox
			WHERE state = ? AND next_attempt <= ? ORDER BY next_attempt, id LIMIT 1`, StatePending, store.Nanos(now)))
		if store.NotFound(err) {
			return Delivery{}, false, nil
		}
		if err != nil {
			return Delivery{}, false, err
		}
		res, err := r.db.Exec(ctx, `UPDATE respond_outbox SET attempts = attempts + 1, next_attempt = ?, updated = ?
			WHERE id = ? AND state = ? AND next_attempt = ? AND attempts = ?`,
			store.Nanos(now.Add(r.opts.Lease)), store.Nanos(now), d.ID, StatePending, store.Nanos(d.NextAttempt), d.Attempts)
		if err != nil {
			return Delivery{}, false, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			d.Attempts++
			return d, true, nil
		}
		// Another process claimed it first: look again.
	}
}

// attempt delivers one claimed row and records the result.
func (r *Responder) attempt(ctx context.Context, d Delivery) {
	res := r.deliver(ctx, d)
	// The result is recorded even when ctx ended during the attempt, on a
	// context of its own: otherwise an interrupted attempt would wait out
	// its lease before being retried.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if ctx.Err() != nil && res.err != nil {
		r.finish(rctx, d, StatePending, r.opts.Now(), "interrupted by shutdown: "+res.err.Error())
		return
	}
	now := r.opts.Now()
	switch {
	case res.err == nil:
		r.metrics.deliveries.WithLabelValues(d.Kind, "ok").Inc()
		r.finish(rctx, d, StateDone, now, "")
	case res.permanent || d.Attempts >= r.opts.Backoff.MaxAttempts:
		r.metrics.deliveries.WithLabelValues(d.Kind, "dead").Inc()
		r.log.Error("respond: delivery dead-lettered", "id", d.ID, "kind", d.Kind, "playbook", d.Playbook,
			"alert", d.AlertID, "attempts", d.Attempts, "error", res.err)
		r.finish(rctx, d, StateDead, now, res.err.Error())
	default:
		r.metrics.deliveries.WithLabelValues(d.Kind, "retried").Inc()
		wait := r.opts.Backoff.Delay(d.Attempts, rand.Float64())
		if res.retryAfter > 0 {
			wait = min(res.retryAfter, r.opts.MaxRetryAfter)
		}
		r.log.Warn("respond: delivery failed, will retry", "id", d.ID, "kind", d.Kind, "attempts", d.Attempts,
			"retry_in", wait, "error", res.err)
		r.finish(rctx, d, StatePending, now.Add(wait), res.err.Error())
	}
}

func (r *Responder) finish(ctx context.Context, d Delivery, state string, next time.Time, lastErr string) {
	_, err := r.db.Exec(ctx, `UPDATE respond_outbox SET state = ?, next_attempt = ?, last_error = ?, updated = ?
		WHERE id = ?`, state, store.Nanos(next), lastErr, store.Nanos(r.opts.Now()), d.ID)
	if err != nil {
		// The lease will expire and the row be retried: at least once.
		r.log.Error("respond: recording delivery result", "id", d.ID, "error", err)
	}
}

// result is the outcome of one delivery attempt.
type result struct {
	err error
	// permanent means retrying cannot help.
	permanent bool
	// retryAfter is the wait the target asked for, if any.
	retryAfter time.Duration
}

func (r *Responder) deliver(ctx context.Context, d Delivery) result {
	switch d.Kind {
	case KindWebhook:
		var w webhookRequest
		if err := json.Unmarshal([]byte(d.payload), &w); err != nil {
			return result{err: fmt.Errorf("bad outbox payload: %w", err), permanent: true}
		}
		return r.sendWebhook(ctx, d, &w)
	case KindEmail:
		var m emailMessage
		if err := json.Unmarshal([]byte(d.payload), &m); err != nil {
			return result{err: fmt.Errorf("bad outbox payload: %w", err), permanent: true}
		}
		return r.sendEmail(ctx, d, &m)
	}
	return result{err: fmt.Errorf("unknown delivery kind %q", d.Kind), permanent: true}
}
