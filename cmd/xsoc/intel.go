package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/misp"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/taxii"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

const intelUsage = `usage: xsoc intel pull --taxii API_ROOT_URL --collection ID --member M [--since T] [--token K | --user U --password P]
       xsoc intel push --taxii API_ROOT_URL --collection ID [--token K | --user U --password P] BUNDLE.json
       xsoc intel import --member M [--kind stix|misp-feed|misp-event|freetext|csv] [--tlp LEVEL] [--override-warninglists] PATH
       xsoc intel export-misp --member M DIR
       xsoc intel collections [--json]
       xsoc intel collection-add --title T [--description D] [--alias A] [--tlp LEVEL] [--community-read] [--id UUID]
       xsoc intel collection-rights --collection ID --member M [--read] [--write]
       xsoc intel warninglists install|update|list ...

pull, import and export work on the node's store directly (same --data-dir
or --postgres-url as serve); a running node indexes new indicators within
seconds. Imported objects belong to --member, go to the shared collection
(--collection to choose another) and are checked: invalid STIX and
indicators of known-benign values (warning lists: the built-in ranges and
the MISP lists installed with "xsoc intel warninglists install") are
refused with the reason. --override-warninglists stores indicators a warning list would
refuse, naming each one and its list. Collections are what TAXII serves:
collection-add creates one, collection-rights gives a member read and/or
write rights on it (neither removes them), --community-read lets every
member read it (each object's TLP still decides).`

