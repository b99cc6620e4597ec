package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/xsoc/xsoc/internal/demo"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/eval"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	choice := scenarioFlags(fs, "demo")
	rules := fs.String("rules", "", "extra Sigma rules directory to score with the starter pack")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := choice.config()
	if err != nil {
		return err
	}
	var extra []*sigma.Rule
	if *rules != "" {
		var errs []sigma.LoadError
		extra, errs = sigma.LoadDir(*rules, sigma.Options{})
		fmt.Fprintf(stderr, "%d extra rules loaded, %d not loaded\n", len(extra), len(errs))
	}
	dets, err := demo.Detectors(cfg, extra)
	if err != nil {
		return err
	}
	rep, err := eval.Run(cfg, dets)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, rep)
	}
	rep.Print(stdout)
	return nil
}
