package stix

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
)

// ValidationError says which property of which object breaks the STIX 2.1
// rules, and why.
type ValidationError struct {
	// ID is the object's id, if it has a usable one.
	ID string
	// Property names the offending property ("pattern",
	// "kill_chain_phases[1].phase_name").
	Property string
	Reason   string
}

func (e *ValidationError) Error() string {
	id := e.ID
	if id == "" {
		id = "object"
	}
	return fmt.Sprintf("stix: %s: %s: %s", id, e.Property, e.Reason)
}

// Category is the kind of STIX object a type belongs to.
type Category uint8

// The categories. Custom types are Unknown: they are checked only for the
// common rules that apply to every object.
const (
	Unknown Category = iota
	SDO
	SRO
	SCO
	Meta // marking-definition, language-content, extension-definition
)

// categories lists every type STIX 2.1 defines.
var categories = map[string]Category{
	"attack-pattern": SDO, "campaign": SDO, "course-of-action": SDO, "grouping": SDO,
	"identity": SDO, "incident": SDO, "indicator": SDO, "infrastructure": SDO,
	"intrusion-set": SDO, "location": SDO, "malware": SDO, "malware-analysis": SDO,
	"note": SDO, "observed-data": SDO, "opinion": SDO, "report": SDO,
	"threat-actor": SDO, "tool": SDO, "vulnerability": SDO,
	"relationship": SRO, "sighting": SRO,
	"artifact": SCO, "autonomous-system": SCO, "directory": SCO, "domain-name": SCO,
	"email-addr": SCO, "email-message": SCO, "file": SCO, "ipv4-addr": SCO,
	"ipv6-addr": SCO, "mac-addr": SCO, "mutex": SCO, "network-traffic": SCO,
	"process": SCO, "software": SCO, "url": SCO, "user-account": SCO,
	"windows-registry-key": SCO, "x509-certificate": SCO,
	"marking-definition": Meta, "language-content": Meta, "extension-definition": Meta,
}

// CategoryOf returns the category of a STIX type.
func CategoryOf(typ string) Category { return categories[typ] }

// required lists the type-specific required properties (STIX 2.1 section
// 4-7; the JSON schemas agree, see the tests).
var required = map[string][]string{
	"attack-pattern":       {"name"},
	"campaign":             {"name"},
	"course-of-action":     {"name"},
	"grouping":             {"context", "object_refs"},
	"identity":             {"name"},
	"incident":             {"name"},
	"indicator":            {"pattern", "pattern_type", "valid_from"},
	"infrastructure":       {"name"},
	"intrusion-set":        {"name"},
	"malware":              {"is_family"},
	"malware-analysis":     {"product"},
	"note":                 {"content", "object_refs"},
	"observed-data":        {"first_observed", "last_observed", "number_observed"},
	"opinion":              {"opinion", "object_refs"},
	"report":               {"name", "published", "object_refs"},
	"threat-actor":         {"name"},
	"tool":                 {"name"},
	"vulnerability":        {"name"},
	"relationship":         {"relationship_type", "source_ref", "target_ref"},
	"sighting":             {"sighting_of_ref"},
	"autonomous-system":    {"number"},
	"directory":            {"path"},
	"domain-name":          {"value"},
	"email-addr":           {"value"},
	"ipv4-addr":            {"value"},
	"ipv6-addr":            {"value"},
	"mac-addr":             {"value"},
	"mutex":                {"name"},
	"network-traffic":      {"protocols"},
	"software":             {"name"},
	"url":                  {"value"},
	"language-content":     {"object_ref", "contents"},
	"extension-definition": {"name", "schema", "version", "extension_types"},
}

// RequiredProperties returns the properties a type requires beyond the
// common ones.
func RequiredProperties(typ string) []string { return required[typ] }

// Validate checks an object against the STIX 2.1 rules xsoc relies on:
//
//   - type is a valid type name; id is "<type>--<UUID>" with a valid
//     RFC 4122 UUID;
//   - SDOs, SROs and meta objects carry spec_version "2.1" and created (and
//     modified, except marking definitions), with millisecond precision,
//     modified not before created; SCOs may omit spec_version;
//   - every timestamp property is RFC 3339 in UTC with 'Z'; every *_ref and
//     *_refs property holds identifiers; confidence is 0-100;
//   - each type's required properties are present, with type-specific
//     rules (indicator validity window, pattern syntax for pattern_type
//     "stix", relationship ends, sighting counts and windows, ...).
//
// It returns the first problem as a *ValidationError naming the property.
func Validate(o Object) error {
	v := validator{o: o}
	v.common()
	if v.err == nil {
		v.specific()
	}
	if v.err != nil {
		return v.err
	}
	return nil
}

