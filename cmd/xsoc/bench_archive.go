package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xsoc/xsoc/internal/archive"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest/format"
)

// benchHunt loads N synthetic events of one member over one day into a
// fresh archive (a temporary directory, a new PostgreSQL schema), runs a
// fixed set of hunting queries on it, prints load cost and query latency
// percentiles, and removes what it created.
func benchHunt(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench hunt", flag.ContinueOnError)
	n := fs.Int("events", 10_000_000, "events to load (one member's day)")
	backend := fs.String("backend", "embedded", "embedded, postgres or both")
	pgURL := fs.String("postgres-url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL for --backend postgres (a schema of its own is created and dropped)")
	runs := fs.Int("runs", 20, "runs of each query")
	dir := fs.String("dir", "", "parent directory of the embedded archive (default: the system's temporary directory)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *n < 1000 || *n > 100_000_000 {
		return fmt.Errorf("bench hunt: --events %d outside 1000..100000000", *n)
	}
	if *runs < 1 || *runs > 1000 {
		return fmt.Errorf("bench hunt: --runs %d outside 1..1000", *runs)
	}
	var backends []string
	switch *backend {
	case "embedded", "postgres":
		backends = []string{*backend}
	case "both":
		backends = []string{"embedded", "postgres"}
	default:
		return fmt.Errorf("bench hunt: --backend %q: embedded, postgres or both", *backend)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	day := huntDay()
	fmt.Fprintf(stdout, "xsoc bench hunt: %d events of one member over %s (UTC), %d runs per query\n",
		*n, day.Format(time.DateOnly), *runs)
	var loads []huntLoad
	var results []huntResult
	for _, b := range backends {
		load, res, err := huntBackend(ctx, b, *n, *runs, day, *dir, *pgURL, stderr)
		if err != nil {
			return err
		}
		loads = append(loads, load)
		results = append(results, res...)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tevents\tload\tevents/s\twrite CPU/event\tdisk/event\t")
	for _, l := range loads {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f\t%.2f µs\t%.0f B\t\n", l.backend, l.events, l.took.Round(time.Second),
			float64(l.events)/l.took.Seconds(), float64(l.cpu.Nanoseconds())/1e3/float64(l.events), float64(l.bytes)/float64(l.events))
	}
	tw.Flush()
	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\tbackend\tresult\tp50\tp99\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.query, r.backend, r.result, r.p50, r.p99)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "write CPU/event: the process's CPU time while loading, less the generator's; load average at the end: %s\n", loadAverage())
	return nil
}

// huntDay is the day the events fill: yesterday (UTC), within the
// retention and query limits of any archive.
func huntDay() time.Time { return time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1) }

// huntLoad is what loading one backend cost.
type huntLoad struct {
	backend string
	events  int
	took    time.Duration
	cpu     time.Duration
	bytes   int64
}

// huntResult is one query's latency on one backend.
type huntResult struct {
	query, backend, result string
	p50, p99               time.Duration
}

