package sigma

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

const failedLogin = `title: Failed login
id: fail-1
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
---
title: Successful login
id: ok-1
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4624
    condition: selection
`

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// loginEvent is a Security log event at t0+sec seconds.
func loginEvent(code, user, ip string, sec int) *event.Event {
	ev := &event.Event{ID: fmt.Sprintf("%s-%s-%d", code, user, sec), Member: "m1", Time: t0.Add(time.Duration(sec) * time.Second)}
	ev.Set("event.module", "security")
	ev.Set("event.code", code)
	ev.Set("winlog.event_data.TargetUserName", user)
	ev.Set("winlog.event_data.IpAddress", ip)
	ev.Set("winlog.event_data.Bytes", "100")
	ev.Set("host.name", "dc1")
	return ev
}

type step struct {
	code, user, ip string
	sec            int
}

// alertsOf feeds steps and returns the rule ids of the alerts of each.
func alertsOf(t *testing.T, src string, opts Options, steps []step) []string {
	t.Helper()
	e := NewEngine(opts)
	if errs := e.Load(mustParse(t, src)); len(errs) > 0 {
		t.Fatal(errs)
	}
	var out []string
	for _, s := range steps {
		var ids []string
		for _, a := range e.Detect(loginEvent(s.code, s.user, s.ip, s.sec), nil) {
			ids = append(ids, a.RuleID)
		}
		out = append(out, strings.Join(ids, "+"))
	}
	return out
}

func corr(body string) string {
	return failedLogin + "---\ntitle: Correlation\nid: corr-1\nlevel: critical\n" + body
}

