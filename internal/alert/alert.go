package alert

import (
	"fmt"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/tlp"
)

// Severity orders alerts. The names follow Sigma's rule levels.
type Severity uint8

// The severities, least severe first.
const (
	Informational Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"informational", "low", "medium", "high", "critical"}

// String returns the lower-case Sigma level name.
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", s)
}

// ParseSeverity reads a Sigma level or a common synonym ("info", "crit").
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "informational", "info":
		return Informational, nil
	case "low":
		return Low, nil
	case "medium", "moderate":
		return Medium, nil
	case "high":
		return High, nil
	case "critical", "crit":
		return Critical, nil
	}
	return 0, fmt.Errorf("alert: unknown severity %q", s)
}

// MarshalText encodes s as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Status is where an alert stands in triage.
type Status string

// The alert statuses.
const (
	StatusNew          Status = "new"
	StatusAcknowledged Status = "acknowledged"
	StatusClosed       Status = "closed"
)

// Observable is a value an alert points at: an IP, a domain, a hash...
// Types use STIX cyber-observable names (ipv4-addr, domain-name, url,
// file:hashes.'SHA-256', email-addr, user-account, process, host).
type Observable struct {
	Type  string `json:"type"`
	Value string `json:"value"`
	// Role says what the value is in the event: "source", "destination",
	// "query", "file", "user", "host"...
	Role string `json:"role,omitempty"`
}

// Alert is one detection. A detector fills Member, EventTime, Detector, Rule*,
// Severity, Techniques, Observables, TLP, Key and Evidence; the alert package
// fills ID, Detected, Count, Status and LastSeen.
type Alert struct {
	ID     string `json:"id"`
	Member string `json:"member"`
	// EventTime is the time of the triggering event (its @timestamp).
	EventTime time.Time `json:"event_time"`
	// Detected is when xsoc raised the alert; Detected-EventTime is the time
	// to detect.
	Detected time.Time `json:"detected"`
	// LastSeen is the time of the latest event folded into this alert.
	LastSeen time.Time `json:"last_seen"`
	// Detector names the engine: "sigma", "ioc", "ml", "federation".
	Detector  string   `json:"detector"`
	RuleID    string   `json:"rule_id"`
	RuleTitle string   `json:"rule_title"`
	Severity  Severity `json:"severity"`
	// Techniques are MITRE ATT&CK ids, upper case: "T1059.001".
	Techniques  []string     `json:"techniques,omitempty"`
	Observables []Observable `json:"observables,omitempty"`
	TLP         tlp.Level    `json:"tlp"`
	// Key is the deduplication key within the rule: alerts of the same
	// member, rule and key within the dedup window fold into one, with
	// Count incremented. Empty means the triggering event's host.
	Key string `json:"key,omitempty"`
	// Count is how many detections this alert folds.
	Count int `json:"count"`
	// Evidence holds the triggering events as flat ECS JSON (see
	// event.AppendJSON), at most a few per alert.
	Evidence []string `json:"evidence,omitempty"`
	// EventIDs are the ids of the triggering events.
	EventIDs []string `json:"event_ids,omitempty"`
	Status   Status   `json:"status"`
	// Incident is the id of the incident the alert belongs to, if any.
	Incident string `json:"incident,omitempty"`

	// The triage milestones, set by the alert service and by incident
	// handling; each is zero until reached. Their distances to Detected are
	// the response-time metrics.
	Acknowledged   time.Time `json:"acknowledged,omitzero"`
	AcknowledgedBy string    `json:"acknowledged_by,omitempty"`
	Contained      time.Time `json:"contained,omitzero"`
	Resolved       time.Time `json:"resolved,omitzero"`
	Closed         time.Time `json:"closed,omitzero"`
	ClosedBy       string    `json:"closed_by,omitempty"`
	// Verdict is the analyst's word on a closed alert (true or false
	// positive), and Triage the score the member's triage model gave the
	// alert when it was raised. Only the alert's owner (and operators)
	// see them.
	Verdict Verdict `json:"verdict,omitempty"`
	Triage  *Triage `json:"triage,omitempty"`
}
