package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/archive"
	"github.com/xsoc/xsoc/internal/event"
)

const eventsUsage = `usage: xsoc events search [filters] [--limit N] [--pages N] [--json]   matching events, newest first
       xsoc events count [filters]                                      how many match
       xsoc events top --field F [--n 10] [filters]                     most frequent values of a field
       xsoc events retention --member M [--days N] [--bytes N]          show, or set (operator key), how long M's events are kept

filters: --from T --to T (RFC 3339) or --last 2h (default: the last day; at most 31 days)
         --where FIELD=VALUE (equal, ignoring case) or --where OP.FIELD=VALUE, op one of
         eq, prefix, contains, cidr, gte, gt, lte, lt; repeat --where, every filter must hold
         --text S   text anywhere in the event
examples: xsoc events search --last 1h --where host.name=WS-0042 --where cidr.source.ip=10.0.0.0/8
          xsoc events top --field process.name --where prefix.process.command_line=powershell

Searches the calling member's own events on a running node (--url, --key or XSOC_URL, XSOC_API_KEY).`

// whereFlags collects repeated --where filters.
type whereFlags []string

func (w *whereFlags) String() string     { return strings.Join(*w, " ") }
func (w *whereFlags) Set(v string) error { *w = append(*w, v); return nil }

func runEvents(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "retention" {
		return eventsRetention(args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "search" && args[0] != "count" && args[0] != "top") {
		fmt.Fprintln(stderr, eventsUsage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("events "+sub, flag.ContinueOnError)
	client := clientFlags(fs)
	from := fs.String("from", "", "start of the time range (RFC 3339)")
	to := fs.String("to", "", "end of the time range (RFC 3339; default now)")
	last := fs.Duration("last", 0, "the time range ending now, e.g. 2h (instead of --from)")
	text := fs.String("text", "", "text anywhere in the event, ignoring case")
	var where whereFlags
	fs.Var(&where, "where", "filter FIELD=VALUE or OP.FIELD=VALUE (repeatable)")
	limit := fs.Int("limit", 100, "events per page (search)")
	pages := fs.Int("pages", 1, "pages to fetch, following the cursor (search)")
	field := fs.String("field", "", "field whose values to count (top)")
	n := fs.Int("n", 10, "values to show (top)")
	asJSON := fs.Bool("json", false, "print JSON (search: one event per line)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	q, err := eventsQuery(*from, *to, *last, *text, where)
	if err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	switch sub {
	case "count":
		var out struct {
			Count int64 `json:"count"`
		}
		if err := c.do("GET", "/api/v1/events/count", q, nil, &out); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, out)
		}
		fmt.Fprintln(stdout, out.Count)
		return nil
	case "top":
		if *field == "" {
			return errors.New("top needs --field")
		}
		q.Set("field", *field)
		q.Set("n", strconv.Itoa(*n))
		var out struct {
			Field   string           `json:"field"`
			Buckets []archive.Bucket `json:"buckets"`
		}
		if err := c.do("GET", "/api/v1/events/top", q, nil, &out); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, out)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "COUNT\t%s\n", strings.ToUpper(*field))
		for _, b := range out.Buckets {
			fmt.Fprintf(tw, "%d\t%s\n", b.Count, b.Value)
		}
		return tw.Flush()
	}
	q.Set("limit", strconv.Itoa(*limit))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "TIME\tHOST\tDATASET\tEVENT")
	}
	shown := 0
	for page := 0; page < *pages; page++ {
		var out struct {
			Events []json.RawMessage `json:"events"`
			Next   string            `json:"next"`
		}
		if err := c.do("GET", "/api/v1/events", q, nil, &out); err != nil {
			return err
		}
		for _, doc := range out.Events {
			shown++
			if *asJSON {
				fmt.Fprintf(stdout, "%s\n", doc)
				continue
			}
			printEventRow(tw, doc)
		}
		if out.Next == "" {
			break
		}
		q.Set("cursor", out.Next)
	}
	if *asJSON {
		return nil
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "(%d events)\n", shown)
	return nil
}

// eventsQuery turns the command's filter flags into API parameters.
func eventsQuery(from, to string, last time.Duration, text string, where []string) (url.Values, error) {
	q := url.Values{}
	if last > 0 {
		if from != "" {
			return nil, errors.New("give --from or --last, not both")
		}
		from = time.Now().Add(-last).UTC().Format(time.RFC3339Nano)
	}
	for name, v := range map[string]string{"from": from, "to": to, "q": text} {
		if v != "" {
			q.Set(name, v)
		}
	}
	for _, w := range where {
		lhs, value, ok := strings.Cut(w, "=")
		if !ok || lhs == "" {
			return nil, fmt.Errorf("--where %q: want FIELD=VALUE or OP.FIELD=VALUE", w)
		}
		op, name, _ := strings.Cut(lhs, ".")
		if !archive.IsOp(op) || name == "" {
			op, name = string(archive.Eq), lhs
		}
		q.Add(op+"."+name, value)
	}
	return q, nil
}

// printEventRow prints one event as a table row: its time, host,
// dataset and the field that says most about it.
func printEventRow(w io.Writer, doc json.RawMessage) {
	var ev event.Event
	if ev.ParseJSON(doc) != nil {
		fmt.Fprintf(w, "?\t?\t?\t%s\n", clip(strings.ReplaceAll(string(doc), "\n", " "), 120))
		return
	}
	summary := ""
	for _, name := range []string{"process.command_line", "message", "url.full", "dns.question.name", "event.action"} {
		if v, ok := ev.Get(name); ok {
			summary = v
			break
		}
	}
	if summary == "" {
		summary = string(ev.Original)
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", ev.Time.Format(time.RFC3339), ev.Key(event.HostName), ev.Key(event.EventDataset), clip(strings.ReplaceAll(summary, "\n", " "), 100))
}

// eventsRetention shows or sets a member's retention.
func eventsRetention(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("events retention", flag.ContinueOnError)
	client := clientFlags(fs)
	id := fs.String("member", "", "member id")
	days := fs.Int("days", -1, "keep this many days, the current one included (0: no limit)")
	size := fs.Int64("bytes", -1, "keep at most this many bytes, dropping the oldest days first (0: no limit)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *id == "" {
		return errors.New("retention needs --member")
	}
	c, err := client()
	if err != nil {
		return err
	}
	path := "/api/v1/members/" + url.PathEscape(*id) + "/retention"
	var out struct {
		Member string `json:"member"`
		archive.Retention
	}
	if err := c.do("GET", path, nil, nil, &out); err != nil {
		return err
	}
	if *days >= 0 || *size >= 0 {
		set := out.Retention
		if *days >= 0 {
			set.Days = *days
		}
		if *size >= 0 {
			set.Bytes = *size
		}
		if err := c.do("PUT", path, nil, set, &out); err != nil {
			return err
		}
	}
	if *asJSON {
		return printJSON(stdout, out)
	}
	limit := func(n int64, unit string) string {
		if n == 0 {
			return "no limit"
		}
		return strconv.FormatInt(n, 10) + " " + unit
	}
	fmt.Fprintf(stdout, "%s keeps its events: %s, %s\n", out.Member, limit(int64(out.Days), "days"), limit(out.Bytes, "bytes"))
	return nil
}
