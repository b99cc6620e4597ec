// Package config is a node's configuration: built-in defaults, overridden
// by a YAML file, then by XSOC_* environment variables, then by
// command-line flags.
package config

import (
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/xsoc/xsoc/internal/ingest"
)

// Config is everything a node needs. The yaml names are also the
// environment names: data_dir ↔ XSOC_DATA_DIR.
type Config struct {
	// DataDir holds the embedded SQLite store, JetStream files and keys.
	DataDir string `yaml:"data_dir"`
	// Listen is the HTTP(S) API address.
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey switch the API to HTTPS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// NATSURL selects an external NATS JetStream cluster; empty runs the
	// embedded server.
	NATSURL string `yaml:"nats_url"`
	// NATSListen makes the embedded NATS server accept clients too.
	NATSListen string `yaml:"nats_listen"`
	// NATSNamespace prefixes this deployment's streams, subjects and
	// consumers on an external NATS server, so that several deployments
	// (or test runs) share one server without seeing each other.
	NATSNamespace string `yaml:"nats_namespace"`
	// NATSReplicas is the replication factor of xsoc's streams on an
	// external NATS cluster (1, 3 or 5; default 1).
	NATSReplicas int `yaml:"nats_replicas"`
	// PostgresURL selects PostgreSQL; empty uses embedded SQLite.
	PostgresURL string `yaml:"postgres_url"`
	// Archive selects the event archive: empty follows the store
	// (PostgreSQL with PostgresURL, else embedded), "embedded" keeps it
	// under DataDir/archive whatever the store, and a postgres:// URL puts
	// it in that PostgreSQL, apart from the state store.
	Archive string `yaml:"archive"`
	// Role is what this process does: "all" (the default: everything),
	// or one part of a scaled-out node, "api" (REST API, ingest, console),
	// "detect" (detection workers) or "archive" (archive workers). Parts
	// need an external NATS and PostgreSQL.
	Role string `yaml:"role"`
	// Sync is the embedded bus's durability: "interval" (default: an ack
	// means the OS has the data; survives kill -9, not a power cut) or
	// "always" (fsync before every ack; survives a power cut).
	Sync string `yaml:"sync"`
	// IngestCompression is how accepted batches are stored on the bus:
	// "s2" (compressed) or "none". Empty: s2 on the embedded bus, none on
	// an external NATS, where workers of an xsoc version before
	// compression may read the same stream; set s2 once all run this one.
	IngestCompression string `yaml:"ingest_compression"`
	// IngestMaxBytes bounds un-processed input on the bus; when it is full
	// ingest answers 503 with Retry-After.
	IngestMaxBytes int64 `yaml:"ingest_max_bytes"`
	// Workers is the number of pipeline workers.
	Workers int `yaml:"workers"`
	// RulesDir holds Sigma rules loaded at start (optional).
	RulesDir string `yaml:"rules_dir"`
	// SigmaPlaceholdersFile holds the values of Sigma placeholders
	// (%name% with the expand modifier): YAML, each name to a list of
	// values, or a pySigma pipeline's vars.
	SigmaPlaceholdersFile string `yaml:"sigma_placeholders_file"`
	// SigmaPlaceholders gives placeholder values here, each name to a
	// list; a name given here replaces the file's values for it.
	SigmaPlaceholders map[string][]string `yaml:"sigma_placeholders"`
	// PlaybooksDir holds response playbooks (optional).
	PlaybooksDir string `yaml:"playbooks_dir"`
	// WarninglistsDir holds MISP warninglists for indicator import (optional).
	WarninglistsDir string `yaml:"warninglists_dir"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// Syslog lists syslog listeners, each bound to one member.
	Syslog []ingest.SyslogConfig `yaml:"syslog"`
	// TAXIIFeeds lists remote TAXII 2.1 collections to pull on a schedule.
	TAXIIFeeds []TAXIIFeed `yaml:"taxii_feeds"`
	// Limits bound what requests and API keys may take from the node.
	Limits Limits `yaml:"limits"`
	// Federation links the node to other nodes: a hub, or a member node of
	// a hub. Environment: XSOC_FEDERATION_ROLE, XSOC_FEDERATION_NODE, ...
	Federation Federation `yaml:"federation"`
	// ML switches the machine-learning detectors (internal/detect/ml).
	// Environment: XSOC_ML_DGA, XSOC_ML_DGA_MODEL, ...
	ML ML `yaml:"ml"`
}

// ML switches the machine-learning detectors on and off ("on" or "off",
// strings so that the environment can set them) and names model files
// that replace the built-in ones.
type ML struct {
	// DGA flags DNS queries for generated names. Default "on".
	DGA string `yaml:"dga"`
	// DGAModel is a model file written by "xsoc ml train dga"; empty
	// uses the model built into xsoc.
	DGAModel string `yaml:"dga_model"`
	// Beacon flags regular call-home traffic per source→destination
	// pair. Default "on".
	Beacon string `yaml:"beacon"`
	// Anomaly flags hosts, users and source addresses whose activity in
	// a five-minute window departs from their own baseline (Half-Space
	// Trees). Default "on"; what it learnt is kept in
	// <data_dir>/ml/anomaly.state.
	Anomaly string `yaml:"anomaly"`
	// FirstSeen flags the first process hash, parent→child pair,
	// sign-in country or network of a user and domain of a host that a
	// member sees, after FirstSeenLearn. Default "on"; kept in
	// <data_dir>/ml/firstseen.state.
	FirstSeen string `yaml:"firstseen"`
	// FirstSeenLearn is how long the first-seen detector only learns
	// after a member's first event (default 168h).
	FirstSeenLearn time.Duration `yaml:"firstseen_learn"`
}

// On reports whether a detector switch is on; v is "on" or "off".
func (ML) On(v string) bool { return v == "on" }

// Federation is a node's part in a federation of nodes linked over NATS
// leaf nodes with mutual TLS (see internal/federation).
type Federation struct {
	// Role is "" (no federation), "hub" or "member".
	Role string `yaml:"role"`
	// Node names this node in the federation; its certificate carries the
	// name.
	Node string `yaml:"node"`
	// Hub is the URL of the hub's leaf node listener (member nodes):
	// tls://hub.example.eu:7422. A hub that is itself a member of a
	// higher hub (its upstream) names that one here.
	Hub string `yaml:"hub"`
	// HubName is the hub's node name (member nodes; a hub's upstream): its
	// certificate must carry it, and it names the hub's JetStream domain.
	HubName string `yaml:"hub_name"`
	// LeafListen is the hub's leaf node listener, host:port.
	LeafListen string `yaml:"leaf_listen"`
	// Cert, Key and CA are the node's certificate and key and the
	// federation CA's certificate, PEM files ("xsoc federation cert").
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	CA   string `yaml:"ca"`
	// SecretFile holds the secret member nodes pseudonymise observables
	// with ("xsoc federation secret"). Member nodes share it; the hub must
	// not have it.
	SecretFile string `yaml:"secret_file"`
	// CorroborationMembers is, at a hub, how many members (in at least
	// two countries) must report the same pseudonym before the hub asks
	// the nodes withholding its value (members in corroborated mode) to
	// release it. 0 means 2.
	CorroborationMembers int `yaml:"corroboration_members"`
}

// TAXIIFeed is a remote TAXII 2.1 collection pulled into the shared
// collection on a schedule, on behalf of a member.
type TAXIIFeed struct {
	Name string `yaml:"name"`
	// URL is the remote API root ("https://cti.example/taxii2/api/").
	URL        string `yaml:"url"`
	Collection string `yaml:"collection"`
	// Member owns what is pulled (its TLP rules then apply).
	Member string `yaml:"member"`
	// TokenEnv / UserEnv / PasswordEnv name environment variables holding
	// the credentials, so that none is written in the file.
	TokenEnv    string        `yaml:"token_env"`
	UserEnv     string        `yaml:"user_env"`
	PasswordEnv string        `yaml:"password_env"`
	Interval    time.Duration `yaml:"interval"`
}

// Default returns the embedded, single-machine defaults.
func Default() Config {
	return Config{
		DataDir:        "./data",
		Listen:         "127.0.0.1:8080",
		Sync:           "interval",
		IngestMaxBytes: 8 << 30,
		Workers:        2,
		Role:           RoleAll,
		LogLevel:       "info",
		Limits:         DefaultLimits(),
		ML:             ML{DGA: "on", Beacon: "on", Anomaly: "on", FirstSeen: "on", FirstSeenLearn: 7 * 24 * time.Hour},
	}
}

// LoadFile overlays the YAML file at path on c. Unknown keys are errors, so
// that a typo does not silently fall back to a default.
func (c *Config) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // an empty file is fine
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// LoadEnv overlays XSOC_<NAME> environment variables on c's scalar fields,
// and XSOC_<BLOCK>_<NAME> on the scalar fields of its blocks
// (XSOC_FEDERATION_ROLE).
func (c *Config) LoadEnv(lookup func(string) (string, bool)) error {
	return loadEnv(reflect.ValueOf(c).Elem(), "XSOC_", lookup)
}

func loadEnv(v reflect.Value, prefix string, lookup func(string) (string, bool)) error {
	t := v.Type()
	for i := range t.NumField() {
		name := prefix + strings.ToUpper(strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0])
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			if err := loadEnv(f, name+"_", lookup); err != nil {
				return err
			}
			continue
		}
		s, ok := lookup(name)
		if !ok {
			continue
		}
		if u, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok {
			if err := u.UnmarshalText([]byte(s)); err != nil {
				return fmt.Errorf("config: %s: %v", name, err)
			}
			continue
		}
		if f.Type() == reflect.TypeFor[time.Duration]() {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("config: %s: want a duration such as 720h, got %q", name, s)
			}
			f.SetInt(int64(d))
			continue
		}
		switch f.Kind() {
		case reflect.Float64:
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("config: %s: want a number, got %q", name, s)
			}
			f.SetFloat(x)
		case reflect.String:
			f.SetString(s)
		case reflect.Int, reflect.Int64:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("config: %s: want an integer, got %q", name, s)
			}
			f.SetInt(n)
		default:
			return fmt.Errorf("config: %s cannot be set from the environment; use the config file", name)
		}
	}
	return nil
}

// Validate checks c for contradictions.
func (c *Config) Validate() error {
	switch c.Sync {
	case "interval", "always":
	default:
		return fmt.Errorf("config: sync must be \"interval\" or \"always\", not %q", c.Sync)
	}
	if c.DataDir == "" {
		return errors.New("config: data_dir is required")
	}
	switch c.IngestCompression {
	case "", "s2", "none":
	default:
		return fmt.Errorf("config: ingest_compression must be \"s2\" or \"none\", not %q", c.IngestCompression)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("config: tls_cert and tls_key go together")
	}
	if c.NATSURL != "" && c.NATSListen != "" {
		return errors.New("config: nats_listen applies to the embedded server only; drop it or nats_url")
	}
	if c.Workers < 1 {
		c.Workers = 1
	}
	if err := c.validateScale(); err != nil {
		return err
	}
	for _, f := range c.TAXIIFeeds {
		if f.Name == "" || f.URL == "" || f.Collection == "" || f.Member == "" {
			return fmt.Errorf("config: taxii feed %q needs name, url, collection and member", f.Name)
		}
	}
	for _, s := range c.Syslog {
		if s.Member == "" || (s.UDP == "" && s.TCP == "") {
			return fmt.Errorf("config: syslog listener %+v needs a member and a udp or tcp address", s)
		}
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	for name, v := range map[string]string{"ml.dga": c.ML.DGA, "ml.beacon": c.ML.Beacon, "ml.anomaly": c.ML.Anomaly, "ml.firstseen": c.ML.FirstSeen} {
		if v != "on" && v != "off" {
			return fmt.Errorf("config: %s must be \"on\" or \"off\", not %q", name, v)
		}
	}
	if c.Federation.Role != "" && c.NATSURL != "" {
		return errors.New("config: federation links the embedded NATS server; drop nats_url or federation.role")
	}
	return c.Federation.validate()
}

// The roles of a process (Config.Role).
const (
	RoleAll     = "all"
	RoleAPI     = "api"
	RoleDetect  = "detect"
	RoleArchive = "archive"
)

// validateScale checks the scale-out settings: roles, namespace,
// replicas and the archive's place.
func (c *Config) validateScale() error {
	switch c.Role {
	case "":
		c.Role = RoleAll
	case RoleAll, RoleAPI, RoleDetect, RoleArchive:
	default:
		return fmt.Errorf("config: role must be all, api, detect or archive, not %q", c.Role)
	}
	if c.Role != RoleAll {
		if c.NATSURL == "" || c.PostgresURL == "" {
			return fmt.Errorf("config: role %s is one part of a scaled-out node: it needs an external NATS (nats_url) and PostgreSQL (postgres_url) shared with the other parts", c.Role)
		}
		if c.Federation.Role != "" {
			return errors.New("config: federation needs the embedded NATS server of a single-process node (role all)")
		}
	}
	if c.NATSNamespace != "" {
		if c.NATSURL == "" {
			return errors.New("config: nats_namespace applies to an external NATS server (nats_url)")
		}
		for _, r := range c.NATSNamespace {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				return fmt.Errorf("config: nats_namespace %q: use letters, digits, _ and - only", c.NATSNamespace)
			}
		}
	}
	switch c.NATSReplicas {
	case 0, 1, 3, 5:
	default:
		return fmt.Errorf("config: nats_replicas must be 1, 3 or 5, not %d", c.NATSReplicas)
	}
	if a := c.Archive; a != "" && a != "embedded" && !strings.HasPrefix(a, "postgres://") && !strings.HasPrefix(a, "postgresql://") {
		return fmt.Errorf("config: archive must be empty (follow the store), \"embedded\" or a postgres:// URL, not %q", a)
	}
	return nil
}

// validate checks the federation block: each role's required settings,
// and that the hub holds no pseudonymisation secret.
func (f *Federation) validate() error {
	switch f.Role {
	case "":
		return nil
	case "hub", "member":
	default:
		return fmt.Errorf("config: federation.role must be \"hub\" or \"member\", not %q", f.Role)
	}
	var missing []string
	need := func(v, name string) {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	need(f.Node, "node")
	need(f.Cert, "cert")
	need(f.Key, "key")
	need(f.CA, "ca")
	if f.Role == "hub" {
		need(f.LeafListen, "leaf_listen")
		if f.Hub != "" || f.HubName != "" {
			// A member of a higher hub (its upstream).
			need(f.Hub, "hub")
			need(f.HubName, "hub_name")
		}
	} else {
		need(f.Hub, "hub")
		need(f.HubName, "hub_name")
		need(f.SecretFile, "secret_file")
	}
	if len(missing) > 0 {
		return fmt.Errorf("config: federation role %s needs %s (certificates: xsoc federation ca / cert; secret: xsoc federation secret)",
			f.Role, strings.Join(missing, ", "))
	}
	if f.Role == "hub" && f.SecretFile != "" {
		return errors.New("config: a federation hub must not hold the pseudonymisation secret; drop federation.secret_file")
	}
	if f.CorroborationMembers != 0 && f.CorroborationMembers < 2 {
		return fmt.Errorf("config: federation.corroboration_members is %d; want 2 or more (members in two countries), or 0 for 2", f.CorroborationMembers)
	}
	return nil
}