func TestCorrelations(t *testing.T) {
	cases := []struct {
		name  string
		rule  string
		steps []step
		want  []string
	}{
		{
			"event_count fires at threshold and restarts",
			corr("correlation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [TargetUserName]\n    timespan: 1m\n    condition: {gte: 3}\n"),
			[]step{{"4625", "bob", "1.1.1.1", 0}, {"4625", "bob", "1.1.1.1", 10}, {"4625", "bob", "1.1.1.1", 20}, {"4625", "bob", "1.1.1.1", 30}},
			[]string{"", "", "corr-1", ""},
		},
		{
			"event_count window slides",
			corr("correlation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [TargetUserName]\n    timespan: 1m\n    condition: {gte: 3}\n"),
			[]step{{"4625", "bob", "", 0}, {"4625", "bob", "", 50}, {"4625", "bob", "", 70}, {"4625", "bob", "", 100}},
			[]string{"", "", "", "corr-1"},
		},
		{
			"event_count groups apart",
			corr("correlation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [TargetUserName]\n    timespan: 1m\n    condition: {gte: 2}\n"),
			[]step{{"4625", "bob", "", 0}, {"4625", "eve", "", 1}, {"4625", "bob", "", 2}},
			[]string{"", "", "corr-1"},
		},
		{
			"generate keeps the base alerts",
			corr("correlation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [TargetUserName]\n    timespan: 1m\n    generate: true\n    condition: {gte: 2}\n"),
			[]step{{"4625", "bob", "", 0}, {"4625", "bob", "", 1}},
			[]string{"fail-1", "fail-1+corr-1"},
		},
		{
			"range condition",
			corr("correlation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [TargetUserName]\n    timespan: 1m\n    condition: {gt: 1, lte: 2}\n"),
			[]step{{"4625", "bob", "", 0}, {"4625", "bob", "", 1}},
			[]string{"", "corr-1"},
		},
		{
			"value_count counts distinct values",
			corr("correlation:\n    type: value_count\n    rules: [failed_login]\n    group-by: [IpAddress]\n    timespan: 1h\n    condition: {field: TargetUserName, gte: 3}\n"),
			[]step{{"4625", "a", "9.9.9.9", 0}, {"4625", "a", "9.9.9.9", 1}, {"4625", "b", "9.9.9.9", 2}, {"4625", "c", "8.8.8.8", 3}, {"4625", "c", "9.9.9.9", 4}},
			[]string{"", "", "", "", "corr-1"},
		},
		{
			"value_sum",
			corr("correlation:\n    type: value_sum\n    rules: [failed_login]\n    group-by: [IpAddress]\n    timespan: 1h\n    condition: {field: Bytes, gt: 250}\n"),
			[]step{{"4625", "a", "9.9.9.9", 0}, {"4625", "a", "9.9.9.9", 1}, {"4625", "a", "9.9.9.9", 2}},
			[]string{"", "", "corr-1"},
		},
		{
			"value_avg",
			corr("correlation:\n    type: value_avg\n    rules: [failed_login]\n    group-by: [IpAddress]\n    timespan: 1h\n    condition: {field: Bytes, gte: 100}\n"),
			[]step{{"4625", "a", "9.9.9.9", 0}},
			[]string{"corr-1"},
		},
		{
			"temporal in any order",
			corr("correlation:\n    type: temporal\n    rules: [failed_login, successful_login]\n    group-by: [TargetUserName]\n    timespan: 5m\n"),
			[]step{{"4624", "bob", "", 0}, {"4625", "eve", "", 10}, {"4625", "bob", "", 20}},
			[]string{"", "", "corr-1"},
		},
		{
			"temporal outside the window",
			corr("correlation:\n    type: temporal\n    rules: [failed_login, successful_login]\n    group-by: [TargetUserName]\n    timespan: 5m\n"),
			[]step{{"4624", "bob", "", 0}, {"4625", "bob", "", 400}},
			[]string{"", ""},
		},
		{
			"temporal_ordered needs the order",
			corr("correlation:\n    type: temporal_ordered\n    rules: [failed_login, successful_login]\n    group-by: [TargetUserName]\n    timespan: 5m\n"),
			[]step{{"4624", "bob", "", 0}, {"4625", "bob", "", 10}, {"4624", "bob", "", 20}},
			[]string{"", "", "corr-1"},
		},
		{
			"aliases join different fields",
			corr("correlation:\n    type: temporal\n    rules: [failed_login, successful_login]\n    group-by: [who]\n    timespan: 5m\n    aliases:\n        who:\n            failed_login: TargetUserName\n            successful_login: IpAddress\n"),
			[]step{{"4625", "bob", "", 0}, {"4624", "x", "bob", 10}},
			[]string{"", "corr-1"},
		},
		{
			"chained correlations",
			failedLogin + "---\ntitle: many failures\nid: many\nname: many_failed\ncorrelation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [TargetUserName]\n    timespan: 10m\n    condition: {gte: 2}\n---\ntitle: brute force success\nid: brute\ncorrelation:\n    type: temporal_ordered\n    rules: [many_failed, successful_login]\n    group-by: [TargetUserName]\n    timespan: 10m\n",
			[]step{{"4625", "bob", "", 0}, {"4625", "bob", "", 1}, {"4624", "bob", "", 2}},
			[]string{"", "", "brute"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := alertsOf(t, c.rule, Options{}, c.steps)
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("alerts per event %q, want %q", got, c.want)
			}
		})
	}
}

func TestCorrelationAlert(t *testing.T) {
	e := NewEngine(Options{})
	e.Load(mustParse(t, corr("tags: [attack.t1110]\ncorrelation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [TargetUserName]\n    timespan: 1m\n    condition: {gte: 2}\n")))
	e.Detect(loginEvent("4625", "bob", "", 0), nil)
	out := e.Detect(loginEvent("4625", "bob", "", 1), nil)
	if len(out) != 1 {
		t.Fatalf("got %d alerts", len(out))
	}
	a := out[0]
	if a.Severity.String() != "critical" || a.Key != "bob" || len(a.EventIDs) != 2 || a.Techniques[0] != "T1110" || a.RuleTitle != "Correlation" {
		t.Errorf("alert %+v", a)
	}
}

