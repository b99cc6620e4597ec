package correlate

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
)

// Report is one of the three reports NIS2 (Directive (EU) 2022/2555,
// article 23) requires for a significant incident.
type Report string

// The NIS2 reports, in the order they are due.
const (
	// EarlyWarning is due within 24 hours of becoming aware.
	EarlyWarning Report = "early-warning"
	// Notification (the incident notification) is due within 72 hours of
	// becoming aware.
	Notification Report = "notification"
	// FinalReport is due within one month of the incident notification.
	FinalReport Report = "final-report"
)

// ParseReport reads a report name.
func ParseReport(s string) (Report, error) {
	switch r := Report(strings.ToLower(strings.TrimSpace(s))); r {
	case EarlyWarning, Notification, FinalReport:
		return r, nil
	}
	return "", fmt.Errorf("%w: unknown NIS2 report %q (want early-warning, notification or final-report)", ErrInvalid, s)
}

// Clock is the deadline of one report.
type Clock struct {
	Report    Report    `json:"report"`
	Due       time.Time `json:"due"`
	Submitted time.Time `json:"submitted,omitzero"`
	// Left is the time until Due (negative once overdue); zero once the
	// report is submitted, which stops the clock.
	Left time.Duration `json:"left"`
	// Overdue: Due passed and the report is not submitted.
	Overdue bool `json:"overdue"`
	// Late: the report was submitted after Due.
	Late bool `json:"late,omitempty"`
}

// NIS2 is the reporting state of a significant incident.
type NIS2 struct {
	// AwareAt is when the entity became aware of the significant
	// incident: the clocks start here.
	AwareAt  time.Time `json:"aware_at"`
	MarkedBy string    `json:"marked_by"`
	Clocks   []Clock   `json:"clocks"`
}

// Clock returns the clock of report r.
func (n *NIS2) Clock(r Report) Clock {
	for _, c := range n.Clocks {
		if c.Report == r {
			return c
		}
	}
	return Clock{}
}

// nis2Of computes the clocks of r as of now; nil if r is not significant.
func nis2Of(r *row, now time.Time) *NIS2 {
	if r.significant == 0 {
		return nil
	}
	aware := store.Time(r.significant)
	notified := store.Time(r.notification)
	notificationDue := aware.Add(72 * time.Hour)
	// The final report is due a month after the notification was
	// submitted, or, while it has not been, after it was due.
	finalBase := notificationDue
	if !notified.IsZero() {
		finalBase = notified
	}
	n := &NIS2{AwareAt: aware, MarkedBy: r.significantBy}
	for _, c := range []Clock{
		{Report: EarlyWarning, Due: aware.Add(24 * time.Hour), Submitted: store.Time(r.earlyWarning)},
		{Report: Notification, Due: notificationDue, Submitted: notified},
		{Report: FinalReport, Due: finalBase.AddDate(0, 1, 0), Submitted: store.Time(r.finalReport)},
	} {
		if c.Submitted.IsZero() {
			c.Left = c.Due.Sub(now)
			c.Overdue = now.After(c.Due)
		} else {
			c.Late = c.Submitted.After(c.Due)
		}
		n.Clocks = append(n.Clocks, c)
	}
	return n
}

// MarkSignificant marks an incident significant under NIS2, which starts
// the reporting clocks at at (when the entity became aware; zero means
// now). Marking twice is rejected: the clocks do not restart.
func (c *Correlator) MarkSignificant(ctx context.Context, v alert.Viewer, id, who string, at time.Time) (Incident, error) {
	if strings.TrimSpace(who) == "" {
		return Incident{}, fmt.Errorf("%w: marking needs the name of who makes it", ErrInvalid)
	}
	err := c.edit(ctx, v, id, who, func(e *editing) ([]string, error) {
		if e.row.significant != 0 {
			return nil, fmt.Errorf("%w: incident %s is significant since %s", ErrInvalid, id, stamp(store.Time(e.row.significant)))
		}
		if at.IsZero() {
			at = e.now
		}
		e.row.significant, e.row.significantBy = store.Nanos(at), who
		if err := e.audit(ctx, id, "nis2 significant", "", stamp(at)); err != nil {
			return nil, err
		}
		return []string{id}, e.save(ctx)
	})
	if err != nil {
		return Incident{}, err
	}
	return c.Incident(ctx, v, id)
}