// huntBackend opens a fresh archive of one backend, loads it, queries it
// and removes it.
func huntBackend(ctx context.Context, backend string, n, runs int, day time.Time, parent, pgURL string, stderr io.Writer) (huntLoad, []huntResult, error) {
	load := huntLoad{backend: backend, events: n}
	var engine archive.Engine
	switch backend {
	case "embedded":
		root, err := os.MkdirTemp(parent, "xsoc-hunt-")
		if err != nil {
			return load, nil, err
		}
		defer os.RemoveAll(root)
		e, err := archive.OpenEmbedded(ctx, filepath.Join(root, "archive"), false)
		if err != nil {
			return load, nil, err
		}
		engine = e
	case "postgres":
		p, drop, err := openHuntPostgres(ctx, pgURL)
		if err != nil {
			return load, nil, err
		}
		defer drop()
		engine = p
	}
	a, err := archive.New(ctx, engine)
	if err != nil {
		engine.Close()
		return load, nil, err
	}
	defer a.Close()
	fmt.Fprintf(stderr, "bench hunt: loading %d events into %s…\n", n, backend)
	if load.took, load.cpu, err = huntFill(ctx, a, n, day); err != nil {
		return load, nil, err
	}
	usage, err := engine.Usage(ctx)
	if err != nil {
		return load, nil, err
	}
	load.bytes = usage[huntMember].Bytes
	fmt.Fprintf(stderr, "bench hunt: loaded in %s; querying…\n", load.took.Round(time.Second))
	var out []huntResult
	for _, q := range huntQueries(day, n) {
		var took []time.Duration
		var result string
		for range runs {
			start := time.Now()
			r, err := q.run(ctx, a)
			took = append(took, time.Since(start))
			if err != nil {
				if !archive.IsBadQuery(err) {
					return load, nil, fmt.Errorf("bench hunt: %s on %s: %w", q.name, backend, err)
				}
				r = "refused: " + err.Error()
				if i := strings.Index(r, ";"); i > 0 {
					r = r[:i]
				}
			}
			result = r
			if ctx.Err() != nil {
				return load, nil, ctx.Err()
			}
		}
		slices.Sort(took)
		out = append(out, huntResult{query: q.name, backend: backend, result: result, p50: pct(took, 0.5), p99: pct(took, 0.99)})
	}
	return load, out, nil
}

// openHuntPostgres opens the PostgreSQL engine on a new schema and
// returns the function that drops it.
func openHuntPostgres(ctx context.Context, url string) (*archive.Postgres, func(), error) {
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("bench hunt: postgres: %w", err)
	}
	var b [6]byte
	crand.Read(b[:])
	schema := "xsoc_bench_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close(ctx)
		return nil, nil, fmt.Errorf("bench hunt: postgres: %w", err)
	}
	drop := func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	p, err := archive.OpenPostgres(ctx, url+sep+"search_path="+schema)
	if err != nil {
		drop()
		return nil, nil, err
	}
	return p, drop, nil
}

// huntGroup is how many events the loader writes at a time, as the
// archiver does.
const huntGroup = 16384

// huntFill writes n generated events, returning the wall time and the
// process CPU time spent, less the generator's.
func huntFill(ctx context.Context, a *archive.Archive, n int, day time.Time) (time.Duration, time.Duration, error) {
	type group struct {
		evs    []*event.Event
		genCPU time.Duration
	}
	ready := make(chan *group, 2)
	free := make(chan *group, 3)
	for range 3 {
		free <- &group{}
	}
	genCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(ready)
		runtime.LockOSThread() // threadCPU measures this goroutine's thread
		g := newHuntGen(n, day)
		for i := 0; i < n; i += huntGroup {
			var grp *group
			select {
			case grp = <-free:
			case <-genCtx.Done():
				return
			}
			start := threadCPU()
			grp.evs = g.fill(grp.evs, min(huntGroup, n-i))
			grp.genCPU = threadCPU() - start
			ready <- grp
		}
	}()
	start, cpu0 := time.Now(), processCPU()
	var gen time.Duration
	seq := uint64(0)
	for grp := range ready {
		seq++
		gen += grp.genCPU
		if err := a.Write(ctx, []archive.Batch{{Stream: 1, Seq: seq, Member: huntMember, Events: grp.evs}}); err != nil {
			return 0, 0, err
		}
		free <- grp
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	return time.Since(start), processCPU() - cpu0 - gen, nil
}

const huntMember = "bench-member"

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// huntGen makes the synthetic day: 55% Sysmon process creations (about
// 690 bytes each), 30% firewall connections and 15% DNS queries (ECS
// JSON, about 400 and 330 bytes), from 5,000 hosts and 900 users, in time
// order over the day. A few needles are planted at fixed intervals for
// the selective queries: a rare hash, a rare tool on the command line,
// connections to 203.0.113.0/24 and huge transfers.
type huntGen struct {
	r      *rand.Rand
	parser format.Parser
	n, i   int
	day    time.Time
	line   []byte
}

func newHuntGen(n int, day time.Time) *huntGen {
	return &huntGen{r: rand.New(rand.NewPCG(7, 11)), n: n, day: day}
}