// TestCorrelationStateSurvivesReload loads the same correlation again in
// the middle of a window.
func TestCorrelationStateSurvivesReload(t *testing.T) {
	src := corr("correlation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [TargetUserName]\n    timespan: 1m\n    condition: {gte: 2}\n")
	e := NewEngine(Options{})
	e.Load(mustParse(t, src))
	e.Detect(loginEvent("4625", "bob", "", 0), nil)
	e.Load(mustParse(t, src))
	if n := len(e.Detect(loginEvent("4625", "bob", "", 1), nil)); n != 1 {
		t.Errorf("after reload: %d alerts, want 1 (state kept)", n)
	}
	// A different id starts afresh.
	e.Load(mustParse(t, strings.Replace(src, "id: corr-1", "id: corr-2", 1)))
	e.Detect(loginEvent("4625", "eve", "", 2), nil)
	if n := len(e.Detect(loginEvent("4625", "bob", "", 3), nil)); n != 0 {
		t.Errorf("new correlation id: %d alerts, want 0", n)
	}
}

func TestCorrelationGroupCap(t *testing.T) {
	src := corr("correlation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [TargetUserName]\n    timespan: 1h\n    condition: {gte: 2}\n")
	e := NewEngine(Options{MaxGroups: 3})
	e.Load(mustParse(t, src))
	for i := 0; i < 10; i++ {
		e.Detect(loginEvent("4625", fmt.Sprint("u", i), "", i), nil)
	}
	if n := e.RuleSet().corrs[0].state.groupCount(); n != 3 {
		t.Errorf("%d groups kept, want 3", n)
	}
	// u0 was evicted: its second failure starts a new group.
	if n := len(e.Detect(loginEvent("4625", "u0", "", 11), nil)); n != 0 {
		t.Errorf("evicted group fired")
	}
	// u9 is recent: its second failure fires.
	if n := len(e.Detect(loginEvent("4625", "u9", "", 12), nil)); n != 1 {
		t.Errorf("recent group did not fire")
	}
}

func TestTimespan(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{{"30s", 30 * time.Second, true}, {"5m", 5 * time.Minute, true}, {"2h", 2 * time.Hour, true}, {"1d", 24 * time.Hour, true}, {"1y", 0, false}, {"m", 0, false}, {"-5m", 0, false}}
	for _, c := range cases {
		got, err := parseTimespan(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseTimespan(%q) = %v, %v", c.in, got, err)
		}
	}
}

// TestCorrelationPerMember checks that events of different members never
// fall into one group.
func TestCorrelationPerMember(t *testing.T) {
	e := NewEngine(Options{})
	e.Load(mustParse(t, corr("correlation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [TargetUserName]\n    timespan: 1m\n    condition: {gte: 2}\n")))
	a := loginEvent("4625", "bob", "", 0)
	b := loginEvent("4625", "bob", "", 1)
	b.Member = "m2"
	e.Detect(a, nil)
	if n := len(e.Detect(b, nil)); n != 0 {
		t.Errorf("events of two members fired a correlation")
	}
	c := loginEvent("4625", "bob", "", 2)
	if n := len(e.Detect(c, nil)); n != 1 {
		t.Errorf("second event of member m1: %d alerts, want 1", n)
	}
}

// correlationDoc is a correlation rule titled and named name, over refs.
func correlationDoc(name string, refs ...string) string {
	return fmt.Sprintf("---\ntitle: %s\nid: %s\nname: %s\ncorrelation:\n    type: event_count\n    rules: [%s]\n    group-by: [TargetUserName]\n    timespan: 1m\n    condition: {gte: 1}\n",
		name, name, name, strings.Join(refs, ", "))
}

func repeat(ref string, k int) []string {
	out := make([]string, k)
	for i := range out {
		out[i] = ref
	}
	return out
}

