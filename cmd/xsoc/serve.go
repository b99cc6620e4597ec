package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
)

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	load := configFlags(fs)
	demoMember := fs.Bool("demo-member", false, "create a demo member on first start and print its API key")
	role := fs.String("role", "", "what this process does: all (default), or one part of a scaled-out node: api, detect or archive (needs --nats-url and --postgres-url)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) of the whole run to this file")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	cfg, err := load()
	if err != nil {
		return err
	}
	if *role != "" { // a flag wins over the file and the environment
		cfg.Role = *role
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger(stderr, cfg.LogLevel)
	n, err := node.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	if err := wire(ctx, n); err != nil {
		n.Close()
		return err
	}
	worker := cfg.Role == config.RoleDetect || cfg.Role == config.RoleArchive
	if worker {
		// Keys and members are the API process's business.
	} else if path, err := n.EnsureOperatorKey(ctx); err != nil {
		n.Close()
		return err
	} else if path != "" {
		fmt.Fprintf(stdout, "operator API key written to %s (shown nowhere else)\n", path)
	}
	if *demoMember && !worker {
		if err := ensureDemoMember(ctx, n, stdout); err != nil {
			n.Close()
			return err
		}
	}
	backend := "embedded NATS JetStream + SQLite in " + cfg.DataDir
	if cfg.NATSURL != "" || cfg.PostgresURL != "" {
		backend = fmt.Sprintf("NATS %q, PostgreSQL %v", cfg.NATSURL, cfg.PostgresURL != "")
	}
	switch cfg.Role {
	case config.RoleDetect:
		fmt.Fprintf(stdout, "xsoc %s detection worker (health and metrics on %s; %s)\n", version, n.URL(), backend)
	case config.RoleArchive:
		fmt.Fprintf(stdout, "xsoc %s archive worker (health and metrics on %s; %s)\n", version, n.URL(), backend)
	case config.RoleAPI:
		fmt.Fprintf(stdout, "xsoc %s API serving %s (%s; detection and archive run in their own workers)\n", version, n.URL(), backend)
	default:
		fmt.Fprintf(stdout, "xsoc %s serving %s (%s)\n", version, n.URL(), backend)
	}
	if !worker {
		fmt.Fprintln(stdout, warninglistsStatus(cfg))
	}
	if f := cfg.Federation; f.Role == "hub" {
		fmt.Fprintf(stdout, "federation hub %s: member nodes connect to %s (mutual TLS)\n", f.Node, f.LeafListen)
		if f.HubName != "" {
			fmt.Fprintf(stdout, "federation hub %s is a member of the hub %s at %s (mutual TLS); early warnings relay up and down\n", f.Node, f.HubName, f.Hub)
		}
	} else if f.Role == "member" {
		fmt.Fprintf(stdout, "federation member node %s of hub %s at %s (mutual TLS); TLP:CLEAR and GREEN alerts are shared, pseudonymised\n",
			f.Node, f.HubName, f.Hub)
	}
	return n.Run(ctx)
}

// ensureDemoMember creates the member "demo" on first start, writing its
// key to <data_dir>/demo-member.key so the README's curl works later too.
func ensureDemoMember(ctx context.Context, n *node.Node, stdout io.Writer) error {
	path := filepath.Join(n.Config.DataDir, "demo-member.key")
	if _, err := n.Members.Get(ctx, "demo"); err == nil {
		if key, err := os.ReadFile(path); err == nil {
			fmt.Fprintf(stdout, "demo member API key (from %s): %s", path, key)
		}
		return nil
	}
	_, key, err := n.Members.Add(ctx, member.Member{
		ID: "demo", Name: "Demo Organisation", Country: "DE", Sector: "energy",
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo member created; API key (also in %s): %s\n", path, key)
	return nil
}
