package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
	"github.com/xsoc/xsoc/internal/store"
)

const sharingUsage = `usage: xsoc sharing set --member ID --share immediate|corroborated
       xsoc sharing list [--json]

How this member node's members share their early warnings. immediate (the
default) pushes a member's external observables as soon as they are
detected, at the alert's TLP level; corroborated sends them to the hub as
pseudonyms only, and releases a value when the hub reports that members in
at least two countries saw it. Works on the node's store directly (the same
--data-dir or --postgres-url as "xsoc serve"; safe while it runs). REST:
GET, PUT /api/v1/federation/sharing.`

func runSharing(args []string, stdout, stderr io.Writer) error {
	var memberID, share *string
	var asJSON *bool
	sub, db, err := offlineCommand("sharing", sharingUsage, args, stderr, func(fs *flag.FlagSet) {
		memberID = fs.String("member", "", "the member")
		share = fs.String("share", "", "immediate or corroborated")
		asJSON = fs.Bool("json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	s := &federation.Sharing{DB: db, Members: member.NewRegistry(db)}
	switch sub {
	case "set":
		if *memberID == "" || *share == "" {
			return errors.New("--member ID and --share immediate|corroborated are required")
		}
		m, err := s.Set(ctx, *memberID, *share)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, m)
		}
		fmt.Fprintf(stdout, "%s now shares its early warnings in %s mode\n", m.Member, m.Share)
	case "list":
		list, err := s.List(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, list)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER\tSHARE\tSINCE")
		for _, m := range list {
			since := "-"
			if !m.Updated.IsZero() {
				since = m.Updated.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Member, m.Share, since)
		}
		return tw.Flush()
	default:
		fmt.Fprintln(stderr, sharingUsage)
		return errUsage
	}
	return nil
}

// offlineCommand starts a command whose subcommands work on the node's
// store directly: it splits off the subcommand (printing usage without
// one), parses the configuration flags and those flags adds, and opens
// the store.
func offlineCommand(name, usage string, args []string, stderr io.Writer, flags func(*flag.FlagSet)) (string, *store.DB, error) {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return "", nil, errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet(name+" "+sub, flag.ContinueOnError)
	load := configFlags(fs)
	flags(fs)
	if err := parse(fs, args, stderr); err != nil {
		return "", nil, err
	}
	cfg, err := load()
	if err != nil {
		return "", nil, err
	}
	db, err := node.OpenStore(context.Background(), cfg)
	return sub, db, err
}