type validator struct {
	o   Object
	id  string
	err *ValidationError
}

func (v *validator) fail(prop, format string, args ...any) {
	if v.err == nil {
		v.err = &ValidationError{ID: v.id, Property: prop, Reason: fmt.Sprintf(format, args...)}
	}
}

func (v *validator) common() {
	typ, ok := v.o.props["type"].(string)
	if !ok {
		v.fail("type", "required string")
		return
	}
	if !validType(typ) {
		v.fail("type", "%q is not a valid type name (3-250 characters of a-z, 0-9, '-')", typ)
		return
	}
	id, ok := v.o.props["id"].(string)
	if !ok {
		v.fail("id", "required string")
		return
	}
	idType, _, valid := SplitID(id)
	if !valid {
		v.fail("id", "%q is not <type>--<RFC 4122 UUID>", id)
		return
	}
	if idType != typ {
		v.fail("id", "%q does not start with the object type %q", id, typ)
		return
	}
	v.id = id

	cat := CategoryOf(typ)
	switch sv, has := v.o.props["spec_version"]; {
	case has && sv != "2.1":
		v.fail("spec_version", "must be \"2.1\", not %v", sv)
	case !has && (cat == SDO || cat == SRO || cat == Meta):
		v.fail("spec_version", "required for %s objects", typ)
	}
	switch cat {
	case SDO, SRO, Meta:
		v.created(typ != "marking-definition")
	case Unknown:
		if v.o.Has("created") || v.o.Has("modified") {
			v.created(v.o.Has("modified"))
		}
	}
	v.generic()
}

// created checks created and, when wantModified, modified.
func (v *validator) created(wantModified bool) {
	created, ok := v.timestamp("created", true)
	if !ok {
		return
	}
	if !wantModified {
		return
	}
	modified, ok := v.timestamp("modified", true)
	if ok && modified.Before(created) {
		v.fail("modified", "is before created")
	}
}

// timestamp checks a timestamp property; milli requires the millisecond
// precision created and modified need.
func (v *validator) timestamp(name string, milli bool) (time.Time, bool) {
	raw, has := v.o.props[name]
	if !has {
		v.fail(name, "required")
		return time.Time{}, false
	}
	s, _ := raw.(string)
	t, err := ParseTime(s)
	if err != nil {
		v.fail(name, "%v", err)
		return time.Time{}, false
	}
	if milli {
		if dot := strings.IndexByte(s, '.'); dot < 0 || len(s)-dot-2 < 3 {
			v.fail(name, "needs millisecond precision (%q)", s)
			return time.Time{}, false
		}
	}
	return t, true
}

// optionalTime checks a timestamp property if present.
func (v *validator) optionalTime(name string) (time.Time, bool) {
	if !v.o.Has(name) {
		return time.Time{}, false
	}
	return v.timestamp(name, false)
}

// generic checks the rules that follow from property names and the
// common optional properties.
func (v *validator) generic() {
	for _, name := range slices.Sorted(maps.Keys(v.o.props)) {
		val := v.o.props[name]
		switch {
		case strings.HasSuffix(name, "_ref"):
			if s, ok := val.(string); !ok || !isID(s) {
				v.fail(name, "must be an identifier, not %v", val)
			}
		case strings.HasSuffix(name, "_refs"):
			list, ok := val.([]any)
			if !ok {
				v.fail(name, "must be a list of identifiers")
				continue
			}
			for i, x := range list {
				if s, ok := x.(string); !ok || !isID(s) {
					v.fail(fmt.Sprintf("%s[%d]", name, i), "must be an identifier, not %v", x)
				}
			}
		}
	}
	if ref := v.o.String("created_by_ref"); ref != "" && !strings.HasPrefix(ref, "identity--") {
		v.fail("created_by_ref", "must refer to an identity, not %s", ref)
	}
	for i, ref := range v.o.Strings("object_marking_refs") {
		if !strings.HasPrefix(ref, "marking-definition--") {
			v.fail(fmt.Sprintf("object_marking_refs[%d]", i), "must refer to a marking-definition, not %s", ref)
		}
	}
	if raw, has := v.o.props["confidence"]; has {
		n, ok := v.o.Int("confidence")
		if !ok || n < 0 || n > 100 {
			v.fail("confidence", "must be an integer from 0 to 100, not %v", raw)
		}
	}
	if raw, has := v.o.props["external_references"]; has {
		list, ok := raw.([]any)
		if !ok {
			v.fail("external_references", "must be a list")
		}
		for i, x := range list {
			m, _ := x.(map[string]any)
			if s, _ := m["source_name"].(string); s == "" {
				v.fail(fmt.Sprintf("external_references[%d].source_name", i), "required")
			}
		}
	}
}

