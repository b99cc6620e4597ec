package archive

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xsoc/xsoc/internal/event"
)

// Postgres is the scale-out archive engine: one table partitioned by day
// (PostgreSQL's native range partitioning, so a time range reads only its
// days), written with COPY, with a BRIN index on event time in every
// partition (tiny, and exact enough for time-ordered appends) and a B-tree
// on (member, time). Several archive workers may write at once.
//
// A partition's day is the event's own day, or the day it was accepted
// when the two are more than maxSkew apart (as in the embedded engine):
// queries widen their day range by maxSkew and filter on exact times.
type Postgres struct {
	pool *pgxpool.Pool
	// Timeout bounds one query (the server's cost limit; default 30s).
	Timeout time.Duration

	trgm string // pg_trgm's GIN operator class, "" if not installed

	// written and analyzed count, per day partition, the events this
	// process stored and how many it had stored at its last ANALYZE
	// (used by Write alone).
	written, analyzed map[int64]int64

	mu     sync.Mutex
	days   map[int64]bool             // partitions known to exist
	fields map[string]map[string]bool // member → field names stored
}

// OpenPostgres connects to the PostgreSQL database at url and brings the
// archive's tables to this build's schema version, creating or upgrading
// them; a schema newer than this build is refused (ErrSchemaVersion).
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("archive: postgres: %w", err)
	}
	// Plans for the values at hand: a LIKE pattern or a rare value is
	// only index-friendly when the planner sees it.
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("archive: postgres: %w", err)
	}
	p := &Postgres{pool: pool, Timeout: 30 * time.Second, days: map[int64]bool{}, fields: map[string]map[string]bool{},
		written: map[int64]int64{}, analyzed: map[int64]int64{}}
	if err := migrate(ctx, pool, pgSchemaVersion()); err != nil {
		pool.Close()
		if errors.Is(err, ErrSchemaVersion) {
			return nil, err
		}
		return nil, fmt.Errorf("archive: postgres schema: %w", err)
	}
	if p.trgm, err = trigramOps(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("archive: postgres: %w", err)
	}
	return p, nil
}

// dayOf is the partition day of an event.
func dayOf(t, ingested time.Time) int64 {
	if d := t.Sub(ingested); d > maxSkew || d < -maxSkew {
		t = ingested
	}
	s := t.Unix()
	if s < 0 {
		return (s - 86399) / 86400
	}
	return s / 86400
}

