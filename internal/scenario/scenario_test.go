package scenario

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// smallDemo is the demo profile at a lower background rate, so tests
// stay fast while keeping every campaign step.
func smallDemo(seed uint64) Config {
	c := DemoConfig(seed)
	c.EventsPerHostHour = 6
	return c
}

func generate(t testing.TB, cfg Config) *Scenario {
	t.Helper()
	sc, err := Generate(cfg)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return sc
}

// digestOfScenario hashes every record's member, format, time and line.
func digestOfScenario(sc *Scenario) string {
	h := sha256.New()
	for _, r := range sc.Records {
		h.Write([]byte(r.Member + "\x00" + r.Format + "\x00" + r.Time.Format(time.RFC3339Nano) + "\x00"))
		h.Write(r.Line)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestDeterminism(t *testing.T) {
	tests := []struct {
		name     string
		a, b     uint64
		wantSame bool
	}{
		{"same seed", 42, 42, true},
		{"other seed", 42, 43, false},
		{"seed zero vs one", 0, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			da := digestOfScenario(generate(t, smallDemo(tt.a)))
			db := digestOfScenario(generate(t, smallDemo(tt.b)))
			if (da == db) != tt.wantSame {
				t.Fatalf("seeds %d and %d: digests %s and %s, want same=%v", tt.a, tt.b, da, db, tt.wantSame)
			}
		})
	}
}

// TestWriteFilesDeterministic compares the bytes of two written
// directories, and a streamed one, file by file.
func TestWriteFilesDeterministic(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	if err := generate(t, smallDemo(5)).WriteFiles(dirA); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(smallDemo(5), dirB); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dirA)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 8 {
		t.Fatalf("only %d files written", len(entries))
	}
	for _, e := range entries {
		a, errA := os.ReadFile(filepath.Join(dirA, e.Name()))
		b, errB := os.ReadFile(filepath.Join(dirB, e.Name()))
		if errA != nil || errB != nil {
			t.Fatalf("%s: %v %v", e.Name(), errA, errB)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between WriteFiles and WriteDir", e.Name())
		}
	}
}

var (
	syslogHeader = regexp.MustCompile(`^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) `)
	cefHeader7   = regexp.MustCompile(`^CEF:0\|(?:[^|\\]|\\.)*\|(?:[^|\\]|\\.)*\|(?:[^|\\]|\\.)*\|(?:[^|\\]|\\.)*\|(?:[^|\\]|\\.)*\|(?:[^|\\]|\\.)*\|`)
)

// requiredKeys are fields every record of a JSON format must carry,
// written as paths into the decoded object.
var requiredKeys = map[string][][]string{
	FormatWindows:  {{"@timestamp"}, {"winlog", "event_id"}, {"winlog", "channel"}, {"winlog", "computer_name"}, {"winlog", "event_data"}, {"host", "name"}},
	FormatECS:      {{"@timestamp"}, {"event", "code"}, {"event", "category"}, {"host", "name"}, {"winlog", "channel"}},
	FormatZeek:     {{"_path"}, {"ts"}, {"uid"}, {"id.orig_h"}, {"id.orig_p"}, {"id.resp_h"}, {"id.resp_p"}},
	FormatSuricata: {{"timestamp"}, {"flow_id"}, {"event_type"}, {"src_ip"}, {"dest_ip"}, {"proto"}, {"community_id"}},
}

func lookupPath(m map[string]any, path []string) bool {
	var cur any = m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = obj[p]; !ok {
			return false
		}
	}
	return true
}

