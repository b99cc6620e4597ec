package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/xsoc/xsoc/internal/federation"
)

// runSecret is "xsoc federation secret": write a secret (with a rotation
// schedule or none), give one without a schedule a schedule, or show
// where a secret's schedule stands.
func runSecret(args []string, stdout, stderr io.Writer) error {
	sub := "write"
	if len(args) > 0 && (args[0] == "status" || args[0] == "schedule") {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("federation secret", flag.ContinueOnError)
	out := fs.String("out", "", "file to write")
	file := fs.String("file", "", "the secret file")
	every := fs.Duration("rotate-every", 0, "rotate the pseudonym key this often, e.g. 720h (0: never)")
	overlap := fs.Duration("overlap", 24*time.Hour, "after each rotation, give the previous key's pseudonyms too for this long")
	since := fs.String("since", "", "RFC 3339 time the first rotation epoch starts (default: now)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	sched := federation.Schedule{}
	if *every > 0 {
		sched = federation.Schedule{Every: *every, Overlap: *overlap, Since: time.Now().UTC().Truncate(time.Second)}
		if *since != "" {
			t, err := time.Parse(time.RFC3339, *since)
			if err != nil {
				return fmt.Errorf("--since: want RFC 3339, got %q", *since)
			}
			sched.Since = t
		}
	}
	switch sub {
	case "write":
		if *out == "" {
			return errors.New("--out FILE is required")
		}
		if err := federation.WriteSecretSchedule(*out, sched); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pseudonymisation secret written to %s; give it to every member node, never to the hub\n", *out)
		if sched.Every > 0 {
			fmt.Fprintf(stdout, "its key rotates every %s from %s, with %s of overlap\n", federation.ShortDuration(sched.Every), sched.Since.Format(time.RFC3339), federation.ShortDuration(sched.Overlap))
		}
	case "schedule":
		if *file == "" || sched.Every == 0 {
			return errors.New("--file FILE and --rotate-every DURATION are required")
		}
		if err := federation.SetSchedule(*file, sched); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s now rotates every %s from %s, with %s of overlap; give it to every member node before then\n",
			*file, federation.ShortDuration(sched.Every), sched.Since.Format(time.RFC3339), federation.ShortDuration(sched.Overlap))
	case "status":
		if *file == "" {
			return errors.New("--file FILE is required")
		}
		p, err := federation.LoadSecret(*file)
		if err != nil {
			return err
		}
		s := p.Schedule()
		e := s.EpochAt(time.Now())
		if *asJSON {
			return printJSON(stdout, map[string]any{"rotation": s, "epoch": e})
		}
		if s.Every == 0 {
			fmt.Fprintln(stdout, "no rotation: the secret itself is the key (epoch 0)")
			return nil
		}
		fmt.Fprintf(stdout, "rotates every %s from %s, with %s of overlap\n", federation.ShortDuration(s.Every), s.Since.Format(time.RFC3339), federation.ShortDuration(s.Overlap))
		fmt.Fprintf(stdout, "epoch %d, until %s", e.N, e.End.Format(time.RFC3339))
		if e.N > 0 && time.Now().Before(e.OverlapUntil) {
			fmt.Fprintf(stdout, " (epoch %d's pseudonyms too until %s)", e.N-1, e.OverlapUntil.Format(time.RFC3339))
		}
		fmt.Fprintln(stdout)
	}
	return nil
}
