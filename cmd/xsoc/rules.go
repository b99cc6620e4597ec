package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest/format"
	"github.com/xsoc/xsoc/internal/node"
	"github.com/xsoc/xsoc/internal/rulestore"
)

const rulesUsage = `usage: xsoc rules validate DIR               check every rule; file:line and reason for each broken one
       xsoc rules test RULE.yml EVENTS.ndjson  which events match the rule, and why [--format F] [--all]
                                             (validate, test: --placeholder name=value, --placeholders FILE)
       xsoc rules import DIR                 store the rules in the node (it reloads within seconds)
       xsoc rules list [--technique T]       rules loaded in a running node (--url, --key)
       xsoc rules enable|disable ID          in a running node (operator key)`

func runRules(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, rulesUsage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "validate":
		return rulesValidate(args, stdout, stderr)
	case "test":
		return rulesTest(args, stdout, stderr)
	case "import":
		return rulesImport(args, stdout, stderr)
	case "list", "enable", "disable":
		return rulesRemote(sub, args, stdout, stderr)
	}
	fmt.Fprintln(stderr, rulesUsage)
	return errUsage
}

func rulesValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules validate", flag.ContinueOnError)
	quiet := fs.Bool("q", false, "print only the summary")
	options := sigmaFlags(fs)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("validate takes one directory")
	}
	opts, err := options()
	if err != nil {
		return err
	}
	rules, errs := sigma.LoadDir(fs.Arg(0), opts)
	broken := 0
	for _, e := range errs {
		if !e.Unsupported {
			broken++
		}
		if !*quiet {
			tag := "error"
			if e.Unsupported {
				tag = "unsupported"
			}
			fmt.Fprintf(stdout, "%s: %s\n", tag, e.Error())
		}
	}
	fmt.Fprintf(stdout, "%d rules loaded, %d broken, %d unsupported\n", len(rules), broken, len(errs)-broken)
	for construct, n := range sigma.Unsupported(errs) {
		fmt.Fprintf(stdout, "  unsupported: %s (%d)\n", construct, n)
	}
	if broken > 0 {
		return fmt.Errorf("%d broken rules", broken)
	}
	return nil
}

func rulesTest(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules test", flag.ContinueOnError)
	f := fs.String("format", "auto", "input format of the events")
	all := fs.Bool("all", false, "explain non-matching events too")
	options := sigmaFlags(fs)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("test takes a rule file and an events file")
	}
	opts, err := options()
	if err != nil {
		return err
	}
	if _, err := os.Stat(fs.Arg(0)); err != nil {
		return err
	}
	// A rule that does not parse or compile cannot match anything: say
	// why, test the others, and fail.
	rules, errs := sigma.LoadFiles([]string{fs.Arg(0)}, opts)
	for _, e := range errs {
		fmt.Fprintf(stderr, "error: %s\n", e.Error())
	}
	if len(errs) > 0 && len(rules) == 0 {
		return fmt.Errorf("%s: no rule to test (%d do not load)", fs.Arg(0), len(errs))
	}
	fm, err := format.ParseFormat(*f)
	if err != nil {
		return err
	}
	in, err := os.Open(fs.Arg(1))
	if err != nil {
		return err
	}
	defer in.Close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), format.MaxRecord+1)
	var p format.Parser
	line, matched := 0, 0
	for sc.Scan() {
		line++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var ev event.Event
		if err := p.Parse(fm, sc.Bytes(), &ev); err != nil {
			fmt.Fprintf(stdout, "line %d: not an event: %v\n", line, err)
			continue
		}
		for _, r := range rules {
			if r.Detection == nil {
				continue // correlations and filters need a stream: run them in a node
			}
			ok, why := sigma.Explain(r, &ev, opts)
			if ok {
				matched++
			}
			if ok || *all {
				verdict := "no match"
				if ok {
					verdict = "MATCH"
				}
				fmt.Fprintf(stdout, "line %d: %s %q\n", line, verdict, r.Title)
				for _, w := range why {
					fmt.Fprintf(stdout, "    %s\n", w)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d events, %d matches\n", line, matched)
	if len(errs) > 0 {
		return fmt.Errorf("%d rules of %s do not load", len(errs), fs.Arg(0))
	}
	return nil
}

func rulesImport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules import", flag.ContinueOnError)
	load := configFlags(fs)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("import takes one directory")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	// Check first, so that the report comes now and not in the node's log.
	placeholders, err := sigma.PlaceholderValues(cfg.SigmaPlaceholdersFile, cfg.SigmaPlaceholders)
	if err != nil {
		return err
	}
	rules, errs := sigma.LoadDir(fs.Arg(0), sigma.Options{Placeholders: placeholders})
	for _, e := range errs {
		fmt.Fprintf(stdout, "skipped: %s\n", e.Error())
	}
	ctx := context.Background()
	db, err := node.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	fsys, err := node.RulesFromDir(fs.Arg(0))
	if err != nil {
		return err
	}
	n, err := node.ImportRules(ctx, rulestore.New(db), fsys, "import/")
	if err != nil {
		return err
	}
	if err := recordCLI(ctx, db, "POST rules", fs.Arg(0), fmt.Sprintf("%d rule files", n)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d rule files stored (%d rules load, %d problems); a running node reloads them within 5 seconds\n", n, len(rules), len(errs))
	return nil
}

func rulesRemote(sub string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules "+sub, flag.ContinueOnError)
	client := clientFlags(fs)
	technique := fs.String("technique", "", "only rules for this ATT&CK technique")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	if sub != "list" {
		if fs.NArg() != 1 {
			return errors.New(sub + " takes one rule id")
		}
		var out any
		if err := c.do("POST", "/api/v1/rules/"+url.PathEscape(fs.Arg(0))+"/"+sub, nil, nil, &out); err != nil {
			return err
		}
		return printJSON(stdout, out)
	}
	var res struct {
		Rules []sigma.RuleInfo `json:"rules"`
	}
	q := url.Values{}
	if *technique != "" {
		q.Set("technique", *technique)
	}
	if err := c.do("GET", "/api/v1/rules", q, nil, &res); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tLEVEL\tENABLED\tTECHNIQUES\tTITLE")
	for _, r := range res.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\n", r.ID, r.Kind, r.Level, r.Enabled, strings.Join(r.Techniques, ","), clip(r.Title, 60))
	}
	return tw.Flush()
}
