package main

import (
	"errors"
	"flag"
	"io"
	"time"

	"github.com/xsoc/xsoc/internal/demo"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/eval"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	choice := scenarioFlags(fs, "demo")
	rules := fs.String("rules", "", "extra Sigma rules directory to score with the starter pack")
	asJSON := fs.Bool("json", false, "print JSON")
	federated := fs.Bool("federated", false, "every member on its own node: each victim's time to detect without and with the cross-border early warning")
	delay := fs.Duration("warning-delay", time.Second, "with --federated: from a detection to its warning active at the other nodes")
	cfg, err := choice.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	extra := loadExtraRules(*rules, stderr)
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
