package archive

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// Op is how a filter compares a field's values.
type Op string

// The filter operators. Text comparisons ignore case; a field with several
// values matches when any value does; an event without the field never
// matches.
const (
	Eq       Op = "eq"       // equal
	Prefix   Op = "prefix"   // starts with
	Contains Op = "contains" // holds the text anywhere
	CIDR     Op = "cidr"     // an IP address inside the network
	Gte      Op = "gte"      // a number ≥ the value
	Gt       Op = "gt"       // a number > the value
	Lte      Op = "lte"      // a number ≤ the value
	Lt       Op = "lt"       // a number < the value
)

// Ops lists every operator, for help texts and parsers.
var Ops = []Op{Eq, Prefix, Contains, CIDR, Gte, Gt, Lte, Lt}

// IsOp reports whether s names an operator.
func IsOp(s string) bool {
	for _, o := range Ops {
		if string(o) == s {
			return true
		}
	}
	return false
}

// Filter is one condition on a field.
type Filter struct {
	Field string
	Op    Op
	Value string

	// Set by Query.Check:
	lower  string
	prefix netip.Prefix
	number float64
}

// Query selects events of one member for hunting.
type Query struct {
	// Member is whose events are searched: always the caller's own.
	Member string
	// From and To bound the event time [From, To). Zero To means now;
	// zero From means To minus a day.
	From, To time.Time
	Filters  []Filter
	// Text, if set, must occur (ignoring case) in some field value or in
	// the original input line.
	Text string
	// Limit is the page size (1..1000, default 100); Cursor continues
	// from a previous page's Next.
	Limit  int
	Cursor string

	// Set by Check:
	after cursor
}

// Query limits.
const (
	// MaxRange is the widest time range one query may cover.
	MaxRange = 31 * 24 * time.Hour
	// MaxLimit is the largest page.
	MaxLimit = 1000
	// maxFilters bounds the conditions of one query.
	maxFilters = 32
)

// ErrBadQuery marks a query the caller must change: the API answers 400
// with the message.
var ErrBadQuery = errors.New("bad query")

// ErrTooCostly marks a query that would read more than the server's cost
// limit allows: the API answers 400 with the message, which says how to
// narrow it.
var ErrTooCostly = errors.New("query too costly")

func badQuery(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadQuery, fmt.Sprintf(format, args...))
}

var fieldName = regexp.MustCompile(`^[@A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$`)

// Check validates q and fills in its defaults; known says whether a field
// name exists in this member's archive (a field of the schema, or one the
// archive has stored). now is the current time.
func (q *Query) Check(now time.Time, known func(string) bool) error {
	if q.Member == "" {
		return badQuery("no member")
	}
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-24 * time.Hour)
	}
	if !q.From.Before(q.To) {
		return badQuery("from (%s) must be before to (%s)", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if w := q.To.Sub(q.From); w > MaxRange {
		return badQuery("time range of %s is wider than the limit of %s: narrow from/to", w.Round(time.Hour), MaxRange)
	}
	switch {
	case q.Limit == 0:
		q.Limit = 100
	case q.Limit < 0 || q.Limit > MaxLimit:
		return badQuery("limit %d outside 1..%d", q.Limit, MaxLimit)
	}
	if len(q.Filters) > maxFilters {
		return badQuery("%d filters; at most %d", len(q.Filters), maxFilters)
	}
	for i := range q.Filters {
		if err := q.Filters[i].check(known); err != nil {
			return err
		}
	}
	q.Text = strings.ToLower(q.Text)
	var err error
	if q.after, err = parseCursor(q.Cursor); err != nil {
		return err
	}
	return nil
}

func (f *Filter) check(known func(string) bool) error {
	if !fieldName.MatchString(f.Field) {
		return badQuery("bad field name %q", f.Field)
	}
	if !isReserved(f.Field) && !known(f.Field) {
		return badQuery("unknown field %q: no stored event of this member has it", f.Field)
	}
	f.lower = strings.ToLower(f.Value)
	switch f.Op {
	case Eq, Prefix, Contains:
		if f.Value == "" {
			return badQuery("%s %s: empty value", f.Field, f.Op)
		}
	case CIDR:
		p, err := netip.ParsePrefix(f.Value)
		if err != nil {
			a, aerr := netip.ParseAddr(f.Value)
			if aerr != nil {
				return badQuery("%s cidr: %q is not a network (10.0.0.0/8, 2001:db8::/32) or address", f.Field, f.Value)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		f.prefix = p.Masked()
	case Gte, Gt, Lte, Lt:
		n, err := strconv.ParseFloat(f.Value, 64)
		if err != nil {
			return badQuery("%s %s: %q is not a number", f.Field, f.Op, f.Value)
		}
		f.number = n
	default:
		return badQuery("unknown operator %q (one of %s)", f.Op, opList())
	}
	return nil
}

func opList() string {
	s := make([]string, len(Ops))
	for i, o := range Ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// isReserved reports whether name is one of the fields every event has.
func isReserved(name string) bool {
	return name == event.FieldID
}

// matches reports whether one value satisfies f.
func (f *Filter) matches(v string) bool {
	switch f.Op {
	case Eq:
		return len(v) == len(f.lower) && strings.EqualFold(v, f.lower)
	case Prefix:
		return len(v) >= len(f.lower) && strings.EqualFold(v[:len(f.lower)], f.lower)
	case Contains:
		return containsFold(v, f.lower)
	case CIDR:
		a, err := netip.ParseAddr(v)
		return err == nil && f.prefix.Contains(a.Unmap())
	default:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		switch f.Op {
		case Gte:
			return n >= f.number
		case Gt:
			return n > f.number
		case Lte:
			return n <= f.number
		default:
			return n < f.number
		}
	}
}

// containsFold reports whether s holds lower (already lower case),
// ignoring ASCII case, without allocating.
func containsFold(s, lower string) bool {
	if lower == "" {
		return true
	}
	for i := 0; i+len(lower) <= len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c == lower[0] && strings.EqualFold(s[i:i+len(lower)], lower) {
			return true
		}
	}
	return false
}

// cursor is where a page ended: results continue with events strictly
// older, or as old with a smaller id.
type cursor struct {
	set  bool
	time int64
	id   string
}

func (c cursor) String() string {
	if !c.set {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.time, 10) + ":" + c.id))
}

func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, badQuery("bad cursor")
	}
	ts, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil {
		return cursor{}, badQuery("bad cursor")
	}
	return cursor{set: true, time: n, id: id}, nil
}

// before reports whether (t, id) comes after the cursor in newest-first
// order, that is, belongs on a later page.
func (c cursor) admits(t int64, id string) bool {
	return !c.set || t < c.time || t == c.time && id < c.id
}

// Page is one page of results, newest first.
type Page struct {
	Events []json.RawMessage `json:"events"`
	// Next continues the search; empty on the last page.
	Next string `json:"next,omitempty"`
}

// Bucket is one value of a top-N aggregation and how many events have it.
type Bucket struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}
