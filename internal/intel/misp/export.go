package misp

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
	"github.com/xsoc/xsoc/internal/tlp"
)

// ExportOptions describe the feed ExportFeed writes.
type ExportOptions struct {
	// Org is the creator organisation of the events that gather
	// indicators no report refers to.
	Org Org
	// Info prefixes each event's title.
	Info string
	// Now is the export time; zero means time.Now().
	Now time.Time
	// DefaultTLP marks indicators that carry no TLP marking.
	DefaultTLP tlp.Level
}

// ExportFeed writes STIX objects as a MISP feed in dir (created if
// needed): manifest.json, one <uuid>.json per event and hashes.csv.
//
// A report becomes the MISP event it describes: the report's uuid, name
// (info), creator (Orgc), labels (tags) and TLP, the MISP fields kept in
// EventProperty, and one attribute per indicator, observed data or note
// it refers to; attributes imported from MISP come back with their type,
// value, category, comment, to_ids flag and MISP object, as kept in
// AttributeProperty. So an event imported from MISP and exported again is
// the same event. Indicators no report refers to are grouped into one
// event per creator (created_by_ref) and TLP level, whose uuid derives from
// the creator, the level and opts.Info, so repeated exports update the
// same events; their attributes come from the pattern.
//
// Each exported indicator or event is reported as an Exported item, and
// everything that has no MISP form as a Skipped item with the reason: a
// pattern testing several observations, qualifiers, or properties no MISP
// attribute type holds; a pattern language other than STIX; a report
// referring to objects the export does not hold. Objects are exported as
// given: the caller decides, with tlp.MayReceive, which of them the feed's
// readers may see.
func ExportFeed(dir string, objects []stix.Object, opts ExportOptions) (Result, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	x := exporter{opts: opts, now: now, events: map[string]*Event{}, byID: map[string]stix.Object{}, used: map[string]bool{}}
	for _, o := range objects {
		x.byID[o.ID()] = o
	}
	for _, o := range objects {
		if o.Type() == "report" {
			x.report(o)
		}
	}
	for _, o := range objects {
		if o.Type() == "indicator" && !x.used[o.ID()] {
			x.indicator(o)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return x.res, fmt.Errorf("misp: export: %w", err)
	}
	manifest := map[string]any{}
	var hashes []string
	for _, id := range slices.Sorted(mapKeys(x.events)) {
		ev := x.events[id]
		if err := writeJSON(filepath.Join(dir, id+".json"), wrappedEvent{Event: *ev}); err != nil {
			return x.res, err
		}
		manifest[id] = map[string]any{
			"Orgc": ev.Orgc, "Tag": ev.Tags, "info": ev.Info, "date": ev.Date,
			"analysis": ev.Analysis, "threat_level_id": ev.ThreatLevelID, "timestamp": ev.Timestamp,
		}
		add := func(a Attribute) {
			sum := md5.Sum([]byte(a.Value))
			hashes = append(hashes, hex.EncodeToString(sum[:])+","+id)
		}
		for _, a := range ev.Attributes {
			add(a)
		}
		for _, o := range ev.Objects {
			for _, a := range o.Attributes {
				add(a)
			}
		}
	}
	if err := writeJSON(filepath.Join(dir, "manifest.json"), manifest); err != nil {
		return x.res, err
	}
	data := strings.Join(hashes, "\n")
	if data != "" {
		data += "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "hashes.csv"), []byte(data), 0o644); err != nil {
		return x.res, fmt.Errorf("misp: export: %w", err)
	}
	return x.res, nil
}

// exporter carries an export's state.
type exporter struct {
	opts   ExportOptions
	now    time.Time
	res    Result
	events map[string]*Event
	byID   map[string]stix.Object
	// used marks the objects a report's event has taken.
	used map[string]bool
}

// report makes the event a report describes.
func (x *exporter) report(rep stix.Object) {
	_, uuid, _ := stix.SplitID(rep.ID())
	level := x.level(rep)
	var meta struct {
		Info          *string `json:"info"`
		Date          string  `json:"date"`
		ThreatLevelID *Int    `json:"threat_level_id"`
		Analysis      *Int    `json:"analysis"`
		Distribution  *Int    `json:"distribution"`
		Published     *bool   `json:"published"`
		Orgc          *Org    `json:"orgc"`
	}
	if raw, ok := rep.Get(EventProperty); ok {
		if b, err := json.Marshal(raw); err == nil {
			_ = json.Unmarshal(b, &meta)
		}
	}
	published, _ := rep.Time("published")
	modified, _ := rep.Time("modified")
	ev := &Event{UUID: uuid, Info: rep.String("name"), Date: meta.Date, Timestamp: Int(modified.Unix()),
		PublishTimestamp: Int(published.Unix()), Published: true, ThreatLevelID: 2, Analysis: 2}
	if meta.Info != nil {
		ev.Info = *meta.Info
	}
	if ev.Date == "" {
		ev.Date = published.UTC().Format("2006-01-02")
	}
	if meta.Published != nil {
		ev.Published = Bool(*meta.Published)
	}
	if meta.ThreatLevelID != nil {
		ev.ThreatLevelID = *meta.ThreatLevelID
	}
	if meta.Analysis != nil {
		ev.Analysis = *meta.Analysis
	}
	dist := Int(tlpDistribution(level))
	if meta.Distribution != nil {
		dist = *meta.Distribution
	}
	ev.Distribution = &dist
	switch {
	case meta.Orgc != nil:
		ev.Orgc = *meta.Orgc
	default:
		ev.Orgc = x.org(rep.String("created_by_ref"))
	}
	hasTLP := false
	for _, l := range rep.Strings("labels") {
		ev.Tags = append(ev.Tags, Tag{Name: l})
		_, isTLP := TagTLP(l)
		hasTLP = hasTLP || isTLP
	}
	if !hasTLP {
		ev.Tags = append(ev.Tags, Tag{Name: tlpTag(level)})
	}
	objects := map[string]*Object{}
	var missing []string
	for _, ref := range rep.Strings("object_refs") {
		o, ok := x.byID[ref]
		if !ok {
			missing = append(missing, ref)
			continue
		}
		var attrs []Attribute
		var rec map[string]any
		var reason string
		switch o.Type() {
		case "indicator", "observed-data", "note":
			attrs, rec, reason = x.attributes(o)
		default:
			continue // identities, relationships...: no attribute
		}
		if reason != "" {
			x.res.skip(Item{Event: uuid, Indicator: o.ID()}, "%s", reason)
			continue
		}
		x.used[o.ID()] = true
		if oid, _ := rec["object_uuid"].(string); oid != "" {
			mo := objects[oid]
			if mo == nil {
				name, _ := rec["object_name"].(string)
				meta, _ := rec["object_meta_category"].(string)
				mo = &Object{UUID: oid, Name: name, MetaCategory: meta}
				objects[oid] = mo
				ev.Objects = append(ev.Objects, Object{UUID: oid})
			}
			mo.Attributes = append(mo.Attributes, attrs...)
			continue
		}
		ev.Attributes = append(ev.Attributes, attrs...)
	}
	for i := range ev.Objects {
		ev.Objects[i] = *objects[ev.Objects[i].UUID]
	}
	if len(missing) > 0 {
		x.res.skip(Item{Event: uuid, Object: rep.ID()}, "%d of the objects the report refers to are not in the export (not readable here, or not STIX indicators, observed data or notes): %s",
			len(missing), strings.Join(missing[:min(len(missing), 5)], ", "))
	}
	if len(ev.Attributes) == 0 && len(ev.Objects) == 0 {
		x.res.skip(Item{Event: uuid, Object: rep.ID()}, "the report refers to nothing that has a MISP attribute form")
		return
	}
	x.events[uuid] = ev
	x.res.Items = append(x.res.Items, Item{Event: uuid, Object: rep.ID(), Outcome: Exported})
}

// org returns the MISP organisation for a creator identity.
func (x *exporter) org(ref string) Org {
	if ref == "" {
		return x.opts.Org
	}
	org := Org{Name: ref}
	if _, uuid, ok := stix.SplitID(ref); ok {
		org.UUID = uuid
	}
	if ident, ok := x.byID[ref]; ok && ident.String("name") != "" {
		org.Name = ident.String("name")
	}
	return org
}

func (x *exporter) level(o stix.Object) tlp.Level {
	if l, ok := stix.TLPOf(o); ok {
		return l
	}
	return x.opts.DefaultTLP
}

// attributes returns the MISP attributes an indicator, observed data or
// note stands for, the AttributeProperty record it carries (if any), or
// why it has no MISP form.
func (x *exporter) attributes(o stix.Object) ([]Attribute, map[string]any, string) {
	level := x.level(o)
	_, uuid, _ := stix.SplitID(o.ID())
	modified, _ := o.Time("modified")
	base := Attribute{UUID: uuid, Timestamp: Int(modified.Unix()), Tags: []Tag{{Name: tlpTag(level)}}}
	var first, last time.Time
	switch o.Type() {
	case "indicator":
		first, _ = o.Time("valid_from")
		last, _ = o.Time("valid_until")
		base.ToIDS = true
		base.Comment = o.String("name")
	case "observed-data":
		first, _ = o.Time("first_observed")
		last, _ = o.Time("last_observed")
	}
	if !first.IsZero() {
		base.FirstSeen = first.UTC().Format(time.RFC3339Nano)
	}
	if !last.IsZero() && last.After(first) {
		base.LastSeen = last.UTC().Format(time.RFC3339Nano)
	}
	if raw, ok := o.Get(AttributeProperty); ok {
		if rec, ok := raw.(map[string]any); ok {
			a := base
			a.Type, _ = rec["type"].(string)
			a.Value, _ = rec["value"].(string)
			a.Category, _ = rec["category"].(string)
			a.Comment, _ = rec["comment"].(string)
			a.ObjectRelation, _ = rec["object_relation"].(string)
			toIDS, _ := rec["to_ids"].(bool)
			a.ToIDS = Bool(toIDS)
			if a.Type != "" && a.Value != "" {
				return []Attribute{a}, rec, ""
			}
		}
	}
	switch o.Type() {
	case "note":
		a := base
		a.Type, a.Category, a.Value = "text", "Other", o.String("content")
		return []Attribute{a}, nil, ""
	case "observed-data":
		var attrs []Attribute
		for _, ref := range o.Strings("object_refs") {
			if sc, ok := x.byID[ref]; ok {
				if typ, value, ok := scoAttribute(sc); ok {
					a := base
					a.Type, a.Value, a.Category = typ, value, categoryOf(typ)
					attrs = append(attrs, a)
				}
			}
		}
		if len(attrs) == 0 {
			return nil, nil, "observed data " + o.ID() + " refers to no observable a MISP attribute type holds"
		}
		for i := range attrs[1:] {
			attrs[i+1].UUID = nameUUID(fmt.Sprintf("%s#%d", o.ID(), i+1))
		}
		return attrs, nil, ""
	}
	view, err := o.Indicator()
	if err != nil {
		return nil, nil, err.Error()
	}
	if view.PatternType != "stix" {
		return nil, nil, fmt.Sprintf("pattern type %q has no MISP form", view.PatternType)
	}
	p, err := pattern.Parse(view.Pattern)
	if err != nil {
		return nil, nil, err.Error()
	}
	tvs, err := PatternAttributes(p)
	if err != nil {
		return nil, nil, err.Error()
	}
	attrs := make([]Attribute, len(tvs))
	for i, tv := range tvs {
		a := base
		a.Type, a.Value, a.Category = tv.Type, tv.Value, categoryOf(tv.Type)
		if len(tvs) > 1 {
			a.UUID = nameUUID(fmt.Sprintf("%s#%d", o.ID(), i))
		}
		attrs[i] = a
	}
	return attrs, nil, ""
}

// indicator adds an indicator no report took to the event of its creator
// and level.
func (x *exporter) indicator(ind stix.Object) {
	attrs, _, reason := x.attributes(ind)
	if reason != "" {
		x.res.skip(Item{Indicator: ind.ID()}, "%s", reason)
		return
	}
	ev := x.eventFor(ind.String("created_by_ref"), x.level(ind))
	ev.Attributes = append(ev.Attributes, attrs...)
	x.res.Items = append(x.res.Items, Item{Event: ev.UUID, Indicator: ind.ID(), Outcome: Exported})
}

// categoryOf is the MISP category of an attribute type.
func categoryOf(typ string) string {
	switch {
	case typ == "filename" || strings.HasPrefix(typ, "filename|") || hashLengths[typ] > 0 || typ == "ssdeep" || typ == "tlsh",
		strings.HasPrefix(typ, "email"):
		return "Payload delivery"
	case typ == "regkey" || typ == "regkey|value" || typ == "mutex":
		return "Persistence mechanism"
	case typ == "text":
		return "Other"
	}
	return "Network activity"
}

// eventFor returns the event for a creator and level, creating it.
func (x *exporter) eventFor(creator string, level tlp.Level) *Event {
	id := nameUUID("xsoc-misp-feed|" + x.opts.Info + "|" + creator + "|" + level.String())
	if ev, ok := x.events[id]; ok {
		return ev
	}
	dist := Int(tlpDistribution(level))
	info := strings.TrimSpace(x.opts.Info + " " + level.String())
	ev := &Event{
		UUID: id, Info: info, Date: x.now.Format("2006-01-02"), Timestamp: Int(x.now.Unix()),
		PublishTimestamp: Int(x.now.Unix()), Published: true, Distribution: &dist,
		ThreatLevelID: 2, Analysis: 2, Orgc: x.opts.Org, Tags: []Tag{{Name: tlpTag(level)}},
	}
	x.events[id] = ev
	return ev
}

// nameUUID is a deterministic UUIDv5 for name (see stix.NameID).
func nameUUID(name string) string {
	return strings.TrimPrefix(stix.NameID("x-misp", name), "x-misp--")
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("misp: export: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("misp: export: %w", err)
	}
	return nil
}

// ReadHashes reads a feed's hashes.csv: lines "<md5 of value>,<event
// uuid>". It returns the event uuids per value hash. Feeds publish it so
// that consumers can look values up without fetching every event.
func ReadHashes(r io.Reader) (map[string][]string, error) {
	out := map[string][]string{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		sum, event, ok := strings.Cut(text, ",")
		if _, err := hex.DecodeString(sum); !ok || err != nil || len(sum) != 32 || !validUUID(event) {
			return nil, fmt.Errorf("misp: hashes.csv line %d: want <md5>,<event uuid>, got %q", line, text)
		}
		out[sum] = append(out[sum], event)
	}
	return out, sc.Err()
}
