package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
)

const alertsUsage = `usage: xsoc alerts list [--severity S] [--status S] [--technique T] [--member M] [--from T] [--to T] [--limit N]
                        [--sort detected|last_seen|severity|count|status|triage] [--order asc|desc] [--json]
       xsoc alerts show ID [--json]
       xsoc alerts ack ID
       xsoc alerts close ID [--verdict true-positive|false-positive]
       xsoc alerts metrics [--from T] [--to T] [--json]

Talks to a running node (--url, --key or XSOC_URL, XSOC_API_KEY).`

func runAlerts(args []string, stdout, stderr io.Writer) error {
	sub, args := splitSub(args, "json")
	if !slices.Contains([]string{"list", "show", "ack", "close", "metrics"}, sub) {
		return unknownSub(stderr, "alerts", sub, alertsUsage)
	}
	fs := flag.NewFlagSet("alerts "+sub, flag.ContinueOnError)
	client := clientFlags(fs)
	q := url.Values{}
	filters := map[string]*string{}
	names := []string{"from", "to"}
	if sub == "list" {
		names = []string{"severity", "status", "technique", "member", "detector", "rule", "incident", "from", "to", "limit", "cursor", "sort", "order"}
	}
	if sub == "list" || sub == "metrics" {
		for _, name := range names {
			filters[name] = fs.String(name, "", "filter: "+name)
		}
	}
	asJSON := fs.Bool("json", false, "print JSON")
	var verdict *string
	if sub == "close" {
		verdict = fs.String("verdict", "", "true-positive or false-positive (tp, fp): the analyst's verdict, which trains the member's triage model")
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	var body any
	if verdict != nil && *verdict != "" {
		v, err := alert.ParseVerdict(*verdict)
		if err != nil {
			fmt.Fprintf(stderr, "xsoc alerts close: %v\n", err)
			return errUsage
		}
		body = map[string]string{"verdict": string(v)}
	}
	for name, v := range filters {
		if *v != "" {
			q.Set(name, *v)
		}
	}
	if sub != "list" && sub != "metrics" && fs.NArg() != 1 {
		fmt.Fprintf(stderr, "xsoc alerts %s takes one alert id\n\n%s\n", sub, alertsUsage)
		return errUsage
	}
	c, err := client()
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		var page alert.Page
		if err := c.do("GET", "/api/v1/alerts", q, nil, &page); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, page)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tDETECTED\tMEMBER\tSEVERITY\tDETECTOR\tRULE\tTECHNIQUES\tCOUNT\tTRIAGE\tSTATUS\tINCIDENT")
		for _, a := range page.Alerts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", a.ID, a.Detected.Format(time.DateTime), a.Member,
				a.Severity, a.Detector, clip(a.RuleTitle, 48), strings.Join(a.Techniques, ","), a.Count, triageCell(a), statusCell(a), a.Incident)
		}
		tw.Flush()
		if page.Next != "" {
			fmt.Fprintf(stdout, "more: %s--cursor %s\n", sortFlags(q), page.Next)
		}
		return nil
	case "metrics":
		var rep alert.Report
		if err := c.do("GET", "/api/v1/alerts/metrics", q, nil, &rep); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, rep)
		}
		return printMetrics(stdout, rep)
	}
	path := "/api/v1/alerts/" + url.PathEscape(fs.Arg(0))
	method := "GET"
	if sub != "show" {
		method, path = "POST", path+"/"+sub
	}
	var a alert.Alert
	if err := c.do(method, path, nil, body, &a); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, alertJSON(a))
	}
	return printAlert(stdout, a)
}

// triageCell is an alert's triage score for a table ("-" when it has
// none, or it is another member's).
func triageCell(a alert.Alert) string {
	if a.Triage == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", a.Triage.Score)
}

// statusCell is an alert's status, with its verdict once closed with one.
func statusCell(a alert.Alert) string {
	if a.Verdict != "" {
		return string(a.Status) + " (" + string(a.Verdict) + ")"
	}
	return string(a.Status)
}

// sortFlags repeats the --sort and --order of a list, which its next
// page's cursor must be used with.
func sortFlags(q url.Values) string {
	var out string
	for _, name := range []string{"sort", "order"} {
		if v := q.Get(name); v != "" {
			out += "--" + name + " " + v + " "
		}
	}
	return out
}