func runIntel(args []string, stdout, stderr io.Writer) error {
	sub, args := splitSub(args, "json", "community-read", "read", "write", "override-warninglists")
	if sub == "warninglists" {
		return runWarninglists(args, stdout, stderr)
	}
	if !slices.Contains([]string{"pull", "push", "import", "export-misp", "collections", "collection-add", "collection-rights"}, sub) {
		return unknownSub(stderr, "intel", sub, intelUsage)
	}
	fs := flag.NewFlagSet("intel "+sub, flag.ContinueOnError)
	load := func() (config.Config, error) { return config.Config{}, nil }
	if sub != "push" {
		load = storeFlags(fs, "warninglists")
	}
	str := func(name, def, usage string, subs ...string) *string {
		if slices.Contains(subs, sub) {
			return fs.String(name, def, usage)
		}
		return new(string)
	}
	taxiiURL := str("taxii", "", "TAXII 2.1 API root URL of the remote server", "pull", "push")
	coll := str("collection", "", "collection id (remote for pull/push; local for import, default the shared collection)", "pull", "push", "import", "collection-rights")
	memberID := str("member", "", "member the objects belong to (collection-rights: the member given rights)", "pull", "import", "export-misp", "collection-rights")
	since := str("since", "", "pull objects added after this RFC 3339 time", "pull")
	user := str("user", "", "HTTP Basic user for the remote server", "pull", "push")
	token, password := func() string { return "" }, func() string { return "" }
	if sub == "pull" || sub == "push" {
		token = secretFlag(fs, "token", "XSOC_TAXII_TOKEN", "bearer token for the remote server")
		password = secretFlag(fs, "password", "XSOC_TAXII_PASSWORD", "HTTP Basic password")
	}
	kind := str("kind", "", "import format: stix, misp-feed, misp-event, freetext, csv (default: guessed)", "import")
	level := str("tlp", "TLP:AMBER", "TLP of imported freetext/CSV indicators and unmarked MISP data", "import")
	override := new(bool)
	if sub == "import" {
		override = fs.Bool("override-warninglists", false, "store indicators of values on a warning list (each is named with its list)")
	}
	cf := collectionFlags(fs, sub)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	ctx := context.Background()
	if sub == "push" {
		return intelPush(ctx, *taxiiURL, *coll, token(), *user, password(), fs.Arg(0), stdout)
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if sub == "collections" || sub == "export-misp" || sub == "collection-rights" {
		if err := requireStore(cfg); err != nil {
			return err
		}
	}
	db, err := node.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	repo, err := node.IntelRepo(db, cfg)
	var overridden []string
	if *override {
		repo, err = node.IntelRepoOverridingLists(db, cfg, func(id, msg string) {
			overridden = append(overridden, fmt.Sprintf("stored %s despite the warning list: %s", id, strings.TrimSuffix(msg, ": indicator dropped")))
		})
	}
	if err != nil {
		return err
	}
	if err := node.EnsureSharedCollection(ctx, repo, member.NewRegistry(db)); err != nil {
		return err
	}
	local := *coll
	if local == "" || sub == "pull" {
		local = node.SharedCollection
	}
	switch sub {
	case "collections":
		return listCollections(ctx, repo, cf.json, stdout)
	case "collection-add":
		return addCollection(ctx, db, repo, cf, stdout)
	case "collection-rights":
		return setCollectionRights(ctx, db, repo, *coll, *memberID, cf, stdout)
	case "pull":
		if *taxiiURL == "" || *coll == "" || *memberID == "" {
			return errors.New("pull needs --taxii, --collection and --member")
		}
		if err := recordCLI(ctx, db, "intel pull", *taxiiURL, "collection "+*coll+", member "+*memberID); err != nil {
			return err
		}
		return intelPull(ctx, repo, *taxiiURL, *coll, token(), *user, password(), *since, *memberID, stdout)
	case "import":
		if *memberID == "" || fs.NArg() != 1 {
			return errors.New("import needs --member and one file or directory")
		}
		lv, err := tlp.Parse(*level)
		if err != nil {
			return err
		}
		detail := "member " + *memberID + ", " + lv.String()
		if *override {
			detail += ", warning lists overridden"
		}
		if err := recordCLI(ctx, db, "intel import", fs.Arg(0), detail); err != nil {
			return err
		}
		return intelImport(ctx, db, repo, local, *memberID, *kind, lv, fs.Arg(0), &overridden, stdout)
	default: // export-misp
		if *memberID == "" || fs.NArg() != 1 {
			return errors.New("export-misp needs --member and an output directory")
		}
		return intelExport(ctx, repo, *memberID, fs.Arg(0), stdout)
	}
}

func taxiiClient(root, token, user, password string) (*taxii.Client, error) {
	if root == "" {
		return nil, errors.New("--taxii API root URL is required")
	}
	return taxii.NewClient(taxii.ClientConfig{APIRoot: root, Token: token, Username: user, Password: password})
}

func intelPull(ctx context.Context, repo *intel.Repo, root, coll, token, user, password, since, memberID string, stdout io.Writer) error {
	c, err := taxiiClient(root, token, user, password)
	if err != nil {
		return err
	}
	var after time.Time
	if since != "" {
		if after, err = time.Parse(time.RFC3339Nano, since); err != nil {
			return fmt.Errorf("--since: %w", err)
		}
	}
	total, ok := 0, 0
	cursor, err := c.PullPages(ctx, coll, after, intel.Filter{}, func(objs []json.RawMessage, _ time.Time) error {
		st, err := repo.AddObjects(ctx, intel.Viewer{Member: memberID}, node.SharedCollection, objs)
		if err != nil {
			return err
		}
		total += st.Total()
		ok += len(st.Successes)
		reportFailures(stdout, st)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pulled %d objects, %d stored; next time: --since %s\n", total, ok, cursor.UTC().Format(time.RFC3339Nano))
	return nil
}

func reportFailures(w io.Writer, st intel.Status) {
	for _, f := range st.Failures {
		fmt.Fprintf(w, "refused %s: %s\n", f.ID, f.Message)
	}
}

func intelPush(ctx context.Context, root, coll, token, user, password, file string, stdout io.Writer) error {
	if coll == "" || file == "" {
		return errors.New("push needs --collection and a bundle file")
	}
	c, err := taxiiClient(root, token, user, password)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	b, errs := stix.DecodeBundle(data)
	for _, e := range errs {
		fmt.Fprintf(stdout, "not sent: %v\n", e.Err)
	}
	raws := make([]json.RawMessage, 0, len(b.Objects))
	for _, o := range b.Objects {
		raw, err := json.Marshal(o)
		if err != nil {
			return err
		}
		raws = append(raws, raw)
	}
	st, err := c.AddObjects(ctx, coll, raws)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pushed %d objects: %d stored, %d refused (status %s)\n", len(raws), st.SuccessCount, st.FailureCount, st.ID)
	return nil
}

// intelImport converts a file (or MISP feed directory) to STIX and stores
// it, reporting every skipped or refused item with its reason.
// overridden collects, while the objects are stored, the indicators kept
// despite a warning list (--override-warninglists).
func intelImport(ctx context.Context, db *store.DB, repo *intel.Repo, coll, memberID, kind string, level tlp.Level, path string, overridden *[]string, stdout io.Writer) error {
	if kind == "" {
		kind = guessKind(path)
	}
	opts := misp.Options{DefaultTLP: level, Source: filepath.Base(path)}
	var objs []stix.Object
	var res misp.Result
	var err error
	switch kind {
	case "stix":
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b, errs := stix.DecodeBundle(data)
		for _, e := range errs {
			fmt.Fprintf(stdout, "skipped object %d %s: %v\n", e.Index, e.ID, e.Err)
		}
		if n := len(b.Converted); n > 0 {
			fmt.Fprintf(stdout, "%d STIX 2.0 objects converted to STIX 2.1\n", n)
		}
		objs = b.Objects
	case "misp-feed":
		res, err = misp.ImportFeed(os.DirFS(path), opts)
	case "misp-event":
		var data []byte
		if data, err = os.ReadFile(path); err == nil {
			res, err = misp.ImportEvent(data, opts)
		}
	case "freetext", "csv":
		f, ferr := os.Open(path)
		if ferr != nil {
			return ferr
		}
		defer f.Close()
		if kind == "csv" {
			res, err = misp.ImportCSV(f, misp.CSVSpec{ValueColumn: 1}, opts)
		} else {
			res, err = misp.ImportFreetext(f, opts)
		}
	default:
		return fmt.Errorf("unknown --kind %q", kind)
	}
	if err != nil {
		return err
	}
	for _, it := range res.Items {
		switch it.Outcome {
		case misp.Skipped:
			fmt.Fprintf(stdout, "skipped %s %s: %s\n", it.Type, it.Value, it.Reason)
		case misp.Context:
			fmt.Fprintf(stdout, "context %s %s: %s (%s)\n", it.Type, oneLine(it.Value), it.Reason, it.Object)
		}
	}
	objs = append(objs, res.Objects()...)
	raws := make([]json.RawMessage, 0, len(objs))
	for _, o := range objs {
		raw, err := json.Marshal(o)
		if err != nil {
			return err
		}
		raws = append(raws, raw)
	}
	if _, err := member.NewRegistry(db).Get(ctx, memberID); err != nil {
		return fmt.Errorf("--member %s: %w", memberID, err)
	}
	st, err := repo.AddObjects(ctx, intel.Viewer{Member: memberID}, coll, raws)
	if err != nil {
		return err
	}
	reportFailures(stdout, st)
	for _, line := range *overridden {
		fmt.Fprintln(stdout, line)
	}
	if n := res.Count(misp.Context); n > 0 {
		fmt.Fprintf(stdout, "%d MISP attributes kept as context (observed data or notes, not indicators)\n", n)
	}
	fmt.Fprintf(stdout, "%d objects stored, %d refused, %d input items skipped\n", len(st.Successes), len(st.Failures), res.Count(misp.Skipped))
	for _, f := range st.Failures {
		if strings.Contains(f.Message, "is on warning list") {
			fmt.Fprintln(stdout, "indicators on a warning list are refused; --override-warninglists stores them")
			break
		}
	}
	return nil
}

// oneLine shortens a value for a report line: its first line, at most 80
// characters.
func oneLine(s string) string {
	s, _, cut := strings.Cut(s, "\n")
	if len(s) > 80 {
		s, cut = s[:77], true
	}
	if cut {
		s += "..."
	}
	return s
}

func guessKind(path string) string {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return "misp-feed"
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return "csv"
	case ".txt", ".list":
		return "freetext"
	}
	data, err := os.ReadFile(path)
	head := strings.TrimSpace(string(data[:min(len(data), 4096)]))
	switch {
	case err != nil:
		return "stix"
	case strings.Contains(head, `"Event"`):
		return "misp-event"
	case !strings.Contains(head, `"type"`) && (strings.HasPrefix(head, "{") || strings.HasPrefix(head, "[")):
		// JSON that is no STIX: the MISP reader names what it is.
		return "misp-event"
	}
	return "stix"
}

// intelExport writes what a member may see as a MISP feed: reports as the
// events they came from, other indicators grouped by creator and TLP,
// naming what has no MISP form and why.
func intelExport(ctx context.Context, repo *intel.Repo, memberID, dir string, stdout io.Writer) error {
	v := intel.Viewer{Member: memberID}
	colls, err := repo.Collections(ctx, v)
	if err != nil {
		return err
	}
	var objs []stix.Object
	for _, c := range colls {
		if !c.CanRead {
			continue
		}
		f := intel.Filter{Versions: []string{"last"}, Limit: repo.MaxPageSize()}
		for {
			page, err := repo.Objects(ctx, v, c.ID, f)
			if err != nil {
				return err
			}
			for _, o := range page.Objects {
				if obj, err := stix.Decode(o.Raw); err == nil {
					objs = append(objs, obj)
				}
			}
			if !page.More {
				break
			}
			f.Next = page.Next
		}
	}
	res, err := misp.ExportFeed(dir, objs, misp.ExportOptions{Org: misp.Org{Name: memberID}, Info: "xsoc indicators shared with " + memberID})
	if err != nil {
		return err
	}
	events, indicators := 0, 0
	for _, it := range res.Items {
		switch {
		case it.Outcome == misp.Skipped:
			what := it.Indicator
			if what == "" {
				what = it.Object
			}
			fmt.Fprintf(stdout, "not exported %s: %s\n", what, it.Reason)
		case it.Indicator != "":
			indicators++
		default:
			events++
		}
	}
	fmt.Fprintf(stdout, "%d MISP events (from reports) and %d other indicators exported to %s; %d objects have no MISP form\n",
		events, indicators, dir, res.Count(misp.Skipped))
	return nil
}
