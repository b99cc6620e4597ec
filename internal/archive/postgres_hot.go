package archive

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/xsoc/xsoc/internal/event"
)

// The PostgreSQL engine keeps the first value of the fields hunts filter on
// most (hot fields) in typed columns beside the JSONB document, filled by
// the writer at COPY time and indexed in every day partition, so that a
// selective filter on them reads its matches through an index instead of
// every event of the day. Other fields are filtered inside the JSONB
// document, as before.
//
// A column holds the field's first value only. An event with several
// values in some slotted field (a list) has lists set, and for such events
// a filter also tests every value in the document: a partial index holds
// them, so a query reads them besides its index matches.

// pgKind is how a hot field is kept in its column.
type pgKind uint8

const (
	// pgText is lower-cased text in the C collation, under a B-tree:
	// equality and prefix (LIKE 'x%') use it.
	pgText pgKind = iota
	// pgWords is lower-cased text under a trigram GIN index (pg_trgm):
	// contains, equality and prefix use it. For long free text (command
	// lines), where a B-tree would be large and useless for contains.
	pgWords
	// pgInet is the address (IPv4-mapped IPv6 unmapped, as the query
	// contract compares), under a B-tree: CIDR filters become a range of
	// it (PostgreSQL's inet <<= is B-tree indexable).
	pgInet
	// pgNumber is the value parsed as a float (as the query contract
	// parses), under a B-tree: numeric ranges use it.
	pgNumber
)

// hotField is a field kept in a typed column.
type hotField struct {
	key    event.Key
	column string
	kind   pgKind
}

// pgHotFields are the typed columns, in column order. They are the ECS
// fields hunts pivot on (hosts, users, hashes, addresses, names) and the
// numbers ranges ask about (ports, bytes). Adding one is a schema
// migration: the writer, the backfill and the indexes follow this list.
var pgHotFields = [...]hotField{
	{event.HostName, "h_host_name", pgText},
	{event.UserName, "h_user_name", pgText},
	{event.ProcessName, "h_process_name", pgText},
	{event.ProcessHashSha256, "h_process_sha256", pgText},
	{event.ProcessHashMd5, "h_process_md5", pgText},
	{event.ProcessHashSha1, "h_process_sha1", pgText},
	{event.FileHashSha256, "h_file_sha256", pgText},
	{event.DnsQuestionName, "h_dns_question", pgText},
	{event.UrlDomain, "h_url_domain", pgText},
	{event.ProcessCommandLine, "h_command_line", pgWords},
	{event.SourceIp, "h_source_ip", pgInet},
	{event.DestinationIp, "h_destination_ip", pgInet},
	{event.DestinationPort, "h_destination_port", pgNumber},
	{event.DestinationBytes, "h_destination_bytes", pgNumber},
	{event.SourceBytes, "h_source_bytes", pgNumber},
}

// hotFieldNamed returns the hot field called name.
func hotFieldNamed(name string) (hotField, bool) {
	for _, h := range pgHotFields {
		if h.key.Name() == name {
			return h, true
		}
	}
	return hotField{}, false
}

// sqlType is the column's PostgreSQL type.
func (h hotField) sqlType() string {
	switch h.kind {
	case pgInet:
		return "INET"
	case pgNumber:
		return "DOUBLE PRECISION"
	default:
		return `TEXT COLLATE "C"`
	}
}

// hotRow holds one event's typed columns while COPY encodes it; vals
// points into it, so a row is handed over without boxing a value.
type hotRow struct {
	text  [len(pgHotFields)]string
	addr  [len(pgHotFields)]netip.Addr
	num   [len(pgHotFields)]float64
	lists bool
}

// fill sets the columns from ev into vals (one per hot field, then
// lists): a pointer to the value, or a nil pointer for NULL.
func (r *hotRow) fill(ev *event.Event, vals []any) {
	for i, h := range pgHotFields {
		v := ev.Key(h.key)
		vals[i] = r.value(i, h.kind, v)
	}
	r.lists = ev.SlotLists()
	vals[len(pgHotFields)] = &r.lists
}

// value parses v as column i keeps it.
func (r *hotRow) value(i int, kind pgKind, v string) any {
	switch {
	case v == "":
		return nilFor(kind)
	case kind == pgInet:
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" { // a zoned address is in no network
			return (*netip.Addr)(nil)
		}
		r.addr[i] = a.Unmap()
		return &r.addr[i]
	case kind == pgNumber:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n != n { // NaN: PostgreSQL orders it above every number
			return (*float64)(nil)
		}
		r.num[i] = n
		return &r.num[i]
	default:
		r.text[i] = noNUL(strings.ToLower(v))
		return &r.text[i]
	}
}

// nilFor is the NULL of a column kind.
func nilFor(kind pgKind) any {
	switch kind {
	case pgInet:
		return (*netip.Addr)(nil)
	case pgNumber:
		return (*float64)(nil)
	default:
		return (*string)(nil)
	}
}

// likeEscape escapes LIKE's wildcards (and its escape character) in s.
func likeEscape(s string) string {
	if !strings.ContainsAny(s, `%_\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || c == '_' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// hotPredicate is f's condition on the typed column of h, for events
// without lists, and whether there is one: a filter the column cannot
// answer exactly (a CIDR on text, say) is left to the document. arg adds
// a query argument and returns its placeholder. exact reports whether the
// condition alone decides, or the document must confirm it.
func hotPredicate(h hotField, f *Filter, arg func(any) string) (cond string, exact, ok bool) {
	col := h.column
	switch h.kind {
	case pgText, pgWords:
		switch f.Op {
		case Eq:
			return col + " = " + arg(f.lower), true, true
		case Prefix:
			return col + " LIKE " + arg(likeEscape(f.lower)+"%"), true, true
		case Contains:
			return col + " LIKE " + arg("%"+likeEscape(f.lower)+"%"), true, true
		}
	case pgInet:
		switch f.Op {
		case CIDR:
			return col + " <<= " + arg(f.prefix), true, true
		case Eq:
			// Text equality: the address narrows, the document decides
			// (10.0.0.1 and 10.000.0.1 are one address, not one text).
			if a, err := netip.ParseAddr(f.Value); err == nil && a.Zone() == "" {
				return col + " = " + arg(a.Unmap()), false, true
			}
		}
	case pgNumber:
		if op, isRange := rangeOp(f.Op); isRange {
			return col + " " + op + " " + arg(f.number), true, true
		}
		if n, err := strconv.ParseFloat(f.Value, 64); f.Op == Eq && err == nil && n == n {
			return col + " = " + arg(n), false, true
		}
	}
	return "", false, false
}

// rangeOp is the SQL operator of a numeric filter.
func rangeOp(op Op) (string, bool) {
	switch op {
	case Gte:
		return ">=", true
	case Gt:
		return ">", true
	case Lte:
		return "<=", true
	case Lt:
		return "<", true
	}
	return "", false
}