// alertJSON is an alert with its evidence as JSON objects rather than
// strings holding JSON.
func alertJSON(a alert.Alert) any {
	ev := make([]json.RawMessage, 0, len(a.Evidence))
	for _, e := range a.Evidence {
		if json.Valid([]byte(e)) {
			ev = append(ev, json.RawMessage(e))
		} else {
			s, _ := json.Marshal(e)
			ev = append(ev, s)
		}
	}
	a.Evidence = nil
	return struct {
		alert.Alert
		Evidence []json.RawMessage `json:"evidence,omitempty"`
	}{a, ev}
}

// printAlert prints an alert for people: its facts, observables, and each
// piece of evidence as the event's fields, one a line.
func printAlert(w io.Writer, a alert.Alert) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "alert\t%s\n", a.ID)
	fmt.Fprintf(tw, "rule\t%s %s (%s)\n", a.Detector, a.RuleID, a.RuleTitle)
	fmt.Fprintf(tw, "member\t%s\n", a.Member)
	fmt.Fprintf(tw, "severity\t%s\n", a.Severity)
	fmt.Fprintf(tw, "tlp\t%s\n", a.TLP)
	fmt.Fprintf(tw, "status\t%s\n", statusCell(a))
	if a.Triage != nil {
		fmt.Fprintf(tw, "triage\t%.3f\n", a.Triage.Score)
		for _, f := range a.Triage.Factors {
			fmt.Fprintf(tw, "\t%+.2f  %s\n", f.Weight, f.Feature)
		}
	}
	fmt.Fprintf(tw, "event time\t%s\n", a.EventTime.Format(time.RFC3339))
	fmt.Fprintf(tw, "detected\t%s (%s after the event)\n", a.Detected.Format(time.RFC3339), a.Detected.Sub(a.EventTime).Round(time.Millisecond))
	fmt.Fprintf(tw, "count\t%d\n", a.Count)
	if len(a.Techniques) > 0 {
		fmt.Fprintf(tw, "techniques\t%s\n", strings.Join(a.Techniques, ", "))
	}
	if a.Incident != "" {
		fmt.Fprintf(tw, "incident\t%s\n", a.Incident)
	}
	for _, o := range a.Observables {
		fmt.Fprintf(tw, "observable\t%s %s (%s)\n", o.Type, o.Value, o.Role)
	}
	tw.Flush()
	for i, e := range a.Evidence {
		fmt.Fprintf(w, "\nevidence %d:\n", i+1)
		printEvent(w, e)
	}
	return nil
}

