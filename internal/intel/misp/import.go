package misp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Options steer an import.
type Options struct {
	// Now is the import time; zero means time.Now(). It decides what has
	// expired and is the valid_from of text-feed indicators.
	Now time.Time
	// DefaultTLP marks indicators that carry neither a tlp tag nor a
	// distribution level, and every indicator of freetext and CSV feeds.
	// The zero value is TLP:CLEAR, right for public feeds; set AMBER or
	// stricter for anything else.
	DefaultTLP tlp.Level
	// MaxAge, if positive, drops indicators without last_seen whose last
	// change (attribute timestamp) is older than Now-MaxAge: stale IOCs
	// cause false positives.
	MaxAge time.Duration
	// IncludeNonIDS makes indicators of attributes whose to_ids flag is
	// off. MISP uses the flag to say "do not alert on this", so by default
	// they are kept as context (observed data or notes), not indicators.
	IncludeNonIDS bool
	// MaxFileBytes bounds each file read from a feed; default 64 MiB.
	MaxFileBytes int64
	// Source names a text feed; it enters the deterministic indicator ids
	// so that two feeds listing the same value stay distinct.
	Source string
	// CreatedBy is the identity id set on text-feed indicators.
	CreatedBy string
}

func (o Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now().UTC()
	}
	return o.Now.UTC()
}

func (o Options) maxFileBytes() int64 {
	if o.MaxFileBytes > 0 {
		return o.MaxFileBytes
	}
	return 64 << 20
}

// Outcome is what happened to one input item.
type Outcome uint8

// The outcomes.
const (
	Imported Outcome = iota
	Skipped
	Exported
	// Context is an attribute kept as context of its event (observed data
	// or a note), not as an indicator: its to_ids flag is off, or its type
	// has no STIX pattern.
	Context
)

func (o Outcome) String() string {
	return [...]string{"imported", "skipped", "exported", "kept as context"}[o]
}

// Item reports one input item: a MISP attribute, a feed line, an event
// file, or (on export) an indicator.
type Item struct {
	// Event is the MISP event uuid, if any.
	Event string
	// Attribute is the attribute uuid, if any.
	Attribute string
	// Line is the line number in a text feed, if any.
	Line int
	// Type and Value are the MISP attribute type and value.
	Type, Value string
	Outcome     Outcome
	// Reason says why the item was skipped.
	Reason string
	// Indicator is the id of the STIX indicator made from (or exported
	// for) the item.
	Indicator string
	// Object is the id of the STIX object an item kept as context became
	// (observed-data or note), or on export the report an event came
	// from.
	Object string
}

// Result is the outcome of an import or export.
type Result struct {
	// Indicators are the STIX indicators made, valid per stix.Validate.
	Indicators []stix.Object
	// Identities are the producers (MISP creator organisations) the
	// indicators' created_by_ref point to.
	Identities []stix.Object
	// Context holds the attributes kept as context (Outcome Context):
	// observed-data with the observables it refers to, and notes.
	Context []stix.Object
	// Reports holds one report per imported event (its uuid, info,
	// creator, tags and TLP), referring to the event's indicators and
	// context.
	Reports []stix.Object
	// Items reports every input item, imported or skipped.
	Items []Item
}

// Objects returns every STIX object of the result, producers first and
// reports last, in the order to store them.
func (r *Result) Objects() []stix.Object {
	out := make([]stix.Object, 0, len(r.Identities)+len(r.Indicators)+len(r.Context)+len(r.Reports))
	out = append(out, r.Identities...)
	out = append(out, r.Indicators...)
	out = append(out, r.Context...)
	return append(out, r.Reports...)
}

// Count returns how many items had outcome o.
func (r *Result) Count(o Outcome) int {
	n := 0
	for _, it := range r.Items {
		if it.Outcome == o {
			n++
		}
	}
	return n
}

func (r *Result) skip(it Item, format string, args ...any) {
	it.Outcome = Skipped
	it.Reason = fmt.Sprintf(format, args...)
	r.Items = append(r.Items, it)
}

// ImportEvent converts one MISP event (JSON, wrapped or bare) to STIX
// indicators.
func ImportEvent(data []byte, opts Options) (Result, error) {
	ev, err := ParseEvent(data)
	if err != nil {
		return Result{}, err
	}
	var r Result
	importEvent(&r, ev, opts)
	return r, nil
}

