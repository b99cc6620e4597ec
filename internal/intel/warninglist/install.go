package warninglist

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Installed warning lists live in a node's data directory, under
// InstallDir:
//
//	warninglists/CURRENT             the name of the active install
//	warninglists/<install>/manifest.json
//	warninglists/<install>/<list>/list.json
//
// An install is written whole into a fresh folder and becomes active when
// CURRENT is replaced (a rename), so a node starting meanwhile reads the
// old lists or the new ones, never a mix. The previous install is kept
// (to look back at, and for a node still reading it); older ones are
// removed.
const InstallDir = "warninglists"

// Limits on what an install reads, so that a wrong folder cannot fill the
// data directory: a list file above MaxListBytes, or lists above
// MaxInstallBytes in all, are refused.
const (
	MaxListBytes    = 64 << 20
	MaxInstallBytes = 512 << 20
)

// manifestFile and currentFile are the install's description and the
// pointer to the active install.
const (
	manifestFile = "manifest.json"
	currentFile  = "CURRENT"
)

// Install describes one installed set of MISP warning lists.
type Install struct {
	// ID names the install's folder ("20261207T153012Z-1a2b3c").
	ID string `json:"id"`
	// Installed is when it was installed.
	Installed time.Time `json:"installed"`
	// Source is the folder the lists were read from.
	Source string `json:"source"`
	// Lists describes each list, in folder order (the order Check
	// consults them in).
	Lists []ListInfo `json:"lists"`
}

