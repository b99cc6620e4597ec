package demo

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/scenario"
)

// contact is a member node's first IOC alert on the campaign's
// infrastructure, and, if a cross-border warning raised it, that
// warning's indicator as the node received it.
type contact struct {
	alert   alert.Alert
	value   string
	warning *federation.ReceivedIndicator
}

// Shield is what the early warning did for one member node in the
// federated demonstration.
type Shield struct {
	Node, Member string
	// Contact is the event time of the member's first contact with the
	// campaign's infrastructure that raised an alert (zero: none), Value
	// what it contacted. A contact no indicator was active for yet raised
	// nothing: the first alerted one is the first contact the node knew
	// of.
	Contact time.Time
	Value   string
	// WarnedFrom is the country of the warning that raised the alert
	// ("": the node's own intel did); Delay how long after that country
	// detected it the indicator was active here, and Ahead how long
	// before this alert was raised.
	WarnedFrom   string
	Delay, Ahead time.Duration
}

// campaignValues returns the observable values of the scenario's
// campaigns, in lower case.
func campaignValues(cfg scenario.Config) (map[string]bool, error) {
	campaigns, err := scenario.Campaigns(cfg)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, c := range campaigns {
		for _, ind := range c.Indicators() {
			out[strings.ToLower(ind.Value)] = true
		}
	}
	return out, nil
}

// firstContact finds the node's earliest IOC alert (by event time) whose
// value is one of the campaign's, and the warning behind it, if any.
func (n *fedNode) firstContact(ctx context.Context, values map[string]bool) (*contact, error) {
	var first *contact
	cursor := ""
	for {
		var page alert.Page
		if err := n.getJSON(ctx, "/api/v1/alerts?detector=ioc&limit=1000&cursor="+url.QueryEscape(cursor), &page); err != nil {
			return nil, err
		}
		for _, a := range page.Alerts {
			for _, o := range a.Observables {
				if values[strings.ToLower(o.Value)] && (first == nil || a.EventTime.Before(first.alert.EventTime)) {
					first = &contact{alert: a, value: o.Value}
				}
			}
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if first == nil || !strings.Contains(first.alert.RuleTitle, "cross-border warning") {
		return first, nil
	}
	cursor = ""
	for {
		var page struct {
			Warnings []federation.ReceivedIndicator `json:"warnings"`
			Next     string                         `json:"next"`
		}
		if err := n.getJSON(ctx, "/api/v1/federation/warnings?limit=1000&cursor="+url.QueryEscape(cursor), &page); err != nil {
			return nil, err
		}
		for i := range page.Warnings {
			if w := page.Warnings[i]; w.Indicator == first.alert.RuleID && activatedFirst(w, first.warning) {
				first.warning = &w
			}
		}
		if page.Next == "" || len(page.Warnings) == 0 {
			return first, nil
		}
		cursor = page.Next
	}
}

// activatedFirst reports whether w was applied before best (nil: none
// yet). Several origins may warn of one value — the first victim's
// country, then another member node that saw it again — and the alert
// owes its indicator to the one that made it active here, the earliest.
func activatedFirst(w federation.ReceivedIndicator, best *federation.ReceivedIndicator) bool {
	return best == nil || w.Applied.Before(best.Applied)
}

// shields reads, from every member node, its first contact with the
// campaign's infrastructure and whether a cross-border warning alerted
// it.
func shields(ctx context.Context, members []*fedNode, cfg scenario.Config) ([]Shield, error) {
	values, err := campaignValues(cfg)
	if err != nil {
		return nil, err
	}
	var out []Shield
	for _, n := range members {
		c, err := n.firstContact(ctx, values)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.name, err)
		}
		s := Shield{Node: n.name, Member: n.member.ID}
		if c != nil {
			s.Contact, s.Value = c.alert.EventTime, c.value
			if w := c.warning; w != nil {
				s.WarnedFrom, s.Delay, s.Ahead = w.Country, w.Applied.Sub(w.Detected), c.alert.Detected.Sub(w.Applied)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// printShields narrates what the early warning did, in order of first
// contact.
func printShields(out io.Writer, list []Shield) {
	fmt.Fprintln(out, "\nearly warning: each member node's first alert on the campaign's infrastructure")
	ordered := make([]Shield, 0, len(list))
	var none []Shield
	for _, s := range list {
		if s.Contact.IsZero() {
			none = append(none, s)
			continue
		}
		i := len(ordered)
		for i > 0 && ordered[i-1].Contact.After(s.Contact) {
			i--
		}
		ordered = append(ordered[:i], append([]Shield{s}, ordered[i:]...)...)
	}
	for _, s := range append(ordered, none...) {
		who := fmt.Sprintf("  %-8s %-11s", s.Node, s.Member)
		switch {
		case s.Contact.IsZero():
			fmt.Fprintf(out, "%s none\n", who)
		case s.WarnedFrom == "":
			fmt.Fprintf(out, "%s %s %s: detected with its own intel, pushed to the other member nodes\n",
				who, s.Contact.UTC().Format(time.TimeOnly), s.Value)
		default:
			fmt.Fprintf(out, "%s %s %s: alerted at once, known from the cross-border warning from %s (active here %s after %s detected it, %s before this contact came in)\n",
				who, s.Contact.UTC().Format(time.TimeOnly), s.Value, s.WarnedFrom, roundDelay(s.Delay), s.WarnedFrom, roundDelay(s.Ahead))
		}
	}
}

// roundDelay renders a delay to the millisecond.
func roundDelay(d time.Duration) string {
	return d.Round(time.Millisecond).String()
}
