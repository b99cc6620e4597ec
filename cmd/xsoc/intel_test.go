package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs xsoc with args and returns its exit code and output.
func runCLI(args ...string) (int, string) {
	var out bytes.Buffer
	code := mainExit(args, &out, &out)
	return code, out.String()
}

// TestIntelImportOverrideAndMISPRoundTrip drives xsoc intel as an
// operator would: an indicator of a private range is refused naming its
// warning list, and stored with --override-warninglists, naming it again;
// a MISP event's to_ids-off attribute is reported as context; export-misp
// gives the event back under its uuid with its info, creator and
// filename|md5 attribute; an unknown member is named.
func TestIntelImportOverrideAndMISPRoundTrip(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	bundle := memberAndAddressBundle(t, dir, "10.0.0.0")
	code, out := runCLI("intel", "import", "--data-dir", dir, "--member", "fr-cert", bundle)
	if code != 0 || !strings.Contains(out, `is on warning list "Built-in: private networks`) || !strings.Contains(out, "0 objects stored, 1 refused") ||
		!strings.Contains(out, "--override-warninglists stores them") {
		t.Errorf("import of a private range: exit %d\n%s", code, out)
	}
	code, out = runCLI("intel", "import", "--data-dir", dir, "--member", "fr-cert", "--override-warninglists", bundle)
	if code != 0 || !strings.Contains(out, "stored indicator--33fe3b22-0201-47cf-85d0-97c02164528d despite the warning list: ipv4-addr 10.0.0.0 is on warning list \"Built-in: private networks") ||
		!strings.Contains(out, "1 objects stored, 0 refused") {
		t.Errorf("import with --override-warninglists: exit %d\n%s", code, out)
	}

	event := filepath.Join(tmp, "event.json")
	write(t, event, `{"Event":{"uuid":"5758ebf5-c898-48e6-9fe9-5665c0a83866","info":"Phishing wave","date":"2026-03-01","timestamp":"1772323200",
"Orgc":{"uuid":"55f6ea5e-2c60-40e5-964f-47a8950d210f","name":"CIRCL"},"Tag":[{"name":"tlp:green"}],
"Attribute":[
{"uuid":"5758ebf5-0001-48e6-9fe9-5665c0a83866","type":"filename|md5","category":"Payload delivery","value":"invoice.exe|0749bae92ca336a02c83d126e04ec628","to_ids":true},
{"uuid":"5758ebf5-0002-48e6-9fe9-5665c0a83866","type":"ip-dst","category":"Network activity","value":"198.51.100.7","to_ids":false,"comment":"sinkhole"}]}}`)
	code, out = runCLI("intel", "import", "--data-dir", dir, "--member", "fr-cert", event)
	if code != 0 || !strings.Contains(out, "context ip-dst 198.51.100.7: to_ids is off: kept as observed data, not for detection (observed-data--5758ebf5-0002-48e6-9fe9-5665c0a83866)") ||
		!strings.Contains(out, "1 MISP attributes kept as context") {
		t.Errorf("import of a MISP event: exit %d\n%s", code, out)
	}
	feed := filepath.Join(tmp, "feed")
	code, out = runCLI("intel", "export-misp", "--data-dir", dir, "--member", "fr-cert", feed)
	if code != 0 || !strings.Contains(out, "1 MISP events (from reports) and 1 other indicators exported") {
		t.Errorf("export-misp: exit %d\n%s", code, out)
	}
	data, err := os.ReadFile(filepath.Join(feed, "5758ebf5-c898-48e6-9fe9-5665c0a83866.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Event struct {
			Info      string `json:"info"`
			Orgc      struct{ Name string }
			Attribute []struct {
				UUID, Type, Value string
				ToIDS             bool `json:"to_ids"`
			}
		}
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{}
	for _, a := range got.Event.Attribute {
		attrs[a.UUID] = a.Type + " " + a.Value + " " + map[bool]string{true: "ids", false: "context"}[a.ToIDS]
	}
	if got.Event.Info != "Phishing wave" || got.Event.Orgc.Name != "CIRCL" ||
		attrs["5758ebf5-0001-48e6-9fe9-5665c0a83866"] != "filename|md5 invoice.exe|0749bae92ca336a02c83d126e04ec628 ids" ||
		attrs["5758ebf5-0002-48e6-9fe9-5665c0a83866"] != "ip-dst 198.51.100.7 context" {
		t.Errorf("exported event %+v", got.Event)
	}

	code, out = runCLI("intel", "import", "--data-dir", dir, "--member", "nobody", event)
	if code != 1 || !strings.Contains(out, "--member nobody: member nobody: no such member") {
		t.Errorf("import for an unknown member: exit %d\n%s", code, out)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIntelImportSTIX20: a STIX 2.0 bundle (the STIX 2.0 specification's
// identity and indicator) imports, converted to 2.1, and says so.
func TestIntelImportSTIX20(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	if code, out := runCLI("members", "add", "--data-dir", dir, "--id", "fr-cert", "--name", "FR", "--country", "FR", "--sector", "energy"); code != 0 {
		t.Fatal(out)
	}
	bundle := filepath.Join(tmp, "stix20.json")
	write(t, bundle, `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","spec_version":"2.0","objects":[
{"type":"identity","id":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2016-04-06T20:03:00.000Z","modified":"2016-04-06T20:03:00.000Z","name":"ACME Corp, Inc.","identity_class":"organization"},
{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2016-04-06T20:03:48Z","modified":"2016-04-06T20:03:48Z","labels":["malicious-activity"],"name":"Poison Ivy Malware","pattern":"[ file:hashes.'SHA-256' = '4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877' ]","valid_from":"2016-01-01T00:00:00Z"}]}`)
	code, out := runCLI("intel", "import", "--data-dir", dir, "--member", "fr-cert", bundle)
	if code != 0 || !strings.Contains(out, "2 STIX 2.0 objects converted to STIX 2.1") || !strings.Contains(out, "2 objects stored, 0 refused") {
		t.Errorf("import of a STIX 2.0 bundle: exit %d\n%s", code, out)
	}
}

// TestIntelCollections: an operator creates a collection from the command
// line, gives members rights and lists them; unknown collections and
// members are named.
func TestIntelCollections(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, m := range []string{"fr-cert", "de-bank"} {
		if code, out := runCLI("members", "add", "--data-dir", dir, "--id", m, "--name", m, "--country", strings.ToUpper(m[:2]), "--sector", "energy"); code != 0 {
			t.Fatal(out)
		}
	}
	const id = "9c1d6a8e-4f0b-4c2a-9d3e-5b7f1a2c3d4e"
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"intel", "collection-add", "--data-dir", dir, "--title", "Ransomware IOCs", "--tlp", "amber", "--id", id}, 0, "collection " + id + " (Ransomware IOCs) created, unmarked objects TLP:AMBER"},
		{[]string{"intel", "collection-add", "--data-dir", dir}, 1, "needs --title"},
		{[]string{"intel", "collection-rights", "--data-dir", dir, "--collection", id, "--member", "fr-cert", "--read", "--write"}, 0, "fr-cert may now read and write collection " + id},
		{[]string{"intel", "collection-rights", "--data-dir", dir, "--collection", id, "--member", "de-bank", "--read"}, 0, "de-bank may now read collection " + id},
		{[]string{"intel", "collections", "--data-dir", dir}, 0, id + "  Ransomware IOCs    TLP:AMBER    no              de-bank read, fr-cert read+write"},
		{[]string{"intel", "collection-rights", "--data-dir", dir, "--collection", id, "--member", "de-bank"}, 0, "de-bank has no rights on collection " + id},
		{[]string{"intel", "collections", "--data-dir", dir, "--json"}, 0, `"fr-cert": {`},
		{[]string{"intel", "collection-rights", "--data-dir", dir, "--collection", "nope", "--member", "fr-cert", "--read"}, 1, "no collection nope"},
		{[]string{"intel", "collection-rights", "--data-dir", dir, "--collection", id, "--member", "nobody", "--read"}, 1, "no such member"},
	}
	for _, s := range steps {
		code, out := runCLI(s.args...)
		if code != s.code || !strings.Contains(out, s.want) {
			t.Errorf("xsoc %v: exit %d\n%s\nwant exit %d and %q", s.args, code, out, s.code, s.want)
		}
	}
}

// TestIntelWarninglists installs the MISP warning lists of the shared
// test data (read in place) into a node's data directory: list shows them
// with the built-in ranges, and a later import refuses an indicator of a
// public DNS resolver naming the MISP list, without any flag.
func TestIntelWarninglists(t *testing.T) {
	lists := filepath.Join("..", "..", "..", "shared", "misp", "warninglists")
	if _, err := os.Stat(lists); err != nil {
		t.Skipf("MISP warning lists not found at %s (the shared test data): %v", lists, err)
	}
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	code, out := runCLI("intel", "warninglists", "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "no MISP warning lists installed") || !strings.Contains(out, "xsoc intel warninglists install") ||
		!strings.Contains(out, "Built-in: private networks") {
		t.Errorf("list before install: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("list created the data directory")
	}
	code, out = runCLI("intel", "warninglists", "install", "--data-dir", dir, lists)
	if code != 0 || !strings.Contains(out, "installed 136 MISP warning lists") || !strings.Contains(out, "List of known Akamai IP ranges") {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	code, out = runCLI("intel", "warninglists", "update", "--data-dir", dir, lists)
	if code != 0 || !strings.Contains(out, "unchanged from the previous install") {
		t.Errorf("update: exit %d\n%s", code, out)
	}
	code, out = runCLI("intel", "warninglists", "list", "--data-dir", dir, "--json")
	var listed struct {
		Install struct{ ID string }
		Lists   []struct{ Name, Type string }
		Builtin []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &listed); code != 0 || err != nil || listed.Install.ID == "" || len(listed.Lists) != 136 || len(listed.Builtin) == 0 {
		t.Errorf("list --json: exit %d, %v\n%.300s", code, err, out)
	}
	code, out = runCLI("intel", "warninglists", "install", "--data-dir", dir, tmp)
	if code == 0 || !strings.Contains(out, "no <list>/list.json") {
		t.Errorf("install of a folder without lists: exit %d\n%s", code, out)
	}

	bundle := memberAndAddressBundle(t, dir, "8.8.8.8")
	code, out = runCLI("intel", "import", "--data-dir", dir, "--member", "fr-cert", bundle)
	if code != 0 || !strings.Contains(out, `is on warning list "List of known IPv4 public DNS resolvers"`) || !strings.Contains(out, "0 objects stored, 1 refused") {
		t.Errorf("import of a resolver's address: exit %d\n%s", code, out)
	}
	code, out = runCLI("intel", "warninglists", "remove", "--data-dir", dir)
	if code == 0 || !strings.Contains(out, `unknown subcommand "remove"`) {
		t.Errorf("unknown action: exit %d\n%s", code, out)
	}
}

// memberAndAddressBundle adds the member fr-cert to the node in dir and
// writes beside dir a STIX bundle of one indicator of the IPv4 address ip
// (the OASIS example's indicator), returning the bundle's path.
func memberAndAddressBundle(t *testing.T, dir, ip string) string {
	t.Helper()
	if code, out := runCLI("members", "add", "--data-dir", dir, "--id", "fr-cert", "--name", "FR", "--country", "FR", "--sector", "energy"); code != 0 {
		t.Fatal(out)
	}
	bundle := filepath.Join(filepath.Dir(dir), "address-"+ip+".json")
	write(t, bundle, `{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[
{"type":"indicator","spec_version":"2.1","id":"indicator--33fe3b22-0201-47cf-85d0-97c02164528d","created":"2014-06-29T13:49:37.079Z","modified":"2014-06-29T13:49:37.079Z",
"pattern":"[ipv4-addr:value = '`+ip+`']","pattern_type":"stix","valid_from":"2014-06-29T13:49:37.079Z"}]}`)
	return bundle
}