// huntNeedles is how many needles the day holds, alternately in process
// creations (the rare hash and tool) and connections (the rare network,
// the huge transfer).
const huntNeedles = 10

const huntRareHash = "5f4dcc3b5aa765d61d8327deb882cf99e3b0c44298fc1c149afbf4c8996fb924"

var huntImages = []string{`C:\Windows\System32\svchost.exe`, `C:\Program Files\Google\Chrome\Application\chrome.exe`,
	`C:\Windows\explorer.exe`, `C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`,
	`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `C:\Windows\System32\cmd.exe`,
	`C:\Windows\System32\conhost.exe`, `C:\Windows\System32\taskhostw.exe`, `C:\Windows\System32\wbem\WmiPrvSE.exe`,
	`C:\Program Files\Mozilla Firefox\firefox.exe`, `C:\Windows\System32\rundll32.exe`, `C:\Windows\System32\msiexec.exe`}

var huntPorts = []int{443, 443, 443, 80, 53, 445, 3389, 22, 8080, 389}

// fill parses the next k events into evs, reusing its events.
func (g *huntGen) fill(evs []*event.Event, k int) []*event.Event {
	for len(evs) < k {
		evs = append(evs, new(event.Event))
	}
	evs = evs[:k]
	for j := range evs {
		ev := evs[j]
		ev.Reset()
		g.next()
		if err := g.parser.Parse(format.Auto, g.line, ev); err != nil {
			panic(fmt.Sprintf("bench hunt: generated line does not parse: %v: %s", err, g.line))
		}
		ev.ID = "e" + fmt.Sprint(g.i)
		ev.Member = huntMember
		ev.Ingested = ev.Time.Add(2 * time.Second)
		g.i++
	}
	return evs
}

// next writes the line of event g.i.
func (g *huntGen) next() {
	r, i := g.r, g.i
	// i×24h overflows int64 nanoseconds beyond 106,751 events: scale in float.
	t := g.day.Add(time.Duration(float64(i) / float64(g.n) * float64(24*time.Hour))).Add(time.Duration(r.IntN(1000)) * time.Microsecond)
	ts := t.Format(time.RFC3339Nano)
	host := r.IntN(5000)
	every := g.n / huntNeedles
	needle := i%every == every/2 && i/every < huntNeedles
	k := r.IntN(100)
	if needle {
		k = 60 * (i / every % 2) // 0: a process creation, 60: a connection
	}
	b := g.line[:0]
	switch {
	case k < 55:
		img := huntImages[r.IntN(len(huntImages))]
		cmd := strings.ReplaceAll(img, `\`, `\\`) + fmt.Sprintf(" --type=renderer --lang=en-US --field-trial-handle=%d", r.Uint32())
		hash := fmt.Sprintf("%064x", r.Uint64()%5000)
		if needle {
			cmd, hash = `C:\\Users\\Public\\m.exe privilege::debug sekurlsa::logonpasswords mimikatz`, huntRareHash
		}
		b = fmt.Appendf(b, `{"@timestamp":"%s","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS-%04d.corp.example","event_data":{"Image":%q,"CommandLine":"%s","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\user%03d","ProcessId":"%d","Hashes":"SHA256=%s","IntegrityLevel":"Medium","CurrentDirectory":"C:\\Users\\user%03d\\"}}}`,
			ts, host, img, cmd, r.IntN(900), r.IntN(60000), hash, r.IntN(900))
	case k < 85:
		dst := fmt.Sprintf("%d.%d.%d.%d", 13+r.IntN(180), r.IntN(256), r.IntN(256), 1+r.IntN(254))
		bytes := r.IntN(2_000_000)
		if needle {
			dst, bytes = fmt.Sprintf("203.0.113.%d", 1+r.IntN(254)), 7_000_000_000+r.IntN(1000)
		}
		b = fmt.Appendf(b, `{"@timestamp":"%s","event":{"kind":"event","category":"network","type":"connection","action":"allow","dataset":"firewall.traffic"},"observer":{"vendor":"Example","product":"NGFW"},"host":{"name":"WS-%04d.corp.example"},"source":{"ip":"10.%d.%d.%d","port":%d},"destination":{"ip":"%s","port":%d,"bytes":%d},"network":{"transport":"tcp","direction":"outbound"},"rule":{"name":"allow-web-out"}}`,
			ts, host, host/250, host%250, 1+r.IntN(250), 49152+r.IntN(16000), dst, huntPorts[r.IntN(len(huntPorts))], bytes)
	default:
		b = fmt.Appendf(b, `{"@timestamp":"%s","event":{"kind":"event","category":"network","type":"protocol","dataset":"dns.query"},"host":{"name":"WS-%04d.corp.example"},"source":{"ip":"10.%d.%d.%d"},"dns":{"question":{"name":"cdn%d.site%d.example.com","type":"A"},"response_code":"NOERROR"},"network":{"transport":"udp","protocol":"dns"}}`,
			ts, host, host/250, host%250, 1+r.IntN(250), r.IntN(20), r.IntN(20000))
	}
	g.line = b
}

// huntQuery is one query of the benchmark.
type huntQuery struct {
	name string
	run  func(ctx context.Context, a *archive.Archive) (string, error)
}

// huntQueries are the queries measured, over the whole day unless said.
func huntQueries(day time.Time, n int) []huntQuery {
	q := func(filters ...archive.Filter) archive.Query {
		return archive.Query{Member: huntMember, From: day, To: day.Add(24 * time.Hour), Filters: filters}
	}
	f := func(op archive.Op, field, value string) archive.Filter {
		return archive.Filter{Field: field, Op: op, Value: value}
	}
	search := func(name string, q archive.Query) huntQuery {
		return huntQuery{name, func(ctx context.Context, a *archive.Archive) (string, error) {
			p, err := a.Search(ctx, q)
			return fmt.Sprintf("%d events", len(p.Events)), err
		}}
	}
	count := func(name string, q archive.Query) huntQuery {
		return huntQuery{name, func(ctx context.Context, a *archive.Archive) (string, error) {
			n, err := a.Count(ctx, q)
			return fmt.Sprintf("%d", n), err
		}}
	}
	top := func(name string, q archive.Query, field string) huntQuery {
		return huntQuery{name, func(ctx context.Context, a *archive.Archive) (string, error) {
			b, err := a.Top(ctx, q, field, 10)
			if err != nil || len(b) == 0 {
				return "0 values", err
			}
			return fmt.Sprintf("%d values, first %s×%d", len(b), b[0].Value, b[0].Count), err
		}}
	}
	hour := q()
	hour.From, hour.To = day.Add(13*time.Hour), day.Add(13*time.Hour+time.Minute)
	return []huntQuery{
		search("eq rare hash (search)", q(f(archive.Eq, "process.hash.sha256", huntRareHash))),
		search("eq event.id (search)", q(f(archive.Eq, "event.id", "e"+fmt.Sprint(n/2+1)))),
		search("eq host.name (search)", q(f(archive.Eq, "host.name", "ws-0042.corp.example"))),
		search("prefix host.name (search)", q(f(archive.Prefix, "host.name", "WS-004"))),
		search("contains command line (search)", q(f(archive.Contains, "process.command_line", "mimikatz"))),
		search("cidr destination.ip (search)", q(f(archive.CIDR, "destination.ip", "203.0.113.0/24"))),
		search("range destination.bytes (search)", q(f(archive.Gte, "destination.bytes", "5000000000"))),
		search("one minute, no filter (search)", hour),
		count("count, whole day", q()),
		count("count eq host.name", q(f(archive.Eq, "host.name", "WS-0042.corp.example"))),
		count("count cidr source.ip /24", q(f(archive.CIDR, "source.ip", "10.0.42.0/24"))),
		top("top 10 destination.port, hosts WS-00*", q(f(archive.Prefix, "host.name", "WS-00")), "destination.port"),
		top("top 10 host.name, whole day", q(), "host.name"),
	}
}

// loadAverage is the machine's 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