// ImportFeed imports a MISP feed: manifest.json listing the events, one
// <uuid>.json per event. Use os.DirFS for a directory. An event that is
// listed but missing or unreadable is reported as a skipped item; only an
// unreadable manifest fails the import.
func ImportFeed(fsys fs.FS, opts Options) (Result, error) {
	data, err := readLimited(fsys, "manifest.json", opts.maxFileBytes())
	if err != nil {
		return Result{}, fmt.Errorf("misp: feed manifest: %w", err)
	}
	var manifest map[string]json.RawMessage
	if err := json.Unmarshal(data, &manifest); err != nil {
		return Result{}, fmt.Errorf("misp: feed manifest: %w", err)
	}
	var r Result
	// Sorted for a reproducible result order.
	for _, id := range slices.Sorted(mapKeys(manifest)) {
		if !validUUID(id) {
			r.skip(Item{Event: id}, "manifest key %q is not an event uuid", id)
			continue
		}
		data, err := readLimited(fsys, id+".json", opts.maxFileBytes())
		if err != nil {
			r.skip(Item{Event: id}, "event file: %v", err)
			continue
		}
		ev, err := ParseEvent(data)
		if err != nil {
			r.skip(Item{Event: id}, "%v", err)
			continue
		}
		if ev.UUID == "" {
			ev.UUID = id
		}
		importEvent(&r, ev, opts)
	}
	return r, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// readLimited reads a file of fsys, refusing files over max bytes.
func readLimited(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(path.Clean(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, max)
	}
	return data, nil
}

// eventContext is what every attribute of an event inherits.
type eventContext struct {
	ev       Event
	tagTLP   tlp.Level
	hasTag   bool
	distTLP  tlp.Level
	hasDist  bool
	identity string
	opts     Options
	now      time.Time
	// report is the id of the event's report; refs lists the objects
	// made from the event, which it refers to.
	report string
	refs   []string
}

func importEvent(r *Result, ev Event, opts Options) {
	c := eventContext{ev: ev, opts: opts, now: opts.now()}
	c.report = "report--" + strings.ToLower(ev.UUID)
	if !validUUID(ev.UUID) {
		c.report = stix.NameID("report", "misp-event:"+ev.UUID+"|"+ev.Info)
	}
	c.tagTLP, c.hasTag = tagsTLP(ev.Tags)
	if ev.Distribution != nil {
		c.distTLP, c.hasDist = DistributionTLP(int(*ev.Distribution))
	}
	c.identity = r.identity(ev.Orgc, c.now)
	for _, a := range ev.Attributes {
		c.attribute(r, a, Object{})
	}
	for _, o := range ev.Objects {
		for _, a := range o.Attributes {
			if o.Deleted {
				c.skipAttr(r, a, "its object %s was deleted", o.UUID)
				continue
			}
			c.attribute(r, a, o)
		}
	}
	c.addReport(r)
}

// identity returns the identity id for a MISP creator organisation,
// adding the identity to r the first time.
func (r *Result) identity(org Org, now time.Time) string {
	if org.Name == "" && org.UUID == "" {
		return ""
	}
	id := stix.NameID("identity", "misp-org:"+org.UUID+":"+org.Name)
	if validUUID(org.UUID) {
		id = "identity--" + strings.ToLower(org.UUID)
	}
	for _, o := range r.Identities {
		if o.ID() == id {
			return id
		}
	}
	name := org.Name
	if name == "" {
		name = org.UUID
	}
	ident, err := stix.NewIdentity(name, "organization")
	if err != nil {
		return ""
	}
	// Same id on every import, so that re-imports do not multiply
	// identities.
	_ = ident.Set("id", id)
	_ = ident.Set("created", stix.FormatTime(time.Unix(0, 0)))
	_ = ident.Set("modified", stix.FormatTime(time.Unix(0, 0)))
	if stix.Validate(ident) == nil {
		r.Identities = append(r.Identities, ident)
	}
	return id
}

func (c *eventContext) skipAttr(r *Result, a Attribute, format string, args ...any) {
	r.skip(Item{Event: c.ev.UUID, Attribute: a.UUID, Type: a.Type, Value: a.Value}, format, args...)
}

// attribute converts one attribute (of the event, or of object o).
func (c *eventContext) attribute(r *Result, a Attribute, o Object) {
	switch {
	case bool(a.Deleted):
		c.skipAttr(r, a, "deleted")
		return
	case !bool(a.ToIDS) && !c.opts.IncludeNonIDS:
		c.context(r, a, o, "to_ids is off")
		return
	}
	pat, err := AttributePattern(a.Type, a.Value)
	if errors.Is(err, errNoPattern) {
		c.context(r, a, o, err.Error())
		return
	}
	if err != nil {
		c.skipAttr(r, a, "%v", err)
		return
	}
	from, until, err := c.window(a, o)
	if err != nil {
		c.skipAttr(r, a, "%v", err)
		return
	}
	level := c.level(a, o)
	id := "indicator--" + strings.ToLower(a.UUID)
	if !validUUID(a.UUID) {
		id = stix.NameID("indicator", "misp:"+c.ev.UUID+"|"+a.Type+"|"+a.Value)
	}
	modified := from
	if a.Timestamp > 0 {
		modified = time.Unix(int64(a.Timestamp), 0)
	}
	created := minTime(from, modified)
	ind, err := stix.NewIndicator(stix.IndicatorSpec{
		ID:             id,
		Name:           a.Type + ": " + a.Value,
		Description:    strings.TrimSpace(c.ev.Info + "\n" + a.Comment),
		Pattern:        pat,
		ValidFrom:      from,
		ValidUntil:     until,
		IndicatorTypes: []string{"malicious-activity"},
		Labels:         labels(a, o),
		CreatedBy:      c.identity,
		TLP:            level,
		Created:        created,
		Modified:       modified,
	})
	if err != nil {
		c.skipAttr(r, a, "%v", err)
		return
	}
	_ = ind.Set("x_misp_event_uuid", c.ev.UUID)
	_ = ind.Set(AttributeProperty, attributeRecord(a, o))
	r.Indicators = append(r.Indicators, ind)
	c.refs = append(c.refs, id)
	r.Items = append(r.Items, Item{Event: c.ev.UUID, Attribute: a.UUID, Type: a.Type, Value: a.Value, Outcome: Imported, Indicator: id})
}

func labels(a Attribute, o Object) []string {
	l := []string{fmt.Sprintf("misp:type=%q", a.Type)}
	if a.Category != "" {
		l = append(l, fmt.Sprintf("misp:category=%q", a.Category))
	}
	if o.Name != "" {
		l = append(l, fmt.Sprintf("misp:object=%q", o.Name))
	}
	return l
}

// level decides an attribute's TLP: an explicit tlp tag wins (the
// attribute's over the event's); then the attribute's, the object's and
// the event's distribution; then the default.
func (c *eventContext) level(a Attribute, o Object) tlp.Level {
	if l, ok := tagsTLP(a.Tags); ok {
		return l
	}
	if c.hasTag {
		return c.tagTLP
	}
	for _, d := range []*Int{a.Distribution, o.Distribution} {
		if d != nil {
			if l, ok := DistributionTLP(int(*d)); ok {
				return l
			}
		}
	}
	if c.hasDist {
		return c.distTLP
	}
	return c.opts.DefaultTLP
}

// window computes valid_from and valid_until: first_seen (attribute, then
// object) or the attribute's timestamp, or the event's; last_seen becomes
// valid_until. Expired and decayed attributes are refused.
func (c *eventContext) window(a Attribute, o Object) (from, until time.Time, err error) {
	first, err := seen(a.FirstSeen, o.FirstSeen)
	if err != nil {
		return from, until, fmt.Errorf("first_seen: %w", err)
	}
	last, err := seen(a.LastSeen, o.LastSeen)
	if err != nil {
		return from, until, fmt.Errorf("last_seen: %w", err)
	}
	changed := c.changed(a)
	from = first
	if from.IsZero() {
		from = changed
	}
	if !last.IsZero() {
		if !last.After(from) {
			return from, until, fmt.Errorf("last_seen %s is not after first_seen %s", stix.FormatTime(last), stix.FormatTime(from))
		}
		if !last.After(c.now) {
			return from, until, fmt.Errorf("expired: last_seen %s", stix.FormatTime(last))
		}
		return from, last, nil
	}
	if c.opts.MaxAge > 0 && changed.Before(c.now.Add(-c.opts.MaxAge)) {
		return from, until, fmt.Errorf("decayed: last changed %s, older than %s", stix.FormatTime(changed), c.opts.MaxAge)
	}
	return from, time.Time{}, nil
}

// seen parses the first non-empty MISP first_seen/last_seen value.
func seen(values ...string) (time.Time, error) {
	for _, v := range values {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999-0700", "2006-01-02 15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("%q is not a timestamp", v)
	}
	return time.Time{}, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func validUUID(s string) bool {
	_, _, ok := stix.SplitID("x-misp--" + s)
	return ok
}
