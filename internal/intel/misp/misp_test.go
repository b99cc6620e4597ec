package misp

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
	"github.com/xsoc/xsoc/internal/tlp"
)

// sharedMISP finds the read-only MISP test data beside the repository.
func sharedMISP(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			misp := filepath.Join(filepath.Dir(dir), "shared", "misp")
			if _, err := os.Stat(misp); err != nil {
				t.Skipf("shared MISP test data not found at %s", misp)
			}
			return misp
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
}

var now = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func TestAttributePattern(t *testing.T) {
	tests := []struct {
		typ, value string
		want       string // "" = no pattern
		simple     []pattern.Observable
	}{
		{"ip-dst", "198.51.100.7", "[ipv4-addr:value = '198.51.100.7']", []pattern.Observable{{Type: pattern.TypeIPv4, Value: "198.51.100.7"}}},
		{"ip-src", "2001:db8::1", "[ipv6-addr:value = '2001:db8::1']", []pattern.Observable{{Type: pattern.TypeIPv6, Value: "2001:db8::1"}}},
		{"ip-dst", "203.0.113.0/24", "[ipv4-addr:value = '203.0.113.0/24']", []pattern.Observable{{Type: pattern.TypeIPv4, Value: "203.0.113.0/24"}}},
		{"ip-dst", "107.183.86", "", nil},
		{"ip-dst|port", "198.51.100.7|443", "[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]", nil},
		{"ip-src|port", "2001:db8::1|22", "[network-traffic:src_ref.value = '2001:db8::1' AND network-traffic:src_port = 22]", nil},
		{"ip-src|port", "198.51.100.7|http", "", nil},
		{"hostname|port", "c2.example|8443", "[network-traffic:dst_ref.value = 'c2.example' AND network-traffic:dst_port = 8443]", nil},
		{"domain", "Evil.Example", "[domain-name:value = 'Evil.Example']", []pattern.Observable{{Type: pattern.TypeDomain, Value: "evil.example"}}},
		{"hostname", "a.evil.example", "[domain-name:value = 'a.evil.example']", []pattern.Observable{{Type: pattern.TypeDomain, Value: "a.evil.example"}}},
		{"domain|ip", "evil.example|198.51.100.7", "[domain-name:value = 'evil.example' AND domain-name:resolves_to_refs[*].value = '198.51.100.7']", nil},
		{"url", "http://evil.example/a'b", "[url:value = 'http://evil.example/a\\'b']", []pattern.Observable{{Type: pattern.TypeURL, Value: "http://evil.example/a'b"}}},
		{"md5", "0749BAE92CA336A02C83D126E04EC628", "[file:hashes.'MD5' = '0749bae92ca336a02c83d126e04ec628']", []pattern.Observable{{Type: pattern.TypeFileMD5, Value: "0749bae92ca336a02c83d126e04ec628"}}},
		{"sha1", "77b0c41b7d340b8a3d903f21347bbf06aa766b5b", "[file:hashes.'SHA-1' = '77b0c41b7d340b8a3d903f21347bbf06aa766b5b']", []pattern.Observable{{Type: pattern.TypeFileSHA1, Value: "77b0c41b7d340b8a3d903f21347bbf06aa766b5b"}}},
		{"sha256", "b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68", "[file:hashes.'SHA-256' = 'b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68']", []pattern.Observable{{Type: pattern.TypeFileSHA256, Value: "b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68"}}},
		{"sha256", "b3c4ae25", "", nil},
		{"filename|sha256", "a.exe|b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68", "[file:hashes.'SHA-256' = 'b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68']", []pattern.Observable{{Type: pattern.TypeFileSHA256, Value: "b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68"}}},
		{"filename|md5", "a.exe", "", nil},
		{"ssdeep", "3:a:b", "[file:hashes.'SSDEEP' = '3:a:b']", nil},
		{"filename", "3Z4wnG9603it23y.exe", "[file:name = '3Z4wnG9603it23y.exe']", nil},
		{"email-src", "bad@evil.example", "[email-addr:value = 'bad@evil.example']", []pattern.Observable{{Type: pattern.TypeEmail, Value: "bad@evil.example"}}},
		{"email-dst", "victim@example.org", "[email-addr:value = 'victim@example.org']", []pattern.Observable{{Type: pattern.TypeEmail, Value: "victim@example.org"}}},
		{"email-src", "nobody", "", nil},
		{"email-subject", "Invoice", "[email-message:subject = 'Invoice']", nil},
		{"regkey", `HKLM\Software\Run`, `[windows-registry-key:key = 'HKLM\\Software\\Run']`, nil},
		{"regkey|value", `Software\Run|%TEMP%\a.exe`, `[windows-registry-key:key = 'Software\\Run' AND windows-registry-key:values[*].data = '%TEMP%\\a.exe']`, nil},
		{"mutex", "Global\\x", "[mutex:name = 'Global\\\\x']", nil},
		{"user-agent", "Mozilla/4.0 (x)", "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'Mozilla/4.0 (x)']", nil},
		{"AS", "AS64496", "[autonomous-system:number = 64496]", nil},
		{"AS", "ASX", "", nil},
		{"mac-address", "00:AA:bb:cc:dd:ee", "[mac-addr:value = '00:aa:bb:cc:dd:ee']", nil},
		{"x509-fingerprint-sha1", "AABBCCDDEEFF00112233445566778899AABBCCDD", "[x509-certificate:hashes.'SHA-1' = 'aabbccddeeff00112233445566778899aabbccdd']", nil},
		{"link", "https://blog.example/post", "", nil},
		{"text", "UPX packed", "", nil},
		{"yara", "rule x {}", "", nil},
		{"domain", "  ", "", nil},
	}
	for _, tt := range tests {
		got, err := AttributePattern(tt.typ, tt.value)
		if tt.want == "" {
			if err == nil {
				t.Errorf("AttributePattern(%s, %q) = %q, want an error", tt.typ, tt.value, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("AttributePattern(%s, %q) = %q, %v; want %q", tt.typ, tt.value, got, err, tt.want)
			continue
		}
		p, err := pattern.Parse(got)
		if err != nil {
			t.Errorf("pattern for %s does not parse: %v", tt.typ, err)
			continue
		}
		obs, ok := pattern.Simple(p)
		if ok != (tt.simple != nil) || !slices.Equal(obs, tt.simple) {
			t.Errorf("Simple(%q) = %v, %v; want %v", got, obs, ok, tt.simple)
		}
	}
}

// TestTagTLPTaxonomy checks every predicate of the MISP tlp taxonomy.
func TestTagTLPTaxonomy(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedMISP(t), "taxonomies", "tlp", "machinetag.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tax struct {
		Namespace  string
		Predicates []struct{ Value string }
	}
	if err := json.Unmarshal(data, &tax); err != nil {
		t.Fatal(err)
	}
	want := map[string]tlp.Level{
		"clear": tlp.Clear, "white": tlp.Clear, "green": tlp.Green, "amber": tlp.Amber,
		"amber+strict": tlp.AmberStrict, "red": tlp.Red,
	}
	seen := 0
	for _, p := range tax.Predicates {
		tag := tax.Namespace + ":" + p.Value
		got, ok := TagTLP(tag)
		wantLevel, isLevel := want[p.Value]
		if ok != isLevel || got != wantLevel {
			t.Errorf("TagTLP(%q) = %v, %v; want %v, %v", tag, got, ok, wantLevel, isLevel)
		}
		if isLevel {
			seen++
		}
		if upper, _ := TagTLP(strings.ToUpper(tag)); upper != got {
			t.Errorf("TagTLP is case-sensitive for %q", tag)
		}
	}
	if seen != len(want) {
		t.Errorf("taxonomy has %d of the %d TLP levels", seen, len(want))
	}
	for _, tag := range []string{"tlp:ex:chr", "tlp:unclear", "pap:red", "tlp:purple", "amber"} {
		if l, ok := TagTLP(tag); ok {
			t.Errorf("TagTLP(%q) = %v, want none", tag, l)
		}
	}
}

func TestLevelPrecedence(t *testing.T) {
	dist := func(d int) *Int { v := Int(d); return &v }
	tests := []struct {
		name     string
		eventTag string
		eventDst *Int
		attrTag  string
		attrDst  *Int
		objDst   *Int
		want     tlp.Level
	}{
		{"default", "", nil, "", nil, nil, tlp.Amber},
		{"event distribution org", "", dist(0), "", nil, nil, tlp.AmberStrict},
		{"event distribution community", "", dist(1), "", nil, nil, tlp.Amber},
		{"event distribution connected", "", dist(2), "", nil, nil, tlp.Green},
		{"event distribution all", "", dist(3), "", nil, nil, tlp.Green},
		{"event distribution sharing group", "", dist(4), "", nil, nil, tlp.Amber},
		{"attribute inherits", "", dist(0), "", dist(5), nil, tlp.AmberStrict},
		{"attribute distribution", "", dist(3), "", dist(0), nil, tlp.AmberStrict},
		{"object distribution", "", dist(3), "", dist(5), dist(1), tlp.Amber},
		{"event tag beats distribution", "tlp:clear", dist(0), "", dist(0), nil, tlp.Clear},
		{"attribute tag beats event tag", "tlp:green", nil, "tlp:red", nil, nil, tlp.Red},
		{"tlp:white", "tlp:white", dist(0), "", nil, nil, tlp.Clear},
		{"amber+strict", "TLP:AMBER+STRICT", nil, "", nil, nil, tlp.AmberStrict},
	}
	for _, tt := range tests {
		ev := Event{UUID: "5758ebf5-c898-48e6-9fe9-5665c0a83866", Info: "t", Distribution: tt.eventDst, Timestamp: Int(now.Unix())}
		if tt.eventTag != "" {
			ev.Tags = []Tag{{Name: tt.eventTag}}
		}
		a := Attribute{Type: "domain", Value: "evil.example", ToIDS: true, Distribution: tt.attrDst}
		if tt.attrTag != "" {
			a.Tags = []Tag{{Name: tt.attrTag}}
		}
		if tt.objDst != nil {
			ev.Objects = []Object{{Name: "domain-ip", Distribution: tt.objDst, Attributes: []Attribute{a}}}
		} else {
			ev.Attributes = []Attribute{a}
		}
		data, _ := json.Marshal(wrappedEvent{ev})
		res, err := ImportEvent(data, Options{Now: now, DefaultTLP: tlp.Amber})
		if err != nil || len(res.Indicators) != 1 {
			t.Fatalf("%s: %v %+v", tt.name, err, res.Items)
		}
		if got, ok := stix.TLPOf(res.Indicators[0]); !ok || got != tt.want {
			t.Errorf("%s: TLP %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestValidityWindow(t *testing.T) {
	tests := []struct {
		name        string
		attr        Attribute
		maxAge      time.Duration
		reason      string // "" = imported
		from, until string
	}{
		{"timestamp", Attribute{Timestamp: Int(now.Add(-time.Hour).Unix())}, 0, "", "2026-02-28T23:00:00.000Z", ""},
		{"first and last seen", Attribute{FirstSeen: "2026-01-01T00:00:00+00:00", LastSeen: "2026-06-01T00:00:00.000000+0000"}, 0, "", "2026-01-01T00:00:00.000Z", "2026-06-01T00:00:00.000Z"},
		{"expired", Attribute{FirstSeen: "2025-01-01T00:00:00Z", LastSeen: "2025-06-01T00:00:00Z"}, 0, "expired", "", ""},
		{"last before first", Attribute{FirstSeen: "2026-06-01T00:00:00Z", LastSeen: "2026-05-01T00:00:00Z"}, 0, "not after first_seen", "", ""},
		{"bad first_seen", Attribute{FirstSeen: "soon"}, 0, "first_seen", "", ""},
		{"decayed", Attribute{Timestamp: Int(now.AddDate(0, -6, 0).Unix())}, 90 * 24 * time.Hour, "decayed", "", ""},
		{"fresh enough", Attribute{Timestamp: Int(now.AddDate(0, -1, 0).Unix())}, 90 * 24 * time.Hour, "", "2026-02-01T00:00:00.000Z", ""},
		{"last_seen overrides decay", Attribute{Timestamp: Int(now.AddDate(-1, 0, 0).Unix()), LastSeen: "2026-12-01T00:00:00Z"}, 90 * 24 * time.Hour, "", "2025-03-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z"},
	}
	for _, tt := range tests {
		a := tt.attr
		a.Type, a.Value, a.ToIDS = "domain", "evil.example", true
		ev := Event{UUID: "5758ebf5-c898-48e6-9fe9-5665c0a83866", Attributes: []Attribute{a}, Date: "2016-06-09"}
		data, _ := json.Marshal(ev)
		res, err := ImportEvent(data, Options{Now: now, MaxAge: tt.maxAge})
		if err != nil {
			t.Fatal(err)
		}
		it := res.Items[0]
		if tt.reason != "" {
			if it.Outcome != Skipped || !strings.Contains(it.Reason, tt.reason) {
				t.Errorf("%s: item %+v, want skipped for %q", tt.name, it, tt.reason)
			}
			continue
		}
		if it.Outcome != Imported {
			t.Errorf("%s: skipped: %s", tt.name, it.Reason)
			continue
		}
		ind := res.Indicators[0]
		if ind.String("valid_from") != tt.from || ind.String("valid_until") != tt.until {
			t.Errorf("%s: valid %s .. %s, want %s .. %s", tt.name, ind.String("valid_from"), ind.String("valid_until"), tt.from, tt.until)
		}
	}
}

// countAttributes counts the attributes of an event file, objects'
// included.
func countAttributes(t *testing.T, data []byte) int {
	ev, err := ParseEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	n := len(ev.Attributes)
	for _, o := range ev.Objects {
		n += len(o.Attributes)
	}
	return n
}

func TestImportSampleEvents(t *testing.T) {
	dir := filepath.Join(sharedMISP(t), "events")
	files := []string{
		"57c4445b-c548-4654-af0b-4be3950d210f.json", "misp_event.json", "new_misp_event.json",
		"mispevent_testfiles/event_obj_attr_tag.json", "mispevent_testfiles/existing_event.json",
		"mispevent_testfiles/shadow.json", "reportlab_testfiles/long_event.json",
		"reportlab_testfiles/sighting_1.json", "mispevent_testfiles/event.json",
	}
	total := 0
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		res, err := ImportEvent(data, Options{Now: now, DefaultTLP: tlp.Amber})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got, want := len(res.Items), countAttributes(t, data); got != want {
			t.Errorf("%s: %d items for %d attributes", name, got, want)
		}
		if res.Count(Imported) != len(res.Indicators) {
			t.Errorf("%s: %d imported items but %d indicators", name, res.Count(Imported), len(res.Indicators))
		}
		for _, ind := range res.Indicators {
			if err := stix.Validate(ind); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		for _, it := range res.Items {
			if it.Outcome == Skipped && it.Reason == "" {
				t.Errorf("%s: item skipped without a reason: %+v", name, it)
			}
		}
		total += len(res.Indicators)
	}
	if total == 0 {
		t.Fatal("no indicators imported from the samples")
	}

	// The Xorist event is tlp:white, with five to_ids attributes of which
	// the registry one maps too.
	data, _ := os.ReadFile(filepath.Join(dir, files[0]))
	res, _ := ImportEvent(data, Options{Now: now})
	for _, ind := range res.Indicators {
		if l, _ := stix.TLPOf(ind); l != tlp.Clear {
			t.Errorf("Xorist indicator %s is %v, want CLEAR from tlp:white", ind.ID(), l)
		}
		if !strings.HasPrefix(ind.String("created_by_ref"), "identity--55f6ea5e") {
			t.Errorf("indicator not attributed to CIRCL: %s", ind.String("created_by_ref"))
		}
	}
	for _, it := range res.Items {
		if it.Outcome == Skipped && !strings.Contains(it.Reason, "to_ids is off") {
			t.Errorf("Xorist attribute %s skipped: %s", it.Type, it.Reason)
		}
	}
}

// writeFeed lays sample events out as a MISP feed in a temporary
// directory, with one event listed but missing.
func writeFeed(t *testing.T, samples ...string) (dir string, attributes int) {
	dir = t.TempDir()
	manifest := map[string]any{}
	for _, s := range samples {
		data, err := os.ReadFile(filepath.Join(sharedMISP(t), "events", s))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := ParseEvent(data)
		if err != nil || ev.UUID == "" {
			t.Fatalf("%s: %v (uuid %q)", s, err, ev.UUID)
		}
		attributes += countAttributes(t, data)
		manifest[ev.UUID] = map[string]any{"info": ev.Info, "Orgc": ev.Orgc, "Tag": ev.Tags}
		if err := os.WriteFile(filepath.Join(dir, ev.UUID+".json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest["11111111-2222-4333-8444-555555555555"] = map[string]any{"info": "listed but missing"}
	data, _ := json.Marshal(manifest)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, attributes
}

func TestImportFeed(t *testing.T) {
	dir, attributes := writeFeed(t, "57c4445b-c548-4654-af0b-4be3950d210f.json",
		"reportlab_testfiles/long_event.json", "mispevent_testfiles/existing_event.json")
	res, err := ImportFeed(os.DirFS(dir), Options{Now: now, DefaultTLP: tlp.Amber})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Items); got != attributes+1 {
		t.Errorf("%d items, want %d attributes + 1 missing event", got, attributes)
	}
	missing := slices.IndexFunc(res.Items, func(it Item) bool { return it.Event == "11111111-2222-4333-8444-555555555555" })
	if missing < 0 || res.Items[missing].Outcome != Skipped || !strings.Contains(res.Items[missing].Reason, "event file") {
		t.Errorf("missing event not reported: %+v", res.Items)
	}
	if len(res.Indicators) == 0 {
		t.Fatal("nothing imported")
	}
	ids := map[string]bool{}
	for _, ind := range res.Indicators {
		if ids[ind.ID()] {
			t.Errorf("duplicate indicator %s", ind.ID())
		}
		ids[ind.ID()] = true
	}
	again, _ := ImportFeed(os.DirFS(dir), Options{Now: now, DefaultTLP: tlp.Amber})
	for i := range again.Indicators {
		if again.Indicators[i].ID() != res.Indicators[i].ID() {
			t.Fatal("re-import gives different indicator ids")
		}
	}
	if _, err := ImportFeed(os.DirFS(t.TempDir()), Options{}); err == nil {
		t.Error("feed without manifest imported")
	}
}

func TestImportFreetext(t *testing.T) {
	input := `# blocklist
198.51.100.7
203.0.113.0/24  # a network
2001:db8::1
evil[.]example
hxxps://evil.example/gate.php
bad@evil.example
0749bae92ca336a02c83d126e04ec628
77b0c41b7d340b8a3d903f21347bbf06aa766b5b, sha1 of the dropper
b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68
not-an-indicator
1.2.3
`
	want := []struct {
		typ, value string
		skipped    bool
	}{
		{"ip-dst", "198.51.100.7", false}, {"ip-dst", "203.0.113.0/24", false}, {"ip-dst", "2001:db8::1", false},
		{"domain", "evil.example", false}, {"url", "https://evil.example/gate.php", false},
		{"email-src", "bad@evil.example", false}, {"md5", "0749bae92ca336a02c83d126e04ec628", false},
		{"sha1", "77b0c41b7d340b8a3d903f21347bbf06aa766b5b", false},
		{"sha256", "b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68", false},
		{"", "not-an-indicator", true}, {"", "1.2.3", true},
	}
	res, err := ImportFreetext(strings.NewReader(input), Options{Now: now, Source: "test", DefaultTLP: tlp.Green})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != len(want) {
		t.Fatalf("%d items, want %d: %+v", len(res.Items), len(want), res.Items)
	}
	for i, w := range want {
		it := res.Items[i]
		if it.Type != w.typ || it.Value != w.value || (it.Outcome == Skipped) != w.skipped {
			t.Errorf("item %d = %+v, want %+v", i, it, w)
		}
	}
	for _, ind := range res.Indicators {
		if l, _ := stix.TLPOf(ind); l != tlp.Green {
			t.Errorf("freetext indicator TLP %v, want GREEN", l)
		}
		p, err := pattern.Parse(ind.String("pattern"))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := pattern.Simple(p); !ok {
			t.Errorf("freetext indicator %s is not simple", ind.String("pattern"))
		}
	}
}

func TestImportCSV(t *testing.T) {
	input := "first_seen;value;type;note\n" +
		"2026-01-01;198.51.100.7;ip-dst;c2\n" +
		"# comment\n" +
		"2026-01-02;evil.example;domain;\n" +
		"2026-01-03;\"quoted;value.example\";domain\n" +
		"2026-01-04;only-two-columns\n" +
		"2026-01-05;b3c4ae25;sha256\n" +
		"short\n"
	spec := CSVSpec{ValueColumn: 2, TypeColumn: 3, Delimiter: ';', HeaderRows: 1}
	res, err := ImportCSV(strings.NewReader(input), spec, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range res.Items {
		got = append(got, fmt.Sprintf("%d %s %s %s", it.Line, it.Outcome, it.Type, it.Value))
	}
	want := []string{
		"2 imported ip-dst 198.51.100.7",
		"4 imported domain evil.example",
		"5 imported domain quoted;value.example",
		"6 skipped  only-two-columns",
		"7 skipped sha256 b3c4ae25",
		"8 skipped  ",
	}
	if !slices.Equal(got, want) {
		t.Errorf("items:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := ImportCSV(strings.NewReader(input), CSVSpec{}, Options{}); err == nil {
		t.Error("CSV spec without value column accepted")
	}
}

func TestRefangAndSniff(t *testing.T) {
	tests := []struct{ in, refanged, typ string }{
		{"hxxp://evil[.]example/x", "http://evil.example/x", "url"},
		{"HXXPS://evil(.)example", "https://evil.example", "url"},
		{"bad[@]evil[dot]example", "bad@evil.example", "email-src"},
		{"198.51.100[.]7", "198.51.100.7", "ip-dst"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", "domain"},
		{"a.b.c.123", "a.b.c.123", ""},
		{"-bad.example", "-bad.example", ""},
	}
	for _, tt := range tests {
		got := Refang(tt.in)
		if got != tt.refanged {
			t.Errorf("Refang(%q) = %q, want %q", tt.in, got, tt.refanged)
		}
		typ, ok := SniffType(got)
		if typ != tt.typ || ok != (tt.typ != "") {
			t.Errorf("SniffType(%q) = %q, %v; want %q", got, typ, ok, tt.typ)
		}
	}
}

func TestExportRoundTrip(t *testing.T) {
	from := now.Add(-24 * time.Hour)
	member := "identity--4a9c1a43-1a22-4f5d-9f6c-0d5c6c7f4b11"
	specs := []stix.IndicatorSpec{
		{Pattern: "[ipv4-addr:value = '198.51.100.7']", TLP: tlp.Green},
		{Pattern: "[ipv4-addr:value ISSUBSET '203.0.113.0/24']", TLP: tlp.Amber},
		{Pattern: "[domain-name:value = 'evil.example' OR url:value = 'http://evil.example/x']", TLP: tlp.Green, ValidUntil: now.Add(30 * 24 * time.Hour)},
		{Pattern: "[file:hashes.'SHA-256' = 'b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68']", TLP: tlp.AmberStrict},
		{Pattern: "[email-addr:value = 'bad@evil.example']", TLP: tlp.Clear},
		{Pattern: "[process:name = 'mimikatz.exe']", TLP: tlp.Green}, // not simple: skipped
	}
	var inds []stix.Object
	for i, s := range specs {
		s.ValidFrom, s.CreatedBy, s.Name = from, member, fmt.Sprint("indicator ", i)
		ind, err := stix.NewIndicator(s)
		if err != nil {
			t.Fatal(err)
		}
		inds = append(inds, ind)
	}
	dir := t.TempDir()
	exp, err := ExportFeed(dir, inds, ExportOptions{Org: Org{UUID: "4a9c1a43-1a22-4f5d-9f6c-0d5c6c7f4b11", Name: "Member A"}, Info: "xsoc shared", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if exp.Count(Exported) != len(specs)-1 || exp.Count(Skipped) != 1 || exp.Items[len(exp.Items)-1].Indicator != inds[len(inds)-1].ID() {
		t.Errorf("export items: %+v", exp.Items)
	}

	imp, err := ImportFeed(os.DirFS(dir), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if imp.Count(Skipped) != 0 {
		t.Errorf("import skipped: %+v", imp.Items)
	}
	// Compare observables, TLP and validity per observable.
	type key struct {
		obs   pattern.Observable
		level tlp.Level
		from  string
		until string
	}
	collect := func(list []stix.Object) []key {
		var out []key
		for _, ind := range list {
			p, err := pattern.Parse(ind.String("pattern"))
			if err != nil {
				t.Fatal(err)
			}
			obs, ok := pattern.Simple(p)
			if !ok {
				continue
			}
			l, _ := stix.TLPOf(ind)
			for _, o := range obs {
				out = append(out, key{o, l, ind.String("valid_from"), ind.String("valid_until")})
			}
		}
		slices.SortFunc(out, func(a, b key) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		return out
	}
	before, after := collect(inds), collect(imp.Indicators)
	if !slices.Equal(before, after) {
		t.Errorf("round trip changed indicators:\nbefore %v\nafter  %v", before, after)
	}
	for _, ind := range imp.Indicators {
		if ind.String("created_by_ref") != member {
			t.Errorf("imported indicator attributed to %s, want %s", ind.String("created_by_ref"), member)
		}
	}
	// Single-observable indicators keep their ids.
	if !slices.ContainsFunc(imp.Indicators, func(o stix.Object) bool { return o.ID() == inds[0].ID() }) {
		t.Error("indicator id not preserved through the feed")
	}

	f, err := os.Open(filepath.Join(dir, "hashes.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hashes, err := ReadHashes(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(hashes) != len(after) {
		t.Errorf("hashes.csv has %d values, want %d", len(hashes), len(after))
	}
}

func FuzzImportEvent(f *testing.F) {
	f.Add([]byte(`{"Event":{"uuid":"5758ebf5-c898-48e6-9fe9-5665c0a83866","distribution":"0","Tag":[{"name":"tlp:amber+strict"}],
"Attribute":[{"type":"ip-dst|port","value":"198.51.100.7|443","to_ids":true,"first_seen":"2026-01-01T00:00:00Z"}]}}`))
	f.Add([]byte(`{"Attribute":[{"type":"domain|ip","value":"a.example|1.2.3.4","to_ids":"1","timestamp":"1"}],"Object":[{"name":"x","Attribute":[{"type":"md5","value":"x","to_ids":1}]}]}`))
	f.Add([]byte(`{"Event":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ImportEvent(data, Options{Now: now, MaxAge: time.Hour})
		if err != nil {
			return
		}
		for _, ind := range res.Indicators {
			if err := stix.Validate(ind); err != nil {
				t.Fatalf("invalid indicator: %v", err)
			}
		}
	})
}

func FuzzImportFreetext(f *testing.F) {
	f.Add("198.51.100.7\nhxxp://evil[.]example/\n# c\n0749bae92ca336a02c83d126e04ec628\n")
	f.Add("a@b.c\n::1\n10.0.0.0/8\nxn--x.example")
	f.Fuzz(func(t *testing.T, text string) {
		res, err := ImportFreetext(strings.NewReader(text), Options{Now: now})
		if err != nil {
			return
		}
		for _, ind := range res.Indicators {
			if err := stix.Validate(ind); err != nil {
				t.Fatalf("invalid indicator: %v", err)
			}
		}
	})
}

func BenchmarkImportEvent(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(sharedMISP(b), "events", "reportlab_testfiles", "long_event.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ImportEvent(data, Options{Now: now}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNonEventFilesAreNamed: MISP files that are no event are refused
// with what they are, not a decoding error or an empty import.
func TestNonEventFilesAreNamed(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/work/shared/misp/events/sharing_groups.json", "list of 2 MISP sharing groups"},
		{"/work/shared/misp/events/mispevent_testfiles/test_object_template/definition.json", "MISP object template"},
	}
	for _, tt := range tests {
		data, err := os.ReadFile(tt.path)
		if err != nil {
			t.Skipf("shared MISP files: %v", err)
		}
		if _, err := ImportEvent(data, Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q", tt.path, err, tt.want)
		}
	}
	for _, in := range []string{`{"colour":"red"}`, `[1, 2]`, `"x"`, `{}`} {
		if _, err := ImportEvent([]byte(in), Options{}); err == nil || !strings.Contains(err.Error(), "not a MISP event") {
			t.Errorf("%s: %v", in, err)
		}
	}
	// Events, wrapped or not, still parse.
	for _, path := range []string{"/work/shared/misp/events/misp_event.json", "/work/shared/misp/events/mispevent_testfiles/event.json"} {
		if data, err := os.ReadFile(path); err == nil {
			if _, err := ParseEvent(data); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
	}
}
