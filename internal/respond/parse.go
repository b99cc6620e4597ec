package respond

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Limits that keep a playbook from holding a worker or a socket for long.
const (
	defaultActionTimeout = 10 * time.Second
	maxActionTimeout     = time.Minute
	maxFileSize          = 1 << 20
)

// parser walks the YAML nodes of one file, collecting every problem with
// its line instead of stopping at the first.
type parser struct {
	file string
	errs []LoadError
}

func (p *parser) fail(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, LoadError{File: p.file, Line: line, Reason: fmt.Sprintf(format, args...)})
}

// parsePlaybooks parses every YAML document of one file. It returns the
// playbooks only when the whole file is free of problems.
func parsePlaybooks(file string, data []byte) ([]*playbook, []LoadError) {
	p := &parser{file: file}
	if len(data) > maxFileSize {
		p.fail(nil, "file is larger than %d bytes", maxFileSize)
		return nil, p.errs
	}
	var out []*playbook
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.errs = append(p.errs, yamlError(file, err))
			return nil, p.errs
		}
		if len(doc.Content) == 0 {
			continue // an empty document, as after a trailing "---"
		}
		if pb := p.playbook(doc.Content[0]); pb != nil {
			out = append(out, pb)
		}
	}
	if len(out) == 0 && len(p.errs) == 0 {
		p.fail(nil, "no playbook in file")
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return out, nil
}

// yamlError turns a yaml.v3 syntax error ("yaml: line 3: ...") into a
// LoadError with the line split out.
func yamlError(file string, err error) LoadError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if line, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				return LoadError{File: file, Line: line, Reason: strings.TrimSpace(rest[i+1:])}
			}
		}
	}
	return LoadError{File: file, Reason: msg}
}

// fields walks a mapping node, calling the handler for each known key and
// reporting unknown and repeated keys.
func (p *parser) fields(n *yaml.Node, what string, handlers map[string]func(*yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s must be a mapping", what)
		return false
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		switch {
		case !ok:
			p.fail(k, "unknown key %q in %s", k.Value, what)
		case seen[k.Value]:
			p.fail(k, "key %q repeated in %s", k.Value, what)
		default:
			seen[k.Value] = true
			h(v)
		}
	}
	return true
}

func (p *parser) str(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.fail(n, "expected a single value")
		return ""
	}
	return n.Value
}

// strs reads a scalar or a sequence of scalars.
func (p *parser) strs(n *yaml.Node) []string {
	if n.Kind == yaml.ScalarNode {
		return []string{p.str(n)}
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "expected a value or a list of values")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, p.str(c))
	}
	return out
}

func (p *parser) boolean(n *yaml.Node) bool {
	switch strings.ToLower(p.str(n)) {
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	p.fail(n, "expected true or false, got %q", n.Value)
	return false
}

func (p *parser) integer(n *yaml.Node, lo, hi int) int {
	v, err := strconv.Atoi(p.str(n))
	if err != nil || v < lo || v > hi {
		p.fail(n, "expected a whole number from %d to %d, got %q", lo, hi, n.Value)
	}
	return v
}

func (p *parser) duration(n *yaml.Node, lo, hi time.Duration) time.Duration {
	s := p.str(n)
	d, err := parseDuration(s)
	if err != nil {
		p.fail(n, "%v", err)
		return 0
	}
	if d < lo || hi > 0 && d > hi {
		p.fail(n, "duration %s out of range [%s, %s]", s, lo, hi)
	}
	return d
}

// parseDuration reads a Go duration, plus "d" for days ("7d"), which
// blocklist TTLs are commonly written in.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use 30s, 10m, 24h or 7d)", s)
	}
	return d, nil
}

func (p *parser) template(n *yaml.Node, name string) *template.Template {
	src := p.str(n)
	t, err := newTemplate(name, src)
	if err != nil {
		p.fail(n, "template: %v", err)
		return nil
	}
	// Execute once against a sample alert: text/template only finds a
	// misspelt field when it runs, and a typo should fail the load, not
	// the delivery.
	if _, err := render(t, sampleAlert()); err != nil {
		p.fail(n, "template: %v", err)
		return nil
	}
	return t
}