// ensureDay creates the partition of day if it is missing.
func (p *Postgres) ensureDay(ctx context.Context, day int64) error {
	p.mu.Lock()
	known := p.days[day]
	p.mu.Unlock()
	if known {
		return nil
	}
	name := partitionName(day)
	stmts := append([]string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF archive_events FOR VALUES FROM (%d) TO (%d)`, name, day, day+1),
	}, partitionIndexes(name, p.trgm)...)
	for _, stmt := range stmts {
		if _, err := p.pool.Exec(ctx, stmt); err != nil && !alreadyExists(err) {
			return fmt.Errorf("archive: partition %s: %w", name, err)
		}
	}
	p.mu.Lock()
	p.days[day] = true
	p.mu.Unlock()
	return nil
}

// partitionName is the table of day's events.
func partitionName(day int64) string {
	if day < 0 {
		return "archive_events_m" + strconv.FormatInt(-day, 10)
	}
	return "archive_events_" + time.Unix(day*86400, 0).UTC().Format("20060102")
}

// alreadyExists reports the error of a CREATE ... IF NOT EXISTS that lost
// a race with another process.
func alreadyExists(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P07" || pgErr.Code == "23505")
}

// Write stores the batches in one transaction: the batch sequences not
// stored before, then their events with COPY. Two workers writing the
// same batch store it once: the second one's ledger insert waits for the
// first's transaction and then finds the sequence taken.
func (p *Postgres) Write(ctx context.Context, batches []Batch) error {
	days := map[int64]bool{}
	for _, b := range batches {
		for _, ev := range b.Events {
			days[dayOf(ev.Time, ev.Ingested)] = true
		}
	}
	for day := range days {
		if err := p.ensureDay(ctx, day); err != nil {
			return err
		}
	}
	// Ledger rows are locked in one order by every worker: no deadlock
	// between two writing overlapping sets of batches. The sort is stable:
	// of two copies of a batch, the first given stays first (see
	// pgUnstored).
	ordered := slices.Clone(batches)
	slices.SortStableFunc(ordered, func(a, b Batch) int {
		return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Seq, b.Seq))
	})
	var newFields [][2]string
	stored := map[int64]int64{} // day → events stored
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		clear(stored)
		if err := checkVersion(ctx, tx); err != nil {
			return err
		}
		fresh, err := pgUnstored(ctx, tx, ordered)
		if err != nil || len(fresh) == 0 {
			return err
		}
		rows := newPgRows(fresh)
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"archive_events"}, pgColumns(), rows); err != nil {
			return fmt.Errorf("archive: copy: %w", err)
		}
		newFields = p.unknownFields(fresh)
		return p.tally(ctx, tx, fresh, newFields, stored)
	})
	if errors.Is(err, ErrSchemaVersion) {
		return err
	}
	if err != nil {
		return fmt.Errorf("archive: postgres: %w", err)
	}
	p.mu.Lock()
	for _, f := range newFields {
		p.fieldSet(f[0])[f[1]] = true
	}
	p.mu.Unlock()
	return p.analyzeGrown(ctx, stored)
}

// analyzeGrown refreshes the planner's statistics of the day partitions
// this process has doubled since it last did: the planner picks the
// typed columns' indexes for a rare value only when it knows the
// partition is large and the value rare, and autovacuum may come late to
// a partition filling up fast. Doubling keeps the cost to a few ANALYZEs
// (each a sample of 30,000 rows) per partition and day.
func (p *Postgres) analyzeGrown(ctx context.Context, stored map[int64]int64) error {
	for day, n := range stored {
		p.written[day] += n
		if w := p.written[day]; w < 2*p.analyzed[day] || w < analyzeAfter {
			continue
		}
		if _, err := p.pool.Exec(ctx, "ANALYZE "+partitionName(day)); err != nil {
			return fmt.Errorf("archive: postgres: analyze: %w", err)
		}
		p.analyzed[day] = p.written[day]
	}
	return nil
}

// analyzeAfter is how many events a process stores in a partition before
// its first ANALYZE of it.
const analyzeAfter = 1000

// pgUnstored records the batches, ordered by stream and sequence, in the
// ledger and returns those not stored before (the others are
// redeliveries). Of copies of one batch in batches only the first counts:
// a later one is a redelivery too.
func pgUnstored(ctx context.Context, tx pgx.Tx, batches []Batch) ([]Batch, error) {
	var fresh []Batch
	for i, b := range batches {
		if i > 0 && batches[i-1].Stream == b.Stream && batches[i-1].Seq == b.Seq {
			continue
		}
		tag, err := tx.Exec(ctx, `INSERT INTO archive_batches (stream, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING`, b.Stream, int64(b.Seq))
		if err != nil {
			return nil, err
		}
		if tag.RowsAffected() > 0 && len(b.Events) > 0 {
			fresh = append(fresh, b)
		}
	}
	return fresh, nil
}

// unknownFields returns the (member, field) pairs of the batches not
// recorded in archive_fields yet, as far as this process knows.
func (p *Postgres) unknownFields(batches []Batch) [][2]string {
	var out [][2]string
	for _, b := range batches {
		for _, ev := range b.Events {
			ev.Fields(func(name, _ string) bool {
				if !p.known(b.Member, name) && !containsPair(out, b.Member, name) {
					out = append(out, [2]string{b.Member, name})
				}
				return true
			})
		}
	}
	return out
}

// tally adds the batches to the per-day counts and records new fields.
// stored gets the events per day.
func (p *Postgres) tally(ctx context.Context, tx pgx.Tx, batches []Batch, newFields [][2]string, stored map[int64]int64) error {
	type memberDay struct {
		member string
		day    int64
	}
	counts := map[memberDay]int64{}
	for _, b := range batches {
		for _, ev := range b.Events {
			counts[memberDay{b.Member, dayOf(ev.Time, ev.Ingested)}]++
		}
	}
	for k, n := range counts {
		stored[k.day] += n
		if _, err := tx.Exec(ctx, `INSERT INTO archive_counts (member, day, events) VALUES ($1, $2, $3)
			ON CONFLICT (member, day) DO UPDATE SET events = archive_counts.events + excluded.events`, k.member, k.day, n); err != nil {
			return err
		}
	}
	for _, f := range newFields {
		if _, err := tx.Exec(ctx, `INSERT INTO archive_fields (member, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, f[0], f[1]); err != nil {
			return err
		}
	}
	return nil
}

// pgColumns are archive_events' columns in the order COPY sends them.
func pgColumns() []string {
	cols := []string{"member", "id", "ts", "ingested", "day", "doc"}
	for _, h := range pgHotFields {
		cols = append(cols, h.column)
	}
	return append(cols, "lists")
}

// pgRows hands COPY the events of batches one row at a time. The row's
// values live in the struct and vals points at them, so a row costs its
// document's string and nothing else.
type pgRows struct {
	batches []Batch
	b, e    int // the batch and event of the next row

	vals            []any
	member, id, doc string
	ts, ingested    int64
	day             int32
	hot             hotRow
	buf             []byte
}

func newPgRows(batches []Batch) *pgRows {
	r := &pgRows{batches: batches, vals: make([]any, 6+len(pgHotFields)+1)}
	r.vals[0], r.vals[1], r.vals[2], r.vals[3], r.vals[4], r.vals[5] = &r.member, &r.id, &r.ts, &r.ingested, &r.day, &r.doc
	return r
}

// Next moves to the next event; false after the last.
func (r *pgRows) Next() bool {
	for r.b < len(r.batches) && r.e >= len(r.batches[r.b].Events) {
		r.b, r.e = r.b+1, 0
	}
	if r.b >= len(r.batches) {
		return false
	}
	ev := r.batches[r.b].Events[r.e]
	r.e++
	r.member, r.id = r.batches[r.b].Member, ev.ID
	r.ts, r.ingested, r.day = ev.Time.UnixNano(), ev.Ingested.UnixNano(), int32(dayOf(ev.Time, ev.Ingested))
	r.buf = ev.AppendJSON(r.buf[:0])
	if bytes.Contains(r.buf, []byte(`\u0000`)) {
		replaceNULEscapes(r.buf)
	}
	r.doc = string(r.buf)
	r.hot.fill(ev, r.vals[6:])
	return true
}

// PostgreSQL's text and JSONB cannot hold U+0000: a value with one would
// fail its whole batch at every retry. It is stored as U+FFFD instead.

// noNUL returns s with every NUL byte replaced by U+FFFD.
func noNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// replaceNULEscapes rewrites the JSON escapes \u0000 in doc as \ufffd, in
// place (the same length), leaving other escapes (an escaped backslash
// followed by "u0000") alone.
func replaceNULEscapes(doc []byte) {
	for i := 0; i+1 < len(doc); i++ {
		if doc[i] != '\\' {
			continue
		}
		if doc[i+1] == 'u' && i+6 <= len(doc) && string(doc[i+2:i+6]) == "0000" {
			copy(doc[i+2:i+6], "fffd")
		}
		i++ // past the escaped character
	}
}

// Values returns the current row.
func (r *pgRows) Values() ([]any, error) { return r.vals, nil }

// Err is always nil: rows come from memory.
func (r *pgRows) Err() error { return nil }

func containsPair(pairs [][2]string, a, b string) bool {
	for _, p := range pairs {
		if p[0] == a && p[1] == b {
			return true
		}
	}
	return false
}

func (p *Postgres) known(member, field string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fieldSet(member)[field]
}

func (p *Postgres) fieldSet(member string) map[string]bool {
	s := p.fields[member]
	if s == nil {
		s = map[string]bool{}
		p.fields[member] = s
	}
	return s
}

// where builds q's conditions and arguments.
func where(q *Query) (string, []any) {
	from, to := q.From.UnixNano(), q.To.UnixNano()
	slack := int64(maxSkew / (24 * time.Hour))
	args := []any{q.Member, int32(dayOf(q.From, q.From) - slack - 1), int32(dayOf(q.To, q.To) + slack + 1), from, to}
	conds := []string{"member = $1", "day >= $2", "day <= $3", "ts >= $4", "ts < $5"}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.after.set {
		conds = append(conds, "(ts, id) < ("+arg(q.after.time)+", "+arg(q.after.id)+")")
	}
	for i := range q.Filters {
		conds = append(conds, filterCond(&q.Filters[i], arg))
	}
	if q.Text != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM jsonb_each_text(doc) kv WHERE strpos(lower(kv.value), "+arg(q.Text)+") > 0)")
	}
	return strings.Join(conds, " AND "), args
}