// stack is n correlations c1..cn, each naming the one below k times (c1
// names failed_login).
func stack(n, k int) string {
	var b strings.Builder
	below := "failed_login"
	for i := 1; i <= n; i++ {
		name := fmt.Sprint("c", i)
		b.WriteString(correlationDoc(name, repeat(below, k)...))
		below = name
	}
	return b.String()
}

// TestCorrelationGraphLimits loads correlations whose references loop,
// stack too deep or fan out too far: loading refuses them, naming the
// rules, and what loads keeps the updates one match causes within
// maxFanOut (counted by walking the loaded feeds).
func TestCorrelationGraphLimits(t *testing.T) {
	cases := []struct {
		name    string
		src     string
		refused map[string]string // rule id: words its load error holds
		loaded  []string          // correlation ids that load
	}{
		{
			name: "two correlations naming each other 20 times",
			src:  correlationDoc("a", append([]string{"failed_login"}, repeat("b", 20)...)...) + correlationDoc("b", repeat("a", 20)...),
			refused: map[string]string{
				"a": `loop, which would feed them without end: "a" (test.yml:23) → "b" (test.yml:33) → "a" (test.yml:23)`,
				"b": `loop, which would feed them without end: "a" (test.yml:23) → "b" (test.yml:33) → "a" (test.yml:23)`,
			},
		},
		{
			name:    "a correlation naming itself",
			src:     correlationDoc("self", "failed_login", "self"),
			refused: map[string]string{"self": `loop, which would feed them without end: "self" (test.yml:23) → "self" (test.yml:23)`},
		},
		{
			name: "a loop of three and a correlation on it",
			src: correlationDoc("top", "x") + correlationDoc("x", "failed_login", "y") +
				correlationDoc("y", "z") + correlationDoc("z", "x"),
			refused: map[string]string{
				"x":   `"x" (test.yml:33) → "y" (test.yml:43) → "z" (test.yml:53) → "x" (test.yml:33)`,
				"y":   `"x" (test.yml:33) → "y" (test.yml:43) → "z" (test.yml:53) → "x" (test.yml:33)`,
				"z":   `"x" (test.yml:33) → "y" (test.yml:43) → "z" (test.yml:53) → "x" (test.yml:33)`,
				"top": `names correlation "x" (test.yml:33), which is not loaded`,
			},
		},
		{
			name: "fan-out past the limit",
			// c1..c3 cost 4+16+64 updates per failed login; c4 would add 256.
			src: stack(5, 4),
			refused: map[string]string{
				"c4": `one match of "Failed login" (test.yml:1) would update correlations 340 times, this one and those loaded before it counted (the limit is 256)`,
				"c5": `names correlation "c4" (test.yml:53), which is not loaded`,
			},
			loaded: []string{"c1", "c2", "c3"},
		},
		{
			name:    "stacked too deep",
			src:     stack(9, 1),
			refused: map[string]string{"c9": "correlations stacked 9 deep (the limit is 8)"},
			loaded:  []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"},
		},
		{
			name:   "many correlations on one rule within the limit",
			src:    stack(1, 256),
			loaded: []string{"c1"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, errs := Compile(mustParse(t, failedLogin+c.src), Options{})
			got := map[string]string{}
			for _, e := range errs {
				got[e.RuleID] = e.Error()
			}
			for id, words := range c.refused {
				if !strings.Contains(got[id], words) {
					t.Errorf("load error of %s: %q, want it to hold %q", id, got[id], words)
				}
			}
			if len(errs) != len(c.refused) {
				t.Errorf("load errors %v, want %d", errs, len(c.refused))
			}
			var loaded []string
			for _, corr := range rs.corrs {
				loaded = append(loaded, corr.key)
			}
			if strings.Join(loaded, ",") != strings.Join(c.loaded, ",") {
				t.Errorf("loaded correlations %v, want %v", loaded, c.loaded)
			}
			if n := rs.updatesPerMatch(maxFanOut); n > maxFanOut {
				t.Errorf("one match can cause more than %d correlation updates", maxFanOut)
			}
		})
	}
}