func (p *parser) playbook(n *yaml.Node) *playbook {
	pb := &playbook{file: p.file, line: n.Line}
	var secret, secretEnv string
	var whenNode, actionsNode *yaml.Node
	ok := p.fields(n, "playbook", map[string]func(*yaml.Node){
		"name":        func(v *yaml.Node) { pb.name = p.str(v) },
		"description": func(v *yaml.Node) { pb.description = p.str(v) },
		"dry_run":     func(v *yaml.Node) { pb.dryRun = p.boolean(v) },
		"stop":        func(v *yaml.Node) { pb.stop = p.boolean(v) },
		"secret":      func(v *yaml.Node) { secret = p.str(v) },
		"secret_env":  func(v *yaml.Node) { secretEnv = p.str(v) },
		"when":        func(v *yaml.Node) { whenNode = v; pb.when = p.match(v) },
		"throttle":    func(v *yaml.Node) { pb.throttle = p.throttle(v) },
		"actions":     func(v *yaml.Node) { actionsNode = v; pb.actions = p.actions(v) },
	})
	if !ok {
		return nil
	}
	if pb.name == "" {
		p.fail(n, "playbook needs a name")
	} else if !validName(pb.name) {
		p.fail(n, "playbook name %q: use letters, digits, '-', '_' and '.' only", pb.name)
	}
	if whenNode == nil {
		p.fail(n, "playbook %q needs a when: section (use when: {} to match every alert)", pb.name)
	}
	if actionsNode == nil || len(pb.actions) == 0 && len(actionsNode.Content) == 0 {
		p.fail(n, "playbook %q needs at least one action", pb.name)
	}
	pb.secret = p.secret(n, secret, secretEnv, pb.dryRun)
	for _, a := range pb.actions {
		if a.kind == KindWebhook && secret == "" && secretEnv == "" {
			p.fail(n, "playbook %q has a webhook but no secret or secret_env to sign it with", pb.name)
			break
		}
	}
	return pb
}

// secret returns a playbook's signing key. A dry-run playbook sends
// nothing, so it loads without the key its secret_env names: the shipped
// examples load as they are, and sign once the variable is set.
func (p *parser) secret(n *yaml.Node, inline, env string, dryRun bool) []byte {
	switch {
	case inline != "" && env != "":
		p.fail(n, "set secret or secret_env, not both")
	case env != "":
		v := os.Getenv(env)
		if v == "" && !dryRun {
			p.fail(n, "secret_env %s is not set in the environment (or set dry_run: true until it is)", env)
		}
		return []byte(v)
	case inline != "":
		return []byte(inline)
	}
	return nil
}

func validName(s string) bool {
	if len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (p *parser) match(n *yaml.Node) match {
	m := match{maxTLP: tlp.Red} // no tlp condition: every level
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "") {
		return m // "when:" with nothing: every alert
	}
	p.fields(n, "when", map[string]func(*yaml.Node){
		"members":   func(v *yaml.Node) { m.members = p.strs(v) },
		"detectors": func(v *yaml.Node) { m.detectors = p.strs(v) },
		"rules": func(v *yaml.Node) {
			m.rules = p.strs(v)
			for _, g := range m.rules {
				if g == "" {
					p.fail(v, "empty rule glob")
				}
			}
		},
		"severity": func(v *yaml.Node) {
			s, err := alert.ParseSeverity(p.str(v))
			if err != nil {
				p.fail(v, "%v", err)
			}
			m.minSeverity = s
		},
		"techniques": func(v *yaml.Node) {
			for _, t := range p.strs(v) {
				t = strings.ToUpper(strings.TrimSpace(t))
				if !validTechnique(t) {
					p.fail(v, "technique %q is not an ATT&CK id like T1059 or T1059.001", t)
				}
				m.techniques = append(m.techniques, t)
			}
		},
		"tlp": func(v *yaml.Node) {
			l, err := tlp.Parse(p.str(v))
			if err != nil {
				p.fail(v, "%v", err)
			}
			m.maxTLP = l
		},
		"observable_types": func(v *yaml.Node) { m.observableTypes = p.strs(v) },
		"fields": func(v *yaml.Node) {
			if v.Kind != yaml.SequenceNode {
				p.fail(v, "fields must be a list of {path, equals|in|glob}")
				return
			}
			for _, c := range v.Content {
				if fc, ok := p.fieldCond(c); ok {
					m.fields = append(m.fields, fc)
				}
			}
		},
	})
	return m
}

