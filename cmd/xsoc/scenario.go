package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/xsoc/xsoc/internal/scenario"
)

// runScenario writes a labelled scenario to a directory: one NDJSON file
// per member and input format, labels.ndjson, indicators.ndjson and
// manifest.json.
func runScenario(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scenario", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "scenario seed: the same seed writes the same files")
	profile := fs.String("profile", "demo", "demo (2 h, one campaign) or day (24 h, two campaigns)")
	out := fs.String("out", "", "output directory (required)")
	extras := fs.Bool("extras", false, "add port scans, DGA and exfiltration bursts and impossible-travel sign-ins to every intrusion (and benign sign-ins to the background)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out DIR is required")
	}
	cfg, err := scenarioProfile(*profile, *seed)
	if err != nil {
		return err
	}
	if *extras {
		cfg.Extras = scenario.AllExtras()
	}
	if err := scenario.WriteDir(cfg, *out); err != nil {
		return err
	}
	entries, err := os.ReadDir(*out) // sorted by name
	if err != nil {
		return err
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			fmt.Fprintf(stdout, "%10d  %s\n", info.Size(), filepath.Join(*out, e.Name()))
		}
	}
	fmt.Fprintln(stdout, "send a member's files with: curl -H 'Authorization: Bearer KEY' --data-binary @FILE 'URL/api/v1/ingest?format=FORMAT'")
	return nil
}

// scenarioProfile returns the scenario of a profile: "demo" (2 h, one
// campaign) or "day" (24 h, two campaigns).
func scenarioProfile(name string, seed uint64) (scenario.Config, error) {
	switch name {
	case "demo":
		return scenario.DemoConfig(seed), nil
	case "day":
		return scenario.DefaultConfig(seed), nil
	case "triage":
		return scenario.TriageConfig(seed), nil
	}
	return scenario.Config{}, fmt.Errorf("unknown profile %q", name)
}
