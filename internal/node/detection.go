package node

import (
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/detect/ml"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/detect/stixpattern"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/taxii"
	"github.com/xsoc/xsoc/internal/iocfeed"
	"github.com/xsoc/xsoc/internal/respond"
	"github.com/xsoc/xsoc/internal/rulestore"
	"github.com/xsoc/xsoc/internal/starter"
)

// openDetection builds the Sigma engine (rules from the store, the
// starter pack on first start, and the configured rules directory) and the
// IOC index fed from the intel repository.
func (n *Node) openDetection(ctx context.Context) error {
	n.Rules = rulestore.New(n.DB)
	placeholders, err := sigma.PlaceholderValues(n.Config.SigmaPlaceholdersFile, n.Config.SigmaPlaceholders)
	if err != nil {
		return err
	}
	n.Sigma = sigma.NewEngine(sigma.Options{Placeholders: placeholders})
	files, err := n.Rules.Files(ctx)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		if _, err := ImportRules(ctx, n.Rules, starter.SigmaRules(), "starter/"); err != nil {
			return err
		}
	}
	if err := n.ReloadRules(ctx); err != nil {
		return err
	}
	dir := n.dir
	n.IOC = ioc.New(ioc.Options{Relations: dir.clientOf})
	n.feeder = iocfeed.New(n.Intel, n.IOC, n.Log)
	n.Patterns = stixpattern.New(stixpattern.Options{Relations: dir.clientOf, Log: n.Log})
	if n.serves(config.RoleDetect) { // the other parts of a scaled-out node do not detect
		if _, err := n.feeder.Sync(ctx); err != nil {
			return fmt.Errorf("loading indicators: %w", err)
		}
		if _, err := n.Patterns.Sync(ctx, n.Intel); err != nil {
			n.Log.Warn("stix patterns: first load incomplete; the next sync resumes", "err", err)
		}
	}
	n.AddDetector(n.Sigma)
	n.AddDetector(n.IOC)
	n.AddDetector(n.Patterns)
	n.openML()
	(&api.Rules{Engine: n.Sigma, Store: n.Rules, Reload: n.ReloadRules}).Register(n.mux)
	return nil
}

// ImportRules stores every .yml/.yaml file under root of fsys in the rule
// store, named prefix + its path. It returns how many files it stored.
// Files are stored as they are; broken rules are reported when loaded and
// do not stop the others.
func ImportRules(ctx context.Context, st *rulestore.Store, fsys fs.FS, prefix string) (int, error) {
	n := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !isYAML(p) {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		n++
		return st.Put(ctx, prefix+p, data)
	})
	return n, err
}

func isYAML(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".yml" || ext == ".yaml"
}

// ReloadRules compiles the stored rules plus the configured rules
// directory into the Sigma engine, keeping correlation state, and applies
// the stored enabled/disabled choices. Broken rules are logged and left
// out; the rest run.
func (n *Node) ReloadRules(ctx context.Context) error {
	files, err := n.Rules.Files(ctx)
	if err != nil {
		return err
	}
	var rules []*sigma.Rule
	var problems []error
	for _, f := range files {
		rs, err := sigma.ParseRule(f.YAML, f.Name)
		if err != nil {
			problems = append(problems, err) // names file, line and reason
		}
		rules = append(rules, rs...)
	}
	if dir := n.Config.RulesDir; dir != "" {
		rs, errs := sigma.LoadDir(dir, n.Sigma.Options())
		rules = append(rules, rs...)
		for _, e := range errs {
			problems = append(problems, e)
		}
	}
	for _, e := range n.Sigma.Load(rules) {
		problems = append(problems, e)
	}
	for _, p := range problems {
		n.Log.Warn("sigma: rule not loaded", "rule", p.Error())
	}
	disabled, err := n.Rules.Disabled(ctx)
	if err != nil {
		return err
	}
	for _, id := range disabled {
		n.Sigma.SetEnabled(id, false) // a rule no longer loaded is no error
	}
	n.Log.Info("sigma: rules loaded", "rules", len(n.Sigma.Rules()), "problems", len(problems))
	return nil
}

// watchRules reloads the rules when another process changed the store.
func (n *Node) watchRules(ctx context.Context) {
	last, _ := n.Rules.Version(ctx)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := n.Rules.Version(ctx)
		if err != nil || v == last {
			continue
		}
		last = v
		if err := n.ReloadRules(ctx); err != nil {
			n.Log.Warn("sigma: reload failed", "err", err)
		}
	}
}