func TestRecordsWellFormed(t *testing.T) {
	sc := generate(t, smallDemo(11))
	start, end := sc.Config.Start, sc.Config.Start.Add(sc.Config.Duration)
	seen := map[string]int{}
	var prev time.Time
	for i, r := range sc.Records {
		seen[r.Format]++
		if r.Time.Before(prev) {
			t.Fatalf("record %d at %v is before its predecessor at %v", i, r.Time, prev)
		}
		prev = r.Time
		if r.Time.Before(start) || !r.Time.Before(end) {
			t.Fatalf("record %d at %v outside [%v, %v)", i, r.Time, start, end)
		}
		if bytes.ContainsAny(r.Line, "\n\r") {
			t.Fatalf("record %d contains a line break: %q", i, r.Line)
		}
		switch r.Format {
		case FormatWindows, FormatECS, FormatZeek, FormatSuricata:
			if !json.Valid(r.Line) {
				t.Fatalf("record %d (%s) is not valid JSON: %s", i, r.Format, r.Line)
			}
			var m map[string]any
			if err := json.Unmarshal(r.Line, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range requiredKeys[r.Format] {
				if !lookupPath(m, k) {
					t.Fatalf("record %d (%s) lacks %v: %s", i, r.Format, k, r.Line)
				}
			}
		case FormatSyslog:
			m := syslogHeader.FindSubmatch(r.Line)
			if m == nil {
				t.Fatalf("record %d is not an RFC 5424 line: %s", i, r.Line)
			}
			if pri, _ := strconv.Atoi(string(m[1])); pri > 191 {
				t.Fatalf("record %d: PRI %d out of range", i, pri)
			}
			ts, err := time.Parse(time.RFC3339Nano, string(m[2]))
			if err != nil {
				t.Fatalf("record %d: timestamp %q: %v", i, m[2], err)
			}
			// The header carries microseconds.
			if d := r.Time.Sub(ts); d < 0 || d >= time.Microsecond {
				t.Fatalf("record %d: header time %v, record time %v", i, ts, r.Time)
			}
		case FormatCEF:
			if !cefHeader7.Match(r.Line) {
				t.Fatalf("record %d is not a CEF line: %s", i, r.Line)
			}
		default:
			t.Fatalf("record %d has unknown format %q", i, r.Format)
		}
	}
	for _, f := range Formats() {
		if seen[f] == 0 {
			t.Errorf("no %s records with the default members", f)
		}
	}
}

func TestDiurnalRhythm(t *testing.T) {
	cfg := DefaultConfig(3)
	cfg.Campaigns = 0
	cfg.EventsPerHostHour = 8
	cfg.Members = DefaultMembers()
	for i := range cfg.Members {
		cfg.Members[i].Workstations = 12
		cfg.Members[i].Servers = 2
	}
	perHour := [24]int{}
	err := Stream(cfg, func(r Record) error {
		perHour[r.Time.In(cet).Hour()]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	day, night := 0, 0
	for h := 10; h < 16; h++ {
		day += perHour[h]
	}
	for h := 1; h < 5; h++ {
		night += perHour[h]
	}
	// Per hour, office time must be far busier than the night.
	if dayAvg, nightAvg := float64(day)/6, float64(night)/4; dayAvg < 3*nightAvg {
		t.Fatalf("records per hour: 10-16h %.0f, 01-05h %.0f; want a clear diurnal rhythm (%v)", dayAvg, nightAvg, perHour)
	}
	weekend := cfg
	weekend.Start = cfg.Start.AddDate(0, 0, 4) // Saturday
	weekendDay := 0
	if err := Stream(weekend, func(r Record) error {
		if h := r.Time.In(cet).Hour(); h >= 10 && h < 16 {
			weekendDay++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if weekendDay*2 > day {
		t.Fatalf("Saturday 10-16h has %d records, Tuesday %d; want a quieter weekend", weekendDay, day)
	}
}

func TestCampaignsCrossCountries(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			cfg := smallDemo(seed)
			cfg.Campaigns = 2
			sc := generate(t, cfg)
			if len(sc.Campaigns) != 2 {
				t.Fatalf("%d campaigns, want 2", len(sc.Campaigns))
			}
			for _, c := range sc.Campaigns {
				if n := len(c.Countries()); n < 2 {
					t.Fatalf("%s targets %d countries", c.ID, n)
				}
				labelled := map[string]bool{}
				for _, l := range sc.Labels {
					if l.Campaign == c.ID {
						labelled[l.Country] = true
					}
				}
				if len(labelled) < 2 {
					t.Fatalf("%s has labelled records in %d countries", c.ID, len(labelled))
				}
				// The same infrastructure shows up in the telemetry of
				// members in different countries.
				shared := map[string]string{
					"sender domain": c.SenderDomain,
					"C2 domain":     c.C2Domains[0],
					"staging site":  c.StagingDomain,
					"payload hash":  c.Payload.SHA256,
				}
				for what, needle := range shared {
					countries := map[string]bool{}
					for _, r := range sc.Records {
						if r.Label != nil && r.Label.Campaign == c.ID && bytes.Contains(bytes.ToLower(r.Line), []byte(needle)) {
							countries[r.Label.Country] = true
						}
					}
					if len(countries) < 2 {
						t.Errorf("%s: %s %q seen in %d countries, want >= 2", c.ID, what, needle, len(countries))
					}
				}
			}
		})
	}
}

func TestLabelsReferenceRecords(t *testing.T) {
	sc := generate(t, smallDemo(21))
	if len(sc.Labels) == 0 {
		t.Fatal("no labels")
	}
	dir := t.TempDir()
	if err := sc.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	files := map[string][][]byte{}
	for _, l := range sc.Labels {
		if l.Index < 0 || l.Index >= len(sc.Records) {
			t.Fatalf("label index %d out of range", l.Index)
		}
		r := sc.Records[l.Index]
		if r.Label == nil || r.Label.Index != l.Index || r.Member != l.Member || r.Format != l.Format || !r.Time.Equal(l.Time) {
			t.Fatalf("label %+v does not match record %d", l, l.Index)
		}
		sum := sha256.Sum256(r.Line)
		if hex.EncodeToString(sum[:]) != l.SHA256 {
			t.Fatalf("label %d: digest mismatch", l.Index)
		}
		lines, ok := files[l.File]
		if !ok {
			data, err := os.ReadFile(filepath.Join(dir, l.File))
			if err != nil {
				t.Fatal(err)
			}
			lines = bytes.Split(data, []byte{'\n'})
			files[l.File] = lines
		}
		if l.Line < 1 || l.Line > len(lines) || !bytes.Equal(lines[l.Line-1], r.Line) {
			t.Fatalf("label %d: %s line %d is not the labelled record", l.Index, l.File, l.Line)
		}
		if l.Technique == "" || l.Phase == "" || l.Campaign == "" || l.Host == "" {
			t.Fatalf("incomplete label %+v", l)
		}
	}
	// labels.ndjson holds the same labels.
	f, err := os.Open(filepath.Join(dir, LabelsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc2 := bufio.NewScanner(f)
	sc2.Buffer(nil, 1<<20)
	for sc2.Scan() {
		var l Label
		if err := json.Unmarshal(sc2.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.Index != sc.Labels[n].Index || l.SHA256 != sc.Labels[n].SHA256 {
			t.Fatalf("labels.ndjson line %d differs", n+1)
		}
		n++
	}
	if n != len(sc.Labels) {
		t.Fatalf("labels.ndjson has %d labels, want %d", n, len(sc.Labels))
	}
}

func TestKillChainTechniques(t *testing.T) {
	techniques := map[string]bool{}
	for _, seed := range []uint64{1, 2, 3} {
		for _, l := range generate(t, smallDemo(seed)).Labels {
			techniques[l.Technique] = true
		}
	}
	for _, want := range []string{"T1566.001", "T1204.002", "T1059.001", "T1105", "T1568.002", "T1071.001", "T1053.005",
		"T1003.001", "T1078.002", "T1560.001", "T1567.002"} {
		if !techniques[want] {
			t.Errorf("technique %s never labelled", want)
		}
	}
	if !techniques["T1021.002"] && !techniques["T1047"] {
		t.Error("no lateral movement (T1021.002 or T1047) labelled")
	}
}

// sharedDir finds the read-only test data beside the repository.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(filepath.Dir(dir), "shared")
			if _, err := os.Stat(shared); err != nil {
				t.Skipf("shared test data not found at %s", shared)
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

// TestSigmaRuleCoverage checks that the attack's command lines carry the
// strings public SigmaHQ process-creation rules look for. Each case quotes
// the rule's selection strings; the test first checks that the rule file
// still contains them, so a rule change shows up here.
func TestSigmaRuleCoverage(t *testing.T) {
	rules := filepath.Join(sharedDir(t), "sigma", "rules", "windows", "process_creation")
	var cmdlines []string
	for _, seed := range []uint64{1, 2, 3, 4, 5, 6} {
		for _, r := range generate(t, smallDemo(seed)).Records {
			if r.Label == nil || (r.Format != FormatWindows && r.Format != FormatECS) {
				continue
			}
			var ev struct {
				Winlog struct {
					EventData map[string]string `json:"event_data"`
				} `json:"winlog"`
			}
			if err := json.Unmarshal(r.Line, &ev); err != nil {
				t.Fatal(err)
			}
			if c := ev.Winlog.EventData["CommandLine"]; c != "" {
				cmdlines = append(cmdlines, c+"\x00"+ev.Winlog.EventData["ParentImage"])
			}
		}
	}
	tests := []struct {
		rule string
		all  []string // all must appear in one command line (case-insensitive)
	}{
		{"proc_creation_win_office_susp_child_processes.yml", []string{`\WINWORD.EXE`, `powershell`}},
		{"proc_creation_win_powershell_base64_encoded_cmd.yml", []string{` -e`, ` JAB`}},
		{"proc_creation_win_powershell_download_iex.yml", []string{`.DownloadString(`, `IEX (`}},
		{"proc_creation_win_powershell_download_patterns.yml", []string{`new-object`, `net.webclient).`, `download`, `string(`}},
		{"proc_creation_win_rundll32_process_dump_via_comsvcs.yml", []string{`comsvcs`, `full`, `MiniDump`}},
		{"proc_creation_win_hktl_mimikatz_command_line.yml", []string{`sekurlsa::`}},
		{"proc_creation_win_sysinternals_psexec_remote_execution.yml", []string{`accepteula`, ` -u `, ` -p `, ` \\`}},
		{"proc_creation_win_pua_rclone_execution.yml", []string{`--config `, `--no-check-certificate `, ` copy `}},
		{"proc_creation_win_nltest_recon.yml", []string{`dclist:`}},
		{"proc_creation_win_schtasks_creation.yml", []string{` /create `}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join(rules, tt.rule))
			if err != nil {
				t.Fatalf("rule file: %v", err)
			}
			for _, s := range tt.all {
				// YAML single-quoted values double the backslashes.
				quoted := strings.ReplaceAll(s, `\\`, `\\\\`)
				if !bytes.Contains(bytes.ToLower(text), []byte(strings.ToLower(strings.TrimSpace(quoted)))) {
					t.Fatalf("rule no longer mentions %q", s)
				}
			}
			found := slices.ContainsFunc(cmdlines, func(c string) bool {
				lc := strings.ToLower(c)
				for _, s := range tt.all {
					if !strings.Contains(lc, strings.ToLower(s)) {
						return false
					}
				}
				return true
			})
			if !found {
				t.Errorf("no labelled command line matches %v", tt.all)
			}
		})
	}
}

func TestIndicators(t *testing.T) {
	camps, err := Campaigns(smallDemo(9))
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"email-src": true, "domain": true, "ip-src": true, "ip-dst": true, "url": true,
		"md5": true, "sha1": true, "sha256": true, "filename": true, "ja3-fingerprint-md5": true}
	for _, c := range camps {
		byType := map[string][]string{}
		for _, ind := range c.Indicators() {
			if !allowed[ind.Type] || ind.Value == "" || ind.Campaign != c.ID {
				t.Fatalf("bad indicator %+v", ind)
			}
			if p := ind.STIXPattern(); !strings.HasPrefix(p, "[") || !strings.Contains(p, ind.Value) {
				t.Fatalf("indicator %+v: STIX pattern %q", ind, p)
			}
			byType[ind.Type] = append(byType[ind.Type], ind.Value)
		}
		for _, want := range []struct{ typ, value string }{
			{"email-src", c.Sender}, {"domain", c.C2Domains[0]}, {"domain", c.C2Domains[1]},
			{"ip-dst", c.C2IPs[0].String()}, {"sha256", c.Payload.SHA256}, {"ja3-fingerprint-md5", c.JA3},
		} {
			if !slices.Contains(byType[want.typ], want.value) {
				t.Errorf("%s: indicator %s %s missing", c.ID, want.typ, want.value)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	oneCountry := DefaultMembers()[:1]
	overlap := DefaultMembers()
	overlap[1].Network = overlap[0].Network
	dup := DefaultMembers()
	dup[1].ID = dup[0].ID
	badEndpoint := DefaultMembers()
	badEndpoint[0].Telemetry.Endpoint = "syslog"
	noSensor := DefaultMembers()
	noSensor[0].Telemetry.Zeek = false
	badLocale := DefaultMembers()
	badLocale[2].Locale = "xx"
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"zero start", func(c *Config) { c.Start = time.Time{} }, "Start"},
		{"negative duration", func(c *Config) { c.Duration = -time.Hour }, "Duration"},
		{"huge duration", func(c *Config) { c.Duration = 40 * 24 * time.Hour }, "31 days"},
		{"negative campaigns", func(c *Config) { c.Campaigns = -1 }, "Campaigns"},
		{"fast beacon", func(c *Config) { c.BeaconInterval = time.Millisecond }, "BeaconInterval"},
		{"jitter of a whole period", func(c *Config) { c.BeaconJitter = 1 }, "BeaconJitter"},
		{"negative jitter", func(c *Config) { c.BeaconJitter = -0.1 }, "BeaconJitter"},
		{"one country", func(c *Config) { c.Members = oneCountry }, "two countries"},
		{"overlapping networks", func(c *Config) { c.Members = overlap }, "overlaps"},
		{"duplicate member", func(c *Config) { c.Members = dup }, "duplicate"},
		{"bad endpoint", func(c *Config) { c.Members = badEndpoint }, "endpoint"},
		{"no network sensor", func(c *Config) { c.Members = noSensor }, "network sensor"},
		{"bad locale", func(c *Config) { c.Members = badLocale }, "locale"},
		{"empty members", func(c *Config) { c.Members = []Member{} }, "no members"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := smallDemo(1)
			tt.mutate(&cfg)
			_, err := Generate(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestCommunityID(t *testing.T) {
	// Reference values from the Community ID specification's test suite
	// (corelight/community-id-spec baseline, seed 0).
	tests := []struct {
		src, dst     string
		sport, dport uint16
		proto        string
		want         string
	}{
		{"128.232.110.120", "66.35.250.204", 34855, 80, "tcp", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{"66.35.250.204", "128.232.110.120", 80, 34855, "tcp", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{"192.168.1.52", "8.8.8.8", 54585, 53, "udp", "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
	}
	for _, tt := range tests {
		f := &flow{src: mustAddr(tt.src), dst: mustAddr(tt.dst), sport: tt.sport, dport: tt.dport, proto: tt.proto}
		if got := communityID(f); got != tt.want {
			t.Errorf("communityID(%s:%d -> %s:%d %s) = %s, want %s", tt.src, tt.sport, tt.dst, tt.dport, tt.proto, got, tt.want)
		}
	}
}

func TestWarninglist(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    []string
		wantErr bool
	}{
		{"hosts", `{"name":"x","type":"hostname","list":["Example.com","-bad.com",".lead.org","good.net","no_dot","a..b"]}`, []string{"example.com", "good.net"}, false},
		{"not json", `{"list":`, nil, true},
		{"empty", `{"list":[]}`, nil, true},
		{"wrong type", `{"list":"x"}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWarninglist([]byte(tt.data))
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	t.Run("tranco10k", func(t *testing.T) {
		names, err := LoadWarninglist(filepath.Join(sharedDir(t), "misp", "warninglists", "tranco10k", "list.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(names) < 5000 {
			t.Fatalf("only %d names", len(names))
		}
		cfg := smallDemo(3)
		cfg.BenignDomains = names
		sc := generate(t, cfg)
		loaded := map[string]bool{}
		for _, n := range names {
			loaded[n] = true
		}
		for _, n := range popularDomains {
			delete(loaded, n)
		}
		tail := 0
		for _, r := range sc.Records {
			if r.Format != FormatZeek {
				continue
			}
			var dns struct {
				Path  string `json:"_path"`
				Query string `json:"query"`
			}
			if err := json.Unmarshal(r.Line, &dns); err != nil {
				t.Fatal(err)
			}
			if dns.Path == "dns" && loaded[dns.Query] {
				tail++
			}
		}
		if tail == 0 {
			t.Fatal("no record uses a name from the loaded list")
		}
	})
}

func FuzzParseWarninglist(f *testing.F) {
	f.Add([]byte(`{"list":["example.com"]}`))
	f.Add([]byte(`{"list":["a.b","-x.y",""]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		names, err := ParseWarninglist(data)
		if err == nil && len(names) == 0 {
			t.Fatal("no error and no names")
		}
		for _, n := range names {
			if !isHostName(n) {
				t.Fatalf("accepted %q", n)
			}
		}
	})
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add(`C:\Windows\System32\cmd.exe /c "x"`)
	f.Add("tab\tnew\nline\x00\x1f")
	f.Add("\xff\xfe invalid utf-8 é")
	f.Fuzz(func(t *testing.T, s string) {
		b := event.AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, b, err)
		}
		clean := func(x string) string { return strings.ReplaceAll(strings.ToValidUTF8(x, ""), "\uFFFD", "") }
		if clean(back) != clean(s) {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
	})
}

func BenchmarkStreamDemo(b *testing.B) {
	cfg := DemoConfig(1)
	b.ReportAllocs()
	records, bytesOut := 0, 0
	for b.Loop() {
		records, bytesOut = 0, 0
		if err := Stream(cfg, func(r Record) error {
			records++
			bytesOut += len(r.Line) + 1
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(records), "records/op")
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.SetBytes(int64(bytesOut))
}

// TestProfilesFitTheirWindow checks that every victim's intrusion, from
// e-mail to exfiltration, happens inside the scenario for both profiles.
func TestProfilesFitTheirWindow(t *testing.T) {
	profiles := []struct {
		name string
		cfg  func(uint64) Config
	}{{"default", DefaultConfig}, {"demo", DemoConfig}, {"triage", TriageConfig}}
	for _, p := range profiles {
		for seed := uint64(1); seed <= 8; seed++ {
			cfg := p.cfg(seed)
			camps, err := Campaigns(cfg)
			if err != nil {
				t.Fatal(err)
			}
			end := cfg.Start.Add(cfg.Duration)
			chain := time.Duration(float64(35*time.Minute+95*time.Minute) * cfg.StepScale)
			for _, c := range camps {
				if len(c.Victims) < 3 {
					t.Errorf("%s seed %d: %s has %d victims, want >= 3", p.name, seed, c.ID, len(c.Victims))
				}
				for _, v := range c.Victims {
					if v.Start.Before(cfg.Start) || v.Start.Add(chain).After(end) {
						t.Errorf("%s seed %d: %s victim %s at %v does not finish before %v", p.name, seed, c.ID, v.Member, v.Start, end)
					}
				}
			}
		}
	}
}

// TestTriageProfileSpansTheDay checks that the triage profile puts
// intrusions in the second half of its day — the triage model learns from
// the first half's verdicts and is judged on the second — and more of
// them than the day profile does.
func TestTriageProfileSpansTheDay(t *testing.T) {
	secondHalf := func(profile func(uint64) Config) (second, all int) {
		for seed := uint64(1); seed <= 8; seed++ {
			cfg := profile(seed)
			camps, err := Campaigns(cfg)
			if err != nil {
				t.Fatal(err)
			}
			mid := cfg.Start.Add(cfg.Duration / 2)
			for _, c := range camps {
				for _, v := range c.Victims {
					all++
					if !v.Start.Before(mid) {
						second++
					}
				}
			}
		}
		return second, all
	}
	second, all := secondHalf(TriageConfig)
	daySecond, _ := secondHalf(DefaultConfig)
	if 4*second < all || second < 3*daySecond/2 {
		t.Errorf("seeds 1–8: %d of %d intrusions start in the second half (day profile: %d); want a quarter or more, and half as many again as the day profile", second, all, daySecond)
	}
}

// TestExtras checks that each part of Extras adds labelled records of its
// technique and changes nothing else: the scenario without extras is a
// subsequence of the one with them, record for record.
func TestExtras(t *testing.T) {
	base := generate(t, smallDemo(7))
	tests := []struct {
		name      string
		extras    Extras
		technique string
		min       int
	}{
		{"port scan", Extras{PortScan: true}, "T1046", 2000},
		{"DGA burst", Extras{DGABurst: true}, "T1568.002", 150},
		{"exfiltration burst", Extras{ExfilBurst: true}, "T1041", 40},
		{"impossible travel", Extras{ImpossibleTravel: true}, "T1078.004", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := smallDemo(7)
			cfg.Extras = tt.extras
			sc := generate(t, cfg)
			j := 0
			for _, r := range sc.Records {
				if j < len(base.Records) && r.Member == base.Records[j].Member && bytes.Equal(r.Line, base.Records[j].Line) {
					j++
				}
			}
			if j != len(base.Records) {
				t.Fatalf("only %d of %d records of the scenario without extras kept their order", j, len(base.Records))
			}
			victims := map[string]int{}
			for _, l := range sc.Labels {
				if l.Technique == tt.technique {
					victims[l.Campaign+"/"+l.Member]++
				}
			}
			if len(victims) < 3 {
				t.Fatalf("%s labelled at %d victims, want every victim: %v", tt.technique, len(victims), victims)
			}
			for v, n := range victims {
				if n < tt.min {
					t.Errorf("%s: %d records of %s, want at least %d", v, n, tt.technique, tt.min)
				}
			}
			if again := digestOfScenario(generate(t, cfg)); again != digestOfScenario(sc) {
				t.Error("not deterministic")
			}
		})
	}
}

// TestSignIns checks the Entra ID sign-ins of impossible travel: ECS
// documents with the geo and AS fields, at every member, mostly from home.
func TestSignIns(t *testing.T) {
	cfg := smallDemo(2)
	cfg.Extras = Extras{ImpossibleTravel: true}
	sc := generate(t, cfg)
	countries := map[string]map[string]int{}
	for _, r := range sc.Records {
		if r.Format != FormatECS || !bytes.Contains(r.Line, []byte(`"azure.signinlogs"`)) {
			continue
		}
		var doc struct {
			User   struct{ Name string }
			Source struct {
				IP  string
				Geo struct {
					Country string `json:"country_iso_code"`
				}
				AS struct{ Number int }
			}
		}
		if err := json.Unmarshal(r.Line, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.User.Name == "" || doc.Source.IP == "" || doc.Source.Geo.Country == "" || doc.Source.AS.Number == 0 {
			t.Fatalf("sign-in lacks user, address, country or AS: %s", r.Line)
		}
		if countries[r.Member] == nil {
			countries[r.Member] = map[string]int{}
		}
		countries[r.Member][doc.Source.Geo.Country]++
	}
	for _, m := range sc.Config.Members {
		c := countries[m.ID]
		total := 0
		for _, n := range c {
			total += n
		}
		if total < 50 || c[m.Country]*10 < total*9 {
			t.Errorf("%s: sign-ins by country %v, want most from %s", m.ID, c, m.Country)
		}
	}
}
