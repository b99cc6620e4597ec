package warninglist

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// realListsDir returns the MISP warning lists of the shared test data,
// read in place, or skips.
func realListsDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(sharedDir(t), "misp", "warninglists")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("MISP warning lists not found at %s (the shared test data): %v", dir, err)
	}
	return dir
}

// copyLists copies the named lists of src into a new folder, so that a
// test can break or change one.
func copyLists(t *testing.T, src string, names ...string) string {
	t.Helper()
	dst := t.TempDir()
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(src, n, "list.json"))
		if err != nil {
			t.Fatal(err)
		}
		writeList(t, dst, n, string(data))
	}
	return dst
}

func writeList(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name, "list.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInstallRealLists installs the 136 MISP lists of the test data into a
// data directory and checks what a node then uses: the MISP lists first
// (a value on both is named with the MISP list), then the built-in ranges,
// which apply whatever is installed.
func TestInstallRealLists(t *testing.T) {
	src := realListsDir(t)
	data := t.TempDir()
	if in, err := Current(data); err != nil || in != nil {
		t.Fatalf("fresh data dir: %v, %v", in, err)
	}
	prev, in, err := InstallFrom(data, src, time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if prev != nil || len(in.Lists) != 136 || in.Entries() < 500000 || in.Source != src {
		t.Fatalf("install: prev %v, %d lists, %d entries, source %s", prev, len(in.Lists), in.Entries(), in.Source)
	}
	i := slices.IndexFunc(in.Lists, func(l ListInfo) bool { return l.Folder == "akamai" })
	if i < 0 || in.Lists[i].Name != "List of known Akamai IP ranges" || in.Lists[i].Version != 20240422 ||
		in.Lists[i].Type != TypeCIDR || in.Lists[i].Entries != 268 || len(in.Lists[i].SHA256) != 64 {
		t.Errorf("akamai: %+v", in.Lists)
	}
	cur, err := Current(data)
	if err != nil || cur == nil || cur.ID != in.ID || len(cur.Lists) != 136 {
		t.Fatalf("current: %+v, %v", cur, err)
	}
	set, origin, err := Active(data, "")
	if err != nil || origin.Install == nil || origin.Install.ID != in.ID || origin.Folder != "" {
		t.Fatalf("active: %+v, %v", origin, err)
	}
	for _, tt := range []struct{ kind, value, want string }{
		{"ip-dst", "8.8.8.8", "List of known IPv4 public DNS resolvers"},
		{"ip", "10.1.2.3", "List of RFC 1918 CIDR blocks"},
		{"ip", "198.18.0.1", ""}, // checked below against all names
		{"domain", "xk3j9q-login-verify.top", ""},
	} {
		got, hit := set.Check(tt.kind, tt.value)
		if tt.want != "" && got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.kind, tt.value, got, tt.want)
		}
		if tt.want == "" && tt.value == "xk3j9q-login-verify.top" && hit {
			t.Errorf("%s %s: on %q", tt.kind, tt.value, got)
		}
	}
	// The built-in ranges still apply, last.
	names := set.Names()
	if len(names) != 136+len(builtinLists) || names[len(names)-1] != builtinLists[len(builtinLists)-1].Name {
		t.Errorf("%d lists, last %q", len(names), names[len(names)-1])
	}
	if !slices.Contains(set.CheckAll("ip", "198.18.0.1"), "Built-in: shared, benchmarking and reserved ranges (RFC 6598, RFC 2544, RFC 1112)") {
		t.Errorf("198.18.0.1: %v", set.CheckAll("ip", "198.18.0.1"))
	}
	// A folder given explicitly takes the place of the installed lists.
	one := copyLists(t, src, "akamai")
	set, origin, err = Active(data, one)
	if err != nil || origin.Folder != one || origin.Install != nil || len(set.Names()) != 1+len(builtinLists) {
		t.Errorf("active with a folder: %+v, %d lists, %v", origin, len(set.Names()), err)
	}
}

