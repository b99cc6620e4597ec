package archive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// testPostgresURL creates a private schema on the test server, dropped
// when the test ends, and returns the URL whose search path is it.
func testPostgresURL(t testing.TB) string {
	t.Helper()
	if os.Getenv("XSOC_TEST_POSTGRES") == "skip" {
		t.Skip("XSOC_TEST_POSTGRES=skip")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, storetest.PostgresURL())
	if err != nil {
		t.Fatalf("PostgreSQL not reachable (start it, or set XSOC_TEST_POSTGRES=skip): %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "xsoc_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	})
	sep := "?"
	if strings.Contains(storetest.PostgresURL(), "?") {
		sep = "&"
	}
	return storetest.PostgresURL() + sep + "search_path=" + schema
}

// openTestPostgres opens the PostgreSQL engine on a private schema of the
// test server, dropped when the test ends.
func openTestPostgres(t testing.TB) Engine {
	t.Helper()
	p, err := OpenPostgres(context.Background(), testPostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestPostgresRefusesNewerSchema: a schema upgraded by a newer xsoc stops
// an older worker at start and at its next write, with what to do.
func TestPostgresRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	url := testPostgresURL(t)
	old, err := OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := old.pool.Exec(ctx, `UPDATE archive_schema SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	_, err = OpenPostgres(ctx, url)
	if !errors.Is(err, ErrSchemaVersion) || !strings.Contains(err.Error(), "upgrade this worker") {
		t.Errorf("open on a newer schema: %v", err)
	}
	err = old.Write(ctx, []Batch{{Stream: 1, Seq: 1, Member: "m1", Events: testEvents("m1", 0, 10)}})
	if !errors.Is(err, ErrSchemaVersion) {
		t.Errorf("write on a newer schema: %v", err)
	}
	if n, err := old.Total(ctx, "m1"); err != nil || n != 0 {
		t.Errorf("refused write stored %d events (%v)", n, err)
	}
}

// TestPostgresMigratesVersion1: an archive written before schema versions
// (no typed columns) is upgraded at start, and its old events are found
// through the typed columns' indexes like new ones.
func TestPostgresMigratesVersion1(t *testing.T) {
	ctx := context.Background()
	url := testPostgresURL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := migrate(ctx, pool, 1); err != nil {
		t.Fatal(err)
	}
	day := dayOf(base, base)
	if _, err := pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE archive_events_old PARTITION OF archive_events FOR VALUES FROM (%d) TO (%d)`, day, day+1)); err != nil {
		t.Fatal(err)
	}
	old := append(testEvents("m1", 0, 200), hotEvents("m1")...)
	for _, ev := range old {
		if _, err := pool.Exec(ctx, `INSERT INTO archive_events (member, id, ts, ingested, day, doc) VALUES ($1, $2, $3, $4, $5, $6)`,
			"m1", ev.ID, ev.Time.UnixNano(), ev.Ingested.UnixNano(), int32(day), string(ev.AppendJSON(nil))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO archive_fields (member, name) VALUES ('m1', 'host.name'), ('m1', 'source.ip'), ('m1', 'destination.ip')`); err != nil {
		t.Fatal(err)
	}
	p, err := OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var version, indexes int
	pool.QueryRow(ctx, `SELECT version FROM archive_schema`).Scan(&version)
	pool.QueryRow(ctx, `SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'archive_events_old' AND indexname LIKE '%h_host_name'`).Scan(&indexes)
	if version != pgSchemaVersion() || indexes != 1 {
		t.Errorf("after the upgrade: version %d, host name index %d", version, indexes)
	}
	q := func(field string, op Op, value string) *Query {
		q := &Query{Member: "m1", From: base, To: base.Add(24 * time.Hour), Filters: []Filter{{Field: field, Op: op, Value: value}}}
		if err := q.Check(base.Add(time.Hour), func(string) bool { return true }); err != nil {
			t.Fatal(err)
		}
		return q
	}
	cases := []struct {
		q    *Query
		want int64
	}{
		{q("host.name", Eq, "ws-3"), 20},
		{q("source.ip", CIDR, "10.0.2.0/24"), 50},
		{q("host.name", Eq, "ws-b"), 1},
		{q("destination.ip", CIDR, "198.51.100.0/24"), 1},
	}
	for _, c := range cases {
		if n, err := p.Count(ctx, c.q); err != nil || n != c.want {
			t.Errorf("%+v: Count = %d, %v; want %d", c.q.Filters, n, err, c.want)
		}
	}
	// The original lines moved out of the documents: still searched and served.
	text := q("host.name", Eq, "ws-3")
	text.Filters, text.Text = nil, "needle-12"
	if n, err := p.Count(ctx, text); err != nil || n != 11 {
		t.Errorf("text in moved originals: %d, %v; want 11", n, err)
	}
	page, err := p.Search(ctx, q("event.id", Eq, "m1-00042"))
	var doc map[string]any
	if err != nil || len(page.Events) != 1 || json.Unmarshal(page.Events[0], &doc) != nil || doc[event.FieldOriginal] != string(old[42].Original) {
		t.Errorf("m1-00042 after the upgrade: %v %s", err, page.Events)
	}
}

// TestPostgresWorkersStoreABatchOnce: two archive workers (after a crash,
// both handed the same batches) writing at once store each batch once.
func TestPostgresWorkersStoreABatchOnce(t *testing.T) {
	ctx := context.Background()
	url := testPostgresURL(t)
	var workers [2]*Postgres
	for i := range workers {
		p, err := OpenPostgres(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		workers[i] = p
	}
	const batches, size = 20, 100
	var wg sync.WaitGroup
	errs := make(chan error, 2*batches)
	for w, p := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range batches {
				seq := i
				if w == 1 {
					seq = batches - 1 - i // the other order: locks must not deadlock
				}
				b := Batch{Stream: 3, Seq: uint64(seq + 1), Member: "m1", Events: testEvents("m1", seq*size, size)}
				// Two batches per write, overlapping the other worker's.
				next := Batch{Stream: 3, Seq: uint64(seq%batches + 2), Member: "m1", Events: testEvents("m1", (seq+1)%batches*size, size)}
				if seq+1 == batches {
					next = b
				}
				errs <- p.Write(ctx, []Batch{b, next})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var rows, ids int64
	workers[0].pool.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT id) FROM archive_events`).Scan(&rows, &ids)
	total, err := workers[1].Total(ctx, "m1")
	if rows != batches*size || ids != rows || err != nil || total != rows {
		t.Errorf("stored %d rows, %d ids, total %d (%v); want %d once each", rows, ids, total, err, batches*size)
	}
}

func TestReplaceNULEscapes(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"a":"x\u0000y"}`, `{"a":"x\ufffdy"}`},
		{`{"a":"x\\u0000y"}`, `{"a":"x\\u0000y"}`}, // an escaped backslash, then text
		{`{"a":"\\\u0000"}`, `{"a":"\\\ufffd"}`},   // a backslash, then a NUL
		{`{"a":"\u00001\u0000"}`, `{"a":"\ufffd1\ufffd"}`},
		{`{"a":"\u000"}`, `{"a":"\u000"}`}, // cut short: left alone
		{`\`, `\`},
	}
	for _, c := range cases {
		b := []byte(c.in)
		replaceNULEscapes(b)
		if string(b) != c.want {
			t.Errorf("replaceNULEscapes(%s) = %s, want %s", c.in, b, c.want)
		}
	}
}

// TestPostgresStoresNUL: a NUL in a value or the original line, which
// PostgreSQL's text cannot hold, is stored as U+FFFD instead of failing
// its batch at every retry.
func TestPostgresStoresNUL(t *testing.T) {
	ctx := context.Background()
	e := openTestPostgres(t)
	ev := &event.Event{ID: "n1", Member: "m1", Time: base, Ingested: base}
	ev.Set("host.name", "WS\x00NUL")
	ev.Set("x.note", "a\x00b")
	ev.Original = []byte("raw\x00line")
	if err := e.Write(ctx, []Batch{{Stream: 1, Seq: 1, Member: "m1", Events: []*event.Event{ev}}}); err != nil {
		t.Fatal(err)
	}
	q := &Query{Member: "m1", From: base, To: base.Add(time.Hour), Filters: []Filter{{Field: "host.name", Op: Eq, Value: "ws\uFFFDnul"}}}
	if err := q.Check(base, func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	page, err := e.Search(ctx, q)
	var doc map[string]string
	if err != nil || len(page.Events) != 1 || json.Unmarshal(page.Events[0], &doc) != nil {
		t.Fatalf("search: %v %s", err, page.Events)
	}
	if doc["x.note"] != "a\uFFFDb" || doc[event.FieldOriginal] != "raw\uFFFDline" {
		t.Errorf("stored %s", page.Events[0])
	}
}
