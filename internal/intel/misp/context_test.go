package misp

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
	"github.com/xsoc/xsoc/internal/tlp"
)

// TestNonIDSAttributesAreContext: PyMISP's Xorist event has four
// attributes with to_ids off (two links, a comment, a text); they become
// notes on the event's report, not indicators, and each item says so.
// The event becomes a report with its uuid, info, creator and TLP that
// refers to every object made from it.
func TestNonIDSAttributesAreContext(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedMISP(t), "events", "57c4445b-c548-4654-af0b-4be3950d210f.json"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := ImportEvent(data, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Count(Context); n != 4 {
		t.Errorf("%d items kept as context, want 4: %+v", n, res.Items)
	}
	if n := res.Count(Skipped); n != 0 {
		t.Errorf("%d items skipped: %+v", n, res.Items)
	}
	for _, it := range res.Items {
		if it.Outcome == Context && (!strings.Contains(it.Reason, "to_ids is off") || !strings.HasPrefix(it.Object, "note--")) {
			t.Errorf("context item %+v: want a note and the reason", it)
		}
	}
	if len(res.Reports) != 1 {
		t.Fatalf("%d reports", len(res.Reports))
	}
	rep := res.Reports[0]
	if rep.ID() != "report--57c4445b-c548-4654-af0b-4be3950d210f" || rep.String("name") != "Ransomware - Xorist" ||
		!strings.HasPrefix(rep.String("created_by_ref"), "identity--55f6ea5e") {
		t.Errorf("report %s %q by %s", rep.ID(), rep.String("name"), rep.String("created_by_ref"))
	}
	if l, _ := stix.TLPOf(rep); l != tlp.Clear {
		t.Errorf("report TLP %v, want CLEAR (tlp:white)", l)
	}
	refs := rep.Strings("object_refs")
	if len(refs) != len(res.Items) {
		t.Errorf("report refers to %d objects for %d attributes", len(refs), len(res.Items))
	}
	for _, o := range res.Objects() {
		if err := stix.Validate(o); err != nil {
			t.Errorf("%s: %v", o.ID(), err)
		}
	}
}

// TestContextObservables: a to_ids-off attribute whose type names an
// observable becomes observed data referring to that observable (and its
// companions: a domain|ip's address, a port's traffic), at the
// attribute's TLP; nothing of it is an indicator.
func TestContextObservables(t *testing.T) {
	tests := []struct {
		typ, value string
		types      []string // observables, in order
		check      func(objs map[string]stix.Object) string
	}{
		{"ip-dst", "10.0.0.1", []string{"ipv4-addr"}, nil},
		{"ip-src", "2001:db8::/32", []string{"ipv6-addr"}, nil},
		{"domain", "evil.example", []string{"domain-name"}, nil},
		{"domain|ip", "evil.example|198.51.100.7", []string{"ipv4-addr", "domain-name"}, func(objs map[string]stix.Object) string {
			for _, o := range objs {
				if o.Type() == "domain-name" {
					ref := o.Strings("resolves_to_refs")
					if len(ref) != 1 || objs[ref[0]].String("value") != "198.51.100.7" {
						return "domain does not resolve to the address"
					}
				}
			}
			return ""
		}},
		{"ip-dst|port", "198.51.100.7|443", []string{"ipv4-addr", "network-traffic"}, nil},
		{"filename|md5", "a.exe|0749bae92ca336a02c83d126e04ec628", []string{"file"}, func(objs map[string]stix.Object) string {
			for _, o := range objs {
				if o.Type() == "file" {
					h, _ := o.Get("hashes")
					if o.String("name") != "a.exe" || h.(map[string]any)["MD5"] != "0749bae92ca336a02c83d126e04ec628" {
						return "file lacks its name or hash"
					}
				}
			}
			return ""
		}},
		{"sha256", "b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68", []string{"file"}, nil},
		{"url", "http://evil.example/x", []string{"url"}, nil},
		{"email-src", "bad@evil.example", []string{"email-addr"}, nil},
		{"email-subject", "Invoice", []string{"email-message"}, nil},
		{"AS", "AS64496", []string{"autonomous-system"}, nil},
		{"regkey|value", `Software\Run|x.exe`, []string{"windows-registry-key"}, nil},
	}
	for _, tt := range tests {
		ev := Event{UUID: "5758ebf5-c898-48e6-9fe9-5665c0a83866", Info: "context", Timestamp: Int(now.Unix()),
			Tags:       []Tag{{Name: "tlp:amber"}},
			Attributes: []Attribute{{UUID: "5758ebf5-0000-48e6-9fe9-5665c0a83866", Type: tt.typ, Value: tt.value, Comment: "seen in the lab"}}}
		data, _ := json.Marshal(wrappedEvent{ev})
		res, err := ImportEvent(data, Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Indicators) != 0 || res.Count(Context) != 1 {
			t.Errorf("%s: %d indicators, items %+v", tt.typ, len(res.Indicators), res.Items)
			continue
		}
		objs := map[string]stix.Object{}
		var got []string
		var od stix.Object
		for _, o := range res.Context {
			if err := stix.Validate(o); err != nil {
				t.Errorf("%s: %v", tt.typ, err)
			}
			if l, _ := stix.TLPOf(o); l != tlp.Amber {
				t.Errorf("%s: %s is %v, want AMBER", tt.typ, o.ID(), l)
			}
			objs[o.ID()] = o
			if o.Type() == "observed-data" {
				od = o
			} else {
				got = append(got, o.Type())
			}
		}
		if strings.Join(got, ",") != strings.Join(tt.types, ",") {
			t.Errorf("%s: observables %v, want %v", tt.typ, got, tt.types)
		}
		if od.ID() != "observed-data--5758ebf5-0000-48e6-9fe9-5665c0a83866" || len(od.Strings("object_refs")) != len(tt.types) {
			t.Errorf("%s: observed data %s refers to %v", tt.typ, od.ID(), od.Strings("object_refs"))
		}
		rec, _ := od.Get(AttributeProperty)
		if m, _ := rec.(map[string]any); m["type"] != tt.typ || m["value"] != tt.value || m["comment"] != "seen in the lab" {
			t.Errorf("%s: %s = %v", tt.typ, AttributeProperty, rec)
		}
		if tt.check != nil {
			if msg := tt.check(objs); msg != "" {
				t.Errorf("%s: %s", tt.typ, msg)
			}
		}
	}
}

// TestIncludeNonIDS: with IncludeNonIDS, a to_ids-off attribute with a
// pattern is an indicator again.
func TestIncludeNonIDS(t *testing.T) {
	ev := Event{UUID: "5758ebf5-c898-48e6-9fe9-5665c0a83866", Info: "x", Timestamp: Int(now.Unix()),
		Attributes: []Attribute{{Type: "domain", Value: "evil.example"}, {Type: "text", Value: "a note"}}}
	data, _ := json.Marshal(ev)
	res, err := ImportEvent(data, Options{Now: now, IncludeNonIDS: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Indicators) != 1 || res.Count(Context) != 1 || len(res.Reports) != 1 {
		t.Errorf("%d indicators, items %+v", len(res.Indicators), res.Items)
	}
}

// attrKey is what a MISP user compares between an event and its round
// trip: an attribute's uuid, type, value, category, to_ids and object.
type attrKey struct {
	uuid, typ, value, category, object, relation string
	toIDS                                        bool
}

func attrKeys(ev Event) []attrKey {
	var out []attrKey
	add := func(a Attribute, o Object) {
		if a.Deleted || o.Deleted {
			return
		}
		out = append(out, attrKey{a.UUID, a.Type, strings.TrimSpace(a.Value), a.Category, o.UUID, a.ObjectRelation, bool(a.ToIDS)})
	}
	for _, a := range ev.Attributes {
		add(a, Object{})
	}
	for _, o := range ev.Objects {
		for _, a := range o.Attributes {
			add(a, o)
		}
	}
	slices.SortFunc(out, func(a, b attrKey) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return out
}

// TestEventRoundTrip: PyMISP's sample events imported, exported as a MISP
// feed and read back are the same events: uuid, info, creator
// organisation, tags, and every attribute that was imported (indicator or
// context) with its uuid, type (filename|md5 stays one attribute), value,
// category, to_ids flag and MISP object.
func TestEventRoundTrip(t *testing.T) {
	dir := filepath.Join(sharedMISP(t), "events")
	for _, name := range []string{"57c4445b-c548-4654-af0b-4be3950d210f.json", "misp_event.json",
		"mispevent_testfiles/existing_event.json", "reportlab_testfiles/long_event.json", "mispevent_testfiles/shadow.json",
		"reportlab_testfiles/sighting_1.json"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		orig, err := ParseEvent(data)
		if err != nil {
			t.Fatal(err)
		}
		imp, err := ImportEvent(data, Options{Now: now, DefaultTLP: tlp.Amber})
		if err != nil {
			t.Fatal(err)
		}
		// What was skipped on import (expired, deleted, malformed) is not
		// expected back.
		skipped := map[string]bool{}
		for _, it := range imp.Items {
			if it.Outcome == Skipped {
				skipped[it.Attribute] = true
			}
		}
		var want []attrKey
		for _, k := range attrKeys(orig) {
			if !skipped[k.uuid] {
				want = append(want, k)
			}
		}
		out := t.TempDir()
		exp, err := ExportFeed(out, imp.Objects(), ExportOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if n := exp.Count(Skipped); n != 0 {
			t.Errorf("%s: export skipped %d: %+v", name, n, exp.Items)
		}
		// An event without a uuid gets its report's.
		uuid := orig.UUID
		if uuid == "" && len(imp.Reports) == 1 {
			_, uuid, _ = stix.SplitID(imp.Reports[0].ID())
		}
		back, err := os.ReadFile(filepath.Join(out, uuid+".json"))
		if err != nil {
			t.Errorf("%s: event %s not exported under its uuid: %v", name, uuid, err)
			continue
		}
		got, err := ParseEvent(back)
		if err != nil {
			t.Fatal(err)
		}
		if got.Info != orig.Info || got.Orgc.UUID != orig.Orgc.UUID || got.Orgc.Name != orig.Orgc.Name || got.Date != orig.Date {
			t.Errorf("%s: event %q by %+v on %s, want %q by %+v on %s", name, got.Info, got.Orgc, got.Date, orig.Info, orig.Orgc, orig.Date)
		}
		for _, tag := range orig.Tags {
			if !slices.ContainsFunc(got.Tags, func(g Tag) bool { return g.Name == tag.Name }) {
				t.Errorf("%s: tag %q lost", name, tag.Name)
			}
		}
		if g := attrKeys(got); !slices.Equal(g, want) {
			t.Errorf("%s: attributes changed:\ngot  %v\nwant %v", name, g, want)
		}
		// And the exported feed imports again to the same objects.
		again, err := ImportFeed(os.DirFS(out), Options{Now: now, DefaultTLP: tlp.Amber})
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Indicators) != len(imp.Indicators) || again.Count(Context) != imp.Count(Context) {
			t.Errorf("%s: re-import made %d indicators and %d context, first import %d and %d", name,
				len(again.Indicators), again.Count(Context), len(imp.Indicators), imp.Count(Context))
		}
	}
}

// TestPatternAttributes: every pattern AttributePattern writes maps back
// to a MISP attribute (a type of the same meaning where MISP has
// synonyms); patterns no attribute holds say why.
func TestPatternAttributes(t *testing.T) {
	tests := []struct {
		pattern string
		want    string // "type value; ..." or "" for an error
		err     string
	}{
		{"[ipv4-addr:value = '198.51.100.7']", "ip-dst 198.51.100.7", ""},
		{"[ipv4-addr:value ISSUBSET '203.0.113.0/24']", "ip-dst 203.0.113.0/24", ""},
		{"[domain-name:value = 'evil.example' OR url:value = 'http://evil.example/x']", "domain evil.example; url http://evil.example/x", ""},
		{"[file:hashes.'SHA-256' = 'b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68']", "sha256 b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68", ""},
		{"[file:hashes.SSDEEP = '3:a:b']", "ssdeep 3:a:b", ""},
		{"[file:name = 'a.exe']", "filename a.exe", ""},
		{"[file:name = 'a.exe' AND file:hashes.MD5 = '0749bae92ca336a02c83d126e04ec628']", "filename|md5 a.exe|0749bae92ca336a02c83d126e04ec628", ""},
		{"[domain-name:value = 'evil.example' AND domain-name:resolves_to_refs[*].value = '198.51.100.7']", "domain|ip evil.example|198.51.100.7", ""},
		{"[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]", "ip-dst|port 198.51.100.7|443", ""},
		{"[network-traffic:dst_ref.value = 'c2.example' AND network-traffic:dst_port = 8443]", "hostname|port c2.example|8443", ""},
		{"[windows-registry-key:key = 'HKLM\\\\Run' AND windows-registry-key:values[*].data = 'x.exe']", `regkey|value HKLM\Run|x.exe`, ""},
		{"[autonomous-system:number = 64496]", "AS AS64496", ""},
		{"[email-addr:value IN ('a@evil.example', 'b@evil.example')]", "email-src a@evil.example; email-src b@evil.example", ""},
		{"[x509-certificate:hashes.'SHA-1' = 'aabbccddeeff00112233445566778899aabbccdd']", "x509-fingerprint-sha1 aabbccddeeff00112233445566778899aabbccdd", ""},
		{"[process:name = 'mimikatz.exe']", "", "no MISP attribute type holds process:name"},
		{"[url:value LIKE '%evil%']", "", "tests more than equality"},
		{"[ipv4-addr:value = '198.51.100.7'] FOLLOWEDBY [domain-name:value = 'evil.example']", "", "several observations"},
		{"[ipv4-addr:value = '198.51.100.7'] WITHIN 300 SECONDS", "", "qualifiers"},
		{"[file:name = 'a.exe' AND file:size = 10]", "", "no MISP attribute type holds"},
		{"[ipv4-addr:value NOT = '198.51.100.7']", "", "NOT"},
	}
	for _, tt := range tests {
		p, err := pattern.Parse(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		tvs, err := PatternAttributes(p)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: %v, %v; want error %q", tt.pattern, tvs, err, tt.err)
			}
			continue
		}
		var got []string
		for _, tv := range tvs {
			got = append(got, tv.Type+" "+tv.Value)
		}
		if err != nil || strings.Join(got, "; ") != tt.want {
			t.Errorf("%s: %v, %v; want %s", tt.pattern, got, err, tt.want)
		}
	}
}
