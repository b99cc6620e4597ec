package respond

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

const fullPlaybook = `name: block-c2
description: Block command-and-control destinations
secret: s3cret
when:
  members: [be-ccb, nl-ncsc]
  detectors: sigma
  rules: ["proc_creation_*"]
  severity: high
  techniques: [T1059]
  tlp: amber
  observable_types: [ipv4-addr]
  fields:
    - {path: observables.role, equals: destination}
    - {path: detector, in: [sigma, ioc]}
    - {path: rule_title, glob: "*PowerShell*"}
throttle: {max: 10, per: 1h, by: rule}
actions:
  - webhook:
      url: https://soar.example/hooks/xsoc
      headers: {X-Tenant: be-ccb}
      body: '{"rule": {{json .RuleTitle}}}'
      timeout: 5s
  - email:
      host: smtp.example
      port: 587
      from: xsoc@soc.example
      to: [oncall@soc.example]
      subject: "[xsoc] {{.Severity}} {{.RuleTitle}}"
  - blocklist: {types: [ip, domain], roles: [destination, query], ttl: 7d}
  - raise_to_hub
---
name: second
when: {}
dry_run: true
stop: true
actions:
  - raise_to_hub: {}
`

func TestParseValid(t *testing.T) {
	pbs, errs := parsePlaybooks("a.yaml", []byte(fullPlaybook))
	if len(errs) > 0 {
		t.Fatalf("unexpected errors: %v", errs)
	}
	if len(pbs) != 2 {
		t.Fatalf("got %d playbooks, want 2", len(pbs))
	}
	pb := pbs[0]
	kinds := pb.info().Actions
	if !slices.Equal(kinds, []string{KindWebhook, KindEmail, KindBlocklist, KindHub}) {
		t.Errorf("actions = %v", kinds)
	}
	if pb.when.minSeverity != alert.High || len(pb.when.fields) != 3 || pb.throttle.by != "rule" {
		t.Errorf("when/throttle parsed wrong: %+v %+v", pb.when, pb.throttle)
	}
	if pb.actions[2].block.ttl.Hours() != 7*24 || !slices.Equal(pb.actions[2].block.types, []string{TypeIP, TypeDomain}) {
		t.Errorf("blocklist parsed wrong: %+v", pb.actions[2].block)
	}
	if !pbs[1].dryRun || !pbs[1].stop || pbs[1].line != 32 {
		t.Errorf("second playbook: dry=%v stop=%v line=%d", pbs[1].dryRun, pbs[1].stop, pbs[1].line)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		line   int
		reason string
	}{
		{"syntax", "name: x\nwhen: {\n  a: [\n", 3, "did not find"},
		{"unknown key", "name: x\nwhen: {}\nactionz: []\n", 3, `unknown key "actionz"`},
		{"no name", "when: {}\nactions: [raise_to_hub]\n", 1, "needs a name"},
		{"bad name", "name: 'a b'\nwhen: {}\nactions: [raise_to_hub]\n", 1, "letters, digits"},
		{"no actions", "name: x\nwhen: {}\nactions: []\n", 1, "at least one action"},
		{"no when", "name: x\nactions: [raise_to_hub]\n", 1, "needs a when"},
		{"bad severity", "name: x\nwhen:\n  severity: extreme\nactions: [raise_to_hub]\n", 3, "unknown severity"},
		{"bad tlp", "name: x\nwhen:\n  tlp: purple\nactions: [raise_to_hub]\n", 3, "unknown level"},
		{"bad technique", "name: x\nwhen:\n  techniques: [T59]\nactions: [raise_to_hub]\n", 3, "ATT&CK id"},
		{"unknown action", "name: x\nwhen: {}\nactions:\n  - page_someone: {}\n", 4, `unknown action "page_someone"`},
		{"two kinds", "name: x\nwhen: {}\nactions:\n  - {raise_to_hub: {}, webhook: {}}\n", 4, "single key"},
		{"webhook without secret", "name: x\nwhen: {}\nactions:\n  - webhook: {url: 'https://h.example/'}\n", 1, "no secret"},
		{"webhook bad url", "name: x\nsecret: k\nwhen: {}\nactions:\n  - webhook: {url: 'ftp://h.example/'}\n", 5, "absolute http"},
		{"webhook bad template", "name: x\nsecret: k\nwhen: {}\nactions:\n  - webhook:\n      url: https://h.example/\n      body: '{{.NoSuchField}}'\n", 7, "NoSuchField"},
		{"webhook unclosed template", "name: x\nsecret: k\nwhen: {}\nactions:\n  - webhook:\n      url: https://h.example/\n      body: '{{.ID'\n", 7, "template"},
		{"webhook header injection", "name: x\nsecret: k\nwhen: {}\nactions:\n  - webhook:\n      url: https://h.example/\n      headers: {X-A: \"a\\r\\nB: c\"}\n", 7, "line break"},
		{"webhook reserved header", "name: x\nsecret: k\nwhen: {}\nactions:\n  - webhook:\n      url: https://h.example/\n      headers: {X-Xsoc-Signature: x}\n", 7, "set by xsoc"},
		{"timeout too long", "name: x\nsecret: k\nwhen: {}\nactions:\n  - webhook: {url: 'https://h.example/', timeout: 5m}\n", 5, "out of range"},
		{"email missing to", "name: x\nwhen: {}\nactions:\n  - email: {host: h, from: a@b.example}\n", 4, "needs host, from and to"},
		{"email bad address", "name: x\nwhen: {}\nactions:\n  - email: {host: h, from: 'not an address', to: a@b.example}\n", 4, "address"},
		{"email port", "name: x\nwhen: {}\nactions:\n  - email: {host: h, port: 70000, from: a@b.example, to: a@b.example}\n", 4, "1 to 65535"},
		{"blocklist bad type", "name: x\nwhen: {}\nactions:\n  - blocklist: {types: [mac-addr], ttl: 1h}\n", 4, "unknown blocklist type"},
		{"blocklist no ttl", "name: x\nwhen: {}\nactions:\n  - blocklist: {types: [ip]}\n", 4, "needs types and ttl"},
		{"throttle by", "name: x\nwhen: {}\nthrottle: {max: 1, per: 1h, by: moon}\nactions: [raise_to_hub]\n", 3, "throttle by"},
		{"throttle incomplete", "name: x\nwhen: {}\nthrottle: {max: 1}\nactions: [raise_to_hub]\n", 3, "needs max and per"},
		{"field two ops", "name: x\nwhen:\n  fields:\n    - {path: a, equals: b, glob: c}\nactions: [raise_to_hub]\n", 4, "exactly one"},
		{"field no path", "name: x\nwhen:\n  fields:\n    - {equals: b}\nactions: [raise_to_hub]\n", 4, "needs a path"},
		{"repeated key", "name: x\nname: y\nwhen: {}\nactions: [raise_to_hub]\n", 2, "repeated"},
		{"both secrets", "name: x\nsecret: a\nsecret_env: B\nwhen: {}\nactions: [raise_to_hub]\n", 1, "not both"},
		{"empty file", "", 0, "no playbook"},
		{"not a mapping", "- a\n- b\n", 1, "must be a mapping"},
		{"second document bad", "name: x\nwhen: {}\nactions: [raise_to_hub]\n---\nname: y\nwhen: {}\nactions: [nope]\n", 7, "unknown action"},
		{"dry_run not bool", "name: x\nwhen: {}\ndry_run: maybe\nactions: [raise_to_hub]\n", 3, "true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pbs, errs := parsePlaybooks("p.yaml", []byte(tt.src))
			if len(errs) == 0 {
				t.Fatalf("accepted: %+v", pbs)
			}
			if pbs != nil {
				t.Errorf("a file with errors returned playbooks")
			}
			for _, e := range errs {
				if e.Line == tt.line && strings.Contains(e.Reason, tt.reason) && e.File == "p.yaml" {
					return
				}
			}
			t.Errorf("want p.yaml:%d %q, got %v", tt.line, tt.reason, errs)
		})
	}
}

