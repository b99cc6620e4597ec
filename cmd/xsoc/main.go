// Command xsoc is the cross-border SOC platform: one binary, one
// subcommand per job. Run "xsoc help" for the list.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/store"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

// commands is the table of subcommands; it is read-only after start.
func commands() map[string]command {
	return map[string]command{
		"serve":      {"run a node: API, ingest, detection (embedded NATS and SQLite by default)", runServe},
		"members":    {"manage member organisations, their API keys and sharing level (add, list, rotate-key, set-tlp)", runMembers},
		"bench":      {"measure throughput and latency (bench ingest, pipeline, sigma, ioc, ml)", runBench},
		"version":    {"print the version", runVersion},
		"events":     {"hunt through the member's archived events: search, count, top values of a field", runEvents},
		"alerts":     {"list, show, acknowledge and close alerts; time metrics", runAlerts},
		"incidents":  {"incidents and cross-border campaigns: list, show, update, merge, split, NIS2 clocks", runIncidents},
		"demo":       {"run a node with four members in four countries and replay an attack campaign until a cross-border incident stands", runDemo},
		"eval":       {"replay a labelled scenario through every detector and score it against ground truth", runEval},
		"intel":      {"threat intelligence: TAXII pull and push, MISP / STIX / freetext import, MISP feed export", runIntel},
		"scenario":   {"write a labelled multi-country scenario (telemetry in every input format, labels, indicators) to a directory", runScenario},
		"rules":      {"Sigma rules: validate, test against events, import, list, enable, disable", runRules},
		"report":     {"render reports (report nis2 INCIDENT: draft NIS2 notification)", runReport},
		"users":      {"people who log in to the web console: add, list, passwd, disable, enable", runUsers},
		"ml":         {"machine-learning detectors: train dga; eval dga, beacon, scenario, anomaly or firstseen; score NAME (explained)", runML},
		"federation": {"federation PKI and secret: ca, cert (mutual TLS between hub and member nodes), secret (pseudonyms)", runFederation},
		"audit":      {"the audit log: administrative actions and reads of other members' data (audit list; operator key)", runAudit},
		"agreements": {"information-sharing agreements: who receives a member's TLP:AMBER early warnings (add, list, remove)", runAgreements},
		"sharing":    {"how members share early warnings: immediate or corroborated (set, list)", runSharing},
	}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(mainExit(os.Args[1:], os.Stdout, os.Stderr))
}

func mainExit(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, cmds)
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "xsoc: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	if err := c.run(args[1:], stdout, stderr); err != nil {
		if err == errUsage {
			return 2
		}
		fmt.Fprintf(stderr, "xsoc %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "xsoc — cross-border security operations platform")
	fmt.Fprintln(w, "\nUsage: xsoc <command> [flags]   (xsoc <command> -h for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
}

func runVersion(args []string, stdout, _ io.Writer) error {
	fmt.Fprintf(stdout, "xsoc %s\n", version)
	return nil
}

// splitSub finds the subcommand of "xsoc CMD [flags] SUB [args]": the
// first argument that is neither a flag nor the value of one (flags named
// in boolFlags take no value). It returns it and the other arguments, so
// "incidents --key K list" works like "incidents list --key K".
func splitSub(args []string, boolFlags ...string) (sub string, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(append(rest, args[:i]...), args[i+1:]...)
			return a, rest
		}
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && !slices.Contains(boolFlags, name) && name != "h" && name != "help" {
			i++ // the flag's value
		}
	}
	return "", args
}

// unknownSub reports a subcommand cmd does not have, naming it, with the
// command's usage.
func unknownSub(stderr io.Writer, cmd, sub, usage string) error {
	if sub != "" {
		fmt.Fprintf(stderr, "xsoc %s: unknown subcommand %q\n\n", cmd, sub)
	}
	fmt.Fprintln(stderr, usage)
	return errUsage
}

// requireStore refuses to work on a node store that does not exist yet:
// commands that only read or change what a node holds must not create an
// empty database (or the data directory) as a side effect.
func requireStore(cfg config.Config) error {
	if cfg.PostgresURL != "" {
		return nil
	}
	path := filepath.Join(cfg.DataDir, store.SQLiteFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no node data in %s (no %s): start a node with \"xsoc serve\" first, or pass the node's --data-dir or --postgres-url", cfg.DataDir, path)
	} else if err != nil {
		return err
	}
	return nil
}

// storeFlags registers, of the node flags, only those of commands that
// work on a node's store directly — --config, --data-dir, --postgres-url
// and the names in extra — so that their help lists what they use. The
// loader applies them as configFlags' does.
func storeFlags(fs *flag.FlagSet, extra ...string) func() (config.Config, error) {
	all := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	load := configFlags(all)
	for _, name := range append([]string{"config", "data-dir", "postgres-url"}, extra...) {
		f := all.Lookup(name)
		fs.String(name, f.DefValue, f.Usage)
	}
	return func() (config.Config, error) {
		var err error
		fs.Visit(func(f *flag.Flag) {
			if all.Lookup(f.Name) != nil && err == nil {
				err = all.Set(f.Name, f.Value.String())
			}
		})
		if err != nil {
			return config.Config{}, err
		}
		return load()
	}
}