// printEvent prints a flat JSON event as "field  value" lines in field
// order; anything else as it is.
func printEvent(w io.Writer, doc string) {
	var fields map[string]any
	if err := json.Unmarshal([]byte(doc), &fields); err != nil {
		fmt.Fprintf(w, "  %s\n", doc)
		return
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, k := range names {
		v := fields[k]
		if s, ok := v.(string); ok {
			fmt.Fprintf(tw, "  %s\t%s\n", k, s)
			continue
		}
		b, _ := json.Marshal(v)
		fmt.Fprintf(tw, "  %s\t%s\n", k, b)
	}
	tw.Flush()
}

// printMetrics prints the response-time report as a table of durations.
func printMetrics(w io.Writer, rep alert.Report) error {
	fmt.Fprintf(w, "alerts detected %s to %s\n\n", rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSEVERITY\tALERTS\tTIME TO\tN\tMEAN\tP50\tP90\tP99\tMAX")
	for _, g := range rep.Groups {
		for _, m := range []struct {
			name string
			t    alert.Times
		}{{"detect", g.Detect}, {"acknowledge", g.Acknowledge}, {"contain", g.Contain}, {"resolve", g.Resolve}} {
			if m.t.Count == 0 {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", orAll(g.Member), orAll(g.Severity), g.Alerts, m.name, m.t.Count,
				duration(m.t.Mean), duration(m.t.P50), duration(m.t.P90), duration(m.t.P99), duration(m.t.Max))
		}
	}
	return tw.Flush()
}

func orAll(s string) string {
	if s == "" {
		return "all"
	}
	return s
}

// duration rounds d for reading: milliseconds under a minute, seconds
// under a day, minutes beyond.
func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Microsecond).String()
	case d < time.Minute:
		return d.Round(time.Millisecond).String()
	case d < 24*time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

const incidentsUsage = `usage: xsoc incidents list [--status S] [--kind local|campaign] [--cross-border] [--severity S] [--member M] [--assignee A]
                           [--sort created|updated|last_seen|first_seen|severity|alerts|status|nis2_due] [--order asc|desc]
                           [--limit N] [--cursor C] [--json]
       xsoc incidents show ID [--json]
       xsoc incidents update ID [--status S] [--assignee A] [--title T] [--comment C]
       xsoc incidents merge INTO FROM
       xsoc incidents split ID ALERT_ID...
       xsoc incidents audit ID
       xsoc incidents significant ID            (starts the NIS2 clocks)
       xsoc incidents submitted ID REPORT       (early-warning | notification | final-report)

Talks to a running node (--url, --key or XSOC_URL, XSOC_API_KEY).`

// incidentArgs is how many arguments each incidents subcommand takes:
// at least min, at most max (-1: any number).
var incidentArgs = map[string][2]int{
	"list": {0, 0}, "show": {1, 1}, "update": {1, 1}, "merge": {2, 2}, "split": {2, -1},
	"audit": {1, 1}, "significant": {1, 1}, "submitted": {2, 2},
}

func runIncidents(args []string, stdout, stderr io.Writer) error {
	sub, args := splitSub(args, "json", "cross-border")
	nargs, ok := incidentArgs[sub]
	if !ok {
		return unknownSub(stderr, "incidents", sub, incidentsUsage)
	}
	fs := flag.NewFlagSet("incidents "+sub, flag.ContinueOnError)
	client := clientFlags(fs)
	str := func(name, usage string, subs ...string) *string {
		if slices.Contains(subs, sub) {
			return fs.String(name, "", usage)
		}
		return new(string)
	}
	status := str("status", "status: new, triage, contained, resolved, closed", "list", "update")
	kind := str("kind", "local or campaign", "list")
	severity := str("severity", "minimum severity", "list")
	memberID := str("member", "member", "list")
	assignee := str("assignee", "assignee", "list", "update")
	sortKey := str("sort", "order the list by: created (default), updated, last_seen, first_seen, severity, alerts, status or nis2_due", "list")
	order := str("order", "asc or desc (default)", "list")
	limit := str("limit", "incidents per page (default 100)", "list")
	cursor := str("cursor", "the next page, from the previous page's \"more:\" line (with the same --sort and --order)", "list")
	title := str("title", "new title", "update")
	comment := str("comment", "comment to add", "update")
	cross := new(bool)
	if sub == "list" {
		cross = fs.Bool("cross-border", false, "only cross-border incidents")
	}
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() < nargs[0] || (nargs[1] >= 0 && fs.NArg() > nargs[1]) {
		fmt.Fprintf(stderr, "xsoc incidents %s: wrong number of arguments\n\n%s\n", sub, incidentsUsage)
		return errUsage
	}
	c, err := client()
	if err != nil {
		return err
	}
	id := fs.Arg(0)
	base := "/api/v1/incidents/" + url.PathEscape(id)
	var inc correlate.Incident
	switch sub {
	case "list":
		q := url.Values{}
		for k, v := range map[string]string{"status": *status, "kind": *kind, "severity": *severity, "member": *memberID, "assignee": *assignee,
			"sort": *sortKey, "order": *order, "limit": *limit, "cursor": *cursor} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if *cross {
			q.Set("cross_border", "true")
		}
		var page correlate.Page
		if err := c.do("GET", "/api/v1/incidents", q, nil, &page); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, page)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tSEVERITY\tCROSS-BORDER\tCOUNTRIES\tMEMBERS\tALERTS\tTITLE")
		for _, i := range page.Incidents {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\t%d\t%s\n", i.ID, i.Kind, i.Status, i.Severity, i.CrossBorder,
				strings.Join(i.Countries, ","), strings.Join(i.Members, ","), len(i.Timeline), clip(i.Title, 60))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if page.Next != "" {
			fmt.Fprintf(stdout, "more: %s--cursor %s\n", sortFlags(q), page.Next)
		}
		return nil
	case "show":
		err = c.do("GET", base, nil, nil, &inc)
	case "update":
		ch := correlate.Change{Status: correlate.Status(*status), Comment: *comment}
		if *assignee != "" {
			ch.Assignee = assignee
		}
		if *title != "" {
			ch.Title = title
		}
		err = c.do("PATCH", base, nil, ch, &inc)
	case "merge":
		err = c.do("POST", base+"/merge", nil, map[string]string{"from": fs.Arg(1)}, &inc)
	case "split":
		err = c.do("POST", base+"/split", nil, map[string][]string{"alerts": fs.Args()[1:]}, &inc)
	case "audit":
		var out any
		if err := c.do("GET", base+"/audit", nil, nil, &out); err != nil {
			return err
		}
		return printJSON(stdout, out)
	case "significant":
		err = c.do("POST", base+"/nis2/significant", nil, map[string]any{}, &inc)
	case "submitted":
		err = c.do("POST", base+"/nis2/reports", nil, map[string]string{"report": fs.Arg(1)}, &inc)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, inc)
	}
	return printIncident(stdout, inc)
}