func TestLoadKeepsLastGoodFile(t *testing.T) {
	good := func(name string) string { return "name: " + name + "\nwhen: {}\nactions: [raise_to_hub]\n" }
	dir := writePlaybooks(t, map[string]string{"10-a.yaml": good("a"), "20-b.yml": good("b"), "notes.txt": "ignored"})
	r := newResponder(t, storetest.SQLite(t, schemas...), Options{})
	mustLoad(t, r, dir)
	if got := names(r.Playbooks()); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("playbooks = %v", got)
	}

	// Break b and add a valid c: b keeps its old version, c arrives.
	os.WriteFile(filepath.Join(dir, "20-b.yml"), []byte("name: b\nwhen: {}\nactions: [explode]\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "30-c.yaml"), []byte(good("c")), 0o600)
	errs := r.Load(dir)
	if len(errs) != 1 || errs[0].File != "20-b.yml" || errs[0].Line != 3 {
		t.Fatalf("errors = %v", errs)
	}
	if got := names(r.Playbooks()); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("after bad reload playbooks = %v", got)
	}

	// A name clash rejects the later file; removing a file drops it.
	os.WriteFile(filepath.Join(dir, "40-d.yaml"), []byte(good("a")), 0o600)
	os.Remove(filepath.Join(dir, "30-c.yaml"))
	errs = r.Load(dir)
	if len(errs) != 2 || !strings.Contains(errs[1].Reason, "already used in 10-a.yaml") {
		t.Fatalf("errors = %v", errs)
	}
	if got := names(r.Playbooks()); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after clash playbooks = %v", got)
	}

	// A missing directory changes nothing.
	if errs := r.Load(filepath.Join(dir, "missing")); len(errs) != 1 {
		t.Fatalf("missing dir errors = %v", errs)
	}
	if got := names(r.Playbooks()); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after missing dir playbooks = %v", got)
	}
}