// filterCond is f's condition: on the typed column when f's field has
// one and the column can answer f (through its index), else on the
// document's values.
func filterCond(f *Filter, arg func(any) string) string {
	if f.Field == event.FieldID {
		return idCond(f, arg)
	}
	doc := func() string {
		return "EXISTS (SELECT 1 FROM xsoc_vals(doc, " + arg(f.Field) + ") v WHERE " + valuePredicate(f, "v", arg) + ")"
	}
	h, ok := hotFieldNamed(f.Field)
	if !ok {
		return doc()
	}
	col, exact, ok := hotPredicate(h, f, arg)
	switch {
	case !ok:
		return doc()
	case exact:
		// Events with lists: their other values are only in the document.
		return "(" + col + " OR lists AND " + doc() + ")"
	default:
		return "(" + col + " OR lists) AND " + doc()
	}
}

// idCond is f's condition on the event id, through its lower-cased index
// for equality and prefix.
func idCond(f *Filter, arg func(any) string) string {
	switch f.Op {
	case Eq:
		return pgIDExpr + " = " + arg(f.lower)
	case Prefix:
		return pgIDExpr + " LIKE " + arg(likeEscape(f.lower)+"%")
	}
	return valuePredicate(f, "id", arg)
}

// valuePredicate is f's condition on the text value v.
func valuePredicate(f *Filter, v string, arg func(any) string) string {
	switch f.Op {
	case Eq:
		return "lower(" + v + ") = " + arg(f.lower)
	case Prefix:
		return "starts_with(lower(" + v + "), " + arg(f.lower) + ")"
	case Contains:
		return "strpos(lower(" + v + "), " + arg(f.lower) + ") > 0"
	case CIDR:
		return "xsoc_inet(" + v + ") <<= " + arg(f.prefix.String()) + "::inet"
	}
	op, _ := rangeOp(f.Op)
	return "xsoc_num(" + v + ") " + op + " " + arg(f.number)
}

