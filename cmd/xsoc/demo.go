package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/xsoc/xsoc/internal/demo"
)

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	load := configFlags(fs)
	seed := fs.Uint64("seed", 1, "scenario seed")
	speed := fs.Float64("speed", 100, "scenario seconds replayed per second (0: as fast as possible)")
	exit := fs.Bool("exit", false, "stop once the replay is done")
	federation := fs.Bool("federation", false, "run a hub and member nodes as separate processes")
	fs.Lookup("data-dir").DefValue = "./demo-data"
	if err := parse(fs, args, stderr); err != nil {
		return err
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
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		_, err = demo.RunFederation(ctx, demo.FederationOptions{DataDir: cfg.DataDir, Executable: exe,
			Seed: *seed, Speed: *speed, Exit: *exit, Out: stdout})
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	_, err = demo.Run(ctx, demo.Options{Config: cfg, Seed: *seed, Speed: *speed, Exit: *exit,
		Out: stdout, Log: newLogger(stderr, "warn")})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
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
