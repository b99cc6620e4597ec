package stix

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/tlp"
)

// sharedDir finds the read-only test data beside the repository.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(filepath.Dir(dir), "shared")
			if _, err := os.Stat(filepath.Join(shared, "stix")); err != nil {
				t.Skipf("shared STIX test data not found at %s", shared)
			}
			return shared
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
}

// jsonFiles lists the .json files under dir.
func jsonFiles(t testing.TB, dir string) []string {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(path) == ".json" {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no JSON files under %s", dir)
	}
	return files
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// TestRoundTripSharedFiles decodes and re-encodes every file of the
// official examples and interop profiles: bundles through Bundle, single
// objects (and the interop JSON-schema profiles, which are plain JSON
// objects) through Object. The output must be JSON-equal to the input.
func TestRoundTripSharedFiles(t *testing.T) {
	shared := sharedDir(t)
	for _, sub := range []string{"examples", "interop"} {
		for _, path := range jsonFiles(t, filepath.Join(shared, "stix", sub)) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var probe struct{ Type string }
			_ = json.Unmarshal(data, &probe)
			var out []byte
			if probe.Type == "bundle" {
				var b Bundle
				if err := json.Unmarshal(data, &b); err != nil {
					t.Errorf("%s: %v", path, err)
					continue
				}
				out, err = json.Marshal(b)
			} else {
				var o Object
				if err := json.Unmarshal(data, &o); err != nil {
					t.Errorf("%s: %v", path, err)
					continue
				}
				out, err = json.Marshal(o)
			}
			if err != nil {
				t.Errorf("%s: encode: %v", path, err)
				continue
			}
			if !jsonEqual(t, data, out) {
				t.Errorf("%s does not round-trip:\n%s", path, out)
			}
		}
	}
}

// TestExamplesValidate checks that every object of the official example
// bundles passes Validate and keeps its content through DecodeBundle.
func TestExamplesValidate(t *testing.T) {
	for _, path := range jsonFiles(t, filepath.Join(sharedDir(t), "stix", "examples")) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b, errs := DecodeBundle(data)
		for _, e := range errs {
			t.Errorf("%s: %v", filepath.Base(path), e)
		}
		if len(b.Objects) == 0 {
			t.Errorf("%s: no objects decoded", filepath.Base(path))
		}
		if b.ID != "" {
			out, _ := json.Marshal(b)
			if !jsonEqual(t, data, out) {
				t.Errorf("%s: validated bundle does not round-trip", filepath.Base(path))
			}
		}
	}
}

// TestRequiredMatchesSchemas checks the required-property table against the
// "required" lists of the official JSON schemas.
func TestRequiredMatchesSchemas(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "stix", "schemas")
	checked := 0
	for _, sub := range []string{"sdos", "sros", "observables"} {
		for _, path := range jsonFiles(t, filepath.Join(dir, sub)) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var schema map[string]any
			if err := json.Unmarshal(data, &schema); err != nil {
				t.Fatal(err)
			}
			typ := strings.TrimSuffix(filepath.Base(path), ".json")
			for _, prop := range schemaRequired(schema) {
				if common := []string{"type", "id", "spec_version", "created", "modified"}; slices.Contains(common, prop) {
					continue
				}
				checked++
				if !slices.Contains(RequiredProperties(typ), prop) {
					t.Errorf("%s: schema requires %q, Validate does not", typ, prop)
				}
			}
			if CategoryOf(typ) == Unknown {
				t.Errorf("type %s has a schema but no category", typ)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no required properties found in the schemas")
	}
}