func TestSecretFromEnvironment(t *testing.T) {
	src := "name: x\nsecret_env: XSOC_TEST_HOOK_SECRET\nwhen: {}\nactions:\n  - webhook: {url: 'https://h.example/'}\n"
	t.Setenv("XSOC_TEST_HOOK_SECRET", "")
	if _, errs := parsePlaybooks("p.yaml", []byte(src)); len(errs) != 1 || !strings.Contains(errs[0].Reason, "not set") {
		t.Fatalf("unset variable: %v", errs)
	}
	t.Setenv("XSOC_TEST_HOOK_SECRET", "k3y")
	pbs, errs := parsePlaybooks("p.yaml", []byte(src))
	if len(errs) > 0 || string(pbs[0].secret) != "k3y" {
		t.Fatalf("set variable: %v %v", errs, pbs)
	}
}

func names(in []PlaybookInfo) []string {
	var out []string
	for _, p := range in {
		out = append(out, p.Name)
	}
	return out
}

func FuzzParsePlaybooks(f *testing.F) {
	f.Add([]byte(fullPlaybook))
	f.Add([]byte("name: x\nwhen: {}\nactions: [raise_to_hub]\n"))
	f.Add([]byte("name: x\nwhen:\n  fields: [{path: a.b, in: [1, 2]}]\nactions:\n  - blocklist: {types: ip, ttl: 1h}\n"))
	f.Add([]byte("- [a, {b: c}]\n---\n&a [*a]\n"))
	f.Add([]byte("name: x\nwhen: {}\nactions:\n  - webhook: {url: 'http://h/', body: '{{range .}}{{end}}'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pbs, errs := parsePlaybooks("f.yaml", data)
		if (len(pbs) == 0) == (len(errs) == 0) {
			t.Fatalf("want playbooks xor errors, got %d and %v", len(pbs), errs)
		}
		for _, e := range errs {
			if e.Reason == "" {
				t.Fatalf("error without reason: %+v", e)
			}
		}
	})
}

// TestExamplesLoadAsShipped: the examples load without any environment;
// the one with a webhook starts in dry run until its secret is set.
func TestExamplesLoadAsShipped(t *testing.T) {
	t.Setenv("XSOC_HOOK_SECRET", "")
	r := newResponder(t, storetest.SQLite(t, schemas...), Options{})
	mustLoad(t, r, "examples")
	if got := len(r.Playbooks()); got != 3 {
		t.Fatalf("%d example playbooks loaded, want 3", got)
	}
}

// TestExamplesLoad keeps the shipped example playbooks valid.
func TestExamplesLoad(t *testing.T) {
	t.Setenv("XSOC_HOOK_SECRET", "example")
	r := newResponder(t, storetest.SQLite(t, schemas...), Options{})
	mustLoad(t, r, "examples")
	want := []string{"block-c2-callbacks", "page-critical", "cross-border-trial"}
	if got := names(r.Playbooks()); !slices.Equal(got, want) {
		t.Fatalf("examples = %v, want %v", got, want)
	}
	a := testAlert("a1")
	a.Techniques = []string{"T1071.004"}
	plan := r.Simulate(a)
	if len(plan) != 1 || plan[0].Playbook != "block-c2-callbacks" || len(plan[0].Actions) != 3 {
		t.Fatalf("plan %+v", plan)
	}
	if got := plan[0].Actions[0].Detail; got != "ip:203.0.113.7 domain:evil.example" {
		t.Errorf("blocklist plan %q", got)
	}
	for _, act := range plan[0].Actions {
		if act.Error != "" {
			t.Errorf("%s: %s", act.Kind, act.Error)
		}
	}
}

func TestWatchReloads(t *testing.T) {
	dir := writePlaybooks(t, map[string]string{"a.yaml": "name: a\nwhen: {}\nactions: [raise_to_hub]\n"})
	r := newResponder(t, storetest.SQLite(t, schemas...), Options{})
	reports := make(chan []LoadError, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Watch(ctx, dir, 5*time.Millisecond, func(e []LoadError) { reports <- e }); close(done) }()
	defer func() { cancel(); <-done }()
	if errs := <-reports; len(errs) != 0 {
		t.Fatalf("first load: %v", errs)
	}
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("name: b\nwhen: {}\nactions: [oops]\n"), 0o600)
	if errs := <-reports; len(errs) != 1 || errs[0].File != "b.yaml" {
		t.Fatalf("reload with a bad file: %v", errs)
	}
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("name: b\nwhen: {}\nactions: [raise_to_hub]\n"), 0o600)
	waitFor(t, "b to load", func() bool { return slices.Equal(names(r.Playbooks()), []string{"a", "b"}) })
}
