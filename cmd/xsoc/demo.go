package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/xsoc/xsoc/internal/demo"
)

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	load := configFlags(fs)
	seed := fs.Uint64("seed", 1, "scenario seed")
	speed := fs.Float64("speed", 100, "scenario seconds replayed per second (0: as fast as possible)")
	exit := fs.Bool("exit", false, "stop once the replay is done")
	federation := fs.Bool("federation", false, "run a hub and member nodes as separate processes (of the node flags, only --data-dir applies)")
	fs.Lookup("data-dir").DefValue = "./demo-data"
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *federation {
		if err := federationFlagsOnly(fs); err != nil {
			return err
		}
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if !flagSet(fs, "data-dir") && os.Getenv("XSOC_DATA_DIR") == "" {
		cfg.DataDir = "./demo-data"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *federation {
		// The nodes are this same binary, run as "xsoc serve".
		exe, xerr := os.Executable()
		if xerr != nil {
			return xerr
		}
		_, err = demo.RunFederation(ctx, demo.FederationOptions{DataDir: cfg.DataDir, Executable: exe,
			Seed: *seed, Speed: *speed, Exit: *exit, Out: stdout})
	} else {
		// The demo's node starts from nothing: lists installed in an
		// earlier demo's data are gone, so only a folder or the built-in
		// ranges apply.
		status := cfg
		status.DataDir = ""
		fmt.Fprintln(stdout, warninglistsStatus(status))
		_, err = demo.Run(ctx, demo.Options{Config: cfg, Seed: *seed, Speed: *speed, Exit: *exit,
			Out: stdout, Log: newLogger(stderr, "warn")})
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// federationFlagsOnly refuses the node flags "demo --federation" would
// ignore: it configures each node itself, and takes only the data
// directory.
func federationFlagsOnly(fs *flag.FlagSet) error {
	demoFlags := map[string]bool{"data-dir": true, "seed": true, "speed": true, "exit": true, "federation": true}
	var ignored []string
	fs.Visit(func(f *flag.Flag) {
		if !demoFlags[f.Name] {
			ignored = append(ignored, "--"+f.Name)
		}
	})
	if len(ignored) > 0 {
		return fmt.Errorf("--federation configures its nodes itself and takes only --data-dir, not %s", strings.Join(ignored, ", "))
	}
	return nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
