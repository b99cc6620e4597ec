package archive

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest/format"
	"github.com/xsoc/xsoc/internal/store"
)

// sysmonEvents parses n realistic Sysmon process-creation records
// (winlogbeat form, about 600 bytes each, with unique GUID-like ids,
// hashes, PIDs and command-line arguments) into normalised events, as the
// archiver hands them to the engine.
func sysmonEvents(tb testing.TB, n int) ([]*event.Event, int) {
	r := rand.New(rand.NewPCG(1, 2))
	images := []string{`C:\Windows\System32\svchost.exe`, `C:\Program Files\Google\Chrome\Application\chrome.exe`,
		`C:\Windows\explorer.exe`, `C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`,
		`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `C:\Windows\System32\cmd.exe`}
	var p format.Parser
	out := make([]*event.Event, n)
	raw := 0
	now := time.Now().UTC()
	for i := range out {
		img := images[r.IntN(len(images))]
		line := fmt.Sprintf(`{"@timestamp":"%s","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS-%04d.corp.example","event_data":{"Image":%q,"CommandLine":"%s --type=renderer --lang=en-US --field-trial-handle=%d","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\user%03d","ProcessId":"%d","Hashes":"SHA256=%064x","IntegrityLevel":"Medium","CurrentDirectory":"C:\\Users\\user%03d\\"}},"host":{"name":"WS-%04d"},"event":{"id":"b-%d-%d"}}`,
			now.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), r.IntN(5000), img, strings.ReplaceAll(img, `\`, `\\`),
			r.Uint32(), r.IntN(900), r.IntN(60000), r.Uint64(), r.IntN(900), r.IntN(5000), i, r.Uint32())
		raw += len(line)
		ev := new(event.Event)
		if err := p.Parse(format.Auto, []byte(line), ev); err != nil {
			tb.Fatal(err)
		}
		ev.ID, ev.Member, ev.Ingested = fmt.Sprintf("b-%d", i), "m1", now
		out[i] = ev
	}
	return out, raw / n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// candidate is one way of storing events, measured side by side.
type candidate struct {
	name string
	// open returns a write function over groups of events and the
	// directory holding its files (empty: bytes come from size).
	open func(b *testing.B, dir string) (write func([]*event.Event) error, size func() int64, close func())
}

// BenchmarkArchiveEngines writes the same parsed Sysmon events, 16,384 per
// group as the archiver does, with each candidate engine and reports CPU
// per event (the process's CPU time while writing, SQLite and garbage
// collection included; PostgreSQL's own CPU is not) and bytes on disk per
// event. XSOC_BENCH_EVENTS sets the event count (default 65,536).
func BenchmarkArchiveEngines(b *testing.B) {
	evs, rawSize := benchEvents(b)
	ctx := context.Background()
	candidates := []candidate{
		{"columnar-zstd-blocks", openColumnar},
		{"json-lines-zstd-blocks", func(b *testing.B, dir string) (func([]*event.Event) error, func() int64, func()) {
			db := benchDB(b, dir, `CREATE TABLE blocks (id INTEGER PRIMARY KEY, t_min INTEGER, t_max INTEGER, n INTEGER, data BLOB)`)
			c := newCodec()
			var raw, out []byte
			return func(evs []*event.Event) error {
				raw = raw[:0]
				for _, ev := range evs {
					raw = append(ev.AppendJSON(raw), '\n')
				}
				out = c.compress(out[:0], raw)
				_, err := db.Exec(ctx, `INSERT INTO blocks (t_min, t_max, n, data) VALUES (?, ?, ?, ?)`, 0, 0, len(evs), out)
				return err
			}, func() int64 { return dirBytes(dir) }, func() { db.Close() }
		}},
		{"json-row-per-event", func(b *testing.B, dir string) (func([]*event.Event) error, func() int64, func()) {
			db := benchDB(b, dir, `CREATE TABLE events (round INTEGER, member TEXT, id TEXT, ts BIGINT, ingested BIGINT, doc TEXT, PRIMARY KEY (member, id, round));
CREATE INDEX events_ts ON events (member, ts)`)
			var buf []byte
			round := 0
			return func(evs []*event.Event) error {
				round++
				return db.InTx(ctx, func(tx *store.Tx) error {
					for len(evs) > 0 {
						k := min(len(evs), 200)
						var q strings.Builder
						q.WriteString("INSERT INTO events VALUES ")
						args := make([]any, 0, 6*k)
						for i, ev := range evs[:k] {
							if i > 0 {
								q.WriteByte(',')
							}
							q.WriteString("(?,?,?,?,?,?)")
							buf = ev.AppendJSON(buf[:0])
							args = append(args, round, ev.Member, ev.ID, ev.Time.UnixNano(), ev.Ingested.UnixNano(), string(buf))
						}
						if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
							return err
						}
						evs = evs[k:]
					}
					return nil
				})
			}, func() int64 { return dirBytes(dir) }, func() { db.Close() }
		}},
	}
	if os.Getenv("XSOC_TEST_POSTGRES") != "skip" {
		candidates = append(candidates, candidate{"postgres-copy-jsonb", func(b *testing.B, _ string) (func([]*event.Event) error, func() int64, func()) {
			p := openTestPostgres(b).(*Postgres)
			seq := uint64(0)
			return func(evs []*event.Event) error {
					seq++
					return p.Write(ctx, []Batch{{Stream: 1, Seq: seq, Member: "m1", Events: evs}})
				}, func() int64 {
					var size int64
					p.pool.QueryRow(ctx, `SELECT COALESCE(SUM(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits WHERE inhparent = 'archive_events'::regclass`).Scan(&size)
					return size
				}, func() {}
		}})
	}
	for _, c := range candidates {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			write, size, closeFn := c.open(b, dir)
			defer closeFn()
			writeAll := func() { writeGroups(b, write, evs) }
			writeAll() // warm up: buffers sized, files created
			runtime.GC()
			b.ReportAllocs()
			start, written := cpuTime(), 0
			for b.Loop() {
				writeAll()
				written += len(evs)
			}
			cpu := cpuTime() - start
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(written), "cpu-µs/event")
			b.ReportMetric(float64(size())/float64(written+len(evs)), "disk-B/event")
			b.ReportMetric(float64(rawSize), "input-B/event")
		})
	}
}

// benchEvents returns the events a write benchmark writes per iteration
// (XSOC_BENCH_EVENTS, default 65,536) and their mean size as input.
func benchEvents(b *testing.B) ([]*event.Event, int) {
	n := 1 << 16
	if s := os.Getenv("XSOC_BENCH_EVENTS"); s != "" {
		fmt.Sscan(s, &n)
	}
	return sysmonEvents(b, n)
}

// writeGroups writes evs 16,384 at a time, as the archiver groups them.
func writeGroups(b *testing.B, write func([]*event.Event) error, evs []*event.Event) {
	for i := 0; i < len(evs); i += 16384 {
		if err := write(evs[i:min(i+16384, len(evs))]); err != nil {
			b.Fatal(err)
		}
	}
}

// openColumnar opens the embedded engine under dir for a benchmark.
func openColumnar(b *testing.B, dir string) (func([]*event.Event) error, func() int64, func()) {
	ctx := context.Background()
	e, err := OpenEmbedded(ctx, dir, false)
	if err != nil {
		b.Fatal(err)
	}
	seq := uint64(0)
	return func(evs []*event.Event) error {
		seq++
		return e.Write(ctx, []Batch{{Stream: 1, Seq: seq, Member: "m1", Events: evs}})
	}, func() int64 { return dirBytes(dir) }, func() { e.Close() }
}

// BenchmarkEmbeddedWrite writes parsed Sysmon events (those xsoc bench
// e2e sends), 16,384 per call as the archiver groups them, into the
// embedded engine, and reports the process's CPU per event (blocks,
// statistics, compression, SQLite, garbage collection) and the bytes
// per event of the partition files once closed (without the WAL, which
// only holds pages on their way into them). XSOC_BENCH_EVENTS sets the
// events written per iteration (default 65,536).
func BenchmarkEmbeddedWrite(b *testing.B) {
	evs, _ := benchEvents(b)
	write, size, closeFn := openColumnar(b, b.TempDir())
	writeAll := func() { writeGroups(b, write, evs) }
	writeAll() // warm up: buffers sized, the file created
	runtime.GC()
	b.ReportAllocs()
	start, written := cpuTime(), len(evs)
	for b.Loop() {
		writeAll()
		written += len(evs)
	}
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(written-len(evs)), "cpu-ns/event")
	closeFn()
	b.ReportMetric(float64(size())/float64(written), "disk-B/event")
}

// BenchmarkPostgresWrite is BenchmarkEmbeddedWrite on the PostgreSQL
// engine (the machine's server, a schema of its own): this process's CPU
// per event — COPY's encoding, the ledger, the counts — without the
// server's, which works beside it.
func BenchmarkPostgresWrite(b *testing.B) {
	evs, _ := benchEvents(b)
	ctx := context.Background()
	e := openTestPostgres(b)
	seq := uint64(0)
	write := func(evs []*event.Event) error {
		seq++
		return e.Write(ctx, []Batch{{Stream: 1, Seq: seq, Member: "m1", Events: evs}})
	}
	writeGroups(b, write, evs) // warm up: the day's partition created
	runtime.GC()
	b.ReportAllocs()
	start, written := cpuTime(), 0
	for b.Loop() {
		writeGroups(b, write, evs)
		written += len(evs)
	}
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(written), "cpu-ns/event")
}

func benchDB(b *testing.B, dir, schema string) *store.DB {
	db, err := store.OpenSQLite(filepath.Join(dir, "x.db"), store.SyncNormal())
	if err != nil {
		b.Fatal(err)
	}
	for _, stmt := range strings.Split(schema, ";\n") {
		if _, err := db.Exec(context.Background(), stmt); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// BenchmarkBlockWriter gathers one block of parsed Sysmon events into
// columns, its head encoded: the writer's share of the archive's CPU
// before compression and SQLite.
func BenchmarkBlockWriter(b *testing.B) {
	evs, _ := sysmonEvents(b, maxBlockEvents)
	w := newBlockWriter()
	var head []byte
	w.addAll(evs) // warm up: buffers sized
	runtime.GC()
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		w.reset()
		w.addAll(evs)
		head = w.encodeHead(head[:0])
	}
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N*len(evs)), "cpu-ns/event")
}

// BenchmarkBlockRead decompresses and decodes columns of one block of
// parsed Sysmon events, as a query does: every column (a search returning
// the block's events), and the command lines alone (a contains filter;
// they may refer to the executables' column).
func BenchmarkBlockRead(b *testing.B) {
	evs, _ := sysmonEvents(b, maxBlockEvents)
	w := newBlockWriter()
	w.addAll(evs)
	c := newCodec()
	cols := map[string][]byte{}
	for _, col := range w.order {
		cols[col.name] = c.compressColumn(nil, col.buf, col.name, len(evs))
	}
	head := w.encodeHead(nil)
	for _, bc := range []struct {
		name string
		cols func(*block) []string
	}{
		{"all", func(blk *block) []string { return blk.names }},
		{"command_line", func(*block) []string { return []string{"process.command_line"} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				blk, err := decodeBlock(head, func(name string) ([]byte, error) { return c.decompress(cols[name]) })
				if err != nil {
					b.Fatal(err)
				}
				for _, name := range bc.cols(blk) {
					if _, err := blk.column(name); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N*len(evs)), "cpu-ns/event")
		})
	}
}
