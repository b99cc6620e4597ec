package alert

import (
	"fmt"
	"math"
	"strconv"

	"github.com/xsoc/xsoc/internal/store"
)

// SortKey names an order List can return alerts in.
type SortKey string

// The orders List knows. Each sorts on one column of the alerts table
// with the alert id as tiebreaker, and each has an index on (column, id)
// so that a page costs the same at any depth.
const (
	// SortDetected orders by detection time, which the time-ordered id
	// records: the default, newest first.
	SortDetected SortKey = "detected"
	// SortLastSeen orders by the time the alert last folded in an event.
	SortLastSeen SortKey = "last_seen"
	// SortSeverity orders by severity.
	SortSeverity SortKey = "severity"
	// SortCount orders by the number of events folded into the alert.
	SortCount SortKey = "count"
	// SortStatus orders by triage status, alphabetically (acknowledged,
	// closed, new), so descending puts new alerts first.
	SortStatus SortKey = "status"
	// SortTriage orders by triage score (see Triage), so descending puts
	// the alerts an analyst is likeliest to confirm first. A score is its
	// owner's: this order lists only the viewer's own alerts (operators:
	// all).
	SortTriage SortKey = "triage"
)

// SortKeys lists the sort keys List accepts.
func SortKeys() []SortKey {
	return []SortKey{SortDetected, SortLastSeen, SortSeverity, SortCount, SortStatus, SortTriage}
}

// column is the alerts column k sorts on; "id" for SortDetected.
func (k SortKey) column() string {
	switch k {
	case SortLastSeen:
		return "last_seen"
	case SortSeverity:
		return "severity"
	case SortCount:
		return "hits"
	case SortStatus:
		return "status"
	case SortTriage:
		return "triage"
	}
	return "id"
}

// Sort is the order of a List: a key and a direction. The zero Sort is
// the default, newest detected first.
type Sort struct {
	Key SortKey
	Asc bool
}

// ParseSort reads a sort key and an order ("asc" or "desc") from a
// client; empty strings mean detected and desc.
func ParseSort(key, order string) (Sort, error) {
	o, err := store.ParseOrder(store.Names(SortKeys()), key, order)
	if err != nil {
		return Sort{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return Sort{Key: SortKey(o.Key), Asc: o.Asc}, nil
}

// order is s as the store's keyset helpers take it.
func (s Sort) order() store.Order { s = s.norm(); return store.Order{Key: string(s.Key), Asc: s.Asc} }

// norm fills in the default key.
func (s Sort) norm() Sort {
	if s.Key == "" {
		s.Key = SortDetected
	}
	return s
}

// String is the sort as a client writes it: "severity desc".
func (s Sort) String() string { return s.order().String() }

// orderBy is the ORDER BY clause of s.
func (s Sort) orderBy() string {
	dir := " DESC"
	if s.Asc {
		dir = " ASC"
	}
	if c := s.norm().Key.column(); c != "id" {
		return c + dir + ", id" + dir
	}
	return "id" + dir
}

// cursor is the position after the last alert of a page: the value of
// the sort column (empty for detected) and the id.
type cursor struct {
	value string
	id    string
}

// cursorOf encodes the position after a for sort s (store.Order.Cursor):
// "severity.desc.3.<id>", "detected.asc..<id>", the bare id in the default
// sort.
func cursorOf(s Sort, a *Alert) string {
	var v string
	switch s.norm().Key {
	case SortLastSeen:
		v = strconv.FormatInt(a.LastSeen.UnixNano(), 10)
	case SortSeverity:
		v = strconv.Itoa(int(a.Severity))
	case SortCount:
		v = strconv.Itoa(a.Count)
	case SortStatus:
		v = string(a.Status)
	case SortTriage:
		// The score's bits, so that the cursor holds it exactly and
		// without a dot (which separates the cursor's parts).
		v = strconv.FormatUint(math.Float64bits(triageScore(a)), 10)
	}
	return s.order().Cursor(string(SortDetected), v, a.ID)
}

// parseCursor checks a client's cursor against sort s.
func parseCursor(s Sort, c string) (cursor, error) {
	v, id, err := s.order().ReadCursor(store.Names(SortKeys()), ValidID, c)
	if err != nil {
		return cursor{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if id == "" {
		return cursor{}, nil
	}
	switch s.norm().Key {
	case SortStatus:
		if v != string(StatusNew) && v != string(StatusAcknowledged) && v != string(StatusClosed) {
			return cursor{}, fmt.Errorf("%w: cursor %q holds an unknown status", ErrInvalid, c)
		}
	case SortDetected:
		if v != "" {
			return cursor{}, fmt.Errorf("%w: cursor %q is not a page cursor", ErrInvalid, c)
		}
	case SortTriage:
		if n, err := strconv.ParseUint(v, 10, 64); err != nil || math.IsNaN(math.Float64frombits(n)) {
			return cursor{}, fmt.Errorf("%w: cursor %q holds no score", ErrInvalid, c)
		}
	default:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return cursor{}, fmt.Errorf("%w: cursor %q holds no number", ErrInvalid, c)
		}
	}
	return cursor{value: v, id: id}, nil
}

// after is the SQL condition selecting the alerts after c in sort s, as
// a row comparison both SQLite and PostgreSQL answer from the (column,
// id) index.
func (c cursor) after(s Sort) (string, []any) {
	op := " < "
	if s.Asc {
		op = " > "
	}
	col := s.norm().Key.column()
	if col == "id" {
		return "id" + op + "?", []any{c.id}
	}
	var v any = c.value
	switch col {
	case "status":
	case "triage":
		n, _ := strconv.ParseUint(c.value, 10, 64) // checked by parseCursor
		v = math.Float64frombits(n)
	default:
		n, _ := strconv.ParseInt(c.value, 10, 64) // checked by parseCursor
		v = n
	}
	return "(" + col + ", id)" + op + "(?, ?)", []any{v, c.id}
}
