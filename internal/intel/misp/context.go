package misp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
)

// AttributeProperty is the custom STIX property in which imported objects
// keep the MISP attribute they come from (type, value, category, comment,
// to_ids, its object), so that an export gives MISP back the attribute as
// it was: a filename|md5 stays one attribute although its pattern only
// tests the hash.
const AttributeProperty = "x_misp_attribute"

// EventProperty is the custom STIX property in which an event's report
// keeps the MISP event fields STIX has no place for.
const EventProperty = "x_misp_event"

// sco is a cyber observable an attribute describes. Reference properties
// hold "#<n>", the n-th observable of the same attribute, until ids are
// given.
type sco struct {
	typ   string
	props map[string]any
}

// observables returns the cyber observables a MISP attribute's value
// describes, or ok false when its type has none (text, comment, link,
// user-agent...), or an error for a value its type cannot hold.
func observables(typ, value string) (obs []sco, ok bool, err error) {
	value = strings.TrimSpace(value)
	one := func(t string, props map[string]any) ([]sco, bool, error) {
		return []sco{{t, props}}, true, nil
	}
	switch typ {
	case "ip-src", "ip-dst":
		t, err := ipType(value)
		if err != nil {
			return nil, false, err
		}
		return one(t, map[string]any{"value": value})
	case "ip-src|port", "ip-dst|port", "hostname|port":
		host, port, err := splitPort(value)
		if err != nil {
			return nil, false, err
		}
		dir := "dst"
		if typ == "ip-src|port" {
			dir = "src"
		}
		hostType := "domain-name"
		if typ != "hostname|port" {
			if hostType, err = ipType(host); err != nil {
				return nil, false, err
			}
		}
		// MISP does not say the transport; TCP is what these
		// attributes describe in practice (misp-stix does the same).
		return []sco{{hostType, map[string]any{"value": host}},
			{"network-traffic", map[string]any{dir + "_ref": "#0", dir + "_port": port, "protocols": []any{"tcp"}}}}, true, nil
	case "domain", "hostname":
		return one("domain-name", map[string]any{"value": value})
	case "domain|ip":
		domain, ip, found := strings.Cut(value, "|")
		t, err := ipType(ip)
		if !found || err != nil {
			return nil, false, fmt.Errorf("domain|ip value %q is not <domain>|<address>", value)
		}
		return []sco{{t, map[string]any{"value": ip}},
			{"domain-name", map[string]any{"value": domain, "resolves_to_refs": []any{"#0"}}}}, true, nil
	case "url", "uri":
		return one("url", map[string]any{"value": value})
	case "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ssdeep", "tlsh":
		return one("file", map[string]any{"hashes": map[string]any{pattern.HashName(typ): value}})
	case "filename":
		return one("file", map[string]any{"name": value})
	case "email", "email-src", "email-dst":
		return one("email-addr", map[string]any{"value": value})
	case "email-subject":
		return one("email-message", map[string]any{"is_multipart": false, "subject": value})
	case "mutex":
		return one("mutex", map[string]any{"name": value})
	case "regkey":
		return one("windows-registry-key", map[string]any{"key": value})
	case "regkey|value":
		key, data, _ := strings.Cut(value, "|")
		return one("windows-registry-key", map[string]any{"key": key, "values": []any{map[string]any{"name": "", "data": data}}})
	case "AS":
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(value), "AS"), 10, 32)
		if err != nil {
			return nil, false, fmt.Errorf("%q is not an AS number", value)
		}
		return one("autonomous-system", map[string]any{"number": n})
	case "mac-address":
		return one("mac-addr", map[string]any{"value": strings.ToLower(value)})
	case "x509-fingerprint-md5", "x509-fingerprint-sha1", "x509-fingerprint-sha256":
		algo := pattern.HashName(strings.TrimPrefix(typ, "x509-fingerprint-"))
		return one("x509-certificate", map[string]any{"hashes": map[string]any{algo: strings.ToLower(value)}})
	}
	if algo, ok := strings.CutPrefix(typ, "filename|"); ok {
		name, hash, found := strings.Cut(value, "|")
		if !found {
			return nil, false, fmt.Errorf("%s value %q lacks '|'", typ, value)
		}
		return one("file", map[string]any{"name": name, "hashes": map[string]any{pattern.HashName(algo): hash}})
	}
	return nil, false, nil
}