// schemaRequired collects "required" lists from a schema and its allOf
// parts.
func schemaRequired(s map[string]any) []string {
	var out []string
	if list, ok := s["required"].([]any); ok {
		for _, x := range list {
			out = append(out, x.(string))
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, x := range all {
			if m, ok := x.(map[string]any); ok {
				out = append(out, schemaRequired(m)...)
			}
		}
	}
	return out
}

const validIndicator = `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
"created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","name":"C2",
"indicator_types":["malicious-activity"],"pattern":"[ipv4-addr:value = '198.51.100.3']","pattern_type":"stix",
"valid_from":"2016-01-01T00:00:00Z","x_acme_score":7,
"kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"command-and-control"}]}`

// mutate returns validIndicator (or base) with props changed; a nil value
// deletes the property.
func mutate(t *testing.T, base string, props map[string]any) Object {
	t.Helper()
	var o Object
	if err := json.Unmarshal([]byte(base), &o); err != nil {
		t.Fatal(err)
	}
	for k, v := range props {
		if err := o.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

func TestValidate(t *testing.T) {
	const sighting = `{"type":"sighting","spec_version":"2.1","id":"sighting--ee20065d-2555-424f-ad9e-0f8428623c75",
"created":"2016-08-22T14:09:00.123Z","modified":"2016-08-22T14:09:00.123Z","sighting_of_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`
	const relationship = `{"type":"relationship","spec_version":"2.1","id":"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad",
"created":"2016-04-06T20:06:37.000Z","modified":"2016-04-06T20:06:37.000Z","relationship_type":"indicates",
"source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"}`
	const sco = `{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}`
	const artifact = `{"type":"artifact","spec_version":"2.1","id":"artifact--6f437177-6e48-5cf8-9d9e-872a2bddd641","mime_type":"application/octet-stream","payload_bin":"VBORw0KGgoAAAANSUhEUgAAADI=="}`
	const custom = `{"type":"x-acme-widget","id":"x-acme-widget--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","x_size":3}`
	tests := []struct {
		name  string
		base  string
		props map[string]any
		prop  string // "" = valid
	}{
		{"valid indicator", validIndicator, nil, ""},
		{"valid sighting", sighting, nil, ""},
		{"valid relationship", relationship, nil, ""},
		{"valid sco without spec_version", sco, nil, ""},
		{"valid custom type", custom, nil, ""},
		{"missing type", validIndicator, map[string]any{"type": nil}, "type"},
		{"bad type", validIndicator, map[string]any{"type": "In"}, "type"},
		{"missing id", validIndicator, map[string]any{"id": nil}, "id"},
		{"id of other type", validIndicator, map[string]any{"id": "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}, "id"},
		{"id not uuid", validIndicator, map[string]any{"id": "indicator--1234"}, "id"},
		{"id bad uuid variant", validIndicator, map[string]any{"id": "indicator--8e2e2d2b-17d4-4cbf-138f-98ee46b3cd3f"}, "id"},
		{"missing spec_version", validIndicator, map[string]any{"spec_version": nil}, "spec_version"},
		{"spec_version 2.0", validIndicator, map[string]any{"spec_version": "2.0"}, "spec_version"},
		{"missing created", validIndicator, map[string]any{"created": nil}, "created"},
		{"created without Z", validIndicator, map[string]any{"created": "2016-04-06T20:03:48.000+01:00"}, "created"},
		{"created without millis", validIndicator, map[string]any{"created": "2016-04-06T20:03:48Z"}, "created"},
		{"modified before created", validIndicator, map[string]any{"modified": "2016-04-06T20:03:47.000Z"}, "modified"},
		{"missing pattern", validIndicator, map[string]any{"pattern": nil}, "pattern"},
		{"missing pattern_type", validIndicator, map[string]any{"pattern_type": nil}, "pattern_type"},
		{"missing valid_from", validIndicator, map[string]any{"valid_from": nil}, "valid_from"},
		{"bad valid_from", validIndicator, map[string]any{"valid_from": "yesterday"}, "valid_from"},
		{"valid_until before valid_from", validIndicator, map[string]any{"valid_until": "2015-01-01T00:00:00Z"}, "valid_until"},
		{"bad stix pattern", validIndicator, map[string]any{"pattern": "[ipv4-addr:value = ]"}, "pattern"},
		{"other pattern type not parsed", validIndicator, map[string]any{"pattern_type": "sigma", "pattern": "title: x"}, ""},
		{"kill chain without phase", validIndicator, map[string]any{"kill_chain_phases": []any{map[string]any{"kill_chain_name": "x"}}}, "kill_chain_phases[0].phase_name"},
		{"bad created_by_ref", validIndicator, map[string]any{"created_by_ref": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"}, "created_by_ref"},
		{"bad ref syntax", validIndicator, map[string]any{"x_thing_ref": "nope"}, "x_thing_ref"},
		{"bad marking ref", validIndicator, map[string]any{"object_marking_refs": []string{"identity--31b940d4-6f7f-459a-80ea-9c1f17b5891b"}}, "object_marking_refs[0]"},
		{"confidence out of range", validIndicator, map[string]any{"confidence": 101}, "confidence"},
		{"external reference without source", validIndicator, map[string]any{"external_references": []any{map[string]any{"url": "x"}}}, "external_references[0].source_name"},
		{"sighting without ref", sighting, map[string]any{"sighting_of_ref": nil}, "sighting_of_ref"},
		{"sighting negative count", sighting, map[string]any{"count": -1}, "count"},
		{"sighting last before first", sighting, map[string]any{"first_seen": "2020-01-02T00:00:00Z", "last_seen": "2020-01-01T00:00:00Z"}, "last_seen"},
		{"relationship without type", relationship, map[string]any{"relationship_type": nil}, "relationship_type"},
		{"relationship bad target", relationship, map[string]any{"target_ref": "x"}, "target_ref"},
		{"relationship without source", relationship, map[string]any{"source_ref": nil}, "source_ref"},
		{"sco without value", sco, map[string]any{"value": nil}, "value"},
		// An artifact holds its content or says where it is (OASIS schema).
		{"artifact with payload", artifact, nil, ""},
		{"artifact by url", artifact, map[string]any{"payload_bin": nil, "url": "https://example.com/a.bin", "hashes": map[string]any{"SHA-256": strings.Repeat("ab", 32)}}, ""},
		{"artifact with neither", artifact, map[string]any{"payload_bin": nil}, "payload_bin"},
		{"artifact with both", artifact, map[string]any{"url": "https://example.com/a.bin"}, "url"},
		{"artifact by url without hashes", artifact, map[string]any{"payload_bin": nil, "url": "https://example.com/a.bin"}, "hashes"},
		{"custom type bad created", custom, map[string]any{"created": "now"}, "created"},
	}
	for _, tt := range tests {
		err := Validate(mutate(t, tt.base, tt.props))
		var ve *ValidationError
		switch {
		case tt.prop == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.prop != "" && !errors.As(err, &ve):
			t.Errorf("%s: error %v, want a ValidationError on %s", tt.name, err, tt.prop)
		case tt.prop != "" && ve.Property != tt.prop:
			t.Errorf("%s: error on %q (%v), want %q", tt.name, ve.Property, err, tt.prop)
		}
	}
}

func TestTLPOf(t *testing.T) {
	tests := []struct {
		refs []string
		want tlp.Level
		ok   bool
	}{
		{nil, 0, false},
		{[]string{TLPClearRef}, tlp.Clear, true},
		{[]string{TLPGreenRef}, tlp.Green, true},
		{[]string{TLPAmberRef}, tlp.Amber, true},
		{[]string{TLPAmberStrictRef}, tlp.AmberStrict, true},
		{[]string{TLPRedRef}, tlp.Red, true},
		{[]string{TLP1WhiteRef}, tlp.Clear, true},
		{[]string{TLP1GreenRef}, tlp.Green, true},
		{[]string{TLP1AmberRef}, tlp.Amber, true},
		{[]string{TLP1RedRef}, tlp.Red, true},
		{[]string{strings.ToUpper(TLPGreenRef[len("marking-definition--"):])}, 0, false},
		{[]string{"marking-definition--" + strings.ToUpper(TLPGreenRef[len("marking-definition--"):])}, tlp.Green, true},
		{[]string{TLPGreenRef, TLPAmberStrictRef, TLP1AmberRef}, tlp.AmberStrict, true},
		{[]string{"marking-definition--f88d31f6-486f-44da-b317-01333bde0b83"}, 0, false},
	}
	for _, tt := range tests {
		o := mutate(t, validIndicator, map[string]any{"object_marking_refs": tt.refs})
		got, ok := TLPOf(o)
		if got != tt.want || ok != tt.ok {
			t.Errorf("TLPOf(%v) = %v, %v; want %v, %v", tt.refs, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTLPOfObjectMarkingExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedDir(t), "stix", "examples", "interop-objectmarking-test.json"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	// The campaign carries TLP 1.0 RED plus an unknown marking.
	if l, ok := TLPOf(o); !ok || l != tlp.Red {
		t.Errorf("TLPOf = %v, %v; want TLP:RED", l, ok)
	}
}

func TestMarkingRefsAndDefinitions(t *testing.T) {
	for l := tlp.Clear; l <= tlp.Red; l++ {
		ref := MarkingRef(l)
		if back, ok := TLPOfRef(ref); !ok || back != l {
			t.Errorf("TLPOfRef(MarkingRef(%v)) = %v, %v", l, back, ok)
		}
		def := TLPMarkingDefinition(l)
		if err := Validate(def); err != nil {
			t.Errorf("TLPMarkingDefinition(%v): %v", l, err)
		}
		if def.ID() != ref || def.String("name") != l.String() {
			t.Errorf("TLPMarkingDefinition(%v) = %s %q", l, def.ID(), def.String("name"))
		}
		if v1, ok := TLP1MarkingDefinition(l); ok {
			if err := Validate(v1); err != nil {
				t.Errorf("TLP1MarkingDefinition(%v): %v", l, err)
			}
			if back, _ := TLPOfRef(v1.ID()); back != l {
				t.Errorf("TLP 1.0 definition for %v maps back to %v", l, back)
			}
		} else if l != tlp.AmberStrict {
			t.Errorf("no TLP 1.0 definition for %v", l)
		}
	}
	o := mutate(t, validIndicator, map[string]any{"object_marking_refs": []string{TLP1AmberRef, "marking-definition--f88d31f6-486f-44da-b317-01333bde0b83"}})
	o.SetTLP(tlp.Green)
	want := []string{"marking-definition--f88d31f6-486f-44da-b317-01333bde0b83", TLPGreenRef}
	if got := o.Strings("object_marking_refs"); !reflect.DeepEqual(got, want) {
		t.Errorf("after SetTLP: %v, want %v", got, want)
	}
}

func TestSCOID(t *testing.T) {
	// Expected ids computed independently with Python's uuid.uuid5 over
	// the canonical JSON of the contributing properties, in the STIX
	// namespace, as the stix2 reference library does.
	vectors := []struct {
		typ, value, want string
	}{
		{"domain-name", "example.com", "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"},
		{"ipv4-addr", "198.51.100.3", "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"},
	}
	for _, v := range vectors {
		id, err := SCOID(v.typ, map[string]any{"value": v.value})
		if err != nil || id != v.want {
			t.Errorf("SCOID(%s %s) = %q, %v; want %s", v.typ, v.value, id, err, v.want)
		}
	}
	a, _ := SCOID("file", map[string]any{"name": "a.exe", "hashes": map[string]string{"SHA-256": "aa", "MD5": "bb"}})
	b, _ := SCOID("file", map[string]any{"hashes": map[string]string{"MD5": "bb", "SHA-256": "aa"}, "name": "a.exe", "size": 10})
	if a != b {
		t.Errorf("file ids differ with non-contributing property or key order: %s %s", a, b)
	}
	p1, _ := SCOID("process", map[string]any{"pid": 1})
	p2, _ := SCOID("process", map[string]any{"pid": 1})
	if p1 == p2 {
		t.Error("process ids must be random")
	}
	for _, id := range []string{a, p1, NewID("indicator"), NameID("indicator", "x")} {
		if _, _, ok := SplitID(id); !ok {
			t.Errorf("generated id %q is invalid", id)
		}
	}
}

func TestBuilders(t *testing.T) {
	from := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	identity, err := NewIdentity("CERT-XX", "organization")
	if err != nil {
		t.Fatal(err)
	}
	conf := 80
	ind, err := NewIndicator(IndicatorSpec{
		Name: "C2 server", Pattern: "[ipv4-addr:value = '198.51.100.3']", ValidFrom: from,
		ValidUntil: from.Add(24 * time.Hour), IndicatorTypes: []string{"malicious-activity"},
		KillChainPhases: []KillChainPhase{{"mitre-attack", "command-and-control"}},
		Confidence:      &conf, CreatedBy: identity.ID(), TLP: tlp.AmberStrict,
	})
	if err != nil {
		t.Fatal(err)
	}
	view, err := ind.Indicator()
	if err != nil {
		t.Fatal(err)
	}
	if view.Pattern != "[ipv4-addr:value = '198.51.100.3']" || view.PatternType != "stix" ||
		!view.ValidFrom.Equal(from) || !view.ValidUntil.Equal(from.Add(24*time.Hour)) ||
		view.CreatedByRef != identity.ID() || *view.Confidence != 80 || view.KillChainPhases[0].PhaseName != "command-and-control" {
		t.Errorf("indicator view = %+v", view)
	}
	if l, ok := TLPOf(ind); !ok || l != tlp.AmberStrict {
		t.Errorf("TLPOf(indicator) = %v, %v", l, ok)
	}
	if _, err := NewIndicator(IndicatorSpec{Pattern: "[ipv4-addr:value = ", ValidFrom: from}); err == nil {
		t.Error("NewIndicator accepted a broken pattern")
	}
	if _, err := NewIndicator(IndicatorSpec{Pattern: "[ipv4-addr:value = '1.2.3.4']"}); err == nil {
		t.Error("NewIndicator accepted a missing valid_from")
	}

	s, err := NewSighting(ind.ID(), identity.ID(), 3, from, from.Add(time.Hour), []string{identity.ID()})
	if err != nil {
		t.Fatal(err)
	}
	sv, err := s.Sighting()
	if err != nil {
		t.Fatal(err)
	}
	if sv.SightingOfRef != ind.ID() || sv.Count != 3 || sv.CreatedByRef != identity.ID() ||
		!sv.LastSeen.Equal(from.Add(time.Hour)) || !reflect.DeepEqual(sv.WhereSightedRefs, []string{identity.ID()}) {
		t.Errorf("sighting view = %+v", sv)
	}
	if _, err := NewSighting(ind.ID(), identity.ID(), 1, from.Add(time.Hour), from, nil); err == nil {
		t.Error("NewSighting accepted last_seen before first_seen")
	}
	if _, err := NewSighting("nope", identity.ID(), 1, time.Time{}, time.Time{}, nil); err == nil {
		t.Error("NewSighting accepted a bad indicator id")
	}

	ip, err := NewSCO("ipv4-addr", map[string]any{"value": "198.51.100.3"})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NewSCO("ipv4-addr", map[string]any{"value": "198.51.100.3"})
	if ip.ID() != again.ID() {
		t.Error("SCO ids are not deterministic")
	}
}

func TestUpdateKeepsUnknownProperties(t *testing.T) {
	o := mutate(t, validIndicator, nil)
	view, err := o.Indicator()
	if err != nil {
		t.Fatal(err)
	}
	view.Name = "renamed"
	view.ValidUntil = TS(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if err := o.Update(view); err != nil {
		t.Fatal(err)
	}
	if n, ok := o.Int("x_acme_score"); !ok || n != 7 {
		t.Errorf("x_acme_score lost: %v %v", n, ok)
	}
	if o.String("name") != "renamed" || o.String("valid_until") != "2030-01-01T00:00:00.000Z" || o.String("created") != "2016-04-06T20:03:48.000Z" {
		t.Errorf("after Update: %v", o.props)
	}
	if err := Validate(o); err != nil {
		t.Error(err)
	}
	if _, err := o.Sighting(); err == nil {
		t.Error("an indicator decoded as a sighting")
	}
}

func TestDecodeBundlePerObject(t *testing.T) {
	bundle := `{"type":"bundle","id":"bundle--5330e3e3-8f58-4d21-9f4b-793a054c0d33","objects":[
` + validIndicator + `,
{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"},
42,
{"type":"x-acme-widget","id":"x-acme-widget--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","x_size":3}]}`
	b, errs := DecodeBundle([]byte(bundle))
	if len(b.Objects) != 2 || b.Objects[0].Type() != "indicator" || b.Objects[1].Type() != "x-acme-widget" {
		t.Errorf("kept objects: %v", b.Objects)
	}
	if len(errs) != 2 || errs[0].Index != 1 || errs[0].ID == "" || errs[1].Index != 2 {
		t.Errorf("errors: %v", errs)
	}

	tests := []struct {
		name   string
		data   string
		limits Limits
		index  int
		msg    string
	}{
		{"not json", "{", DefaultLimits(), -1, "not a JSON object"},
		{"null", "null", DefaultLimits(), -1, "null"},
		{"bad bundle id", `{"type":"bundle","id":"x","objects":[]}`, DefaultLimits(), -1, "bundle--"},
		{"objects not list", `{"type":"bundle","id":"bundle--5330e3e3-8f58-4d21-9f4b-793a054c0d33","objects":{}}`, DefaultLimits(), -1, "not a list"},
		{"too big", bundle, Limits{MaxBytes: 100}, -1, "exceeds the limit"},
		{"too many", bundle, Limits{MaxObjects: 1}, 1, "beyond the limit of 1"},
		{"object too big", bundle, Limits{MaxObjectBytes: 200}, 0, "per-object limit"},
		{"single invalid object", `{"type":"indicator"}`, DefaultLimits(), 0, "id"},
	}
	for _, tt := range tests {
		_, errs := tt.limits.DecodeBundle([]byte(tt.data))
		if len(errs) == 0 || errs[0].Index != tt.index || !strings.Contains(errs[0].Error(), tt.msg) {
			t.Errorf("%s: errors %v, want index %d with %q", tt.name, errs, tt.index, tt.msg)
		}
	}

	one, errs := DecodeBundle([]byte(validIndicator))
	if len(errs) != 0 || len(one.Objects) != 1 || one.ID != "" {
		t.Errorf("single object: %v %v", one, errs)
	}
}

func FuzzDecodeBundle(f *testing.F) {
	f.Add([]byte(`{"type":"bundle","id":"bundle--5330e3e3-8f58-4d21-9f4b-793a054c0d33","objects":[` + validIndicator + `]}`))
	f.Add([]byte(validIndicator))
	f.Add([]byte(`{"type":"bundle","id":"bundle--5330e3e3-8f58-4d21-9f4b-793a054c0d33","objects":[{"type":"sighting"},1,null,[]]}`))
	f.Add([]byte(`{"type":"x-y","id":"x-y--5330e3e3-8f58-4d21-9f4b-793a054c0d33","created":"2020-01-01T00:00:00.000Z","x_ref":"x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, _ := DecodeBundle(data)
		for _, o := range b.Objects {
			if err := Validate(o); err != nil {
				t.Fatalf("DecodeBundle kept an invalid object: %v", err)
			}
			out, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Decode(out)
			if err != nil {
				t.Fatalf("re-encoded object does not decode: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(again.props, o.props) {
				t.Fatalf("object changed through re-encoding:\n%s", out)
			}
			TLPOf(o)
		}
	})
}

func BenchmarkDecodeBundle(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(sharedDir(b), "stix", "examples", "threat-reports", "poisonivy.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := DecodeBundle(data); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}
