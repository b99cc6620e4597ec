package correlate

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
)

// Incident lists sort and page on the server by values each viewer sees:
// its visible alert count, highest severity, first and last seen. Stored
// for the whole incident they would leak alerts a viewer may not see
// through the order of the list (an incident jumping up because a hidden
// AMBER+STRICT alert of another member joined it). So incident_cells keeps
// them per member and TLP level: one row per (incident, member, level)
// with that member's alerts at that level. A viewer's values are the
// aggregate of the cells it may see, chosen by the same rule as alerts
// (alert.Viewer.Where on the member and level), so they are exactly those
// of the incident as built for that viewer, whatever its client
// relations.
//
// The cells are kept as alerts join incidents: Process gathers a batch's
// changes and writes one upsert per cell touched (cellTally); an alert
// whose TLP level changed, merges, splits and removals recount the
// incidents concerned from incident_alerts (recountCells).

// cellsSelect aggregates incident_alerts into cells; the WHERE clause (or
// none) follows.
const cellsSelect = `SELECT ia.incident_id, ia.member, ia.tlp, COUNT(*), MAX(a.severity), MIN(a.event_time),
		MAX(CASE WHEN a.last_seen > a.event_time THEN a.last_seen ELSE a.event_time END),
		MIN(a.detected), MAX(a.detected)
	FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id`

// cellsInsert is the column list cellsSelect fills.
const cellsInsert = `INSERT INTO incident_cells (incident_id, member, tlp, alerts, severity, first_seen, last_seen,
	first_detected, last_detected) `

// cellsMigration creates incident_cells and fills it from the incidents
// stored before it existed.
const cellsMigration = `CREATE TABLE incident_cells (
		incident_id TEXT NOT NULL,
		member TEXT NOT NULL,
		tlp INTEGER NOT NULL,
		alerts INTEGER NOT NULL,
		severity INTEGER NOT NULL,
		first_seen BIGINT NOT NULL,
		last_seen BIGINT NOT NULL,
		first_detected BIGINT NOT NULL,
		last_detected BIGINT NOT NULL,
		PRIMARY KEY (incident_id, member, tlp)
	);
	` + cellsInsert + cellsSelect + `
	GROUP BY ia.incident_id, ia.member, ia.tlp`

// recountCells derives incident id's cells from its alerts again.
func recountCells(ctx context.Context, tx *store.Tx, id string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM incident_cells WHERE incident_id = ?`, id); err != nil {
		return fmt.Errorf("correlate: recount cells: %w", err)
	}
	if _, err := tx.Exec(ctx, cellsInsert+cellsSelect+` WHERE ia.incident_id = ?
		GROUP BY ia.incident_id, ia.member, ia.tlp`, id); err != nil {
		return fmt.Errorf("correlate: recount cells: %w", err)
	}
	return nil
}

// cellKey names one cell.
type cellKey struct {
	incident, member string
	tlp              int64
}

// cell is what a batch adds to one cell: alerts new to it and the
// extremes of the alerts it placed or refreshed there.
type cell struct {
	alerts, severity                         int64
	first, last, firstDetected, lastDetected int64
}

// cellTally gathers one Process batch's changes to incident cells. The
// zero value is ready; methods on a nil tally do nothing (placing outside
// Process, as Split does, recounts instead).
type cellTally struct {
	cells map[cellKey]*cell
	// whole are incidents recounted at flush instead: their alerts moved
	// or changed level, which an upsert cannot undo.
	whole map[string]bool
}

// grow records alert a placed in (added) or refreshed in incident id.
func (t *cellTally) grow(id string, a *alert.Alert, added bool) {
	if t == nil {
		return
	}
	if t.cells == nil {
		t.cells = map[cellKey]*cell{}
	}
	k := cellKey{incident: id, member: a.Member, tlp: int64(a.TLP)}
	ls := store.Nanos(lastSeen(a))
	first, det := store.Nanos(a.EventTime), store.Nanos(a.Detected)
	c := t.cells[k]
	if c == nil {
		c = &cell{severity: int64(a.Severity), first: first, last: ls, firstDetected: det, lastDetected: det}
		t.cells[k] = c
	}
	if added {
		c.alerts++
	}
	c.severity = max(c.severity, int64(a.Severity))
	c.first, c.last = min(c.first, first), max(c.last, ls)
	c.firstDetected, c.lastDetected = min(c.firstDetected, det), max(c.lastDetected, det)
}

// restate marks incidents to recount at flush.
func (t *cellTally) restate(ids ...string) {
	if t == nil {
		return
	}
	if t.whole == nil {
		t.whole = map[string]bool{}
	}
	for _, id := range ids {
		t.whole[id] = true
	}
}

// retier marks every incident holding alert id to recount at flush: the
// alert moved to another TLP level.
func (t *cellTally) retier(ctx context.Context, tx *store.Tx, id string) error {
	if t == nil {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT incident_id FROM incident_alerts WHERE alert_id = ?`, id)
	if err != nil {
		return fmt.Errorf("correlate: incidents of alert %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var inc string
		if err := rows.Scan(&inc); err != nil {
			return err
		}
		t.restate(inc)
	}
	return rows.Err()
}

