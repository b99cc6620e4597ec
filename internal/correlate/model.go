package correlate

import (
	"fmt"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
)

// Kind says how an incident came about.
type Kind string

// The incident kinds.
const (
	// KindLocal: alerts of one member sharing hosts, users or observables.
	KindLocal Kind = "local"
	// KindCampaign: one campaign seen at members in several countries.
	KindCampaign Kind = "campaign"
)

// Status is where an incident stands in the case workflow.
type Status string

// The case statuses, in workflow order.
const (
	StatusNew       Status = "new"
	StatusTriage    Status = "triage"
	StatusContained Status = "contained"
	StatusResolved  Status = "resolved"
	StatusClosed    Status = "closed"
)

// transitions lists the statuses each status may move to. Work moves
// forward; containment may be skipped when there was nothing to contain,
// a new or triaged incident may be closed at once (a false positive), and
// a closed incident may be reopened into triage.
var transitions = map[Status][]Status{
	StatusNew:       {StatusTriage, StatusClosed},
	StatusTriage:    {StatusContained, StatusResolved, StatusClosed},
	StatusContained: {StatusResolved},
	StatusResolved:  {StatusClosed},
	StatusClosed:    {StatusTriage},
}

// ParseStatus reads a status name.
func ParseStatus(s string) (Status, error) {
	st := Status(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := transitions[st]; !ok {
		return "", fmt.Errorf("%w: unknown incident status %q", ErrInvalid, s)
	}
	return st, nil
}

// CanMove reports whether the workflow allows moving from one status to
// another.
func CanMove(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// TimelineEntry is one alert on an incident's timeline.
type TimelineEntry struct {
	AlertID   string    `json:"alert_id"`
	EventTime time.Time `json:"event_time"`
	LastSeen  time.Time `json:"last_seen"`
	Detected  time.Time `json:"detected"`
	Member    string    `json:"member"`
	Country   string    `json:"country,omitempty"`
	// Tactic is the earliest kill-chain tactic among the alert's
	// techniques, Phase its position (1 reconnaissance ... 14 impact, 0
	// unknown).
	Tactic     Tactic         `json:"tactic,omitempty"`
	Phase      int            `json:"phase"`
	Techniques []string       `json:"techniques,omitempty"`
	Detector   string         `json:"detector"`
	RuleID     string         `json:"rule_id"`
	RuleTitle  string         `json:"rule_title"`
	Severity   alert.Severity `json:"severity"`
	Count      int            `json:"count"`
}

// Note is a comment or an attached piece of evidence.
type Note struct {
	ID int64 `json:"id"`
	// Kind is "comment", or for evidence "alert", "text" or "link".
	Kind  string    `json:"kind"`
	Value string    `json:"value"`
	Who   string    `json:"who"`
	At    time.Time `json:"at"`
}

// Incident is an incident as one viewer sees it: every list, count, the
// countries and the title are computed from the alerts that viewer may
// see, and the case state (status, assignee, milestones, notes, NIS2
// clocks) is the viewer's own case of it. Alerts the viewer may not see
// leave no trace: not counted, not named, their members and countries
// left out.
type Incident struct {
	ID       string         `json:"id"`
	Kind     Kind           `json:"kind"`
	Title    string         `json:"title"`
	Status   Status         `json:"status"`
	Assignee string         `json:"assignee,omitempty"`
	Severity alert.Severity `json:"severity"`
	// FirstSeen and LastSeen span the event times of the visible alerts.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Detected is when the first visible alert was raised.
	Detected    time.Time `json:"detected"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	CrossBorder bool      `json:"cross_border"`
	Countries   []string  `json:"countries,omitempty"`
	Members     []string  `json:"members,omitempty"`
	Techniques  []string  `json:"techniques,omitempty"`
	// Tactics are the kill-chain tactics reached, in kill-chain order.
	Tactics      []Tactic        `json:"tactics,omitempty"`
	Timeline     []TimelineEntry `json:"timeline"`
	Entities     Entities        `json:"entities"`
	Comments     []Note          `json:"comments,omitempty"`
	Evidence     []Note          `json:"evidence,omitempty"`
	MergedInto   string          `json:"merged_into,omitempty"`
	Acknowledged time.Time       `json:"acknowledged,omitzero"`
	Contained    time.Time       `json:"contained,omitzero"`
	Resolved     time.Time       `json:"resolved,omitzero"`
	Closed       time.Time       `json:"closed,omitzero"`
	// NIS2 is the reporting state once the incident is marked
	// significant, nil before.
	NIS2 *NIS2 `json:"nis2,omitempty"`
	// Cases are the members' own cases of a shared incident, shown to
	// operators only (a member sees its own case as the incident's
	// state, and no one else's).
	Cases []MemberCase `json:"cases,omitempty"`
}

// MemberCase is one member's own case of a shared incident.
type MemberCase struct {
	Member   string    `json:"member"`
	Status   Status    `json:"status"`
	Assignee string    `json:"assignee,omitempty"`
	Updated  time.Time `json:"updated"`
	// NIS2 is the member's reporting state once it marked the incident
	// significant, nil before.
	NIS2 *NIS2 `json:"nis2,omitempty"`
}

// AlertIDs returns the ids of the incident's (visible) alerts in timeline
// order.
func (in *Incident) AlertIDs() []string {
	ids := make([]string, len(in.Timeline))
	for i, e := range in.Timeline {
		ids[i] = e.AlertID
	}
	return ids
}

// Change is an analyst's update to an incident. Zero fields change
// nothing.
type Change struct {
	Status   Status  `json:"status,omitempty"`
	Assignee *string `json:"assignee,omitempty"`
	Title    *string `json:"title,omitempty"`
	Comment  string  `json:"comment,omitempty"`
	// Evidence to attach: Kind "alert" (Value an alert id), "text" or
	// "link" (an http or https URL).
	Evidence []Note `json:"evidence,omitempty"`
}

// AuditEntry is one change to an incident: who did what when, the old
// and new values.
type AuditEntry struct {
	Seq      int64     `json:"seq"`
	Incident string    `json:"incident"`
	At       time.Time `json:"at"`
	Who      string    `json:"who"`
	What     string    `json:"what"`
	Old      string    `json:"old,omitempty"`
	New      string    `json:"new,omitempty"`
}

// Filter selects incidents. Zero fields do not filter.
type Filter struct {
	// From and To bound LastSeen: incidents active in [From, To).
	From, To time.Time
	Status   Status
	Kind     Kind
	// CrossBorder keeps only cross-border incidents.
	CrossBorder bool
	// Severity is the minimum severity.
	Severity alert.Severity
	Assignee string
	// Member keeps incidents with an alert of this member.
	Member string
	// Merged includes incidents merged into another (closed, their
	// alerts moved on; MergedInto names where). They are left out
	// otherwise: the incident they went into stands for them.
	Merged bool
	// Limit is the page size: 0 means 50, at most 500.
	Limit int
	// Sort orders the list; the zero Sort is the newest incident first.
	Sort Sort
	// Cursor is a Page.Next from the previous page of the same Sort.
	Cursor string
}

// Page is one page of incidents in the filter's order.
type Page struct {
	Incidents []Incident `json:"incidents"`
	Next      string     `json:"next,omitempty"`
}
