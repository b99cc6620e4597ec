package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/federation"
)

const federationUsage = `usage: xsoc federation ca --dir DIR [--name NAME]
       xsoc federation cert --ca DIR --name NODE --out DIR [--host HOST,...]
       xsoc federation secret --out FILE

ca      creates the federation's certificate authority: DIR/ca.crt and
        DIR/ca.key (keep the key offline; every node trusts this CA)
cert    issues node NODE's certificate: OUT/NODE.crt, OUT/NODE.key and
        OUT/ca.crt; --host adds the names and addresses a hub is reached at
secret  writes the pseudonymisation secret member nodes share (never give
        it to the hub)

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
		out := fs.String("out", "", "file to write")
		if err := parse(fs, args, stderr); err != nil {
			return err
		}
		if *out == "" {
			return errors.New("--out FILE is required")
		}
		if err := federation.WriteSecret(*out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pseudonymisation secret written to %s; give it to every member node, never to the hub\n", *out)
	default:
		fmt.Fprintln(stderr, federationUsage)
		return errUsage
	}
	return nil
}
