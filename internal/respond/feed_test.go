package respond

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// staticSource is an IndicatorSource with a fixed answer, standing in for
// the threat-intelligence repository the node plugs in.
type staticSource struct {
	byMember map[string][]Indicator
	err      error
}

func (s staticSource) ActiveIndicators(_ context.Context, member string) ([]Indicator, error) {
	return s.byMember[member], s.err
}

// feedFixture fills a blocklist for be-ccb: its own entries (one already
// expired, one expiring in an hour) and indicators from a source (one
// expired, one invalid, one duplicating a blocklist entry).
func feedFixture(t *testing.T, db *store.DB) (*Responder, *fakeClock, time.Time) {
	t.Helper()
	clock := &fakeClock{}
	now := clock.Now()
	srcExpiry := now.Add(3 * time.Hour).Truncate(time.Millisecond)
	src := staticSource{byMember: map[string][]Indicator{"be-ccb": {
		{Type: "domain-name", Value: "Phish.Example", TLP: tlp.Green, Source: "misp", ID: "indicator--0b5d5f0e-8f1c-4c39-9a4e-2a7c8a0d4d11"},
		{Type: "url", Value: "https://phish.example/login?next=/a;b", TLP: tlp.Clear, Source: "misp"},
		{Type: "file:hashes.'SHA-256'", Value: strings.Repeat("AB", 32), TLP: tlp.Amber, Source: "misp"},
		{Type: "ipv6-addr", Value: "2001:db8::1", TLP: tlp.Clear, Source: "misp"},
		{Type: "ipv4-addr", Value: "203.0.113.7", TLP: tlp.Clear, Source: "misp", Expires: srcExpiry}, // also on the blocklist
		{Type: "domain", Value: "old.example", Expires: now.Add(-time.Minute), Source: "misp"},
		{Type: "domain", Value: "bad value\nx CNAME .", Source: "misp"},
	}}}
	opts := fastOptions(clock)
	opts.Indicators = src
	r := newResponder(t, db, opts)
	bl := r.Blocklist()
	ctx := context.Background()
	for _, e := range []Entry{
		{Member: "be-ccb", Type: "ip", Value: "203.0.113.7", Reason: "c2", TLP: tlp.Amber, Expires: now.Add(time.Hour)},
		{Member: "be-ccb", Type: "cidr", Value: "198.51.100.0/24", Reason: "scanner", TLP: tlp.Green},
		{Member: "be-ccb", Type: "domain", Value: "evil.example", Reason: "c2", TLP: tlp.Red},
		{Member: "be-ccb", Type: "domain", Value: "gone.example", Expires: now.Add(-time.Second)},
		{Member: "nl-ncsc", Type: "domain", Value: "not-yours.example"},
	} {
		if err := bl.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return r, clock, srcExpiry
}

func TestFeedEDL(t *testing.T) {
	storetest.Each(t, schemas, func(t *testing.T, db *store.DB) {
		r, _, _ := feedFixture(t, db)
		tests := []struct {
			typ  string
			want []string
		}{
			{TypeIP, []string{"198.51.100.0/24", "2001:db8::1", "203.0.113.7"}},
			{TypeDomain, []string{"evil.example", "phish.example"}},
			{TypeURL, []string{"phish.example/login?next=/a;b"}},
			{TypeHash, []string{strings.Repeat("ab", 32)}},
		}
		for _, tt := range tests {
			f, err := r.Feed(context.Background(), "be-ccb", FormatEDL, tt.typ)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			sc := bufio.NewScanner(strings.NewReader(string(f.Body)))
			for sc.Scan() {
				line := sc.Text()
				if tt.typ == TypeIP {
					if _, err := netip.ParsePrefix(line); err != nil {
						if _, err := netip.ParseAddr(line); err != nil {
							t.Errorf("EDL line %q is neither an address nor a network", line)
						}
					}
				}
				got = append(got, line)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) || f.Count != len(tt.want) {
				t.Errorf("EDL %s = %q (count %d), want %q", tt.typ, got, f.Count, tt.want)
			}
		}
	})
}

func TestFeedRPZ(t *testing.T) {
	r, clock, _ := feedFixture(t, storetest.SQLite(t, schemas...))
	f, err := r.Feed(context.Background(), "be-ccb", FormatRPZ, "")
	if err != nil {
		t.Fatal(err)
	}
	var owners []string
	var serial uint64
	record := regexp.MustCompile(`^(\S+) CNAME \.$`)
	label := regexp.MustCompile(`^(\*|[a-z0-9_-]{1,63})$`)
	for _, line := range strings.Split(strings.TrimSuffix(string(f.Body), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "$TTL "), strings.HasPrefix(line, ";"), strings.HasPrefix(line, "@ IN NS "):
		case strings.HasPrefix(line, "@ IN SOA "):
			fields := strings.Fields(line)
			if len(fields) != 12 || fields[5] != "(" || fields[11] != ")" {
				t.Fatalf("SOA %q", line)
			}
			serial, err = strconv.ParseUint(fields[6], 10, 32)
			if err != nil {
				t.Fatalf("serial: %v", err)
			}
		default:
			m := record.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("record %q does not parse", line)
			}
			for _, l := range strings.Split(m[1], ".") {
				if !label.MatchString(l) {
					t.Fatalf("owner %q has bad label %q", m[1], l)
				}
			}
			owners = append(owners, m[1])
		}
	}
	if serial != uint64(clock.Now().Unix()) && serial+1 != uint64(clock.Now().Unix()) {
		t.Errorf("serial %d is not the generation time", serial)
	}
	want := []string{
		"*.evil.example", "*.phish.example", "128.1.zz.db8.2001.rpz-ip", "24.0.100.51.198.rpz-ip",
		"32.7.113.0.203.rpz-ip", "evil.example", "phish.example",
	}
	slices.Sort(owners)
	if !slices.Equal(owners, want) {
		t.Fatalf("RPZ owners %q, want %q", owners, want)
	}
}

