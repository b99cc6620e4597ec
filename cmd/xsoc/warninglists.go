package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/intel/warninglist"
	"github.com/xsoc/xsoc/internal/node"
)

const warninglistsUsage = `usage: xsoc intel warninglists install [--data-dir D] LISTS_DIR
       xsoc intel warninglists update [--data-dir D] LISTS_DIR
       xsoc intel warninglists list [--data-dir D] [--warninglists DIR] [--json]

Warning lists hold values known to be benign (public resolvers, cloud
ranges, the most visited domains, ...): indicators of those values are
refused, naming the list. install checks every <list>/list.json of a MISP
misp-warninglists lists folder (or checkout) and installs them into the
node's data directory as one versioned set, made active in one step;
nothing changes if any list is invalid. update does the same with a newer
folder and says what changed. xsoc serve and xsoc intel import use the
installed lists from then on, without flags (a running node reads them when
it starts). The built-in special-purpose ranges (private, loopback,
documentation, ...) always apply too. --warninglists DIR (warninglists_dir)
uses a folder in place of the installed lists. list shows what is in use.`

// runWarninglists is "xsoc intel warninglists".
func runWarninglists(args []string, stdout, stderr io.Writer) error {
	action, args := splitSub(args, "json")
	if !slices.Contains([]string{"install", "update", "list"}, action) {
		return unknownSub(stderr, "intel warninglists", action, warninglistsUsage)
	}
	fs := flag.NewFlagSet("intel warninglists "+action, flag.ContinueOnError)
	var (
		load   func() (config.Config, error)
		asJSON = new(bool)
	)
	if action == "list" {
		load = storeFlags(fs, "warninglists")
		asJSON = fs.Bool("json", false, "print JSON")
	} else {
		load = storeFlags(fs)
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if action == "list" {
		if fs.NArg() != 0 {
			return errors.New("list takes no arguments")
		}
		return listWarninglists(cfg, *asJSON, stdout)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%s needs the folder of MISP warning lists (misp-warninglists/lists)", action)
	}
	prev, in, err := warninglist.InstallFrom(cfg.DataDir, fs.Arg(0), time.Now())
	if err != nil {
		return err
	}
	if requireStore(cfg) == nil {
		// Record who changed what the node refuses, when there is a
		// node store to record it in (an install may precede the first
		// start).
		ctx := context.Background()
		if db, err := node.OpenStore(ctx, cfg); err == nil {
			err = recordCLI(ctx, db, "intel warninglists "+action, in.Source,
				fmt.Sprintf("install %s: %d lists, %d entries", in.ID, len(in.Lists), in.Entries()))
			db.Close()
			if err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "installed %d MISP warning lists (%d entries) from %s as %s in %s\n",
		len(in.Lists), in.Entries(), in.Source, in.ID, filepath.Join(cfg.DataDir, warninglist.InstallDir))
	printLists(stdout, in.Lists, "")
	if prev != nil {
		fmt.Fprintln(stdout, describeChanges(*prev, in))
	}
	if n := unusable(in.Lists); n > 0 {
		fmt.Fprintf(stdout, "%d entries cannot be used (regular expressions RE2 cannot run, unreadable ranges); the lists' other entries apply\n", n)
	}
	fmt.Fprintln(stdout, "xsoc serve and xsoc intel import use these lists from now on, with the built-in ranges (a running node: restart it)")
	if cfg.WarninglistsDir != "" {
		fmt.Fprintf(stdout, "note: the configuration names a warning-list folder (%s), which is used in their place\n", cfg.WarninglistsDir)
	}
	return nil
}

// listWarninglists prints the lists a node started with cfg would use.
func listWarninglists(cfg config.Config, asJSON bool, stdout io.Writer) error {
	_, origin, err := warninglist.Active(cfg.DataDir, cfg.WarninglistsDir)
	if err != nil {
		return err
	}
	builtin := warninglist.Builtin()
	if asJSON {
		out := struct {
			Folder  string                 `json:"folder,omitempty"`
			Install *warninglist.Install   `json:"install,omitempty"`
			Lists   []warninglist.ListInfo `json:"lists"`
			Builtin []warninglist.ListInfo `json:"builtin"`
		}{origin.Folder, origin.Install, origin.Lists, builtin}
		if out.Lists == nil {
			out.Lists = []warninglist.ListInfo{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	source := ""
	switch {
	case origin.Folder != "":
		source = "folder"
		fmt.Fprintf(stdout, "%d MISP warning lists from the folder %s (--warninglists / warninglists_dir), then the built-in ranges:\n",
			len(origin.Lists), origin.Folder)
	case origin.Install != nil:
		in := origin.Install
		source = "installed"
		fmt.Fprintf(stdout, "%d MISP warning lists installed in %s on %s from %s (%s), then the built-in ranges:\n",
			len(in.Lists), filepath.Join(cfg.DataDir, warninglist.InstallDir), in.Installed.Format("2006-01-02 15:04 MST"), in.Source, in.ID)
	default:
		fmt.Fprintf(stdout, "no MISP warning lists installed in %s: indicators are checked against the built-in ranges only\n", cfg.DataDir)
		fmt.Fprintln(stdout, "install MISP lists with: xsoc intel warninglists install PATH/misp-warninglists/lists")
	}
	printLists(stdout, append(slices.Clip(origin.Lists), builtin...), source)
	return nil
}

// printLists prints lists as a table; source names where the MISP lists
// come from ("" leaves the column out).
func printLists(w io.Writer, lists []warninglist.ListInfo, source string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "  NAME\tVERSION\tTYPE\tENTRIES"
	if source != "" {
		head += "\tSOURCE"
	}
	fmt.Fprintln(tw, head)
	for _, l := range lists {
		version, entries, from := "-", fmt.Sprint(l.Entries), source
		if l.Folder != "built-in" {
			version = fmt.Sprint(l.Version)
		} else {
			from = "built-in"
		}
		if l.Unusable > 0 {
			entries += fmt.Sprintf(" (%d unusable)", l.Unusable)
		}
		name := l.Name
		if r := []rune(name); len(r) > 64 {
			// A few lists have a sentence for a name: the table stays
			// readable, --json has the whole name.
			name = string(r[:63]) + "…"
		}
		line := fmt.Sprintf("  %s\t%s\t%s\t%s", name, version, l.Type, entries)
		if source != "" {
			line += "\t" + from
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

// describeChanges says what an install changed against the one before.
func describeChanges(prev, cur warninglist.Install) string {
	before := map[string]warninglist.ListInfo{}
	for _, l := range prev.Lists {
		before[l.Folder] = l
	}
	var added, newer, changed []string
	for _, l := range cur.Lists {
		old, ok := before[l.Folder]
		delete(before, l.Folder)
		switch {
		case !ok:
			added = append(added, l.Folder)
		case old.Version != l.Version:
			newer = append(newer, fmt.Sprintf("%s %d→%d", l.Folder, old.Version, l.Version))
		case old.SHA256 != l.SHA256:
			changed = append(changed, l.Folder)
		}
	}
	var removed []string
	for f := range before {
		removed = append(removed, f)
	}
	slices.Sort(removed)
	var parts []string
	for _, p := range []struct {
		what  string
		lists []string
	}{{"added", added}, {"removed", removed}, {"new versions", newer}, {"changed without a new version", changed}} {
		if len(p.lists) > 0 {
			parts = append(parts, fmt.Sprintf("%s %d (%s)", p.what, len(p.lists), strings.Join(p.lists, ", ")))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("unchanged from the previous install %s", prev.ID)
	}
	return fmt.Sprintf("against the previous install %s: %s", prev.ID, strings.Join(parts, "; "))
}

func unusable(lists []warninglist.ListInfo) int {
	n := 0
	for _, l := range lists {
		n += l.Unusable
	}
	return n
}

// warninglistsStatus is the line a node prints at start (and the demo)
// about the warning lists it refuses indicators with; with no data
// directory, only a configured folder or the built-in ranges count.
func warninglistsStatus(cfg config.Config) string {
	if cfg.WarninglistsDir != "" {
		return fmt.Sprintf("warning lists: the MISP lists in %s and the built-in ranges", cfg.WarninglistsDir)
	}
	var in *warninglist.Install
	var err error
	if cfg.DataDir != "" {
		in, err = warninglist.Current(cfg.DataDir)
	}
	switch {
	case err != nil:
		return fmt.Sprintf("warning lists: %v", err)
	case in == nil:
		return "warning lists: built-in ranges only; install the MISP lists with: xsoc intel warninglists install PATH/misp-warninglists/lists"
	}
	return fmt.Sprintf("warning lists: %d MISP lists installed %s (%d entries) and the built-in ranges; xsoc intel warninglists list shows them",
		len(in.Lists), in.Installed.Format("2006-01-02"), in.Entries())
}
