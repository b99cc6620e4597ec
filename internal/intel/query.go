package intel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Filter selects object versions, with TAXII 2.1's semantics.
type Filter struct {
	// AddedAfter keeps versions added strictly after this time.
	AddedAfter time.Time
	// IDs and Types keep versions whose property is in the list (any
	// value when the list is empty).
	IDs   []string
	Types []string
	// SpecVersions picks the STIX versions each object version is
	// returned in, as TAXII 2.1 match[spec_version] does: every version
	// is held in STIX 2.1, and a version a member gave in STIX 2.0 in
	// that form too. Empty means the latest the repository holds: 2.1.
	// Values must read major.minor ("2.0"); well-formed versions the
	// repository holds nothing in ("2.2") select nothing.
	SpecVersions []string
	// Versions picks versions of each object: "first", "last", "all" or
	// exact version timestamps, in any combination. Empty means "last"
	// for objects and manifests, "all" for Versions and DeleteObject.
	Versions []string
	// Limit caps the page (default and maximum from Options).
	Limit int
	// Next continues from a previous page's Next.
	Next string
}

// Object is one stored object version.
type Object struct {
	Collection string
	ID         string
	Type       string
	// SpecVersion is the STIX version Raw is in: "2.1", or "2.0" for the
	// original form of a version a member gave in STIX 2.0 when the
	// filter asked for it.
	SpecVersion string
	// Version is the object's modified (else created) time; zero for
	// objects that have neither.
	Version   time.Time
	DateAdded time.Time
	Owner     string
	TLP       tlp.Level
	Named     []string
	// Raw is the object's JSON; nil in manifests.
	Raw json.RawMessage
	// has20 says the version is also held in its STIX 2.0 form, raw20
	// (read only when a query asks for 2.0 with bodies).
	has20 bool
	raw20 json.RawMessage
}

// VersionString returns the version as TAXII shows it: the version
// timestamp, or date_added for objects without one.
func (o Object) VersionString() string {
	if o.Version.IsZero() {
		return FormatTimestamp(o.DateAdded)
	}
	return FormatTimestamp(o.Version)
}

// Page is one page of a query, in date_added order.
type Page struct {
	Objects []Object
	// More is true when further versions match; pass Next to get them.
	More bool
	Next string
}

// Objects returns the versions in a collection that v sees and f selects.
func (r *Repo) Objects(ctx context.Context, v Viewer, collection string, f Filter) (Page, error) {
	return r.read(ctx, v, collection, f, "last", true)
}

// Manifest is Objects without the objects' bodies.
func (r *Repo) Manifest(ctx context.Context, v Viewer, collection string, f Filter) (Page, error) {
	return r.read(ctx, v, collection, f, "last", false)
}

// Objects and Manifest return one entry per version and STIX version
// f.SpecVersions selects (2.0 before 2.1 for one version), in date_added
// order; a page ends between the forms of one version only when the
// limit is 1.

// Object returns the versions of one object that v sees and f selects;
// ErrNotFound when v sees no version of it at all. f.IDs and f.Types are
// ignored.
func (r *Repo) Object(ctx context.Context, v Viewer, collection, id string, f Filter) (Page, error) {
	f.IDs, f.Types = []string{id}, nil
	p, err := r.read(ctx, v, collection, f, "last", true)
	if err != nil || len(p.Objects) > 0 {
		return p, err
	}
	return p, r.mustSee(ctx, v, collection, id)
}

// Versions lists the versions of one object that v sees (all by default),
// without bodies; ErrNotFound when there is none.
func (r *Repo) Versions(ctx context.Context, v Viewer, collection, id string, f Filter) (Page, error) {
	f.IDs, f.Types = []string{id}, nil
	p, err := r.readVersions(ctx, v, collection, f)
	if err != nil || len(p.Objects) > 0 {
		return p, err
	}
	return p, r.mustSee(ctx, v, collection, id)
}