// SubmitReport records that NIS2 report r was submitted at at (zero means
// now), which stops its clock.
func (c *Correlator) SubmitReport(ctx context.Context, v alert.Viewer, id string, r Report, who string, at time.Time) (Incident, error) {
	if _, err := ParseReport(string(r)); err != nil {
		return Incident{}, err
	}
	if strings.TrimSpace(who) == "" {
		return Incident{}, fmt.Errorf("%w: a submission needs the name of who makes it", ErrInvalid)
	}
	err := c.edit(ctx, v, id, who, func(e *editing) ([]string, error) {
		if e.row.significant == 0 {
			return nil, fmt.Errorf("%w: incident %s is not marked significant", ErrInvalid, id)
		}
		if at.IsZero() {
			at = e.now
		}
		field := map[Report]*int64{EarlyWarning: &e.row.earlyWarning, Notification: &e.row.notification, FinalReport: &e.row.finalReport}[r]
		old := stamp(store.Time(*field))
		*field = store.Nanos(at)
		if err := e.audit(ctx, id, "nis2 "+string(r)+" submitted", old, stamp(at)); err != nil {
			return nil, err
		}
		return []string{id}, e.save(ctx)
	})
	if err != nil {
		return Incident{}, err
	}
	return c.Incident(ctx, v, id)
}

// Term is a value of the MISP nis2 taxonomy.
type Term struct {
	Value    string `json:"value"`
	Expanded string `json:"expanded"`
}

// Vocabulary holds the MISP nis2 taxonomy (version 5) predicates a draft
// uses, each with its values in taxonomy order.
var Vocabulary = map[string][]Term{
	"impact-sectors-impacted": {
		{"energy", "Energy"}, {"transport", "Transport"}, {"banking", "Banking"},
		{"financial", "Financial market infrastructures"}, {"health", "Health"},
		{"drinking-water", "Drinking water"}, {"waste-water", "Waste water"},
		{"digital-infrastructure", "Digital infrastructure"},
		{"ict-services", "ICT service management (business-to-business)"},
		{"public-administration", "Public administration"}, {"space", "Space"},
		{"courier", "Postal and courier services"}, {"waste-management", "Waste management"},
		{"chemical", "Manufacture, production and distribution of chemicals"},
		{"food", "Production, processing and distribution of food"},
		{"manufacturing", "Manufacturing"}, {"digital-providers", "Digital providers"},
		{"research", "Research"},
	},
	"impact-severity": {{"red", "Red"}, {"yellow", "Yellow"}, {"green", "Green"}, {"white", "White"}},
	"impact-outlook":  {{"improving", "Improving"}, {"stable", "Stable"}, {"worsening", "Worsening"}},
	"nature-root-cause": {
		{"system-failures", "System failures"}, {"natural-phenomena", "Natural phenomena"},
		{"human-errors", "Human errors"}, {"malicious-actions", "Malicious actions"},
		{"third-party-failures", "Third party failures"},
	},
	"nature-severity": {{"high", "High"}, {"medium", "Medium"}, {"low", "Low"}},
}

// term looks a value up in the vocabulary.
func term(predicate, value string) (Term, bool) {
	for _, t := range Vocabulary[predicate] {
		if t.Value == value {
			return t, true
		}
	}
	return Term{}, false
}

// Tag is one nis2 taxonomy classification of a draft.
type Tag struct {
	Predicate string `json:"predicate"`
	Value     string `json:"value"`
	Expanded  string `json:"expanded"`
	// Suggested marks a value derived from detections that the reporting
	// analyst must confirm (impact is a judgement about the real world
	// that alerts alone cannot make).
	Suggested bool `json:"suggested,omitempty"`
}

// MachineTag renders t the way MISP writes it: nis2:predicate="value".
func (t Tag) MachineTag() string { return fmt.Sprintf("nis2:%s=%q", t.Predicate, t.Value) }

// DraftEntity is one affected member.
type DraftEntity struct {
	Member  string `json:"member"`
	Country string `json:"country,omitempty"`
	Sector  string `json:"sector,omitempty"`
}

// Draft is a NIS2 notification draft rendered from what an incident
// knows, as one viewer sees it.
type Draft struct {
	Incident    string         `json:"incident"`
	Title       string         `json:"title"`
	Status      Status         `json:"status"`
	Entities    []DraftEntity  `json:"entities"`
	Countries   []string       `json:"countries,omitempty"`
	CrossBorder bool           `json:"cross_border"`
	FirstSeen   time.Time      `json:"first_seen"`
	LastSeen    time.Time      `json:"last_seen"`
	Detected    time.Time      `json:"detected"`
	AwareAt     time.Time      `json:"aware_at,omitzero"`
	Severity    alert.Severity `json:"severity"`
	Techniques  []string       `json:"techniques,omitempty"`
	Tactics     []Tactic       `json:"tactics,omitempty"`
	// AffectedHosts and AffectedUsers count the distinct hosts and users
	// named by the visible alerts.
	AffectedHosts int                `json:"affected_hosts"`
	AffectedUsers int                `json:"affected_users"`
	Indicators    []alert.Observable `json:"indicators,omitempty"`
	Alerts        int                `json:"alerts"`
	// Measures lists what was done, from the workflow's milestones and the
	// attached evidence.
	Measures  []string  `json:"measures,omitempty"`
	Taxonomy  []Tag     `json:"taxonomy"`
	Deadlines []Clock   `json:"deadlines,omitempty"`
	Generated time.Time `json:"generated"`
	// Warnings say what the draft lacks.
	Warnings []string `json:"warnings,omitempty"`
}