// query runs sql under the cost limit.
func (p *Postgres) query(ctx context.Context, sql string, args []any, each func(pgx.Rows) error) error {
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	rows, err := p.pool.Query(ctx, sql, args...)
	if err == nil {
		for rows.Next() {
			if err = each(rows); err != nil {
				break
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: it ran past the server's limit of %s; narrow the time range or add an equality filter", ErrTooCostly, p.Timeout)
	}
	if err != nil {
		return fmt.Errorf("archive: postgres: %w", err)
	}
	return nil
}

// Search returns a page of q's matches, newest first.
func (p *Postgres) Search(ctx context.Context, q *Query) (Page, error) {
	cond, args := where(q)
	args = append(args, q.Limit+1)
	var best []found
	// The page is chosen first and only its documents are turned into
	// text: converting every match's before sorting costs more than
	// finding them (0.9 s instead of 0.2 s for 20,000 matches).
	err := p.query(ctx, `SELECT id, ts, doc::text FROM (SELECT id, ts, doc FROM archive_events WHERE `+cond+
		` ORDER BY ts DESC, id DESC LIMIT $`+strconv.Itoa(len(args))+`) page ORDER BY ts DESC, id DESC`, args, func(rows pgx.Rows) error {
		var f found
		var doc string
		if err := rows.Scan(&f.id, &f.t, &doc); err != nil {
			return err
		}
		f.doc = []byte(doc)
		best = append(best, f)
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	return pageOf(best, q.Limit), nil
}

// Count returns how many events match q.
func (p *Postgres) Count(ctx context.Context, q *Query) (int64, error) {
	cond, args := where(q)
	var n int64
	err := p.query(ctx, `SELECT COUNT(*) FROM archive_events WHERE `+cond, args, func(rows pgx.Rows) error {
		return rows.Scan(&n)
	})
	return n, err
}

// Top returns the n most frequent values of field among q's matches.
func (p *Postgres) Top(ctx context.Context, q *Query, field string, n int) ([]Bucket, error) {
	cond, args := where(q)
	args = append(args, field, n)
	var out []Bucket
	err := p.query(ctx, `SELECT v, COUNT(*) AS c FROM archive_events, xsoc_vals(doc, $`+strconv.Itoa(len(args)-1)+`) v WHERE `+cond+
		` GROUP BY v ORDER BY c DESC, v LIMIT $`+strconv.Itoa(len(args)), args, func(rows pgx.Rows) error {
		var b Bucket
		if err := rows.Scan(&b.Value, &b.Count); err != nil {
			return err
		}
		out = append(out, b)
		return nil
	})
	return out, err
}

// Total returns how many events member has stored.
func (p *Postgres) Total(ctx context.Context, member string) (int64, error) {
	var n int64
	err := p.pool.QueryRow(ctx, `SELECT COALESCE(SUM(events), 0) FROM archive_counts WHERE member = $1`, member).Scan(&n)
	return n, err
}

// Known reports whether member has stored an event with field.
func (p *Postgres) Known(ctx context.Context, member, field string) (bool, error) {
	if p.known(member, field) {
		return true, nil
	}
	var n int
	if err := p.pool.QueryRow(ctx, `SELECT COUNT(*) FROM archive_fields WHERE member = $1 AND name = $2`, member, field).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		p.mu.Lock()
		p.fieldSet(member)[field] = true
		p.mu.Unlock()
	}
	return n > 0, nil
}

// Usage returns every member's events and days; bytes are the member's
// share of the partitions' size, by event count.
func (p *Postgres) Usage(ctx context.Context) (map[string]Usage, error) {
	var size, total int64
	if err := p.pool.QueryRow(ctx, `SELECT COALESCE(SUM(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits
		WHERE inhparent = 'archive_events'::regclass`).Scan(&size); err != nil {
		return nil, err
	}
	out := map[string]Usage{}
	rows, err := p.pool.Query(ctx, `SELECT member, day, events FROM archive_counts ORDER BY member, day`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var member string
		var day int32
		var n int64
		if err := rows.Scan(&member, &day, &n); err != nil {
			return nil, err
		}
		u := out[member]
		u.Events += n
		u.Days = append(u.Days, time.Unix(int64(day)*86400, 0).UTC())
		out[member] = u
		total += n
	}
	for m, u := range out {
		if total > 0 {
			u.Bytes = size * u.Events / total
		}
		out[m] = u
	}
	return out, rows.Err()
}

// Drop removes member's events of days before cutoff.
func (p *Postgres) Drop(ctx context.Context, member string, before time.Time) (int, error) {
	cut := int32(dayOf(before, before))
	var days int
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM archive_events WHERE member = $1 AND day < $2`, member, cut); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM archive_counts WHERE member = $1 AND day < $2`, member, cut)
		days = int(tag.RowsAffected())
		return err
	})
	return days, err
}

// Recent returns the ids of the newest events (of the last two days that
// have any), newest first, up to n in all.
func (p *Postgres) Recent(ctx context.Context, n int) (map[string][]string, error) {
	out := map[string][]string{}
	rows, err := p.pool.Query(ctx, `SELECT member, id FROM archive_events
		WHERE day >= (SELECT COALESCE(MAX(day), 0) - 1 FROM archive_counts) ORDER BY ingested DESC LIMIT $1`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var member, id string
		if err := rows.Scan(&member, &id); err != nil {
			return nil, err
		}
		out[member] = append(out[member], id)
	}
	return out, rows.Err()
}

// Close closes the connection pool.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}