// mustSee returns ErrNotFound unless v sees some version of the object.
func (r *Repo) mustSee(ctx context.Context, v Viewer, collection, id string) error {
	rows, err := r.versionsOf(ctx, collection, []string{id}, specSel{v21: true})
	if err != nil {
		return err
	}
	for _, o := range rows {
		if v.mayRead(o.Owner, o.TLP, o.Named) {
			return nil
		}
	}
	return fmt.Errorf("intel: object %s: %w", id, ErrNotFound)
}

// query is a Filter made ready to run.
type query struct {
	coll   Collection
	f      Filter
	sel    versionSel
	spec   specSel
	limit  int
	cursor int64
	// skip20 is the date_added of a version whose STIX 2.0 form the
	// previous page ended with (a next token ending in "~"): this page
	// starts with its 2.1 form.
	skip20 int64
	body   bool
	// perVersion lists each version once whatever STIX versions hold it
	// (the versions resource), rather than once per STIX version.
	perVersion bool
	// print is the filterPrint of the query, which its next tokens carry.
	print string
}

func (r *Repo) read(ctx context.Context, v Viewer, collection string, f Filter, defVersion string, body bool) (Page, error) {
	coll, err := r.readable(ctx, v, collection)
	if err != nil {
		return Page{}, err
	}
	q, err := r.prepare(coll, f, defVersion, body)
	if err != nil {
		return Page{}, err
	}
	return r.run(ctx, v, q)
}

// readVersions is read for the versions resource: each version once.
func (r *Repo) readVersions(ctx context.Context, v Viewer, collection string, f Filter) (Page, error) {
	coll, err := r.readable(ctx, v, collection)
	if err != nil {
		return Page{}, err
	}
	q, err := r.prepare(coll, f, "all", false)
	if err != nil {
		return Page{}, err
	}
	q.perVersion = true
	return r.run(ctx, v, q)
}

func (r *Repo) prepare(coll Collection, f Filter, defVersion string, body bool) (query, error) {
	q := query{coll: coll, f: f, body: body, limit: f.Limit}
	var err error
	if q.sel, err = parseVersions(f.Versions, defVersion); err != nil {
		return query{}, err
	}
	if q.spec, err = parseSpecVersions(f.SpecVersions); err != nil {
		return query{}, err
	}
	switch {
	case q.limit < 0:
		return query{}, fmt.Errorf("intel: limit %d is negative: %w", q.limit, ErrInvalid)
	case q.limit == 0:
		q.limit = r.opts.DefaultPageSize
	case q.limit > r.opts.MaxPageSize:
		q.limit = r.opts.MaxPageSize
	}
	if !f.AddedAfter.IsZero() {
		q.cursor = store.Nanos(f.AddedAfter)
	}
	q.print = filterPrint(coll.ID, f, defVersion, body)
	if f.Next != "" {
		pos, print, _ := strings.Cut(f.Next, ".")
		pos, half := strings.CutSuffix(pos, "~")
		n, err := strconv.ParseInt(pos, 10, 64)
		if err != nil || n <= 0 && half || n < 0 {
			return query{}, fmt.Errorf("intel: next %q is not a token this server gave: %w", f.Next, ErrInvalid)
		}
		if print != q.print {
			return query{}, fmt.Errorf("intel: next %q belongs to a query with other filters (match[...], added_after) or another collection or endpoint: repeat them unchanged with next, or start over without it: %w", f.Next, ErrInvalid)
		}
		if half {
			// The version at n was served in STIX 2.0 only: scan it again
			// for its 2.1 form.
			q.skip20, n = n, n-1
		}
		q.cursor = max(q.cursor, n)
	}
	return q, nil
}