func ipType(v string) (string, error) {
	a, err := netip.ParseAddr(v)
	if err != nil {
		p, perr := netip.ParsePrefix(v)
		if perr != nil {
			return "", fmt.Errorf("%q is not an IP address or network", v)
		}
		a = p.Addr()
	}
	if a.Unmap().Is4() {
		return "ipv4-addr", nil
	}
	return "ipv6-addr", nil
}

// attributeRecord is what AttributeProperty holds.
func attributeRecord(a Attribute, o Object) map[string]any {
	m := map[string]any{"type": a.Type, "value": a.Value, "to_ids": bool(a.ToIDS)}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("category", a.Category)
	set("comment", a.Comment)
	set("object_relation", a.ObjectRelation)
	set("object_uuid", o.UUID)
	set("object_name", o.Name)
	set("object_meta_category", o.MetaCategory)
	return m
}

// context keeps an attribute that is not for detection (to_ids off, or a
// type with no STIX pattern) as context of its event: observed data
// referring to the observables its value describes, or, for types that
// describe no observable (text, comments, links), a note on the event's
// report. The event keeps its meaning and nothing of it alerts.
//
// The observables get ids of their own attribute (a UUIDv5 of the
// attribute) rather than the content-derived ids STIX recommends: the
// repository gives each object one owner and TLP, and two members'
// context on one address must not become one object.
func (c *eventContext) context(r *Result, a Attribute, o Object, why string) {
	obs, ok, err := observables(a.Type, a.Value)
	if err != nil {
		c.skipAttr(r, a, "%s, and %v", why, err)
		return
	}
	key := a.UUID
	if !validUUID(key) {
		key = c.ev.UUID + "|" + a.Type + "|" + a.Value
	}
	first, last, changed := c.observedWindow(a, o)
	level := c.level(a, o)
	props := map[string]any{AttributeProperty: attributeRecord(a, o)}
	var objs []stix.Object
	var id, what string
	if ok {
		ids := make([]string, len(obs))
		for i, s := range obs {
			ids[i] = stix.NameID(s.typ, fmt.Sprintf("misp-attribute:%s#%d", key, i))
		}
		for i, s := range obs {
			resolveRefs(s.props, ids)
			sc, err := newSCO(ids[i], s.typ, s.props)
			if err != nil {
				c.skipAttr(r, a, "%s, and %v", why, err)
				return
			}
			sc.SetTLP(level)
			objs = append(objs, sc)
		}
		refs := make([]any, len(ids))
		for i, x := range ids {
			refs[i] = x
		}
		props["first_observed"] = stix.FormatTime(first)
		props["last_observed"] = stix.FormatTime(last)
		props["number_observed"] = 1
		props["object_refs"] = refs
		id, what = contextID("observed-data", a.UUID, key), "observed data"
	} else {
		props["abstract"] = "MISP " + a.Type + " attribute"
		content := a.Value
		if a.Comment != "" {
			content += "\n\n" + a.Comment
		}
		props["content"] = content
		props["object_refs"] = []any{c.report}
		id, what = contextID("note", a.UUID, key), "a note on the event's report"
	}
	typ, _, _ := stix.SplitID(id)
	sdo, err := stix.NewSDO(typ, id, changed, changed, c.identity, level, props)
	if err != nil {
		c.skipAttr(r, a, "%s, and %v", why, err)
		return
	}
	r.Context = append(append(r.Context, objs...), sdo)
	c.refs = append(c.refs, id)
	r.Items = append(r.Items, Item{Event: c.ev.UUID, Attribute: a.UUID, Type: a.Type, Value: a.Value,
		Outcome: Context, Reason: why + ": kept as " + what + ", not for detection", Object: id})
}

// contextID is the id of an attribute's context object: its uuid when it
// has a valid one, else one derived from key.
func contextID(typ, uuid, key string) string {
	if validUUID(uuid) {
		return typ + "--" + strings.ToLower(uuid)
	}
	return stix.NameID(typ, "misp:"+key)
}

