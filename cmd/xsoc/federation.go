package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/member"
)

const federationUsage = `usage: xsoc federation ca --dir DIR [--name NAME]
       xsoc federation cert --ca DIR --name NODE --out DIR [--host HOST,...]
       xsoc federation secret --out FILE [--rotate-every 720h [--overlap 24h] [--since TIME]]
       xsoc federation secret schedule --file FILE --rotate-every 720h [--overlap 24h] [--since TIME]
       xsoc federation secret status --file FILE [--json]

ca      creates the federation's certificate authority: DIR/ca.crt and
        DIR/ca.key (keep the key offline; every node trusts this CA)
cert    issues node NODE's certificate: OUT/NODE.crt, OUT/NODE.key and
        OUT/ca.crt; --host adds the names and addresses a hub is reached at
secret  writes the pseudonymisation secret member nodes share (never give
        it to the hub); with --rotate-every its key rotates on that
        schedule, and for --overlap after each rotation the previous key's
        pseudonyms are given too. "schedule" gives a secret without one a
        schedule from --since on (its pseudonyms stay until then);
        "status" shows the current epoch

Files are PEM (the secret hex), readable by their owner only.`

func runFederation(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, federationUsage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("federation "+sub, flag.ContinueOnError)
	switch sub {
	case "ca":
		dir := fs.String("dir", "", "directory for ca.crt and ca.key")
		name := fs.String("name", "xsoc federation CA", "the CA's common name")
		if err := parse(fs, args, stderr); err != nil {
			return err
		}
		if *dir == "" {
			return errors.New("--dir DIR is required")
		}
		ca, err := federation.NewCA(*name, time.Now())
		if err != nil {
			return err
		}
		if err := ca.Save(*dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "federation CA written to %s and %s\n",
			filepath.Join(*dir, federation.CACertFile), filepath.Join(*dir, federation.CAKeyFile))
	case "cert":
		caDir := fs.String("ca", "", "the CA's directory (ca.crt, ca.key)")
		name := fs.String("name", "", "node name: a-z, 0-9 and single '-', at most 32 characters")
		out := fs.String("out", "", "directory for NODE.crt, NODE.key and ca.crt")
		hosts := fs.String("host", "", "comma-separated DNS names and IP addresses the node is reached at (hubs)")
		if err := parse(fs, args, stderr); err != nil {
			return err
		}
		if *caDir == "" || *name == "" || *out == "" {
			return errors.New("--ca DIR, --name NODE and --out DIR are required")
		}
		ca, err := federation.LoadCA(*caDir)
		if err != nil {
			return err
		}
		var hostList []string
		if *hosts != "" {
			hostList = strings.Split(*hosts, ",")
		}
		nc, err := ca.Issue(*name, hostList, time.Now())
		if err != nil {
			return err
		}
		if err := nc.Save(*out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "certificate of node %s (valid until %s) written to %s\n", *name,
			nc.Cert.NotAfter.Format("2006-01-02"), filepath.Join(*out, federation.NodeCertFile(*name)))
	case "secret":
		return runSecret(args, stdout, stderr)
	default:
		fmt.Fprintln(stderr, federationUsage)
		return errUsage
	}
	return nil
}

const agreementsUsage = `usage: xsoc agreements add --member ID --partner PARTNER
       xsoc agreements list [--member ID] [--json]
       xsoc agreements remove --member ID --partner PARTNER

Information-sharing agreements of this member node's members: who receives
a member's TLP:AMBER early warnings. PARTNER is member:NODE--MEMBER (a
member of another node, as the hub names it), country:CC or
sector:SECTOR. Works on the node's store directly (the same --data-dir or
--postgres-url as "xsoc serve"; safe while it runs: the node tells the hub
within seconds). REST: GET, POST, DELETE /api/v1/federation/agreements.`

func runAgreements(args []string, stdout, stderr io.Writer) error {
	var memberID, partner *string
	var asJSON *bool
	sub, db, err := offlineCommand("agreements", agreementsUsage, args, stderr, func(fs *flag.FlagSet) {
		memberID = fs.String("member", "", "the member whose TLP:AMBER warnings are shared")
		partner = fs.String("partner", "", "member:NODE--MEMBER, country:CC or sector:SECTOR")
		asJSON = fs.Bool("json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	ags := &federation.Agreements{DB: db, Members: member.NewRegistry(db)}
	switch sub {
	case "add", "remove":
		if *memberID == "" || *partner == "" {
			return errors.New("--member ID and --partner PARTNER are required")
		}
		p, err := federation.ParsePartner(*partner)
		if err != nil {
			return err
		}
		if sub == "remove" {
			if err := ags.Remove(ctx, *memberID, p); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "agreement removed: %s no longer receives the TLP:AMBER warnings of %s\n", p, *memberID)
			return nil
		}
		if _, err := ags.Add(ctx, *memberID, p); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "agreement recorded: TLP:AMBER warnings of %s go to %s\n", *memberID, p)
	case "list":
		list, err := ags.List(ctx, *memberID)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, list)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER\tPARTNER\tSINCE")
		for _, a := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Member, a.Partner, a.Created.Format(time.RFC3339))
		}
		return tw.Flush()
	default:
		fmt.Fprintln(stderr, agreementsUsage)
		return errUsage
	}
	return nil
}