// TestInstallUpdatesAtomically: an update replaces the active install in
// one step and keeps the one before; older installs are removed; an
// invalid list refuses the whole update and leaves the active install as
// it was; an installed list changed afterwards is refused when read.
func TestInstallUpdatesAtomically(t *testing.T) {
	src := realListsDir(t)
	data := t.TempDir()
	now := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)
	v1 := copyLists(t, src, "akamai", "public-dns-v4")
	_, first, err := InstallFrom(data, v1, now)
	if err != nil {
		t.Fatal(err)
	}
	v2 := copyLists(t, src, "akamai", "public-dns-v4", "rfc1918")
	prev, second, err := InstallFrom(data, v2, now.Add(time.Hour))
	if err != nil || prev == nil || prev.ID != first.ID || len(second.Lists) != 3 {
		t.Fatalf("update: prev %v, %d lists, %v", prev, len(second.Lists), err)
	}
	_, third, err := InstallFrom(data, v1, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(data, InstallDir))
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if want := []string{second.ID, third.ID}; !slices.Equal(dirs, want) {
		t.Errorf("install folders %v, want %v", dirs, want)
	}

	bad := []struct {
		name, list, want string
	}{
		{"not JSON", `{"name":`, "not valid MISP warning lists"},
		{"no name", `{"type":"cidr","list":["10.0.0.0/8"],"matching_attributes":["ip-dst"]}`, "no name"},
		{"unknown type", `{"name":"x","type":"glob","list":["*"],"matching_attributes":["domain"]}`, `unknown type "glob"`},
		{"no attributes", `{"name":"x","type":"cidr","list":["10.0.0.0/8"]}`, "no matching_attributes"},
	}
	for _, tt := range bad {
		dir := copyLists(t, src, "akamai")
		writeList(t, dir, "broken", tt.list)
		_, _, err := InstallFrom(data, dir, now.Add(3*time.Hour))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), filepath.Join("broken", "list.json")) {
			t.Errorf("%s: %v", tt.name, err)
		}
		if cur, err := Current(data); err != nil || cur.ID != third.ID {
			t.Errorf("%s: active install %v, %v; want %s unchanged", tt.name, cur, err, third.ID)
		}
	}
	for _, tt := range []struct{ name, dir, want string }{
		{"no lists", t.TempDir(), "no <list>/list.json"},
		{"missing folder", filepath.Join(data, "nowhere"), "no such file"},
	} {
		if _, _, err := InstallFrom(data, tt.dir, now); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}

	// A list changed after it was installed is not used silently.
	path := filepath.Join(data, InstallDir, third.ID, "akamai", "list.json")
	if err := os.WriteFile(path, []byte(`{"name":"x","type":"cidr","list":["0.0.0.0/0"],"matching_attributes":["ip-dst"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Active(data, ""); err == nil || !strings.Contains(err.Error(), "changed after it was installed") {
		t.Errorf("tampered list: %v", err)
	}
	// A CURRENT that names no install is an error, not "no lists".
	os.WriteFile(filepath.Join(data, InstallDir, currentFile), []byte("../etc\n"), 0o644)
	if _, err := Current(data); err == nil {
		t.Error("CURRENT naming ../etc accepted")
	}
}

func TestParseManifest(t *testing.T) {
	for _, tt := range []struct {
		doc  string
		want string // "" for valid
	}{
		{`{"id":"20261207T160000Z-abcdef","lists":[{"folder":"akamai"},{"folder":"tlds"}]}`, ""},
		{`{"id":"","lists":[]}`, "install id"},
		{`{"id":"../x"}`, "install id"},
		{`{"id":".tmp-1"}`, "install id"},
		{`{"id":"a","lists":[{"folder":"x"},{"folder":"x"}]}`, "repeated"},
		{`{"id":"a","lists":[{"folder":"../../etc"}]}`, "list folder"},
		{`[]`, "manifest"},
	} {
		_, err := ParseManifest([]byte(tt.doc))
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.doc, err, tt.want)
		}
	}
}

// FuzzParseManifest: a manifest never panics the reader, and one it
// accepts names only plain folders.
func FuzzParseManifest(f *testing.F) {
	f.Add(`{"id":"20261207T160000Z-abcdef","lists":[{"folder":"akamai","name":"x","version":1}]}`)
	f.Add(`{"id":"a/b"}`)
	f.Fuzz(func(t *testing.T, doc string) {
		in, err := ParseManifest([]byte(doc))
		if err != nil {
			return
		}
		for _, name := range append([]string{in.ID}, func() (fs []string) {
			for _, l := range in.Lists {
				fs = append(fs, l.Folder)
			}
			return
		}()...) {
			if name == "" || strings.ContainsAny(name, `/`) || name == ".." || strings.HasPrefix(name, ".") {
				t.Fatalf("accepted %q", name)
			}
		}
	})
}

// BenchmarkActiveInstalled measures what a node pays at start to read the
// 136 installed MISP lists (digests checked) and compile them with the
// built-in ranges.
func BenchmarkActiveInstalled(b *testing.B) {
	src := realListsDir(b)
	data := b.TempDir()
	if _, _, err := InstallFrom(data, src, time.Now()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Active(data, ""); err != nil {
			b.Fatal(err)
		}
	}
}