func TestRPZIPName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "32.1.2.0.192.rpz-ip"},
		{"10.0.0.0/8", "8.0.0.0.10.rpz-ip"},
		{"2001:db8::1", "128.1.zz.db8.2001.rpz-ip"},
		{"2001:db8:0:1::/64", "64.zz.1.0.db8.2001.rpz-ip"},
		{"2001:0:0:1:0:0:0:1", "128.1.zz.1.0.0.2001.rpz-ip"}, // longest zero run wins
		{"::1", "128.1.zz.rpz-ip"},
	}
	for _, tt := range tests {
		if got, ok := rpzIPName(tt.in); !ok || got != tt.want {
			t.Errorf("rpzIPName(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	if _, ok := rpzIPName("nonsense"); ok {
		t.Error("rpzIPName accepted nonsense")
	}
}

// suricataRule is the grammar a rule line must follow: action, protocol,
// source, ports, direction, destination, ports, options in parentheses.
var suricataRule = regexp.MustCompile(`^alert (ip|dns|tls|http) (\S+) (\S+) (->|<>) (\S+) (\S+) \((.*)\)$`)

// splitOptions splits rule options on semicolons that are not escaped or
// inside a quoted string.
func splitOptions(t *testing.T, s string) []string {
	var out []string
	var cur strings.Builder
	quoted, escaped := false, false
	for _, c := range s {
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteRune(c)
	}
	if quoted || strings.TrimSpace(cur.String()) != "" {
		t.Fatalf("unterminated options %q", s)
	}
	return out
}

func TestFeedSuricata(t *testing.T) {
	r, _, srcExpiry := feedFixture(t, storetest.SQLite(t, schemas...))
	f, err := r.Feed(context.Background(), "be-ccb", FormatSuricata, "")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"msg": true, "sid": true, "rev": true, "metadata": true, "dns.query": true,
		"tls.sni": true, "http.host": true, "http.uri": true, "content": true, "nocase": true, "endswith": true,
		"startswith": true, "dotprefix": true, "flow": true}
	sids := map[string]bool{}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSuffix(string(f.Body), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := suricataRule.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("rule %q does not parse", line)
		}
		opts := map[string]string{}
		for _, o := range splitOptions(t, m[7]) {
			k, v, _ := strings.Cut(o, ":")
			if !known[k] {
				t.Fatalf("unknown keyword %q in %q", k, line)
			}
			if k == "content" && (!strings.HasPrefix(v, `"`) || !strings.HasSuffix(v, `"`) || strings.Count(v, "|")%2 != 0) {
				t.Fatalf("content %s is malformed", v)
			}
			opts[k] = v
		}
		sid, err := strconv.ParseUint(opts["sid"], 10, 32)
		if err != nil || sid < sidBase || sid >= sidBase+sidSpace || sids[opts["sid"]] || opts["rev"] != "1" {
			t.Fatalf("sid %q rev %q in %q", opts["sid"], opts["rev"], line)
		}
		sids[opts["sid"]] = true
		msgs = append(msgs, strings.Trim(opts["msg"], `"`))
	}
	want := []string{
		"xsoc blocklist cidr 198.51.100.0/24",
		"xsoc blocklist domain evil.example (DNS query)", "xsoc blocklist domain evil.example (TLS SNI)",
		"xsoc blocklist domain phish.example (DNS query)", "xsoc blocklist domain phish.example (TLS SNI)",
		"xsoc blocklist ip 2001:db8::1", "xsoc blocklist ip 203.0.113.7",
		`xsoc blocklist url https://phish.example/login?next=/a\;b (HTTP)`,
	}
	if !slices.Equal(msgs, want) {
		t.Fatalf("rule messages\n%q\nwant\n%q", msgs, want)
	}
	if !strings.Contains(string(f.Body), `http.uri; content:"/login?next=/a|3B|b"; startswith;`) {
		t.Errorf("URL rule does not escape its content:\n%s", f.Body)
	}
	if !strings.Contains(string(f.Body), ", expires "+srcExpiry.UTC().Format("2006_01_02")+";") {
		t.Errorf("expiring entry has no expires metadata:\n%s", f.Body)
	}
	// The same entries give the same sids on the next download.
	again, _ := r.Feed(context.Background(), "be-ccb", FormatSuricata, "")
	if stripComments(again.Body) != stripComments(f.Body) {
		t.Error("rules changed between two downloads of the same entries")
	}
}