// validTechnique accepts T1234 and T1234.123.
func validTechnique(t string) bool {
	base, sub, hasSub := strings.Cut(t, ".")
	if len(base) != 5 || base[0] != 'T' || !allDigits(base[1:]) {
		return false
	}
	return !hasSub || len(sub) == 3 && allDigits(sub)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func (p *parser) fieldCond(n *yaml.Node) (fieldCond, bool) {
	var fc fieldCond
	ops := 0
	p.fields(n, "field condition", map[string]func(*yaml.Node){
		"path":   func(v *yaml.Node) { fc.path = parseFieldPath(p.str(v)) },
		"equals": func(v *yaml.Node) { ops++; fc.op, fc.values = "equals", []string{p.str(v)} },
		"in":     func(v *yaml.Node) { ops++; fc.op, fc.values = "in", p.strs(v) },
		"glob":   func(v *yaml.Node) { ops++; fc.op, fc.values = "glob", p.strs(v) },
	})
	if len(fc.path) == 0 {
		p.fail(n, "field condition needs a path such as observables.type")
		return fc, false
	}
	if ops != 1 {
		p.fail(n, "field condition needs exactly one of equals, in, glob")
		return fc, false
	}
	return fc, true
}

// parseFieldPath splits "observables.role" into its keys. Empty segments
// are dropped, so a stray dot does no harm.
func parseFieldPath(s string) []string {
	var out []string
	for _, seg := range strings.Split(strings.TrimSpace(s), ".") {
		if seg != "" {
			out = append(out, seg)
		}
	}
	return out
}

func (p *parser) throttle(n *yaml.Node) *throttle {
	t := &throttle{by: "key"}
	p.fields(n, "throttle", map[string]func(*yaml.Node){
		"max": func(v *yaml.Node) { t.max = p.integer(v, 1, 1_000_000) },
		"per": func(v *yaml.Node) { t.per = p.duration(v, time.Second, 0) },
		"by": func(v *yaml.Node) {
			t.by = p.str(v)
			switch t.by {
			case "playbook", "member", "rule", "key":
			default:
				p.fail(v, "throttle by %q: use playbook, member, rule or key", t.by)
			}
		},
	})
	if t.max == 0 || t.per == 0 {
		p.fail(n, "throttle needs max and per")
	}
	return t
}

func (p *parser) actions(n *yaml.Node) []action {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "actions must be a list")
		return nil
	}
	var out []action
	for _, c := range n.Content {
		if a, ok := p.action(c); ok {
			out = append(out, a)
		}
	}
	return out
}

// action reads one list item: either a bare kind ("- raise_to_hub") or a
// mapping with a single key naming the kind.
func (p *parser) action(n *yaml.Node) (action, bool) {
	kindNode, body := n, (*yaml.Node)(nil)
	if n.Kind == yaml.MappingNode {
		if len(n.Content) != 2 {
			p.fail(n, "an action is a single key naming its kind (webhook, email, blocklist, raise_to_hub)")
			return action{}, false
		}
		kindNode, body = n.Content[0], n.Content[1]
	}
	kind := p.str(kindNode)
	a := action{kind: kind, line: kindNode.Line}
	empty := body == nil || body.Kind == yaml.ScalarNode && (body.Tag == "!!null" || body.Value == "")
	switch kind {
	case KindHub:
		if !empty && !(body.Kind == yaml.MappingNode && len(body.Content) == 0) {
			p.fail(body, "raise_to_hub takes no settings")
		}
		return a, true
	case KindWebhook, KindEmail, KindBlocklist:
		if empty {
			p.fail(kindNode, "%s needs settings", kind)
			return a, false
		}
	default:
		p.fail(kindNode, "unknown action %q (use webhook, email, blocklist or raise_to_hub)", kind)
		return a, false
	}
	switch kind {
	case KindWebhook:
		a.webhook = p.webhook(body)
	case KindEmail:
		a.email = p.email(body)
	case KindBlocklist:
		a.block = p.blocklist(body)
	}
	return a, true
}

