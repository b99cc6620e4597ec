package respond

import (
	"fmt"
	"text/template"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/tlp"
)

// The action kinds a playbook may use.
const (
	KindWebhook   = "webhook"
	KindEmail     = "email"
	KindBlocklist = "blocklist"
	KindHub       = "raise_to_hub"
)

// LoadError is one problem found while loading playbooks: where it is and
// what is wrong. File is the file's name within the playbook directory;
// Line is 0 when the problem concerns a whole file.
type LoadError struct {
	File   string
	Line   int
	Reason string
}

// Error formats the problem as "file:line: reason".
func (e LoadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return e.File + ": " + e.Reason
}

// playbook is one parsed, validated playbook. It is immutable once loaded.
type playbook struct {
	name        string
	description string
	file        string
	line        int
	dryRun      bool
	stop        bool
	when        match
	throttle    *throttle
	actions     []action
	// secret is the HMAC key for the playbook's webhooks.
	secret []byte
}

// match is the "when" part of a playbook. Every non-empty condition must
// hold; a list holds when any of its items does.
type match struct {
	members         []string
	detectors       []string
	rules           []string // globs
	minSeverity     alert.Severity
	techniques      []string // upper-case prefixes
	maxTLP          tlp.Level
	observableTypes []string
	fields          []fieldCond
}

// fieldCond tests one field of the alert's JSON form.
type fieldCond struct {
	path   []string
	op     string // "equals", "in" or "glob"
	values []string
}

// throttle caps how often a playbook acts.
type throttle struct {
	max int
	per time.Duration
	by  string // "playbook", "member", "rule" or "key"
}

// action is one step of a playbook; exactly one of the kind-specific
// fields is set, or none for raise_to_hub.
type action struct {
	kind    string
	line    int
	webhook *webhookAction
	email   *emailAction
	block   *blocklistAction
}

type webhookAction struct {
	url     string
	method  string
	headers [][2]string
	body    *template.Template
	timeout time.Duration
}

type emailAction struct {
	host        string
	port        int
	from        string
	to          []string
	subject     *template.Template
	body        *template.Template
	username    string
	passwordEnv string
	requireTLS  bool
	timeout     time.Duration
}

type blocklistAction struct {
	types          []string // blocklist entry types (TypeIP...)
	roles          []string
	ttl            time.Duration
	includePrivate bool
	reason         string
}

// PlaybookInfo describes a loaded playbook, for listings.
type PlaybookInfo struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	File        string `json:"file"`
	Line        int    `json:"line"`
	DryRun      bool   `json:"dry_run,omitempty"`
	// Actions are the action kinds in order.
	Actions []string `json:"actions"`
}

func (p *playbook) info() PlaybookInfo {
	in := PlaybookInfo{Name: p.name, Description: p.description, File: p.file, Line: p.line, DryRun: p.dryRun}
	for _, a := range p.actions {
		in.Actions = append(in.Actions, a.kind)
	}
	return in
}