// JSON renders the draft as indented JSON.
func (d *Draft) JSON() ([]byte, error) { return json.MarshalIndent(d, "", "  ") }

// NIS2Draft renders a draft notification from the incident as v sees it.
func (c *Correlator) NIS2Draft(ctx context.Context, v alert.Viewer, id string) (Draft, error) {
	in, err := c.Incident(ctx, v, id)
	if err != nil {
		return Draft{}, err
	}
	now := c.opts.Now().UTC()
	d := Draft{
		Incident: in.ID, Title: in.Title, Status: in.Status, Countries: in.Countries,
		CrossBorder: in.CrossBorder, FirstSeen: in.FirstSeen, LastSeen: in.LastSeen, Detected: in.Detected,
		Severity: in.Severity, Techniques: in.Techniques, Tactics: in.Tactics,
		AffectedHosts: len(in.Entities.Hosts), AffectedUsers: len(in.Entities.Users),
		Alerts: len(in.Timeline), Generated: now,
	}
	d.Indicators = indicators(in.Entities.Observables)
	var sectors []string
	for _, m := range in.Members {
		e := DraftEntity{Member: m, Country: strings.ToUpper(c.opts.MemberCountry(m)), Sector: c.opts.MemberSector(m)}
		d.Entities = append(d.Entities, e)
		switch _, ok := term("impact-sectors-impacted", e.Sector); {
		case e.Sector == "":
			d.Warnings = append(d.Warnings, "no NIS2 sector known for member "+m)
		case !ok:
			d.Warnings = append(d.Warnings, fmt.Sprintf("sector %q of member %s is not in the nis2 taxonomy", e.Sector, m))
		case !slices.Contains(sectors, e.Sector):
			sectors = append(sectors, e.Sector)
		}
	}
	for _, s := range sectors {
		d.Taxonomy = append(d.Taxonomy, tag("impact-sectors-impacted", s, false))
	}
	d.Taxonomy = append(d.Taxonomy,
		tag("nature-root-cause", "malicious-actions", true),
		tag("nature-severity", natureSeverity(in.Severity), true),
		tag("impact-severity", impactSeverity(in.Severity), true),
		tag("impact-outlook", outlook(&in, now), true))
	d.Measures = measures(&in)
	if in.NIS2 != nil {
		d.AwareAt, d.Deadlines = in.NIS2.AwareAt, in.NIS2.Clocks
	} else {
		d.Warnings = append(d.Warnings, "incident not marked significant: no NIS2 deadlines run")
	}
	return d, nil
}

// indicators lists the global observables once each: an indicator seen
// in several roles (query, destination, URL host) or spelled in other
// case (hashes, domains, e-mail addresses) is one indicator. The first
// spelling seen is kept, in lower case where case carries no meaning;
// the role is dropped, as it differs between sightings.
func indicators(obs []alert.Observable) []alert.Observable {
	var out []alert.Observable
	seen := map[string]bool{}
	for _, o := range obs {
		if !Global(o) {
			continue
		}
		canon := alert.Observable{Type: o.Type, Value: canonicalValue(o)}
		if k := canon.Type + "|" + canon.Value; !seen[k] {
			seen[k] = true
			out = append(out, canon)
		}
	}
	return out
}