// resolveRefs replaces the "#<n>" references of props by ids[n].
func resolveRefs(props map[string]any, ids []string) {
	ref := func(v any) any {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "#") {
			if n, err := strconv.Atoi(s[1:]); err == nil && n < len(ids) {
				return ids[n]
			}
		}
		return v
	}
	for k, v := range props {
		switch {
		case strings.HasSuffix(k, "_ref"):
			props[k] = ref(v)
		case strings.HasSuffix(k, "_refs"):
			list, _ := v.([]any)
			for i := range list {
				list[i] = ref(list[i])
			}
		}
	}
}

// newSCO builds and validates an observable with the given id.
func newSCO(id, typ string, props map[string]any) (stix.Object, error) {
	o, err := stix.NewSCO(typ, props)
	if err != nil {
		return o, err
	}
	if err := o.Set("id", id); err != nil {
		return o, err
	}
	return o, stix.Validate(o)
}

// observedWindow returns when an attribute was observed (first_seen and
// last_seen, the attribute's or its object's, else its last change) and
// its last change.
func (c *eventContext) observedWindow(a Attribute, o Object) (first, last, changed time.Time) {
	changed = c.changed(a)
	first, _ = seen(a.FirstSeen, o.FirstSeen)
	last, _ = seen(a.LastSeen, o.LastSeen)
	if first.IsZero() {
		first = changed
	}
	if last.Before(first) {
		last = first
	}
	return first.Truncate(time.Millisecond), last.Truncate(time.Millisecond), changed
}

// changed is an attribute's last change: its timestamp, else the event's,
// else the event's date, else the import time.
func (c *eventContext) changed(a Attribute) time.Time {
	switch {
	case a.Timestamp > 0:
		return time.Unix(int64(a.Timestamp), 0).UTC()
	case c.ev.Timestamp > 0:
		return time.Unix(int64(c.ev.Timestamp), 0).UTC()
	}
	if d, err := time.Parse("2006-01-02", c.ev.Date); err == nil {
		return d
	}
	return c.now
}

// addReport adds the event's report: its uuid, info, creator, tags and
// TLP, referring to every object made from the event, so that the event
// survives as one unit (and an export gives it back).
func (c *eventContext) addReport(r *Result) {
	if len(c.refs) == 0 {
		return
	}
	changed := c.changed(Attribute{})
	published := changed
	if c.ev.PublishTimestamp > 0 {
		published = time.Unix(int64(c.ev.PublishTimestamp), 0).UTC()
	}
	name := c.ev.Info
	if name == "" {
		name = "MISP event " + c.ev.UUID
	}
	refs := make([]any, len(c.refs))
	for i, id := range c.refs {
		refs[i] = id
	}
	meta := map[string]any{"published": bool(c.ev.Published), "info": c.ev.Info}
	if c.ev.Date != "" {
		meta["date"] = c.ev.Date
	}
	if c.ev.ThreatLevelID > 0 {
		meta["threat_level_id"] = int64(c.ev.ThreatLevelID)
	}
	meta["analysis"] = int64(c.ev.Analysis)
	if c.ev.Distribution != nil {
		meta["distribution"] = int64(*c.ev.Distribution)
	}
	if c.ev.Orgc.UUID != "" || c.ev.Orgc.Name != "" {
		meta["orgc"] = map[string]any{"uuid": c.ev.Orgc.UUID, "name": c.ev.Orgc.Name}
	}
	props := map[string]any{
		"name": name, "published": stix.FormatTime(published), "report_types": []any{"threat-report"},
		"object_refs": refs, EventProperty: meta,
	}
	var tags []any
	for _, t := range c.ev.Tags {
		if t.Name != "" {
			tags = append(tags, t.Name)
		}
	}
	if len(tags) > 0 {
		props["labels"] = tags
	}
	rep, err := stix.NewSDO("report", c.report, changed, changed, c.identity, c.level(Attribute{}, Object{}), props)
	if err != nil {
		r.skip(Item{Event: c.ev.UUID}, "the event's report: %v", err)
		return
	}
	r.Reports = append(r.Reports, rep)
}
