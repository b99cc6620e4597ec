package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/demo"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/detect/ml"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/eval"
	"github.com/xsoc/xsoc/internal/scenario"
)

// defaultWarninglists is where the MISP warning lists sit beside an xsoc
// checkout.
const defaultWarninglists = "../shared/misp/warninglists"

func runML(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: xsoc ml train dga | eval dga|beacon|scenario|anomaly|firstseen|triage | score NAME...")
		return errUsage
	}
	switch args[0] {
	case "train":
		return mlTrain(args[1:], stdout, stderr)
	case "eval":
		if len(args) > 1 && args[1] == "beacon" {
			return mlEvalBeacon(args[2:], stdout, stderr)
		}
		if len(args) > 1 && args[1] == "firstseen" {
			return mlEvalFirstSeen(args[2:], stdout, stderr)
		}
		if len(args) > 1 && args[1] == "anomaly" {
			return mlEvalAnomaly(args[2:], stdout, stderr)
		}
		if len(args) > 1 && args[1] == "scenario" {
			return mlEvalScenario(args[2:], stdout, stderr)
		}
		if len(args) > 1 && args[1] == "triage" {
			return mlEvalTriage(args[2:], stdout, stderr)
		}
		return mlEval(args[1:], stdout, stderr)
	case "score":
		return mlScore(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "xsoc ml: unknown subcommand %q (train, eval, score)\n", args[0])
	return errUsage
}

// mlModel names what "xsoc ml train" and "eval" take: one model kind.
func mlModel(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "dga" {
		fmt.Fprintf(stderr, "usage: xsoc ml %s dga [flags]\n", fs.Name())
		return errUsage
	}
	return nil
}

func mlTrain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	lists := fs.String("warninglists", defaultWarninglists, "MISP warning lists folder (benign names: "+fmt.Sprint(ml.BenignLists)+")")
	out := fs.String("out", "internal/detect/ml/dga.model", "model file to write (the built-in model lives at internal/detect/ml/dga.model)")
	seed := fs.Uint64("seed", ml.DefaultSplitSeed, "seed of the benign train/validation/test split")
	if err := mlModel(fs, args, stderr); err != nil {
		return err
	}
	benign, err := ml.LoadBenign(*lists)
	if err != nil {
		return err
	}
	train, validate, _ := ml.Split(benign, *seed)
	var mal []string
	for _, f := range ml.Families() {
		mal = append(mal, ml.FamilyLabels(f)...)
	}
	m := ml.TrainDGA(train, mal, validate)
	data, _ := m.MarshalBinary()
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained on %d benign and %d generated names (%d families); threshold %.4f; wrote %s (%d bytes)\n",
		len(train), len(mal), len(ml.Families()), m.Threshold, *out, len(data))
	return nil
}

func mlEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	lists := fs.String("warninglists", defaultWarninglists, "MISP warning lists folder")
	seed := fs.Uint64("seed", ml.DefaultSplitSeed, "seed of the benign train/validation/test split")
	asJSON := fs.Bool("json", false, "print JSON")
	context := fs.Bool("context", true, "also evaluate the context detector (ml-dga-burst) on the labelled scenario")
	sc := fs.Uint64("scenario", 1, "seed of the labelled scenario (day profile) for the context part")
	if err := mlModel(fs, args, stderr); err != nil {
		return err
	}
	benign, err := ml.LoadBenign(*lists)
	if err != nil {
		return err
	}
	train, validate, test := ml.Split(benign, *seed)
	ev := ml.EvalDGA(train, validate, test, ml.Families())
	var rows []scenarioRow
	if *context {
		if rows, err = dgaContextRows(scenario.DefaultConfig(*sc), ml.DGABurstDetectorName); err != nil {
			return err
		}
	}
	if *asJSON {
		return printJSON(stdout, struct {
			ml.DGAEvaluation
			Context []scenarioRow `json:"context,omitempty"`
		}{ev, rows})
	}
	fmt.Fprintf(stdout, "DGA model, leave-one-family-out: each family scored by a model trained without it\n")
	fmt.Fprintf(stdout, "benign names: %d train, %d test (never trained on)\n\n", ev.BenignTrain, ev.BenignTest)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HELD-OUT FAMILY\tNAMES\tROC AUC\tRECALL\tBENIGN FP RATE")
	for _, f := range ev.Families {
		fmt.Fprintf(tw, "%s\t%d\t%.4f\t%.3f\t%.4f\n", f.Family, f.Names, f.AUC, f.Recall, f.FalsePositiveRate)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\npooled over all folds: ROC AUC %.4f, precision %.3f, recall %.3f\n", ev.AUC, ev.Precision, ev.Recall)
	fmt.Fprintf(stdout, "character-level families only (%s): ROC AUC %.4f\n", fmt.Sprint(ev.CharacterFamilies), ev.CharacterAUC)
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintf(stdout, "\ncontext: bursts of new domains per host (%s) on the labelled scenario (day, seed %d), the implant's DGA of random letters or of dictionary words\n",
		ml.DGABurstDetectorName, *sc)
	return printScenarioRows(stdout, rows)
}