// ListInfo describes one installed list.
type ListInfo struct {
	// Folder is the list's folder in the MISP layout ("akamai").
	Folder  string `json:"folder"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	Type    string `json:"type"`
	// Entries counts the list's entries; Unusable those Check cannot use
	// (a regular expression RE2 cannot run, an unreadable range).
	Entries  int `json:"entries"`
	Unusable int `json:"unusable,omitempty"`
	// SHA256 is the digest of the list.json as installed.
	SHA256 string `json:"sha256"`
}

// Entries counts the entries of every list of the install.
func (in Install) Entries() int {
	n := 0
	for _, l := range in.Lists {
		n += l.Entries
	}
	return n
}

// source is one list.json read from a source folder.
type source struct {
	folder string
	data   []byte
	list   List
}

// ReadSource reads and checks every <dir>/*/list.json (dir may also be a
// misp-warninglists checkout, with its lists/ folder), as Install would,
// without installing anything. Every list must parse and the whole set
// must compile; the error names each file that does not. It returns the
// folder actually read and the lists' descriptions.
func ReadSource(dir string) (string, []ListInfo, error) {
	dir, _, infos, err := readSource(dir, true)
	return dir, infos, err
}

// readSource reads the lists of dir as ReadSource describes; compile
// counts each list's unusable entries, which costs a compilation of each
// list on its own (an install does it once; a node starting from a folder
// compiles the lists together only).
func readSource(dir string, compile bool) (string, []source, []ListInfo, error) {
	if st, err := os.Stat(filepath.Join(dir, "lists")); err == nil && st.IsDir() {
		dir = filepath.Join(dir, "lists")
	}
	if st, err := os.Stat(dir); err != nil {
		return dir, nil, nil, fmt.Errorf("warninglist: %v", err)
	} else if !st.IsDir() {
		return dir, nil, nil, fmt.Errorf("warninglist: %s is not a folder of MISP warning lists (<list>/list.json)", dir)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "list.json"))
	if err != nil {
		return dir, nil, nil, fmt.Errorf("warninglist: %v", err)
	}
	if len(files) == 0 {
		return dir, nil, nil, fmt.Errorf("warninglist: no <list>/list.json under %s: give the lists folder of misp-warninglists", dir)
	}
	slices.Sort(files)
	var (
		srcs     []source
		problems []string
		total    int64
	)
	for _, f := range files {
		folder := filepath.Base(filepath.Dir(f))
		data, err := readLimited(f, MaxListBytes)
		if err == nil {
			total += int64(len(data))
			if total > MaxInstallBytes {
				return dir, nil, nil, fmt.Errorf("warninglist: the lists under %s exceed %d MiB in all", dir, MaxInstallBytes>>20)
			}
		}
		var l List
		if err == nil {
			l, err = ParseList(data)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", filepath.Join(folder, "list.json"), strings.TrimPrefix(err.Error(), "warninglist: ")))
			continue
		}
		srcs = append(srcs, source{folder: folder, data: data, list: l})
	}
	if len(problems) > 0 {
		return dir, nil, nil, fmt.Errorf("warninglist: %d of %d lists under %s are not valid MISP warning lists, nothing was installed:\n  %s",
			len(problems), len(files), dir, strings.Join(problems, "\n  "))
	}
	infos := make([]ListInfo, len(srcs))
	for i, s := range srcs {
		sum := sha256.Sum256(s.data)
		infos[i] = ListInfo{Folder: s.folder, Name: s.list.Name, Version: s.list.Version, Type: s.list.Type,
			Entries: len(s.list.List), SHA256: hex.EncodeToString(sum[:])}
		if compile {
			one, err := NewSet(s.list)
			if err != nil {
				return dir, nil, nil, err
			}
			infos[i].Unusable = len(one.Skipped())
		}
	}
	if len(srcs) > 1<<16-len(builtinLists) {
		return dir, nil, nil, fmt.Errorf("warninglist: %d lists under %s: at most %d", len(srcs), dir, 1<<16-len(builtinLists))
	}
	return dir, srcs, infos, nil
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d MiB", limit>>20)
	}
	return data, nil
}

// InstallFrom checks the lists of src as ReadSource does and installs them
// into dataDir, replacing the active install in one step. It returns the
// install that was active before (nil if none) and the new one. Nothing
// changes when a list is invalid.
func InstallFrom(dataDir, src string, now time.Time) (*Install, Install, error) {
	dir, srcs, infos, err := readSource(src, true)
	if err != nil {
		return nil, Install{}, err
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	prev, err := Current(dataDir)
	if err != nil {
		return nil, Install{}, err
	}
	root := filepath.Join(dataDir, InstallDir)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, Install{}, fmt.Errorf("warninglist: %v", err)
	}
	var suffix [3]byte
	rand.Read(suffix[:])
	in := Install{ID: now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(suffix[:]),
		Installed: now.UTC().Truncate(time.Second), Source: dir, Lists: infos}
	tmp := filepath.Join(root, ".tmp-"+in.ID)
	if err := writeInstall(tmp, srcs, in); err != nil {
		os.RemoveAll(tmp)
		return nil, Install{}, err
	}
	if err := os.Rename(tmp, filepath.Join(root, in.ID)); err != nil {
		os.RemoveAll(tmp)
		return nil, Install{}, fmt.Errorf("warninglist: %v", err)
	}
	if err := writeAtomic(filepath.Join(root, currentFile), []byte(in.ID+"\n")); err != nil {
		return nil, Install{}, err
	}
	keep := []string{in.ID}
	if prev != nil {
		keep = append(keep, prev.ID)
	}
	prune(root, keep)
	return prev, in, nil
}

// writeInstall writes the lists and the manifest into a new folder,
// synced to disk before the install is made active.
func writeInstall(dir string, srcs []source, in Install) error {
	for _, s := range srcs {
		if err := os.MkdirAll(filepath.Join(dir, s.folder), 0o700); err != nil {
			return fmt.Errorf("warninglist: %v", err)
		}
		if err := writeSynced(filepath.Join(dir, s.folder, "list.json"), s.data); err != nil {
			return err
		}
	}
	manifest, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return fmt.Errorf("warninglist: %v", err)
	}
	return writeSynced(filepath.Join(dir, manifestFile), manifest)
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("warninglist: %v", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("warninglist: write %s: %v", path, err)
	}
	return nil
}

// writeAtomic replaces path with data through a synced temporary file and
// a rename.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := writeSynced(tmp, data); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("warninglist: %v", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// prune removes the installs (and abandoned temporary folders) other than
// keep. A failure leaves a folder behind, which the next install retries.
func prune(root string, keep []string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && !slices.Contains(keep, e.Name()) {
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// Current returns the active install of dataDir, or nil when no lists are
// installed.
func Current(dataDir string) (*Install, error) {
	root := filepath.Join(dataDir, InstallDir)
	id, err := os.ReadFile(filepath.Join(root, currentFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("warninglist: %v", err)
	}
	name := string(bytes.TrimSpace(id))
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("warninglist: %s names no install (%q)", filepath.Join(root, currentFile), name)
	}
	data, err := readLimited(filepath.Join(root, name, manifestFile), MaxListBytes)
	if err != nil {
		return nil, fmt.Errorf("warninglist: installed lists %s: %v", name, err)
	}
	in, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("warninglist: installed lists %s: %v", name, err)
	}
	if in.ID != name {
		return nil, fmt.Errorf("warninglist: installed lists %s: manifest names %q", name, in.ID)
	}
	return &in, nil
}

// ParseManifest reads an install's manifest.json, checking that it names
// its install and that every list has a folder of its own.
func ParseManifest(data []byte) (Install, error) {
	var in Install
	if err := json.Unmarshal(data, &in); err != nil {
		return Install{}, fmt.Errorf("manifest: %v", err)
	}
	if in.ID == "" || in.ID != filepath.Base(in.ID) || strings.HasPrefix(in.ID, ".") {
		return Install{}, fmt.Errorf("manifest: bad install id %q", in.ID)
	}
	seen := map[string]bool{}
	for _, l := range in.Lists {
		if l.Folder == "" || l.Folder != filepath.Base(l.Folder) || strings.HasPrefix(l.Folder, ".") || seen[l.Folder] {
			return Install{}, fmt.Errorf("manifest: bad or repeated list folder %q", l.Folder)
		}
		seen[l.Folder] = true
	}
	return in, nil
}

// loadInstall reads the lists of an install, checking each against the
// digest its manifest recorded.
func loadInstall(dataDir string, in Install) ([]List, error) {
	dir := filepath.Join(dataDir, InstallDir, in.ID)
	lists := make([]List, 0, len(in.Lists))
	for _, info := range in.Lists {
		data, err := readLimited(filepath.Join(dir, info.Folder, "list.json"), MaxListBytes)
		if err != nil {
			return nil, fmt.Errorf("warninglist: installed list %s: %v", info.Folder, err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != info.SHA256 {
			return nil, fmt.Errorf("warninglist: installed list %s was changed after it was installed: install the lists again", info.Folder)
		}
		l, err := ParseList(data)
		if err != nil {
			return nil, fmt.Errorf("%v (installed list %s)", err, info.Folder)
		}
		lists = append(lists, l)
	}
	return lists, nil
}

// Origin says where the lists of an active set come from.
type Origin struct {
	// Folder is the --warninglists folder the lists were read from, when
	// one was given; it takes the place of installed lists.
	Folder string
	// Install is the installed set in use (nil when none, or Folder).
	Install *Install
	// Lists describes the MISP lists in use (of Folder or Install).
	Lists []ListInfo
}

// Builtin describes the built-in lists, which every active set ends with.
func Builtin() []ListInfo {
	out := make([]ListInfo, len(builtinLists))
	for i, l := range builtinLists {
		out[i] = ListInfo{Folder: "built-in", Name: l.Name, Type: l.Type, Entries: len(l.List)}
	}
	return out
}

// Active returns the lists a node checks indicators against: the MISP
// lists of folder when one is given (--warninglists), else those
// installed in dataDir (InstallFrom), followed by the built-in ranges,
// which apply whatever else does. The MISP lists come first, so a value
// on both is named with the MISP list.
func Active(dataDir, folder string) (*Set, Origin, error) {
	var (
		lists  []List
		origin Origin
	)
	switch {
	case folder != "":
		dir, srcs, infos, err := readSource(folder, false)
		if err != nil {
			return nil, Origin{}, err
		}
		for _, s := range srcs {
			lists = append(lists, s.list)
		}
		origin = Origin{Folder: dir, Lists: infos}
	case dataDir != "":
		in, err := Current(dataDir)
		if err != nil {
			return nil, Origin{}, err
		}
		if in != nil {
			if lists, err = loadInstall(dataDir, *in); err != nil {
				return nil, Origin{}, err
			}
			origin = Origin{Install: in, Lists: in.Lists}
		}
	}
	s, err := NewSet(append(lists, builtinLists...)...)
	return s, origin, err
}