// canonicalValue is an observable's value in the form equal indicators
// share: trimmed, and lower case except for URLs, whose path and query
// are case-sensitive (their scheme and host are lowered).
func canonicalValue(o alert.Observable) string {
	v := strings.TrimSpace(o.Value)
	if o.Type != "url" {
		return strings.TrimSuffix(strings.ToLower(v), ".")
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return v
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	return u.String()
}

func tag(predicate, value string, suggested bool) Tag {
	t, _ := term(predicate, value)
	return Tag{Predicate: predicate, Value: value, Expanded: t.Expanded, Suggested: suggested}
}

// natureSeverity maps alert severity to the technical severity of the
// threat.
func natureSeverity(s alert.Severity) string {
	switch {
	case s >= alert.High:
		return "high"
	case s == alert.Medium:
		return "medium"
	}
	return "low"
}

// impactSeverity suggests an impact level from the gravest alert; the
// analyst confirms it.
func impactSeverity(s alert.Severity) string {
	switch s {
	case alert.Critical:
		return "red"
	case alert.High:
		return "yellow"
	case alert.Medium:
		return "green"
	}
	return "white"
}

// outlook suggests the prognosis for the next six hours (the taxonomy's
// horizon): improving once contained, worsening while alerts still arrive
// within the last six hours, stable otherwise.
func outlook(in *Incident, now time.Time) string {
	switch {
	case in.Status == StatusContained || in.Status == StatusResolved || in.Status == StatusClosed:
		return "improving"
	case now.Sub(in.LastSeen) < 6*time.Hour:
		return "worsening"
	}
	return "stable"
}

// measures lists the response so far.
func measures(in *Incident) []string {
	var out []string
	for _, m := range []struct {
		at   time.Time
		what string
	}{
		{in.Acknowledged, "triage started"}, {in.Contained, "threat contained"},
		{in.Resolved, "incident resolved"}, {in.Closed, "case closed"},
	} {
		if !m.at.IsZero() {
			out = append(out, m.what+" at "+stamp(m.at))
		}
	}
	for _, e := range in.Evidence {
		if e.Kind == "text" {
			out = append(out, e.Value)
		}
	}
	return out
}

// Markdown renders the draft for a human reviewer.
func (d *Draft) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# NIS2 incident notification (draft)\n\n")
	w("**Incident:** %s — %s  \n**Status:** %s  \n**Generated:** %s\n\n", d.Incident, mdEscape(d.Title), d.Status, stamp(d.Generated))
	w("## Affected entities\n\n")
	for _, e := range d.Entities {
		sector := e.Sector
		if t, ok := term("impact-sectors-impacted", e.Sector); ok {
			sector = t.Expanded + " (" + t.Value + ")"
		}
		w("- %s, country %s, sector %s\n", mdEscape(e.Member), orUnknown(e.Country), orUnknown(sector))
	}
	border := "no"
	if d.CrossBorder {
		border = "yes"
	}
	w("\n**Countries involved:** %s  \n**Cross-border impact:** %s\n\n", orUnknown(strings.Join(d.Countries, ", ")), border)
	w("## Facts\n\n")
	w("- First seen: %s\n- Last seen: %s\n- Detected: %s\n", stamp(d.FirstSeen), stamp(d.LastSeen), stamp(d.Detected))
	if !d.AwareAt.IsZero() {
		w("- Aware (significant) since: %s\n", stamp(d.AwareAt))
	}
	w("- Severity: %s\n- Alerts: %d\n- Affected hosts: %d\n- Affected users: %d\n", d.Severity, d.Alerts, d.AffectedHosts, d.AffectedUsers)
	if len(d.Techniques) > 0 {
		w("- ATT&CK techniques: %s\n", strings.Join(d.Techniques, ", "))
	}
	if len(d.Tactics) > 0 {
		tactics := make([]string, len(d.Tactics))
		for i, t := range d.Tactics {
			tactics[i] = string(t)
		}
		w("- ATT&CK tactics (kill-chain order): %s\n", strings.Join(tactics, " → "))
	}
	w("\n## Classification (MISP nis2 taxonomy)\n\n")
	for _, t := range d.Taxonomy {
		note := ""
		if t.Suggested {
			note = " — suggested, to confirm"
		}
		w("- `%s` (%s)%s\n", t.MachineTag(), t.Expanded, note)
	}
	if len(d.Indicators) > 0 {
		w("\n## Indicators\n\n")
		for _, o := range d.Indicators {
			w("- %s: `%s`\n", o.Type, strings.ReplaceAll(o.Value, "`", "'"))
		}
	}
	if len(d.Measures) > 0 {
		w("\n## Measures taken\n\n")
		for _, m := range d.Measures {
			w("- %s\n", mdEscape(m))
		}
	}
	if len(d.Deadlines) > 0 {
		w("\n## Reporting deadlines\n\n| report | due | submitted | state |\n|---|---|---|---|\n")
		for _, c := range d.Deadlines {
			state := "open, " + c.Left.Round(time.Minute).String() + " left"
			switch {
			case c.Overdue:
				state = "**overdue** by " + (-c.Left).Round(time.Minute).String()
			case c.Late:
				state = "submitted late"
			case !c.Submitted.IsZero():
				state = "submitted"
			}
			w("| %s | %s | %s | %s |\n", c.Report, stamp(c.Due), orDash(stamp(c.Submitted)), state)
		}
	}
	if len(d.Warnings) > 0 {
		w("\n## To complete before submission\n\n")
		for _, x := range d.Warnings {
			w("- %s\n", mdEscape(x))
		}
	}
	return b.String()
}

// mdEscape keeps user text from breaking the document's structure.
func mdEscape(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "|", `\|`, "*", `\*`, "_", `\_`, "`", "'", "#", `\#`).Replace(s)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
