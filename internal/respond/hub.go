package respond

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
)

// HubOutbox is the durable queue of alerts raised to the national hub by
// raise_to_hub actions. The federation component drains it.
type HubOutbox struct {
	db *store.DB
	// mu serialises Drain within the process, so two drains here never
	// hand the same item over twice.
	mu sync.Mutex
}

// HubItem is one alert waiting for the hub.
type HubItem struct {
	ID       int64
	Playbook string
	Member   string
	Alert    alert.Alert
	Queued   time.Time
}

func (h *HubOutbox) enqueue(ctx context.Context, tx *store.Tx, key, playbook string, a *alert.Alert, now time.Time) error {
	body, err := json.Marshal(*a)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO respond_hub_outbox (dedup_key, playbook, alert_id, member, alert, queued)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING`,
		key, playbook, a.ID, a.Member, string(body), store.Nanos(now))
	if err != nil {
		return fmt.Errorf("hub outbox: %w", err)
	}
	return nil
}

// Drain hands up to max of the oldest queued items (default 100) to send
// and, when send returns nil, deletes them; when send fails they stay
// queued and the error is returned. It returns how many items were sent.
//
// Delivery is at least once: if the process dies between send and the
// delete, or two processes drain one PostgreSQL store, an item can be sent
// twice. The hub drops repeats by (Member, Alert.ID, Playbook).
func (h *HubOutbox) Drain(ctx context.Context, max int, send func(context.Context, []HubItem) error) (int, error) {
	if max <= 0 {
		max = 100
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	items, err := h.peek(ctx, max)
	if err != nil || len(items) == 0 {
		return 0, err
	}
	if err := send(ctx, items); err != nil {
		return 0, fmt.Errorf("respond: hub send: %w", err)
	}
	ids := make([]any, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	q := `DELETE FROM respond_hub_outbox WHERE id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
	if _, err := h.db.Exec(ctx, q, ids...); err != nil {
		return 0, fmt.Errorf("respond: hub outbox delete: %w", err)
	}
	return len(items), nil
}

func (h *HubOutbox) peek(ctx context.Context, max int) ([]HubItem, error) {
	rows, err := h.db.Query(ctx, `SELECT id, playbook, member, alert, queued FROM respond_hub_outbox
		ORDER BY id LIMIT ?`, max)
	if err != nil {
		return nil, fmt.Errorf("respond: hub outbox: %w", err)
	}
	defer rows.Close()
	var out []HubItem
	var errs []error
	for rows.Next() {
		var it HubItem
		var body string
		var queued int64
		if err := rows.Scan(&it.ID, &it.Playbook, &it.Member, &body, &queued); err != nil {
			return nil, fmt.Errorf("respond: hub outbox: %w", err)
		}
		it.Queued = store.Time(queued)
		if err := json.Unmarshal([]byte(body), &it.Alert); err != nil {
			errs = append(errs, fmt.Errorf("hub item %d: %w", it.ID, err))
			continue
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("respond: hub outbox: %w", err)
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Pending returns how many items wait for the hub.
func (h *HubOutbox) Pending(ctx context.Context) (int, error) {
	var n int
	if err := h.db.QueryRow(ctx, `SELECT COUNT(*) FROM respond_hub_outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("respond: hub outbox: %w", err)
	}
	return n, nil
}