func (p *parser) webhook(n *yaml.Node) *webhookAction {
	w := &webhookAction{method: "POST", timeout: defaultActionTimeout}
	p.fields(n, "webhook", map[string]func(*yaml.Node){
		"url": func(v *yaml.Node) {
			w.url = p.str(v)
			u, err := url.Parse(w.url)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p.fail(v, "webhook url %q must be an absolute http or https URL", w.url)
			}
		},
		"method": func(v *yaml.Node) {
			w.method = strings.ToUpper(p.str(v))
			if w.method != "POST" && w.method != "PUT" && w.method != "PATCH" {
				p.fail(v, "webhook method %q: use POST, PUT or PATCH", w.method)
			}
		},
		"headers": func(v *yaml.Node) { w.headers = p.headers(v) },
		"body":    func(v *yaml.Node) { w.body = p.template(v, "body") },
		"timeout": func(v *yaml.Node) { w.timeout = p.duration(v, time.Millisecond, maxActionTimeout) },
	})
	if w.url == "" {
		p.fail(n, "webhook needs a url")
	}
	if w.body == nil {
		w.body = template.Must(newTemplate("body", "{{json .}}"))
	}
	return w
}

func (p *parser) headers(n *yaml.Node) [][2]string {
	if n.Kind != yaml.MappingNode {
		p.fail(n, "headers must be a mapping of name: value")
		return nil
	}
	var out [][2]string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, p.str(n.Content[i+1])
		switch {
		case !validHeaderName(k):
			p.fail(n.Content[i], "invalid header name %q", k)
		case strings.ContainsAny(v, "\r\n"):
			p.fail(n.Content[i+1], "header %s value has a line break", k)
		case strings.HasPrefix(strings.ToLower(k), "x-xsoc-"):
			p.fail(n.Content[i], "header %s is set by xsoc itself", k)
		default:
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// validHeaderName accepts RFC 9110 token characters.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func (p *parser) email(n *yaml.Node) *emailAction {
	e := &emailAction{port: 25, timeout: defaultActionTimeout}
	p.fields(n, "email", map[string]func(*yaml.Node){
		"host": func(v *yaml.Node) { e.host = p.str(v) },
		"port": func(v *yaml.Node) { e.port = p.integer(v, 1, 65535) },
		"from": func(v *yaml.Node) { e.from = p.address(v) },
		"to": func(v *yaml.Node) {
			for _, s := range p.strs(v) {
				addr, err := mail.ParseAddress(s)
				if err != nil {
					p.fail(v, "recipient %q: %v", s, err)
					continue
				}
				e.to = append(e.to, addr.Address)
			}
		},
		"subject":      func(v *yaml.Node) { e.subject = p.template(v, "subject") },
		"body":         func(v *yaml.Node) { e.body = p.template(v, "body") },
		"username":     func(v *yaml.Node) { e.username = p.str(v) },
		"password_env": func(v *yaml.Node) { e.passwordEnv = p.str(v) },
		"require_tls":  func(v *yaml.Node) { e.requireTLS = p.boolean(v) },
		"timeout":      func(v *yaml.Node) { e.timeout = p.duration(v, time.Millisecond, maxActionTimeout) },
	})
	if e.host == "" || e.from == "" || len(e.to) == 0 {
		p.fail(n, "email needs host, from and to")
	}
	if (e.username == "") != (e.passwordEnv == "") {
		p.fail(n, "email authentication needs both username and password_env")
	}
	if e.subject == nil {
		e.subject = template.Must(newTemplate("subject", defaultSubject))
	}
	if e.body == nil {
		e.body = template.Must(newTemplate("body", defaultEmailBody))
	}
	return e
}

func (p *parser) address(n *yaml.Node) string {
	addr, err := mail.ParseAddress(p.str(n))
	if err != nil {
		p.fail(n, "address %q: %v", n.Value, err)
		return ""
	}
	return addr.Address
}

func (p *parser) blocklist(n *yaml.Node) *blocklistAction {
	b := &blocklistAction{}
	p.fields(n, "blocklist", map[string]func(*yaml.Node){
		"types": func(v *yaml.Node) {
			for _, t := range p.strs(v) {
				bt, ok := entryTypeOf(t)
				if !ok {
					p.fail(v, "unknown blocklist type %q (use ip, cidr, domain, url, hash or a STIX observable type)", t)
				}
				b.types = append(b.types, bt)
			}
		},
		"roles":           func(v *yaml.Node) { b.roles = p.strs(v) },
		"ttl":             func(v *yaml.Node) { b.ttl = p.duration(v, time.Minute, 3650*24*time.Hour) },
		"include_private": func(v *yaml.Node) { b.includePrivate = p.boolean(v) },
		"reason":          func(v *yaml.Node) { b.reason = p.str(v) },
	})
	if len(b.types) == 0 || b.ttl == 0 {
		p.fail(n, "blocklist needs types and ttl")
	}
	return b
}