// filterPrint condenses what a page's results depend on — collection,
// endpoint, filters; not the page size, nor the order of a filter's
// values — so that a next token is honoured only with the query it
// continues: with other filters it would skip or repeat objects silently.
func filterPrint(coll string, f Filter, defVersion string, body bool) string {
	h := sha256.New()
	for _, part := range [][]string{{coll, defVersion, strconv.FormatBool(body), f.AddedAfter.UTC().Format(time.RFC3339Nano)},
		f.IDs, f.Types, f.SpecVersions, f.Versions} {
		if len(part) > 1 && !slices.IsSorted(part) {
			part = slices.Sorted(slices.Values(part))
		}
		for _, s := range part {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// run scans versions in date_added order, keeping those v sees and the
// version selection picks, until the page (plus one, to know whether there
// is more) is full or the collection is exhausted.
func (r *Repo) run(ctx context.Context, v Viewer, q query) (Page, error) {
	var (
		page   Page
		kept   []Object
		batch  = min(q.limit+1, 64)
		cursor = q.cursor
		picks  = map[string]span{} // first/last visible version per object
	)
	for len(kept) <= q.limit {
		rows, err := r.scan(ctx, v, q, cursor, batch)
		if err != nil {
			return Page{}, err
		}
		if q.sel.first || q.sel.last {
			if err := r.pickVersions(ctx, v, q, rows, picks); err != nil {
				return Page{}, err
			}
		}
		for _, o := range rows {
			if v.mayRead(o.Owner, o.TLP, o.Named) && q.sel.keeps(o, picks[objectKey(o)]) {
				kept = q.forms(kept, o)
				if len(kept) > q.limit {
					break
				}
			}
		}
		if len(rows) < batch {
			break
		}
		cursor = store.Nanos(rows[len(rows)-1].DateAdded)
		batch = min(batch*2, 1000)
	}
	if len(kept) > q.limit {
		cut, half := pageEnd(kept, q.limit)
		kept = kept[:cut]
		page.More = true
		page.Next = strconv.FormatInt(store.Nanos(kept[cut-1].DateAdded), 10)
		if half {
			page.Next += "~"
		}
		page.Next += "." + q.print
	}
	page.Objects = kept
	return page, nil
}

const objectColumns = `object_id, version, type, spec_version, date_added, owner, tlp, named`

// has20Column says whether a row holds a STIX 2.0 form, portably (an
// integer on both engines).
const has20Column = `CASE WHEN body20 = '' THEN 0 ELSE 1 END`

// forms appends to kept the entries of version o the query returns: its
// STIX 2.0 form (when asked for and held, and not served by the previous
// page already), then its 2.1 form (when asked for) — or, for the
// versions resource, o once.
func (q query) forms(kept []Object, o Object) []Object {
	if q.perVersion {
		if !q.spec.v21 {
			o.SpecVersion = "2.0"
		}
		return append(kept, o)
	}
	if q.spec.v20 && o.has20 && store.Nanos(o.DateAdded) != q.skip20 {
		f := o
		f.SpecVersion, f.Raw = "2.0", o.raw20
		kept = append(kept, f)
	}
	if q.spec.v21 {
		kept = append(kept, o)
	}
	return kept
}

// pageEnd returns how many of kept (more than limit entries) a page
// holds: limit, or fewer so that the forms of one version (which share
// its date_added) are not split over two pages, since a client resuming
// with added_after at the page's last date_added would miss the rest.
// Only a page too small for one version's forms splits them (half).
func pageEnd(kept []Object, limit int) (int, bool) {
	if !kept[limit].DateAdded.Equal(kept[limit-1].DateAdded) {
		return limit, false
	}
	start := limit - 1
	for start > 0 && kept[start-1].DateAdded.Equal(kept[limit-1].DateAdded) {
		start--
	}
	if start == 0 {
		return limit, true
	}
	return start, false
}

// scan reads up to n versions added after cursor that match the filter's
// id, type and spec_version lists and that v might see.
func (r *Repo) scan(ctx context.Context, v Viewer, q query, cursor int64, n int) ([]Object, error) {
	// Only a query for STIX 2.0 reads whether a row holds that form.
	cols := bodies{has20: q.spec.v20, body: q.body && q.spec.v21, body20: q.body && q.spec.v20}
	var sb strings.Builder
	args := []any{q.coll.ID, cursor}
	sb.WriteString(`SELECT ` + cols.columns() + ` FROM intel_objects WHERE collection_id = ? AND date_added > ?`)
	args = inList(&sb, "object_id", q.f.IDs, args)
	args = inList(&sb, "type", q.f.Types, args)
	q.spec.where(&sb)
	args = prefilter(&sb, v, args)
	sb.WriteString(` ORDER BY date_added LIMIT ?`)
	args = append(args, n)
	return r.queryObjects(ctx, q.coll.ID, sb.String(), cols, args...)
}

// prefilter narrows a scan in SQL to rows v might see, so that a page of a
// collection full of intelligence v may not receive does not drag every
// hidden body out of the store. It admits a superset of what mayRead
// admits — the originator's own rows, rows of members v is a client of,
// rows naming anyone, and rows at levels the wider community (or the
// public, for a viewer who is no member) may receive — and never decides
// alone: mayRead still checks each row.
func prefilter(sb *strings.Builder, v Viewer, args []any) []any {
	if v.Operator {
		return args
	}
	wide := tlp.Community
	if v.Member == "" {
		wide = tlp.Public
	}
	open := -1
	for l := tlp.Clear; l <= tlp.Red; l++ {
		if tlp.MayReceive(l, wide) {
			open = int(l)
		}
	}
	sb.WriteString(" AND (tlp <= ? OR named <> ''")
	args = append(args, open)
	if v.Member != "" {
		owners := append([]string{v.Member}, v.ClientOf...)
		sb.WriteString(" OR owner IN (")
		for i, o := range owners {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('?')
			args = append(args, o)
		}
		sb.WriteByte(')')
	}
	sb.WriteByte(')')
	return args
}

// versionsOf reads every version of the given objects held in a STIX
// version spec selects (without bodies).
func (r *Repo) versionsOf(ctx context.Context, collection string, ids []string, spec specSel) ([]Object, error) {
	var sb strings.Builder
	args := []any{collection}
	cols := bodies{}
	sb.WriteString(`SELECT ` + cols.columns() + ` FROM intel_objects WHERE collection_id = ?`)
	args = inList(&sb, "object_id", ids, args)
	spec.where(&sb)
	return r.queryObjects(ctx, collection, sb.String(), cols, args...)
}

// bodies says which columns beyond objectColumns a query reads, in this
// order: whether a STIX 2.0 form is held, the 2.1 body, the 2.0 body.
type bodies struct{ has20, body, body20 bool }

func (b bodies) columns() string {
	cols := objectColumns
	if b.has20 {
		cols += ", " + has20Column
	}
	if b.body {
		cols += ", body"
	}
	if b.body20 {
		cols += ", body20"
	}
	return cols
}

func (r *Repo) queryObjects(ctx context.Context, collection, q string, cols bodies, args ...any) ([]Object, error) {
	rows, err := r.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("intel: query: %w", err)
	}
	defer rows.Close()
	var (
		out []Object
		// The scan targets are made once: each row's values are copied
		// out of them, so that a page costs no allocation per row for
		// them.
		o              Object
		version, added int64
		level, has20   int
		named, raw     string
		raw20          string
	)
	dest := []any{&o.ID, &version, &o.Type, &o.SpecVersion, &added, &o.Owner, &level, &named}
	if cols.has20 {
		dest = append(dest, &has20)
	}
	if cols.body {
		dest = append(dest, &raw)
	}
	if cols.body20 {
		dest = append(dest, &raw20)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("intel: query: %w", err)
		}
		row := Object{Collection: collection, ID: o.ID, Type: o.Type, SpecVersion: o.SpecVersion, Owner: o.Owner}
		row.Version, row.DateAdded = store.Time(version), store.Time(added)
		row.TLP, row.Named = levelOf(level), decodeNamed(named)
		row.has20 = has20 != 0
		if cols.body {
			row.Raw = json.RawMessage(raw)
		}
		if cols.body20 && raw20 != "" {
			row.raw20 = json.RawMessage(raw20)
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// inList appends "AND col IN (?, ...)" for a non-empty list.
func inList(sb *strings.Builder, col string, list []string, args []any) []any {
	if len(list) == 0 {
		return args
	}
	sb.WriteString(" AND " + col + " IN (")
	for i, v := range list {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('?')
		args = append(args, v)
	}
	sb.WriteByte(')')
	return args
}

// span is the first and last version of an object that a viewer sees.
type span struct {
	first, last int64
	seen        bool
}

// with returns s widened to version n.
func (s span) with(n int64) span {
	if !s.seen {
		return span{first: n, last: n, seen: true}
	}
	return span{first: min(s.first, n), last: max(s.last, n), seen: true}
}

// objectKey names one member's object: objects are owned per member, so
// first and last are counted per owner and id.
func objectKey(o Object) string { return o.Owner + "\x00" + o.ID }

// pickVersions fills picks for the objects in rows not yet in it: their
// first and last versions among those v sees and the spec_version filter
// keeps, per owner (objectKey). Versions invisible to v never hide the
// ones v may see.
func (r *Repo) pickVersions(ctx context.Context, v Viewer, q query, rows []Object, picks map[string]span) error {
	var ids []string
	asked := map[string]bool{}
	for _, o := range rows {
		if _, done := picks[objectKey(o)]; !done && !asked[o.ID] {
			asked[o.ID] = true
			ids = append(ids, o.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	all, err := r.versionsOf(ctx, q.coll.ID, ids, q.spec)
	if err != nil {
		return err
	}
	for _, o := range all {
		if !v.mayRead(o.Owner, o.TLP, o.Named) {
			continue
		}
		picks[objectKey(o)] = picks[objectKey(o)].with(store.Nanos(o.Version))
	}
	for _, o := range rows {
		if _, done := picks[objectKey(o)]; !done {
			picks[objectKey(o)] = span{}
		}
	}
	return nil
}

// versionSel is a parsed match[version].
type versionSel struct {
	all, first, last bool
	at               map[int64]bool
}

func parseVersions(list []string, def string) (versionSel, error) {
	if len(list) == 0 {
		list = []string{def}
	}
	var s versionSel
	for _, v := range list {
		switch v {
		case "all":
			s.all = true
		case "first":
			s.first = true
		case "last":
			s.last = true
		default:
			t, err := ParseTimestamp(v)
			if err != nil {
				return versionSel{}, fmt.Errorf("intel: version %q is not first, last, all or a timestamp: %w", v, ErrInvalid)
			}
			if s.at == nil {
				s.at = map[int64]bool{}
			}
			s.at[store.Nanos(t)] = true
		}
	}
	return s, nil
}

// keeps reports whether the selection keeps version o, given the object's
// visible span.
func (s versionSel) keeps(o Object, sp span) bool {
	n := store.Nanos(o.Version)
	switch {
	case s.all:
		return true
	case s.at[n]:
		return true
	case s.at != nil && n == 0 && s.at[store.Nanos(o.DateAdded)]:
		// Objects without a version are addressed by their date_added.
		return true
	case s.first && sp.seen && n == sp.first:
		return true
	case s.last && sp.seen && n == sp.last:
		return true
	}
	return false
}

// specSel is a parsed match[spec_version]: the STIX versions entries are
// returned in. Every stored version is held in STIX 2.1, the form the
// repository validates and detects on; a version a member gave in STIX
// 2.0 is held in that form too, as the member sent it.
type specSel struct{ v20, v21 bool }

// parseSpecVersions reads match[spec_version]. Without it, TAXII 2.1 asks
// for the latest specification version the server can provide for each
// object: 2.1, which every version has.
func parseSpecVersions(list []string) (specSel, error) {
	if len(list) == 0 {
		return specSel{v21: true}, nil
	}
	var s specSel
	for _, v := range list {
		if !SpecVersionSyntax(v) {
			return specSel{}, fmt.Errorf("intel: spec_version %q is not a STIX version such as 2.1: %w", v, ErrInvalid)
		}
		switch v {
		case "2.0":
			s.v20 = true
		case "2.1":
			s.v21 = true
		}
	}
	return s, nil
}

// SpecVersionSyntax reports whether v reads major.minor, as STIX
// versions do ("2.1"); match[spec_version] takes nothing else.
func SpecVersionSyntax(v string) bool {
	major, minor, ok := strings.Cut(v, ".")
	return ok && digits(major) && digits(minor)
}

func digits(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// where narrows a scan to the rows held in a STIX version s selects.
func (s specSel) where(sb *strings.Builder) {
	switch {
	case s.v21:
		// Every row.
	case s.v20:
		sb.WriteString(" AND body20 <> ''")
	default:
		// Only versions nothing is held in.
		sb.WriteString(" AND 1 = 0")
	}
}