func mlScore(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	model := fs.String("model", "", "model file (default: the built-in model)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	m := ml.DefaultDGAModel()
	if *model != "" {
		var err error
		if m, err = ml.LoadDGAModel(*model); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLABEL\tSCORE\tVERDICT\tWHY")
	for _, name := range fs.Args() {
		label, ok := ml.Label(name)
		if !ok {
			fmt.Fprintf(tw, "%s\t-\t-\tnot scored\tno registrable label\n", name)
			continue
		}
		f := m.Features(label)
		p := m.Probability(&f)
		verdict := "benign"
		if p >= m.Threshold {
			verdict = "generated"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%s\t%s\n", name, label, p, verdict, ml.Describe(m.Explain(&f, 3)))
	}
	return tw.Flush()
}

func mlEvalBeacon(args []string, stdout, stderr io.Writer) error {
	def := ml.DefaultBeaconEval()
	fs := flag.NewFlagSet("eval beacon", flag.ContinueOnError)
	seed := fs.Uint64("seed", def.Seed, "seed of the generated traffic")
	benign := fs.Int("benign", def.BenignPairs, "benign source→destination pairs")
	beacons := fs.Int("beacons", def.BeaconPairs, "beaconing pairs")
	jitter := fs.Float64("jitter", def.Jitter, "beacon interval jitter, uniform ± this share of the period")
	missed := fs.Float64("missed", def.Missed, "chance that a beat is missed")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg := ml.BeaconEvalConfig{Seed: *seed, BenignPairs: *benign, BeaconPairs: *beacons, Jitter: *jitter, Missed: *missed}
	started := time.Now()
	res := ml.EvalBeacon(cfg, ml.BeaconOptions{})
	secs := time.Since(started).Seconds()
	if *asJSON {
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "beaconing, one generated day (seed %d): %d benign pairs (Poisson, sessions, log-normal gaps, office hours), %d beacons (period 30 s–1 h, jitter ±%.0f %%, %.0f %% beats missed)\n",
		cfg.Seed, cfg.BenignPairs, cfg.BeaconPairs, 100*cfg.Jitter, 100*cfg.Missed)
	fmt.Fprintf(stdout, "%d events (generation and detection in %.1fs)\n\n", res.Events, secs)
	fmt.Fprintf(stdout, "recall                       %.3f (%d of %d beacons)\n", res.Recall, res.Caught, cfg.BeaconPairs)
	fmt.Fprintf(stdout, "false positives              %d benign pairs, %.2f per 10,000 pairs %v\n", res.FalsePs, res.FPPer10k, res.ByKind)
	fmt.Fprintf(stdout, "median detection delay       %s (%d beats)\n", res.Delay.Round(time.Second), res.DelayBeats)
	fmt.Fprintf(stdout, "median period error          %.1f %%\n", 100*res.PeriodError)
	return nil
}

// mlTechniques are the ATT&CK techniques each ML detector is meant to
// catch in the scenario, for its recall.
var mlTechniques = map[string]string{ml.DGADetectorName: "T1568.002", ml.DGABurstDetectorName: "T1568.002", ml.BeaconDetectorName: "T1071.001"}

// scenarioRow is one detector's outcome on one variant of the labelled
// scenario.
type scenarioRow struct {
	// DGA is the implant's domain generation: "letters" (the
	// scenario's own) or "words" (scenario.Config.DGADictionary).
	DGA             string        `json:"dga"`
	Detector        string        `json:"detector"`
	Technique       string        `json:"technique"`
	Alerts          int           `json:"alerts"`
	Precision       float64       `json:"precision"`
	Recall          float64       `json:"recall"`
	F1              float64       `json:"f1"`
	FPPerMillion    float64       `json:"false_positives_per_million_events"`
	MedianDelay     time.Duration `json:"median_detection_delay"`
	Records         int           `json:"records"`
	Scored, Skipped uint64
}

// newMLDetector builds the named detector with its defaults.
func newMLDetector(name string) (detect.Detector, *ml.Stats) {
	switch name {
	case ml.DGADetectorName:
		d := ml.NewDGA(nil)
		return d, d.Stats()
	case ml.DGABurstDetectorName:
		d := ml.NewDGABurst(nil, ml.DGABurstOptions{})
		return d, d.Stats()
	}
	d := ml.NewBeacon(ml.BeaconOptions{})
	return d, d.Stats()
}

// evalScenarioRow replays the scenario of cfg through the named detector
// alone: precision over alerted records, recall over the victims that
// ran its technique, delay from the technique's first record at a victim
// (its first DGA lookup, its first beacon) to the detector's first alert
// on one of that technique's records there.
func evalScenarioRow(cfg scenario.Config, name string) (scenarioRow, error) {
	det, stats := newMLDetector(name)
	rep, err := eval.Run(cfg, []detect.Detector{det})
	if err != nil {
		return scenarioRow{}, err
	}
	r := scenarioRow{DGA: "letters", Detector: name, Technique: mlTechniques[name], Records: rep.Records,
		Scored: stats.Scored.Load(), Skipped: stats.Skipped.Load()}
	if cfg.DGADictionary {
		r.DGA = "words"
	}
	for _, d := range rep.Detectors {
		if d.Detector == name {
			r.Alerts, r.Precision = d.Alerts, d.Precision()
			r.FPPerMillion = 1e6 * float64(d.FalsePositives) / float64(rep.Records)
		}
	}
	for _, t := range rep.Techniques {
		if t.Technique == r.Technique && t.Victims > 0 {
			r.Recall = float64(t.VictimsDetected) / float64(t.Victims)
		}
	}
	if r.Precision+r.Recall > 0 {
		r.F1 = 2 * r.Precision * r.Recall / (r.Precision + r.Recall)
	}
	var delays []time.Duration
	for _, tv := range rep.TechniqueVictims {
		if tv.Technique == r.Technique && tv.TimeToDetect >= 0 {
			delays = append(delays, tv.TimeToDetect)
		}
	}
	if len(delays) > 0 {
		slices.Sort(delays)
		r.MedianDelay = delays[len(delays)/2]
	}
	return r, nil
}

// printScenarioRows prints scenario rows as a table.
func printScenarioRows(w io.Writer, rows []scenarioRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IMPLANT DGA\tDETECTOR\tTECHNIQUE\tALERTS\tPRECISION\tRECALL\tF1\tFP PER MILLION EVENTS\tMEDIAN DELAY\tSCORED\tSKIPPED")
	for _, r := range rows {
		delay := "-" // nothing caught
		if r.Recall > 0 {
			delay = r.MedianDelay.Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.3f\t%.3f\t%.3f\t%.1f\t%s\t%d\t%d\n", r.DGA, r.Detector, r.Technique, r.Alerts, r.Precision, r.Recall, r.F1,
			r.FPPerMillion, delay, r.Scored, r.Skipped)
	}
	return tw.Flush()
}

// dgaContextRows evaluates the DGA detectors on the scenario of cfg
// twice: with the implant's random-letter DGA and with its dictionary
// DGA (scenario.Config.DGADictionary; same seed, same names' positions).
func dgaContextRows(cfg scenario.Config, names ...string) ([]scenarioRow, error) {
	var rows []scenarioRow
	for _, words := range []bool{false, true} {
		cfg.DGADictionary = words
		for _, name := range names {
			r, err := evalScenarioRow(cfg, name)
			if err != nil {
				return nil, err
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

func mlEvalScenario(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval scenario", flag.ContinueOnError)
	choice := scenarioFlags(fs, "day")
	seed, profile := choice.seed, choice.profile
	jitter := fs.Float64("jitter", 0.3, "the implant's beacon jitter, uniform ± this share of the period (the scenario's own default is 0.2)")
	asJSON := fs.Bool("json", false, "print JSON")
	cfg, err := choice.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	cfg.BeaconJitter = *jitter
	rows, err := dgaContextRows(cfg, ml.DGADetectorName, ml.DGABurstDetectorName)
	if err != nil {
		return err
	}
	beacon, err := evalScenarioRow(cfg, ml.BeaconDetectorName)
	if err != nil {
		return err
	}
	rows = append(rows, beacon)
	if *asJSON {
		return printJSON(stdout, rows)
	}
	fmt.Fprintf(stdout, "scenario %s, seed %d, beacon jitter ±%.0f %%: %d records (%d with the dictionary DGA)\n", *profile, *seed, 100*cfg.BeaconJitter,
		rows[0].Records, rows[2].Records)
	fmt.Fprintln(stdout, "the implant's DGA draws random letters (the scenario's own) or joins two dictionary words (same seed); each detector alone")
	fmt.Fprintln(stdout, "precision over alerted records; recall over victims (campaign × member) that ran the technique; delay from the technique's first record at the victim to the detector's first alert on it")
	return printScenarioRows(stdout, rows)
}

// anomalyTechniques are the scripted intrusions the anomaly detector is
// meant to catch: the port scan and the exfiltration burst of
// scenario.Extras.
var anomalyTechniques = []string{"T1046", "T1041"}

// mlTechniqueRow is one technique's outcome in an ML evaluation.
type mlTechniqueRow struct {
	Technique       string        `json:"technique"`
	Victims         int           `json:"victims"`
	VictimsDetected int           `json:"victims_detected"`
	MedianDelay     time.Duration `json:"median_detection_delay"`
}

// mlDetectorEval is a detector's outcome on the labelled scenario with
// extras.
type mlDetectorEval struct {
	Detector     string           `json:"detector"`
	Records      int              `json:"records"`
	Alerts       int              `json:"alerts"`
	TruePos      int              `json:"true_positive_records"`
	FalsePos     int              `json:"false_positive_records"`
	Precision    float64          `json:"precision"`
	Recall       float64          `json:"recall"`
	F1           float64          `json:"f1"`
	FPPerMillion float64          `json:"false_positives_per_million_events"`
	Techniques   []mlTechniqueRow `json:"techniques"`
	// Noisy are the alert titles on benign records, most frequent first;
	// Caught those on malicious records.
	Noisy  []string `json:"benign_alerts"`
	Caught []string `json:"malicious_alerts"`
	// ByKind counts alerted benign records per kind of finding, for
	// detectors that say (first-seen).
	ByKind          map[string]int `json:"false_positives_by_kind,omitempty"`
	Scored, Skipped uint64
	Seconds         float64 `json:"seconds"`
}

// evalMLDetector replays the scenario of cfg through det and scores it
// against the labelled techniques it is meant to catch: recall over
// (technique, victim) pairs, delay from a technique's first record at a
// victim to the first alert on one of its records.
func evalMLDetector(cfg scenario.Config, det detect.Detector, stats *ml.Stats, techniques []string) (mlDetectorEval, error) {
	started := time.Now()
	rep, err := eval.Run(cfg, []detect.Detector{det})
	if err != nil {
		return mlDetectorEval{}, err
	}
	r := mlDetectorEval{Detector: det.Name(), Records: rep.Records, Scored: stats.Scored.Load(), Skipped: stats.Skipped.Load(),
		Seconds: time.Since(started).Seconds()}
	for _, d := range rep.Detectors {
		if d.Detector != det.Name() {
			continue
		}
		r.Alerts, r.TruePos, r.FalsePos, r.Precision = d.Alerts, d.TruePositives, d.FalsePositives, d.Precision()
		r.FPPerMillion = 1e6 * float64(d.FalsePositives) / float64(rep.Records)
		type kv struct {
			title string
			n     int
		}
		var noisy []kv
		for t, n := range d.NoisyRules {
			noisy = append(noisy, kv{t, n})
			if det.Name() == ml.FirstSeenDetectorName {
				if r.ByKind == nil {
					r.ByKind = map[string]int{}
				}
				for _, k := range ml.SeenKinds() {
					if strings.HasPrefix(t, "First-seen "+k) {
						r.ByKind[k] += n
					}
				}
			}
		}
		slices.SortFunc(noisy, func(a, b kv) int {
			if a.n != b.n {
				return b.n - a.n
			}
			return strings.Compare(a.title, b.title)
		})
		for _, e := range noisy {
			r.Noisy = append(r.Noisy, e.title)
		}
		for t := range d.CaughtRules {
			r.Caught = append(r.Caught, t)
		}
		slices.Sort(r.Caught)
	}
	victims, caught := 0, 0
	for _, tech := range techniques {
		row := mlTechniqueRow{Technique: tech}
		var delays []time.Duration
		for _, tv := range rep.TechniqueVictims {
			if tv.Technique != tech {
				continue
			}
			row.Victims++
			if tv.TimeToDetect >= 0 {
				row.VictimsDetected++
				delays = append(delays, tv.TimeToDetect)
			}
		}
		if len(delays) > 0 {
			slices.Sort(delays)
			row.MedianDelay = delays[len(delays)/2]
		}
		victims += row.Victims
		caught += row.VictimsDetected
		r.Techniques = append(r.Techniques, row)
	}
	if victims > 0 {
		r.Recall = float64(caught) / float64(victims)
	}
	if r.Precision+r.Recall > 0 {
		r.F1 = 2 * r.Precision * r.Recall / (r.Precision + r.Recall)
	}
	return r, nil
}

// printMLDetectorEval prints an evaluation for people.
func printMLDetectorEval(w io.Writer, r mlDetectorEval, noisy int) {
	fmt.Fprintf(w, "%d records, %d scored, %d skipped (replay %.1fs)\n\n", r.Records, r.Scored, r.Skipped, r.Seconds)
	fmt.Fprintf(w, "alerts                       %d (%d records: %d malicious, %d benign)\n", r.Alerts, r.TruePos+r.FalsePos, r.TruePos, r.FalsePos)
	fmt.Fprintf(w, "precision                    %.3f (over alerted records)\n", r.Precision)
	fmt.Fprintf(w, "recall                       %.3f (over technique × victim)\n", r.Recall)
	fmt.Fprintf(w, "F1                           %.3f\n", r.F1)
	fmt.Fprintf(w, "false positives              %.1f per million events\n", r.FPPerMillion)
	if len(r.ByKind) > 0 {
		fmt.Fprint(w, "  by kind                   ")
		for _, k := range ml.SeenKinds() {
			fmt.Fprintf(w, " %s %d;", k, r.ByKind[k])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TECHNIQUE\tVICTIMS\tDETECTED\tMEDIAN DELAY (first record → alert)")
	for _, t := range r.Techniques {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", t.Technique, t.Victims, t.VictimsDetected, t.MedianDelay.Round(time.Second))
	}
	tw.Flush()
	if len(r.Caught) > 0 && noisy > 0 {
		fmt.Fprintf(w, "\nalerts on malicious records (%d distinct; the first %d):\n", len(r.Caught), min(noisy, len(r.Caught)))
		for _, t := range r.Caught[:min(noisy, len(r.Caught))] {
			fmt.Fprintf(w, "  %s\n", t)
		}
	}
	if len(r.Noisy) > 0 && noisy > 0 {
		fmt.Fprintf(w, "\nalerts on benign records (%d distinct; the first %d):\n", len(r.Noisy), min(noisy, len(r.Noisy)))
		for _, t := range r.Noisy[:min(noisy, len(r.Noisy))] {
			fmt.Fprintf(w, "  %s\n", t)
		}
	}
}

// scenarioChoice is the --scenario and --profile flags of a command.
type scenarioChoice struct {
	seed    *uint64
	profile *string
}

// scenarioFlags adds --scenario and --profile (default profile) to fs.
func scenarioFlags(fs *flag.FlagSet, profile string) scenarioChoice {
	return scenarioChoice{
		seed:    fs.Uint64("scenario", 1, "scenario seed"),
		profile: fs.String("profile", profile, "scenario profile: demo (2 h, one campaign), day (24 h, two campaigns) or triage (24 h, four campaigns at any hour)"),
	}
}

// parse parses args into fs, whose flags include c's, and returns the
// scenario they name.
func (c scenarioChoice) parse(fs *flag.FlagSet, args []string, stderr io.Writer) (scenario.Config, error) {
	if err := parse(fs, args, stderr); err != nil {
		return scenario.Config{}, err
	}
	return c.config()
}

// loadExtraRules loads the Sigma rules under dir (none when dir is empty)
// to score with the starter pack, and says how many on stderr.
func loadExtraRules(dir string, stderr io.Writer) []*sigma.Rule {
	if dir == "" {
		return nil
	}
	extra, errs := sigma.LoadDir(dir, sigma.Options{})
	fmt.Fprintf(stderr, "%d extra rules loaded, %d not loaded\n", len(extra), len(errs))
	return extra
}

// config is the scenario the flags name.
func (c scenarioChoice) config() (scenario.Config, error) {
	return scenarioProfile(*c.profile, *c.seed)
}

// mlEvalExtras evaluates one detector on the scenario with every extra:
// flags adds the detector's own flags and returns what builds it after
// parsing, with a line that describes it.
func mlEvalExtras(name string, techniques []string, args []string, stdout, stderr io.Writer,
	flags func(fs *flag.FlagSet) func() (detect.Detector, *ml.Stats, string)) error {
	fs := flag.NewFlagSet("eval "+name, flag.ContinueOnError)
	choice := scenarioFlags(fs, "day")
	noisy := fs.Int("show", 5, "alerts on malicious and on benign records to show")
	asJSON := fs.Bool("json", false, "print JSON")
	build := flags(fs)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := choice.config()
	if err != nil {
		return err
	}
	cfg.Extras = scenario.AllExtras()
	det, stats, about := build()
	r, err := evalMLDetector(cfg, det, stats, techniques)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "%s on scenario %s, seed %d, with extras (%s)%s\n", name, *choice.profile, *choice.seed, cfg.Extras, about)
	printMLDetectorEval(stdout, r, *noisy)
	return nil
}

func mlEvalAnomaly(args []string, stdout, stderr io.Writer) error {
	return mlEvalExtras("anomaly detector", anomalyTechniques, args, stdout, stderr, func(*flag.FlagSet) func() (detect.Detector, *ml.Stats, string) {
		return func() (detect.Detector, *ml.Stats, string) {
			d := ml.NewAnomaly(ml.AnomalyOptions{})
			return d, d.Stats(), ""
		}
	})
}

func mlEvalFirstSeen(args []string, stdout, stderr io.Writer) error {
	return mlEvalExtras("first-seen detector", firstSeenTechniques, args, stdout, stderr, func(fs *flag.FlagSet) func() (detect.Detector, *ml.Stats, string) {
		learn := fs.Duration("learn", 8*time.Hour, "learning period from each member's first event (the node's default is 168h)")
		return func() (detect.Detector, *ml.Stats, string) {
			d := ml.NewFirstSeen(ml.FirstSeenOptions{Learn: *learn})
			return d, d.Stats(), ", learning " + learn.String()
		}
	})
}

// firstSeenTechniques are the scripted steps the first-seen detector is
// meant to catch: the stolen password used from another continent, Word
// spawning PowerShell, the implant's new hash and the DGA's new domains.
var firstSeenTechniques = []string{"T1078.004", "T1059.001", "T1036.005", "T1568.002"}

// defaultTriageRules are the Sigma rules xsoc ml eval triage loads beside
// the starter pack: SigmaHQ's Windows rules, beside an xsoc checkout.
const defaultTriageRules = "../shared/sigma/rules/windows"

func mlEvalTriage(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval triage", flag.ContinueOnError)
	choice := scenarioFlags(fs, "triage")
	rules := fs.String("rules", defaultTriageRules, "Sigma rules loaded with the starter pack (empty: the starter pack alone)")
	detector := fs.String("detector", "sigma", "the detector whose alerts are ranked (context comes from all); empty for all")
	top := fs.Float64("top", 0.1, "share of the second half's alerts whose precision is reported")
	window := fs.Duration("window", time.Hour, "co-occurrence window of the model")
	dedup := fs.Duration("dedup", 15*time.Minute, "fold detections of the same member, rule and key within this window into one alert, as the alert service does (0: every detection is an alert)")
	asJSON := fs.Bool("json", false, "print JSON")
	cfg, err := choice.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	extra := loadExtraRules(*rules, stderr)
	if *rules != "" && len(extra) == 0 {
		return fmt.Errorf("no Sigma rules loaded from %s", *rules)
	}
	dets, err := demo.Detectors(cfg, extra)
	if err != nil {
		return err
	}
	started := time.Now()
	fold := *dedup
	if fold <= 0 {
		fold = -1
	}
	ev := ml.NewTriageEvaluator(ml.TriageEvalOptions{Detector: *detector, Top: *top, DedupWindow: fold, Triage: ml.TriageOptions{Window: *window}})
	rep, err := eval.Alerts(cfg, dets, ev.Add)
	if err != nil {
		return err
	}
	res := ev.Evaluate()
	if *asJSON {
		return printJSON(stdout, res)
	}
	ranked := *detector
	if ranked == "" {
		ranked = "all"
	}
	fmt.Fprintf(stdout, "triage model on scenario %s, seed %d: %d records, starter rules + %d from %s (replay and model %.1fs)\n",
		*choice.profile, *choice.seed, rep.Records, len(extra), *rules, time.Since(started).Seconds())
	fmt.Fprintf(stdout, "%d detections folded into %d alerts (deduplication window %s); ranking %s alerts, in the order raised:\n", res.Detections, res.Alerts, *dedup, ranked)
	fmt.Fprintf(stdout, "verdicts for the first half (%d alerts, %d confirmed), none for the second (%d alerts, %d confirmed)\n\n",
		res.Train, res.TrainConfirmed, res.Test, res.TestConfirmed)
	fmt.Fprintf(stdout, "precision@%.0f%%                %.3f (the top %d of the second half: each member's list by its own model's score)\n", 100**top, res.PrecisionAtTop, res.TopN)
	fmt.Fprintf(stdout, "  best possible             %.3f (all of a member's confirmed alerts first; %d in the second half)\n", res.BestAtTop, res.TestConfirmed)
	fmt.Fprintf(stdout, "  recall@%.0f%%                %.3f (share of the confirmed alerts in the top)\n", 100**top, res.RecallAtTop)
	fmt.Fprintf(stdout, "baseline precision          %.3f (all of the second half)\n", res.Baseline)
	fmt.Fprintf(stdout, "precision@%.0f%% by severity    %.3f (most severe first, then newest)\n", 100**top, res.SeverityAtTop)
	if res.AUCMembers == 0 {
		fmt.Fprintf(stdout, "ROC AUC                     n/a (no member's second half holds both malicious and benign alerts)\n")
	} else {
		fmt.Fprintf(stdout, "ROC AUC                     %.3f (mean over the %d members with both malicious and benign alerts)\n", res.AUC, res.AUCMembers)
	}
	if len(res.Examples) > 0 {
		fmt.Fprintf(stdout, "\nbest-scored alerts of the second half:\n")
		for _, x := range res.Examples {
			truth := "benign"
			if x.Malicious {
				truth = "malicious"
			}
			fmt.Fprintf(stdout, "  %.3f  %s (%s, %s)\n", x.Score, x.Rule, x.Severity, truth)
			for _, f := range x.Factors {
				fmt.Fprintf(stdout, "         %+.2f  %s\n", f.Weight, f.Feature)
			}
		}
	}
	return nil
}