func isID(s string) bool {
	_, _, ok := SplitID(s)
	return ok
}

func (v *validator) specific() {
	typ := v.o.Type()
	for _, name := range required[typ] {
		if !v.o.Has(name) {
			v.fail(name, "required for %s", typ)
			return
		}
	}
	switch typ {
	case "indicator":
		v.indicator()
	case "malware":
		if fam, ok := v.o.Bool("is_family"); !ok {
			v.fail("is_family", "must be a boolean")
		} else if fam && v.o.String("name") == "" {
			v.fail("name", "required when is_family is true")
		}
		v.killChain()
	case "attack-pattern":
		v.killChain()
	case "relationship":
		v.nonEmptyString("relationship_type")
		start, okStart := v.optionalTime("start_time")
		stop, okStop := v.optionalTime("stop_time")
		if okStart && okStop && !stop.After(start) {
			v.fail("stop_time", "must be later than start_time")
		}
	case "sighting":
		v.sighting()
	case "observed-data":
		v.observedData()
	case "report":
		v.optionalTime("published")
		v.nonEmptyList("object_refs")
	case "identity":
		v.nonEmptyString("name")
	case "artifact":
		v.artifact()
	}
}

// artifact follows the OASIS schema's rule: an artifact carries its
// content (payload_bin) or says where it is (url, then with hashes to
// check it by), one of the two.
func (v *validator) artifact() {
	payload, url := v.o.Has("payload_bin"), v.o.Has("url")
	switch {
	case !payload && !url:
		v.fail("payload_bin", "an artifact needs payload_bin or url")
	case payload && url:
		v.fail("url", "an artifact has payload_bin or url, not both")
	case url && !v.o.Has("hashes"):
		v.fail("hashes", "required for an artifact given by url")
	}
}

func (v *validator) nonEmptyString(name string) {
	if v.o.String(name) == "" {
		v.fail(name, "must be a non-empty string")
	}
}

func (v *validator) nonEmptyList(name string) {
	if l, ok := v.o.props[name].([]any); !ok || len(l) == 0 {
		v.fail(name, "must be a non-empty list")
	}
}

func (v *validator) indicator() {
	from, okFrom := v.timestamp("valid_from", false)
	until, okUntil := v.optionalTime("valid_until")
	if okFrom && okUntil && !until.After(from) {
		v.fail("valid_until", "must be later than valid_from")
	}
	v.nonEmptyString("pattern_type")
	v.nonEmptyString("pattern")
	if v.err == nil && v.o.String("pattern_type") == "stix" {
		if _, err := pattern.Parse(v.o.String("pattern")); err != nil {
			v.fail("pattern", "%v", err)
		}
	}
	v.killChain()
}

func (v *validator) killChain() {
	raw, has := v.o.props["kill_chain_phases"]
	if !has {
		return
	}
	list, ok := raw.([]any)
	if !ok {
		v.fail("kill_chain_phases", "must be a list")
		return
	}
	for i, x := range list {
		m, _ := x.(map[string]any)
		for _, k := range []string{"kill_chain_name", "phase_name"} {
			if s, _ := m[k].(string); s == "" {
				v.fail(fmt.Sprintf("kill_chain_phases[%d].%s", i, k), "required")
			}
		}
	}
}

func (v *validator) sighting() {
	if raw, has := v.o.props["count"]; has {
		n, ok := v.o.Int("count")
		if !ok || n < 0 || n > 999999999 {
			v.fail("count", "must be an integer from 0 to 999999999, not %v", raw)
		}
	}
	first, okFirst := v.optionalTime("first_seen")
	last, okLast := v.optionalTime("last_seen")
	if okFirst && okLast && last.Before(first) {
		v.fail("last_seen", "is before first_seen")
	}
}

func (v *validator) observedData() {
	first, okFirst := v.timestamp("first_observed", false)
	last, okLast := v.timestamp("last_observed", false)
	if okFirst && okLast && last.Before(first) {
		v.fail("last_observed", "is before first_observed")
	}
	n, ok := v.o.Int("number_observed")
	if !ok || n < 1 || n > 999999999 {
		v.fail("number_observed", "must be an integer from 1 to 999999999")
	}
	if !v.o.Has("object_refs") && !v.o.Has("objects") {
		v.fail("object_refs", "required (or the deprecated objects)")
	}
}

// jsonNumber is used by builders to store integers in decoded form.
func jsonNumber(n int) json.Number { return json.Number(fmt.Sprint(n)) }
