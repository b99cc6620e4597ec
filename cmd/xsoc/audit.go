package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/user"
	"text/tabwriter"

	"github.com/xsoc/xsoc/internal/audit"
	"github.com/xsoc/xsoc/internal/store"
)

const auditUsage = `usage: xsoc audit list [--actor A] [--action TEXT] [--owner MEMBER] [--from T] [--to T] [--limit N] [--before ID] [--json]

The audit log, newest first: administrative actions (operator requests,
changes by any key, the member commands of this tool) and members' reads
of other members' alerts and incidents. Operator key.
Talks to a running node (--url, --key or XSOC_URL, XSOC_API_KEY).`

func runAudit(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprintln(stderr, auditUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("audit list", flag.ContinueOnError)
	client := clientFlags(fs)
	filters := map[string]*string{}
	for _, name := range []string{"actor", "action", "owner", "from", "to", "limit", "before"} {
		filters[name] = fs.String(name, "", "filter: "+name)
	}
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args[1:], stderr); err != nil {
		return err
	}
	q := url.Values{}
	for name, v := range filters {
		if *v != "" {
			q.Set(name, *v)
		}
	}
	c, err := client()
	if err != nil {
		return err
	}
	var page struct {
		Entries []audit.Entry `json:"entries"`
	}
	if err := c.do("GET", "/api/v1/audit", q, nil, &page); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, page)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tACTOR\tFROM\tACTION\tTARGET\tOWNER\tSTATUS")
	for _, e := range page.Entries {
		status := "-"
		if e.Status != 0 {
			status = fmt.Sprint(e.Status)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.UTC().Format("2006-01-02 15:04:05"), e.Actor, e.Remote,
			e.Action, dash(e.Target), dash(e.Owner), status)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// recordCLI writes an audit entry for an administrative command run on
// the store directly, naming the local user and host.
func recordCLI(ctx context.Context, db *store.DB, action, target, detail string) error {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, _ := os.Hostname()
	who += "@" + host
	return audit.New(db).Record(ctx, audit.Entry{Actor: who, Role: "cli", Via: "cli", Remote: who,
		Action: action, Target: target, Detail: detail})
}
