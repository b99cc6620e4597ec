package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
)

const alertsUsage = `usage: xsoc alerts list [--severity S] [--status S] [--technique T] [--member M] [--from T] [--to T] [--limit N] [--json]
       xsoc alerts show ID
       xsoc alerts ack ID
       xsoc alerts close ID
       xsoc alerts metrics [--from T] [--to T]

Talks to a running node (--url, --key or XSOC_URL, XSOC_API_KEY).`

func runAlerts(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, alertsUsage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("alerts "+sub, flag.ContinueOnError)
	client := clientFlags(fs)
	q := url.Values{}
	filters := map[string]*string{}
	if sub == "list" || sub == "metrics" {
		for _, name := range []string{"severity", "status", "technique", "member", "detector", "rule", "incident", "from", "to", "limit", "cursor"} {
			filters[name] = fs.String(name, "", "filter: "+name)
		}
	}
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	for name, v := range filters {
		if *v != "" {
			q.Set(name, *v)
		}
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
		fmt.Fprintln(tw, "ID\tDETECTED\tMEMBER\tSEVERITY\tDETECTOR\tRULE\tTECHNIQUES\tCOUNT\tSTATUS\tINCIDENT")
		for _, a := range page.Alerts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", a.ID, a.Detected.Format(time.DateTime), a.Member,
				a.Severity, a.Detector, clip(a.RuleTitle, 48), strings.Join(a.Techniques, ","), a.Count, a.Status, a.Incident)
		}
		tw.Flush()
		if page.Next != "" {
			fmt.Fprintf(stdout, "more: --cursor %s\n", page.Next)
		}
		return nil
	case "metrics":
		var rep alert.Report
		if err := c.do("GET", "/api/v1/alerts/metrics", q, nil, &rep); err != nil {
			return err
		}
		return printJSON(stdout, rep)
	case "show", "ack", "close":
		if fs.NArg() != 1 {
			return errors.New(sub + " takes one alert id")
		}
		path := "/api/v1/alerts/" + url.PathEscape(fs.Arg(0))
		method := "GET"
		if sub != "show" {
			method, path = "POST", path+"/"+sub
		}
		var a alert.Alert
		if err := c.do(method, path, nil, nil, &a); err != nil {
			return err
		}
		return printJSON(stdout, a)
	}
	fmt.Fprintln(stderr, alertsUsage)
	return errUsage
}

const incidentsUsage = `usage: xsoc incidents list [--status S] [--kind local|campaign] [--cross-border] [--severity S] [--member M] [--json]
       xsoc incidents show ID
       xsoc incidents update ID [--status S] [--assignee A] [--title T] [--comment C]
       xsoc incidents merge INTO FROM
       xsoc incidents split ID ALERT_ID...
       xsoc incidents audit ID
       xsoc incidents significant ID            (starts the NIS2 clocks)
       xsoc incidents submitted ID REPORT       (early-warning | notification | final-report)

Talks to a running node (--url, --key or XSOC_URL, XSOC_API_KEY).`

func runIncidents(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, incidentsUsage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("incidents "+sub, flag.ContinueOnError)
	client := clientFlags(fs)
	status := fs.String("status", "", "status")
	kind := fs.String("kind", "", "local or campaign")
	cross := fs.Bool("cross-border", false, "only cross-border incidents")
	severity := fs.String("severity", "", "minimum severity")
	memberID := fs.String("member", "", "member")
	assignee := fs.String("assignee", "", "assignee")
	title := fs.String("title", "", "new title")
	comment := fs.String("comment", "", "comment to add")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, stderr); err != nil {
		return err
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
		for k, v := range map[string]string{"status": *status, "kind": *kind, "severity": *severity, "member": *memberID, "assignee": *assignee} {
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
		return tw.Flush()
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
		err = c.do("POST", base+"/split", nil, map[string][]string{"alerts": fs.Args()[min(1, fs.NArg()):]}, &inc)
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
	default:
		fmt.Fprintln(stderr, incidentsUsage)
		return errUsage
	}
	if err != nil {
		return err
	}
	return printJSON(stdout, inc)
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