// printIncident prints an incident for people: its facts, NIS2 clocks and
// timeline as tables.
func printIncident(w io.Writer, inc correlate.Incident) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "incident\t%s (%s)\n", inc.ID, inc.Kind)
	fmt.Fprintf(tw, "title\t%s\n", inc.Title)
	fmt.Fprintf(tw, "status\t%s\n", inc.Status)
	if inc.Assignee != "" {
		fmt.Fprintf(tw, "assignee\t%s\n", inc.Assignee)
	}
	fmt.Fprintf(tw, "severity\t%s\n", inc.Severity)
	fmt.Fprintf(tw, "seen\t%s to %s\n", inc.FirstSeen.Format(time.RFC3339), inc.LastSeen.Format(time.RFC3339))
	if inc.CrossBorder {
		fmt.Fprintf(tw, "cross-border\tyes\n")
	}
	if len(inc.Countries) > 0 {
		fmt.Fprintf(tw, "countries\t%s\n", strings.Join(inc.Countries, ", "))
	}
	if len(inc.Members) > 0 {
		fmt.Fprintf(tw, "members\t%s\n", strings.Join(inc.Members, ", "))
	}
	if len(inc.Techniques) > 0 {
		fmt.Fprintf(tw, "techniques\t%s\n", strings.Join(inc.Techniques, ", "))
	}
	if inc.MergedInto != "" {
		fmt.Fprintf(tw, "merged into\t%s\n", inc.MergedInto)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := inc.NIS2; n != nil {
		fmt.Fprintf(w, "\nNIS2 significant since %s (marked by %s):\n", n.AwareAt.Format(time.RFC3339), n.MarkedBy)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REPORT\tDUE\tSUBMITTED\tSTATE")
		for _, c := range n.Clocks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Report, c.Due.Format(time.RFC3339), orDash(c.Submitted), clockState(c))
		}
		tw.Flush()
	}
	if len(inc.Timeline) > 0 {
		fmt.Fprintf(w, "\ntimeline (%d alerts):\n", len(inc.Timeline))
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EVENT TIME\tMEMBER\tTACTIC\tRULE\tALERT")
		for _, e := range inc.Timeline {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.EventTime.Format(time.DateTime), e.Member, e.Tactic, clip(e.RuleTitle, 60), e.AlertID)
		}
		tw.Flush()
	}
	return nil
}

func orDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// clockState says where a NIS2 clock stands.
func clockState(c correlate.Clock) string {
	switch {
	case !c.Submitted.IsZero() && c.Late:
		return "submitted late"
	case !c.Submitted.IsZero():
		return "submitted"
	case c.Overdue:
		return "overdue by " + duration(-c.Left)
	}
	return duration(c.Left) + " left"
}

const reportUsage = `usage: xsoc report nis2 INCIDENT [--format markdown|json]

Renders a draft NIS2 notification from the incident's facts.`

func runReport(args []string, stdout, stderr io.Writer) error {
	if len(args) < 1 || args[0] != "nis2" {
		fmt.Fprintln(stderr, reportUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("report nis2", flag.ContinueOnError)
	client := clientFlags(fs)
	format := fs.String("format", "markdown", "markdown or json")
	// Accept the incident id before or after the flags.
	args = args[1:]
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if id == "" {
		id = fs.Arg(0)
	}
	if id == "" {
		fmt.Fprintln(stderr, reportUsage)
		return errUsage
	}
	c, err := client()
	if err != nil {
		return err
	}
	var raw []byte
	if err := c.do("GET", "/api/v1/incidents/"+url.PathEscape(id)+"/nis2/draft", url.Values{"format": {*format}}, nil, &raw); err != nil {
		return err
	}
	_, err = stdout.Write(raw)
	return err
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