func stripComments(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestContentOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{".evil.example", ".evil.example"},
		{`/a;b"c|d\e`, `/a|3B|b|22|c|7C|d|5C|e`},
		{"a; b", "a|3B 20|b"},
		{"é", "|C3 A9|"},
	}
	for _, tt := range tests {
		if got := contentOf(tt.in); got != tt.want {
			t.Errorf("contentOf(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFeedSTIX(t *testing.T) {
	r, _, srcExpiry := feedFixture(t, storetest.SQLite(t, schemas...))
	f, err := r.Feed(context.Background(), "be-ccb", FormatSTIX, "")
	if err != nil {
		t.Fatal(err)
	}
	// The project's STIX decoder validates every object, patterns included.
	if decoded, errs := stix.DecodeBundle(f.Body); len(errs) > 0 || len(decoded.Objects) != 7 {
		t.Fatalf("bundle does not validate: %d objects, %v", len(decoded.Objects), errs)
	}
	var bundle struct {
		Type    string           `json:"type"`
		ID      string           `json:"id"`
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(f.Body, &bundle); err != nil {
		t.Fatal(err)
	}
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if bundle.Type != "bundle" || !uuidRE.MatchString(strings.TrimPrefix(bundle.ID, "bundle--")) {
		t.Fatalf("bundle header %q %q", bundle.Type, bundle.ID)
	}
	got := map[string][2]string{} // pattern -> marking, valid_until
	for _, o := range bundle.Objects {
		if o["type"] != "indicator" || o["spec_version"] != "2.1" || o["pattern_type"] != "stix" {
			t.Errorf("object %v", o)
		}
		id, _ := o["id"].(string)
		if !strings.HasPrefix(id, "indicator--") || !uuidRE.MatchString(strings.TrimPrefix(id, "indicator--")) {
			t.Errorf("id %q", id)
		}
		for _, k := range []string{"created", "modified", "valid_from"} {
			if _, err := time.Parse(time.RFC3339, o[k].(string)); err != nil {
				t.Errorf("%s: %v", k, err)
			}
		}
		refs, _ := o["object_marking_refs"].([]any)
		until, _ := o["valid_until"].(string)
		if len(refs) != 1 {
			t.Fatalf("marking refs %v", refs)
		}
		if _, err := pattern.Parse(o["pattern"].(string)); err != nil {
			t.Errorf("pattern %q: %v", o["pattern"], err)
		}
		got[o["pattern"].(string)] = [2]string{refs[0].(string), until}
	}
	red, amber, green, clear := stix.TLPRedRef, stix.TLPAmberRef, stix.TLPGreenRef, stix.TLPClearRef
	want := map[string]string{
		"[ipv4-addr:value = '198.51.100.0/24']":                        green,
		"[ipv4-addr:value = '203.0.113.7']":                            clear, // blocklist AMBER, source CLEAR: laxer wins
		"[ipv6-addr:value = '2001:db8::1']":                            clear,
		"[domain-name:value = 'evil.example']":                         red,
		"[domain-name:value = 'phish.example']":                        green,
		"[url:value = 'https://phish.example/login?next=/a;b']":        clear,
		"[file:hashes.'SHA-256' = '" + strings.Repeat("ab", 32) + "']": amber,
	}
	if len(got) != len(want) {
		t.Fatalf("patterns %v", got)
	}
	for p, m := range want {
		if got[p][0] != m {
			t.Errorf("%s marked %q, want %q", p, got[p][0], m)
		}
	}
	// Listed until +1h on the blocklist and +3h by the source: the later wins.
	if until := got["[ipv4-addr:value = '203.0.113.7']"][1]; until != stix.FormatTime(srcExpiry) {
		t.Errorf("203.0.113.7 valid_until %q, want %v", until, srcExpiry)
	}
	if got["[domain-name:value = 'evil.example']"][1] != "" {
		t.Error("evil.example has no expiry, but has valid_until")
	}
	// Ids are stable: a source's own STIX id is kept, others are UUIDv5.
	for _, o := range bundle.Objects {
		switch o["pattern"] {
		case "[domain-name:value = 'phish.example']":
			if o["id"] != "indicator--0b5d5f0e-8f1c-4c39-9a4e-2a7c8a0d4d11" {
				t.Errorf("source id not kept: %v", o["id"])
			}
		case "[domain-name:value = 'evil.example']":
			// uuid.uuid5(UUID("00abedb4-aa42-466c-9c01-fed23315a9b7"), "domain|evil.example") in Python.
			if o["id"] != "indicator--8adf166b-b74a-58e9-8ec3-b72ab36efbbc" {
				t.Errorf("derived id %v", o["id"])
			}
		}
	}
}

func TestFeedExpiryAndETag(t *testing.T) {
	storetest.Each(t, schemas, func(t *testing.T, db *store.DB) {
		r, clock, _ := feedFixture(t, db)
		ctx := context.Background()
		before, err := r.Feed(ctx, "be-ccb", FormatEDL, TypeIP)
		if err != nil {
			t.Fatal(err)
		}
		same, _ := r.Feed(ctx, "be-ccb", FormatEDL, TypeIP)
		if same.ETag != before.ETag {
			t.Fatal("ETag changed without a change")
		}
		clock.Advance(2 * time.Hour) // 203.0.113.7 expires on the blocklist
		after, _ := r.Feed(ctx, "be-ccb", FormatEDL, TypeIP)
		// Still there: the source lists it for another hour.
		if !strings.Contains(string(after.Body), "203.0.113.7\n") {
			t.Fatalf("source entry lost:\n%s", after.Body)
		}
		if after.ETag == before.ETag {
			t.Error("ETag unchanged although an entry expired")
		}
		if !after.LastModified.After(before.LastModified) {
			t.Errorf("Last-Modified %v did not move past %v on expiry", after.LastModified, before.LastModified)
		}
		// Without the source the expired entry is gone.
		r.opts.Indicators = nil
		own, _ := r.Feed(ctx, "be-ccb", FormatEDL, TypeIP)
		if string(own.Body) != "198.51.100.0/24\n" {
			t.Fatalf("after expiry:\n%s", own.Body)
		}
		if n, err := r.Blocklist().PurgeExpired(ctx); err != nil || n != 2 {
			t.Fatalf("purge: %d %v", n, err)
		}
		if err := r.Blocklist().Remove(ctx, "be-ccb", "ipv4-addr", "198.51.100.0/24"); err != nil {
			t.Fatal(err)
		}
		if empty, _ := r.Feed(ctx, "be-ccb", FormatEDL, TypeIP); len(empty.Body) != 0 {
			t.Fatalf("after remove:\n%s", empty.Body)
		}
	})
}

func TestFeedHandler(t *testing.T) {
	r, _, _ := feedFixture(t, storetest.SQLite(t, schemas...))
	type ctxKey struct{}
	memberFrom := func(ctx context.Context) (string, bool) { m, ok := ctx.Value(ctxKey{}).(string); return m, ok }
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/blocklists/{format}", r.FeedHandler(memberFrom))
	auth := func(member string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if member != "" {
				req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, member))
			}
			h.ServeHTTP(w, req)
		})
	}
	tests := []struct {
		member, url string
		status      int
		ctype       string
	}{
		{"be-ccb", "/api/v1/blocklists/edl?type=domain", 200, "text/plain; charset=utf-8"},
		{"be-ccb", "/api/v1/blocklists/suricata", 200, "text/plain; charset=utf-8"},
		{"be-ccb", "/api/v1/blocklists/rpz?type=domain", 200, "text/dns; charset=utf-8"},
		{"be-ccb", "/api/v1/blocklists/stix?type=hash", 200, "application/stix+json;version=2.1"},
		{"be-ccb", "/api/v1/blocklists/edl", 400, ""},
		{"be-ccb", "/api/v1/blocklists/rpz?type=url", 400, ""},
		{"be-ccb", "/api/v1/blocklists/csv", 400, ""},
		{"", "/api/v1/blocklists/edl?type=ip", 401, ""},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		auth(tt.member, mux).ServeHTTP(rec, httptest.NewRequest("GET", tt.url, nil))
		if rec.Code != tt.status || tt.ctype != "" && rec.Header().Get("Content-Type") != tt.ctype {
			t.Errorf("GET %s as %q: %d %q", tt.url, tt.member, rec.Code, rec.Header().Get("Content-Type"))
		}
	}

	// Conditional requests: the ETag comes back as 304, another does not.
	h := auth("be-ccb", mux)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/blocklists/edl?type=domain", nil))
	etag, lastMod := rec.Header().Get("ETag"), rec.Header().Get("Last-Modified")
	if etag == "" || lastMod == "" {
		t.Fatalf("no validators: %v", rec.Header())
	}
	if _, err := http.ParseTime(lastMod); err != nil {
		t.Fatalf("Last-Modified %q: %v", lastMod, err)
	}
	for _, c := range []struct {
		inm    string
		status int
	}{{etag, 304}, {`"other", ` + etag, 304}, {strings.TrimPrefix(etag, "W/"), 304}, {"*", 304}, {`"other"`, 200}} {
		req := httptest.NewRequest("GET", "/api/v1/blocklists/edl?type=domain", nil)
		req.Header.Set("If-None-Match", c.inm)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status || c.status == 304 && rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d with %d bytes", c.inm, rec.Code, rec.Body.Len())
		}
	}
	// Another member's entries never show.
	rec = httptest.NewRecorder()
	auth("nl-ncsc", mux).ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/blocklists/edl?type=domain", nil))
	if rec.Body.String() != "not-yours.example\n" {
		t.Errorf("nl-ncsc feed %q", rec.Body.String())
	}
}

func TestFeedSourceError(t *testing.T) {
	r, _, _ := feedFixture(t, storetest.SQLite(t, schemas...))
	r.opts.Indicators = staticSource{err: errors.New("intel down")}
	if _, err := r.Feed(context.Background(), "be-ccb", FormatEDL, TypeIP); err == nil || !strings.Contains(err.Error(), "intel down") {
		t.Fatalf("source error not reported: %v", err)
	}
}