// flush writes the batch's cells: one statement per cell touched, in key
// order (concurrent writers on PostgreSQL then lock rows in one order),
// and recounts the incidents marked whole.
func (t *cellTally) flush(ctx context.Context, tx *store.Tx) error {
	if t == nil {
		return nil
	}
	keys := make([]cellKey, 0, len(t.cells))
	for k := range t.cells {
		if !t.whole[k.incident] {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b cellKey) int {
		return cmp.Or(strings.Compare(a.incident, b.incident), strings.Compare(a.member, b.member), cmp.Compare(a.tlp, b.tlp))
	})
	for _, k := range keys {
		c := t.cells[k]
		var err error
		if c.alerts > 0 {
			_, err = tx.Exec(ctx, cellsInsert+`VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (incident_id, member, tlp) DO UPDATE SET
					alerts = incident_cells.alerts + excluded.alerts,
					severity = CASE WHEN excluded.severity > incident_cells.severity THEN excluded.severity ELSE incident_cells.severity END,
					first_seen = CASE WHEN excluded.first_seen < incident_cells.first_seen THEN excluded.first_seen ELSE incident_cells.first_seen END,
					last_seen = CASE WHEN excluded.last_seen > incident_cells.last_seen THEN excluded.last_seen ELSE incident_cells.last_seen END,
					first_detected = CASE WHEN excluded.first_detected < incident_cells.first_detected THEN excluded.first_detected ELSE incident_cells.first_detected END,
					last_detected = CASE WHEN excluded.last_detected > incident_cells.last_detected THEN excluded.last_detected ELSE incident_cells.last_detected END`,
				k.incident, k.member, k.tlp, c.alerts, c.severity, c.first, c.last, c.firstDetected, c.lastDetected)
		} else {
			// Alerts already counted: only their extremes may have moved,
			// and a cell is never created without an alert in it.
			_, err = tx.Exec(ctx, `UPDATE incident_cells SET
					severity = CASE WHEN severity < ? THEN ? ELSE severity END,
					first_seen = CASE WHEN first_seen > ? THEN ? ELSE first_seen END,
					last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END,
					first_detected = CASE WHEN first_detected > ? THEN ? ELSE first_detected END,
					last_detected = CASE WHEN last_detected < ? THEN ? ELSE last_detected END
				WHERE incident_id = ? AND member = ? AND tlp = ? AND (severity < ? OR first_seen > ? OR last_seen < ?
					OR first_detected > ? OR last_detected < ?)`,
				c.severity, c.severity, c.first, c.first, c.last, c.last, c.firstDetected, c.firstDetected,
				c.lastDetected, c.lastDetected, k.incident, k.member, k.tlp,
				c.severity, c.first, c.last, c.firstDetected, c.lastDetected)
		}
		if err != nil {
			return fmt.Errorf("correlate: incident cells: %w", err)
		}
	}
	whole := make([]string, 0, len(t.whole))
	for id := range t.whole {
		whole = append(whole, id)
	}
	slices.Sort(whole)
	for _, id := range whole {
		if err := recountCells(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}
