package archive

import (
	"context"
	"errors"
	"fmt"
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

	mu     sync.Mutex
	days   map[int64]bool             // partitions known to exist
	fields map[string]map[string]bool // member → field names stored
}

const postgresSchema = `
CREATE TABLE IF NOT EXISTS archive_events (
	member TEXT NOT NULL,
	id TEXT NOT NULL,
	ts BIGINT NOT NULL,
	ingested BIGINT NOT NULL,
	day INTEGER NOT NULL,
	doc JSONB NOT NULL
) PARTITION BY RANGE (day);
CREATE TABLE IF NOT EXISTS archive_batches (stream BIGINT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (stream, seq));
CREATE TABLE IF NOT EXISTS archive_fields (member TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (member, name));
CREATE TABLE IF NOT EXISTS archive_counts (member TEXT NOT NULL, day INTEGER NOT NULL, events BIGINT NOT NULL, PRIMARY KEY (member, day));
CREATE OR REPLACE FUNCTION xsoc_vals(d jsonb, f text) RETURNS SETOF text LANGUAGE sql IMMUTABLE AS
	'SELECT jsonb_array_elements_text(CASE jsonb_typeof(d->f) WHEN ''array'' THEN d->f WHEN ''string'' THEN jsonb_build_array(d->f) ELSE ''[]''::jsonb END)';
CREATE OR REPLACE FUNCTION xsoc_inet(t text) RETURNS inet LANGUAGE plpgsql IMMUTABLE AS
	'BEGIN RETURN t::inet; EXCEPTION WHEN others THEN RETURN NULL; END';
CREATE OR REPLACE FUNCTION xsoc_num(t text) RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS
	'BEGIN RETURN t::double precision; EXCEPTION WHEN others THEN RETURN NULL; END'`

// OpenPostgres connects to the PostgreSQL database at url and creates the
// archive's tables if needed.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("archive: postgres: %w", err)
	}
	p := &Postgres{pool: pool, Timeout: 30 * time.Second, days: map[int64]bool{}, fields: map[string]map[string]bool{}}
	// One creator at a time: CREATE ... IF NOT EXISTS races between
	// processes starting together.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(727275)`); err != nil {
			return err
		}
		for _, stmt := range strings.Split(postgresSchema, ";\n") {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%w in %q", err, stmt)
			}
		}
		return nil
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("archive: postgres schema: %w", err)
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
	name := "archive_events_" + time.Unix(day*86400, 0).UTC().Format("20060102")
	if day < 0 {
		name = "archive_events_m" + strconv.FormatInt(-day, 10)
	}
	stmts := []string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF archive_events FOR VALUES FROM (%d) TO (%d)`, name, day, day+1),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s_ts ON %s USING brin (ts)`, name, name),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s_member_ts ON %s (member, ts)`, name, name),
	}
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

// alreadyExists reports the error of a CREATE ... IF NOT EXISTS that lost
// a race with another process.
func alreadyExists(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P07" || pgErr.Code == "23505")
}

// Write stores the batches in one transaction: the batch sequences not
// stored before, then their events with COPY.
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
	var newFields [][2]string
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		newFields = newFields[:0]
		var rows [][]any
		counts := map[[2]int64]int64{} // (member index, day) → events
		members := []string{}
		var buf []byte
		for _, b := range batches {
			tag, err := tx.Exec(ctx, `INSERT INTO archive_batches (stream, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING`, b.Stream, int64(b.Seq))
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				continue // stored before: a redelivery
			}
			mi := int64(len(members))
			members = append(members, b.Member)
			for _, ev := range b.Events {
				day := dayOf(ev.Time, ev.Ingested)
				buf = ev.AppendJSON(buf[:0])
				rows = append(rows, []any{b.Member, ev.ID, ev.Time.UnixNano(), ev.Ingested.UnixNano(), int32(day), string(buf)})
				counts[[2]int64{mi, day}]++
				ev.Fields(func(name, _ string) bool {
					if !p.known(b.Member, name) && !containsPair(newFields, b.Member, name) {
						newFields = append(newFields, [2]string{b.Member, name})
					}
					return true
				})
			}
		}
		if len(rows) == 0 {
			return nil
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"archive_events"}, []string{"member", "id", "ts", "ingested", "day", "doc"},
			pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("archive: copy: %w", err)
		}
		for k, n := range counts {
			if _, err := tx.Exec(ctx, `INSERT INTO archive_counts (member, day, events) VALUES ($1, $2, $3)
				ON CONFLICT (member, day) DO UPDATE SET events = archive_counts.events + excluded.events`, members[k[0]], k[1], n); err != nil {
				return err
			}
		}
		for _, f := range newFields {
			if _, err := tx.Exec(ctx, `INSERT INTO archive_fields (member, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, f[0], f[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive: postgres: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range newFields {
		p.fieldSet(f[0])[f[1]] = true
	}
	return nil
}

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
	for _, f := range q.Filters {
		var pred string
		switch f.Op {
		case Eq:
			pred = "lower(v) = " + arg(f.lower)
		case Prefix:
			pred = "starts_with(lower(v), " + arg(f.lower) + ")"
		case Contains:
			pred = "strpos(lower(v), " + arg(f.lower) + ") > 0"
		case CIDR:
			pred = "xsoc_inet(v) <<= " + arg(f.prefix.String()) + "::inet"
		default:
			ops := map[Op]string{Gte: ">=", Gt: ">", Lte: "<=", Lt: "<"}
			pred = "xsoc_num(v) " + ops[f.Op] + " " + arg(f.number)
		}
		if f.Field == event.FieldID {
			conds = append(conds, strings.ReplaceAll(pred, "(v)", "(id)"))
			continue
		}
		conds = append(conds, "EXISTS (SELECT 1 FROM xsoc_vals(doc, "+arg(f.Field)+") v WHERE "+pred+")")
	}
	if q.Text != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM jsonb_each_text(doc) kv WHERE strpos(lower(kv.value), "+arg(q.Text)+") > 0)")
	}
	return strings.Join(conds, " AND "), args
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
	err := p.query(ctx, `SELECT id, ts, doc::text FROM archive_events WHERE `+cond+
		` ORDER BY ts DESC, id DESC LIMIT $`+strconv.Itoa(len(args)), args, func(rows pgx.Rows) error {
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
