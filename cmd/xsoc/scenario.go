package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

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
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out DIR is required")
	}
	var cfg scenario.Config
	switch *profile {
	case "demo":
		cfg = scenario.DemoConfig(*seed)
	case "day":
		cfg = scenario.DefaultConfig(*seed)
	default:
		return fmt.Errorf("unknown profile %q", *profile)
	}
	if err := scenario.WriteDir(cfg, *out); err != nil {
		return err
	}
	entries, err := os.ReadDir(*out)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		st, err := os.Stat(filepath.Join(*out, n))
		if err == nil {
			fmt.Fprintf(stdout, "%10d  %s\n", st.Size(), filepath.Join(*out, n))
		}
	}
	fmt.Fprintln(stdout, "send a member's files with: curl -H 'Authorization: Bearer KEY' --data-binary @FILE 'URL/api/v1/ingest?format=FORMAT'")
	return nil
}
