package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/xsoc/xsoc/internal/demo"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/eval"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	choice := scenarioFlags(fs, "demo")
	rules := fs.String("rules", "", "extra Sigma rules directory to score with the starter pack")
	asJSON := fs.Bool("json", false, "print JSON")
	federated := fs.Bool("federated", false, "every member on its own node: each victim's time to detect without and with the cross-border early warning")
	delay := fs.Duration("warning-delay", time.Second, "with --federated: from a detection to its warning active at the other nodes")
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
	var rep interface{ Print(io.Writer) }
	if *federated {
		if *delay < 0 {
			return errors.New("--warning-delay must not be negative")
		}
		rep, err = eval.RunFederated(cfg, eval.FederatedOptions{Delay: *delay, Node: func(member string) (eval.Node, error) {
			dets, index, err := demo.NodeDetectors(cfg, member, extra)
			return eval.Node{Detectors: dets, Index: index}, err
		}})
	} else {
		var dets []detect.Detector
		if dets, err = demo.Detectors(cfg, extra); err == nil {
			rep, err = eval.Run(cfg, dets)
		}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, rep)
	}
	rep.Print(stdout)
	return nil
}
