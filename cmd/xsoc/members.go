package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
	"github.com/xsoc/xsoc/internal/tlp"
)

const membersUsage = `usage: xsoc members add --id ID --name NAME --country CC --sector SECTOR [--public] [--client-of ID,...] [--alert-tlp LEVEL]
       xsoc members list [--json]
       xsoc members rotate-key ID
       xsoc members set-tlp ID LEVEL      who sees the member's alerts (default TLP:AMBER)

Works on the node's store directly (the same --data-dir or --postgres-url
as "xsoc serve"; safe while the node runs). Operators can do the same over
REST: POST /api/v1/members, GET /api/v1/members, POST /api/v1/members/{id}/rotate-key.`

func runMembers(args []string, stdout, stderr io.Writer) error {
	sub, args := splitSub(args, "json", "public")
	if !slices.Contains([]string{"add", "list", "rotate-key", "set-tlp"}, sub) {
		return unknownSub(stderr, "members", sub, membersUsage)
	}
	fs := flag.NewFlagSet("members "+sub, flag.ContinueOnError)
	load := storeFlags(fs)
	var m member.Member
	var clientOf string
	asJSON := new(bool)
	if sub == "list" {
		fs.BoolVar(asJSON, "json", false, "print JSON")
	}
	if sub == "add" {
		fs.StringVar(&m.ID, "id", "", "member id: a short slug such as de-energie")
		fs.StringVar(&m.Name, "name", "", "organisation name")
		fs.StringVar(&m.Country, "country", "", "EU member state, ISO 3166-1 alpha-2 (DE, FR, ...)")
		fs.StringVar(&m.Sector, "sector", "", "NIS2 sector: "+strings.Join(member.Sectors, ", "))
		fs.BoolVar(&m.Public, "public", false, "public-sector body")
		fs.StringVar(&clientOf, "client-of", "", "comma-separated members this one is a client of (e.g. its national SOC)")
		fs.Func("alert-tlp", "sharing level of the member's alerts (default TLP:AMBER)", func(s string) error {
			l, err := tlp.Parse(s)
			m.AlertTLP = &l
			return err
		})
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if sub != "add" {
		if err := requireStore(cfg); err != nil {
			return err
		}
	}
	ctx := context.Background()
	db, err := node.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	reg := member.NewRegistry(db)
	record := func(action, target, detail string) error {
		return recordCLI(ctx, db, action, target, detail)
	}
	switch sub {
	case "add":
		if clientOf != "" {
			m.ClientOf = strings.Split(clientOf, ",")
		}
		added, key, err := reg.Add(ctx, m)
		if err != nil {
			return err
		}
		if err := record("POST members", added.ID, ""); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "member %s (%s, %s, %s) added\nAPI key (shown once, store it now): %s\n",
			added.ID, added.Name, added.Country, added.Sector, key)
	case "list":
		ms, err := reg.List(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(ms)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCOUNTRY\tSECTOR\tPUBLIC\tALERTS\tCLIENT OF")
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\n", m.ID, m.Name, m.Country, m.Sector, m.Public, m.AlertLevel(), strings.Join(m.ClientOf, ","))
		}
		return tw.Flush()
	case "rotate-key":
		if fs.NArg() != 1 {
			return errors.New("rotate-key takes one member id")
		}
		key, err := reg.RotateKey(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		if err := record("POST members/{id}/rotate-key", fs.Arg(0), ""); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "earlier keys of %s revoked\nnew API key (shown once, store it now): %s\n", fs.Arg(0), key)
	case "set-tlp":
		if fs.NArg() != 2 {
			return errors.New("set-tlp takes a member id and a TLP level")
		}
		l, err := tlp.Parse(fs.Arg(1))
		if err != nil {
			return err
		}
		if err := reg.SetAlertTLP(ctx, fs.Arg(0), l); err != nil {
			return err
		}
		if err := record("POST members/{id}/alert-tlp", fs.Arg(0), l.String()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "alerts of %s are now %s\n", fs.Arg(0), l)
	default:
		fmt.Fprintln(stderr, membersUsage)
		return errUsage
	}
	return nil
}