// openRespond builds the responder: playbooks, the delivery outbox, the
// blocklists, and their feeds.
func (n *Node) openRespond(ctx context.Context) error {
	dir := n.dir
	var err error
	n.Respond, err = respond.New(n.DB, respond.Options{
		Logger: n.Log, Registry: n.Metrics,
		Indicators: iocfeed.Source{Repo: n.Intel, Relations: dir.clientOf},
	})
	if err != nil {
		return err
	}
	if d := n.Config.PlaybooksDir; d != "" {
		for _, e := range n.Respond.Load(d) {
			n.Log.Warn("respond: playbook rejected", "problem", e.Error())
		}
	}
	sightings := iocfeed.Sightings{Repo: n.Intel, Collection: SharedCollection, Log: n.Log}
	n.Alerts.OnAlert(func(a alert.Alert) {
		if err := n.Respond.HandleAlert(context.Background(), a); err != nil {
			n.Log.Warn("respond: alert not handled", "alert", a.ID, "err", err)
		}
	})
	n.Alerts.OnAlerts(func(as []alert.Alert) {
		if err := sightings.RecordAll(context.Background(), as); err != nil {
			n.Log.Warn("intel: sightings not recorded", "alerts", len(as), "err", err)
		}
	})
	n.mux.Handle("GET /api/v1/blocklists/{format}", api.RequireMember(n.Respond.FeedHandler(api.MemberFrom)))
	(&api.Playbooks{Respond: n.Respond}).Register(n.mux)
	return nil
}

// RulesFromDir reads a rules directory for import, sorted for stable
// output.
func RulesFromDir(dir string) (fs.FS, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	return os.DirFS(filepath.Clean(dir)), nil
}

// openFeeds builds the configured TAXII feeds; Run polls them.
func (n *Node) openFeeds() error {
	for _, fc := range n.Config.TAXIIFeeds {
		client, err := taxii.NewClient(taxii.ClientConfig{APIRoot: fc.URL, Token: os.Getenv(fc.TokenEnv),
			Username: os.Getenv(fc.UserEnv), Password: os.Getenv(fc.PasswordEnv)})
		if err != nil {
			return fmt.Errorf("taxii feed %s: %w", fc.Name, err)
		}
		member := fc.Member
		feed, err := taxii.NewFeed(n.DB, taxii.FeedConfig{Name: fc.Name, Client: client, Collection: fc.Collection,
			Interval: fc.Interval, Handle: func(ctx context.Context, objs []json.RawMessage) error {
				st, err := n.Intel.AddObjects(ctx, intel.Viewer{Member: member}, SharedCollection, objs)
				for _, f := range st.Failures {
					n.Log.Info("taxii feed: object refused", "feed", fc.Name, "id", f.ID, "reason", f.Message)
				}
				return err
			}})
		if err != nil {
			return fmt.Errorf("taxii feed %s: %w", fc.Name, err)
		}
		n.feeds = append(n.feeds, feed)
	}
	return nil
}

// openML adds the machine-learning detectors the configuration switches
// on. A model file that cannot be used leaves its detector off with a
// warning naming the file; the node runs on without it.
func (n *Node) openML() {
	c := n.Config.ML
	if c.On(c.Beacon) {
		d := ml.NewBeacon(ml.BeaconOptions{})
		ml.RegisterStats(n.Metrics, d.Name(), d.Stats())
		n.AddDetector(d)
	}
	if c.On(c.DGA) {
		model := ml.DefaultDGAModel()
		if c.DGAModel != "" {
			m, err := ml.LoadDGAModel(c.DGAModel)
			if err != nil {
				n.Log.Warn("ml: DGA detector off: model file unusable (retrain with xsoc ml train dga)", "err", err)
				return
			}
			model = m
		}
		d := ml.NewDGA(model)
		ml.RegisterStats(n.Metrics, d.Name(), d.Stats())
		n.AddDetector(d)
		// Its context half: bursts of new, unanswered domains from a
		// host, which catch the dictionary DGAs the names do not give away.
		b := ml.NewDGABurst(model, ml.DGABurstOptions{})
		ml.RegisterStats(n.Metrics, b.Name(), b.Stats())
		n.AddDetector(b)
	}
	if c.On(c.Anomaly) {
		d := ml.NewAnomaly(ml.AnomalyOptions{})
		n.restoreML(d, "anomaly.state")
		ml.RegisterStats(n.Metrics, d.Name(), d.Stats())
		n.AddDetector(d)
	}
	if c.On(c.FirstSeen) {
		d := ml.NewFirstSeen(ml.FirstSeenOptions{Learn: c.FirstSeenLearn})
		n.restoreML(d, "firstseen.state")
		ml.RegisterStats(n.Metrics, d.Name(), d.Stats())
		n.AddDetector(d)
	}
}

// stateful is a detector that can save and restore what it learnt.
type stateful interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// mlState is a detector whose learnt state is saved in a file.
type mlState struct {
	path string
	d    stateful
}

// restoreML loads what detector d learnt before the node last stopped,
// from file under <data dir>/ml. A file that cannot be used (damaged,
// another version, other options) is named in a warning and the detector
// starts fresh; the file is replaced at the next save.
func (n *Node) restoreML(d stateful, file string) {
	path := filepath.Join(n.Config.DataDir, "ml", file)
	if err := ml.LoadState(path, d); err != nil && !errors.Is(err, fs.ErrNotExist) {
		n.Log.Warn("ml: saved detector state unusable; the detector starts fresh", "err", err)
	}
	n.mlStates = append(n.mlStates, mlState{path: path, d: d})
}

// keepMLStates saves the detectors' learnt state every five minutes and
// once more when ctx ends.
func (n *Node) keepMLStates(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		for _, s := range n.mlStates {
			if err := ml.SaveState(s.path, s.d); err != nil {
				n.Log.Warn("ml: detector state not saved", "err", err)
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
}
