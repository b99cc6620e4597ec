package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/detect/sigma"
)

// errUsage reports a flag error already printed by the flag package.
var errUsage = errors.New("usage")

// configFlags registers the flags every node-facing command shares and
// returns a loader that applies, in order: defaults, --config file, XSOC_*
// environment, then the flags given explicitly.
func configFlags(fs *flag.FlagSet) func() (config.Config, error) {
	def := config.Default()
	file := fs.String("config", "", "YAML configuration file")
	strFlags := []struct {
		name, def, usage string
		field            func(*config.Config) *string
	}{
		{"data-dir", def.DataDir, "directory for the embedded store, bus files and keys", func(c *config.Config) *string { return &c.DataDir }},
		{"listen", def.Listen, "API listen address", func(c *config.Config) *string { return &c.Listen }},
		{"nats-url", "", "external NATS JetStream URL(s); empty runs the embedded server", func(c *config.Config) *string { return &c.NATSURL }},
		{"postgres-url", "", "PostgreSQL URL; empty uses embedded SQLite", func(c *config.Config) *string { return &c.PostgresURL }},
		{"nats-namespace", "", "prefix of this deployment's streams and subjects on an external NATS shared with others", func(c *config.Config) *string { return &c.NATSNamespace }},
		{"archive", "", `event archive: empty follows the store, "embedded", or a postgres:// URL apart from the store`, func(c *config.Config) *string { return &c.Archive }},
		{"sync", def.Sync, `durability: "interval" (survives kill -9) or "always" (fsync per ack, survives power loss)`, func(c *config.Config) *string { return &c.Sync }},
		{"rules", "", "directory of Sigma rules to load at start", func(c *config.Config) *string { return &c.RulesDir }},
		{"playbooks", "", "directory of response playbooks (YAML)", func(c *config.Config) *string { return &c.PlaybooksDir }},
		{"warninglists", "", "MISP warning lists folder: known-benign values are refused as indicators", func(c *config.Config) *string { return &c.WarninglistsDir }},
		{"placeholders", "", "YAML file of Sigma placeholder values: each name to a list of values", func(c *config.Config) *string { return &c.SigmaPlaceholdersFile }},
		{"log-level", def.LogLevel, "debug, info, warn or error", func(c *config.Config) *string { return &c.LogLevel }},
		{"federation-role", "", `federation role: "hub" or "member" (empty: no federation)`, func(c *config.Config) *string { return &c.Federation.Role }},
		{"federation-node", "", "this node's name in the federation (its certificate carries it)", func(c *config.Config) *string { return &c.Federation.Node }},
		{"federation-hub", "", "member node: the hub's leaf node URL, tls://host:7422; hub: its upstream hub's, if it has one", func(c *config.Config) *string { return &c.Federation.Hub }},
		{"federation-hub-name", "", "member node: the hub's node name (its certificate must carry it); hub: its upstream hub's", func(c *config.Config) *string { return &c.Federation.HubName }},
		{"federation-leaf-listen", "", "hub: leaf node listen address, host:port", func(c *config.Config) *string { return &c.Federation.LeafListen }},
		{"federation-cert", "", "this node's federation certificate (PEM)", func(c *config.Config) *string { return &c.Federation.Cert }},
		{"federation-key", "", "this node's federation key (PEM)", func(c *config.Config) *string { return &c.Federation.Key }},
		{"federation-ca", "", "the federation CA's certificate (PEM)", func(c *config.Config) *string { return &c.Federation.CA }},
		{"federation-secret", "", "member node: file with the pseudonymisation secret member nodes share", func(c *config.Config) *string { return &c.Federation.SecretFile }},
	}
	// Flags parse into given; only those set on the command line are
	// applied, on top of the file and the environment.
	var given config.Config
	for _, f := range strFlags {
		fs.StringVar(f.field(&given), f.name, f.def, f.usage)
	}
	fs.IntVar(&given.Workers, "workers", def.Workers, "pipeline workers")
	fs.IntVar(&given.Federation.CorroborationMembers, "federation-corroboration-members", 0,
		"hub: members (in at least two countries) that must report a pseudonym before its value is released (0: 2)")
	fs.IntVar(&given.NATSReplicas, "nats-replicas", 1, "replicas of xsoc's streams on an external NATS cluster (1, 3 or 5)")
	placeholders := placeholderFlag{}
	fs.Var(placeholders, "placeholder", "a Sigma placeholder's value, `name=value` (repeat for more values or names)")
	return func() (config.Config, error) {
		cfg := config.Default()
		if *file != "" {
			if err := cfg.LoadFile(*file); err != nil {
				return cfg, err
			}
		}
		if err := cfg.LoadEnv(os.LookupEnv); err != nil {
			return cfg, err
		}
		fs.Visit(func(fl *flag.Flag) {
			for _, f := range strFlags {
				if f.name == fl.Name {
					*f.field(&cfg) = *f.field(&given)
				}
			}
			if fl.Name == "workers" {
				cfg.Workers = given.Workers
			}
			if fl.Name == "federation-corroboration-members" {
				cfg.Federation.CorroborationMembers = given.Federation.CorroborationMembers
			}
			if fl.Name == "nats-replicas" {
				cfg.NATSReplicas = given.NATSReplicas
			}
		})
		placeholders.apply(&cfg.SigmaPlaceholders)

		return cfg, cfg.Validate()
	}
}

// secretFlag registers a flag carrying a secret that may also come from
// the environment variable env, and returns its value: the flag's if
// given, else the environment's. The flag's default stays empty, so -h,
// which prints defaults, never shows the secret.
func secretFlag(fs *flag.FlagSet, name, env, usage string) func() string {
	v := fs.String(name, "", usage+" (env "+env+")")
	return func() string {
		if flagSet(fs, name) {
			return *v
		}
		return os.Getenv(env)
	}
}

// placeholderFlag collects repeated --placeholder name=value flags.
type placeholderFlag map[string][]string

func (p placeholderFlag) String() string { return "" }

// Set adds one value; "%name%=value" is read as "name=value".
func (p placeholderFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	name = strings.Trim(name, "%")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	p[name] = append(p[name], value)
	return nil
}

// apply sets the names given on the command line in m, replacing what the
// configuration gave for them.
func (p placeholderFlag) apply(m *map[string][]string) {
	for name, vals := range p {
		if *m == nil {
			*m = map[string][]string{}
		}
		(*m)[name] = vals
	}
}

// sigmaFlags registers --placeholder and --placeholders for commands that
// compile rules without a node configuration, and returns what they give.
func sigmaFlags(fs *flag.FlagSet) func() (sigma.Options, error) {
	given := placeholderFlag{}
	fs.Var(given, "placeholder", "a Sigma placeholder's value, `name=value` (repeat for more values or names)")
	file := fs.String("placeholders", "", "YAML file of Sigma placeholder values: each name to a list of values")
	return func() (sigma.Options, error) {
		ph, err := sigma.PlaceholderValues(*file, given)
		return sigma.Options{Placeholders: ph}, err
	}
}

// parse parses args, printing errors to stderr. Flags may come before or
// after the positional arguments ("xsoc rules validate DIR -q"); "--" ends
// the flags.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBool(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if err := fs.Parse(append(flags, append([]string{"--"}, positional...)...)); err != nil {
		return errUsage
	}
	return nil
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
