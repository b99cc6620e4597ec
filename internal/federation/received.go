package federation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// receivedPerOrigin is the migration (of Schema) that keeps one row per
// origin of a received indicator — its id, origin node and sender — where
// there was one per id: two members of a node pushing the same value
// share the node's indicator id, and each is an origin of its own, with
// its TLP level, recipients and revocation. It also keeps the sighting's
// first and last seen.
const receivedPerOrigin = `CREATE TABLE federation_received (
			indicator_id TEXT NOT NULL,
			origin_node TEXT NOT NULL,
			sender TEXT NOT NULL,
			country TEXT NOT NULL,
			sector TEXT NOT NULL,
			tlp INTEGER NOT NULL,
			named TEXT NOT NULL,
			kind INTEGER NOT NULL,
			value TEXT NOT NULL,
			confidence INTEGER NOT NULL,
			detected BIGINT NOT NULL,
			valid_until BIGINT NOT NULL,
			sightings INTEGER NOT NULL,
			first_seen BIGINT NOT NULL DEFAULT 0,
			last_seen BIGINT NOT NULL DEFAULT 0,
			warning TEXT NOT NULL,
			applied BIGINT NOT NULL,
			revoked BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (indicator_id, origin_node, sender)
		);
		INSERT INTO federation_received (indicator_id, origin_node, sender, country, sector, tlp, named, kind, value, confidence,
			detected, valid_until, sightings, warning, applied, revoked)
			SELECT indicator_id, origin_node, sender, country, sector, tlp, named, kind, value, confidence,
			detected, valid_until, sightings, warning, applied, revoked FROM federation_warnings;
		DROP TABLE federation_warnings;
		ALTER TABLE federation_received RENAME TO federation_warnings;
		CREATE INDEX IF NOT EXISTS federation_warnings_applied ON federation_warnings (applied)`

// ReceivedIndicator is an indicator this node received in a warning, from
// one origin: a member of another node, named by the node and the
// member's handle (Sender), which only its node can link to the member.
// ID is the origin's indicator id, the one it revokes; Indicator the id
// this node indexes the value under — the rule id of the alerts it
// raises —, the same for every origin of the value.
type ReceivedIndicator struct {
	ID         string    `json:"id"`
	Indicator  string    `json:"indicator"`
	Type       string    `json:"type"`
	Value      string    `json:"value"`
	OriginNode string    `json:"origin_node"`
	Sender     string    `json:"sender"`
	Country    string    `json:"country"`
	Sector     string    `json:"sector,omitempty"`
	TLP        tlp.Level `json:"tlp"`
	Named      []string  `json:"named,omitempty"`
	Confidence int       `json:"confidence"`
	Sightings  int       `json:"sightings"`
	FirstSeen  time.Time `json:"first_seen,omitzero"`
	LastSeen   time.Time `json:"last_seen,omitzero"`
	Detected   time.Time `json:"detected"`
	Applied    time.Time `json:"applied"`
	ValidUntil time.Time `json:"valid_until"`
	Revoked    time.Time `json:"revoked,omitzero"`
	Warning    string    `json:"warning"`
}

// ReceivedFilter selects received indicators; zero fields select all.
type ReceivedFilter struct {
	// Member, if set, limits the list to what that member may see.
	Member string
	Since  time.Time
	// Cursor continues a listing after the page that returned it.
	Cursor string
	Limit  int
}

// ListReceived lists the indicators a node received, one per origin,
// oldest applied first from Since.
func ListReceived(ctx context.Context, db *store.DB, f ReceivedFilter) ([]ReceivedIndicator, error) {
	out, _, err := ListReceivedPage(ctx, db, f)
	return out, err
}

// ListReceivedPage is ListReceived one page at a time: next, empty only
// when the page is, is the Cursor after its last indicator (the following
// page, or what arrives later). A whole batch of warnings is applied at
// one instant, so a page cannot end at a time: the cursor names the last
// row read (its indicator id and origin).
func ListReceivedPage(ctx context.Context, db *store.DB, f ReceivedFilter) (out []ReceivedIndicator, next string, err error) {
	if f.Limit <= 0 || f.Limit > 50000 {
		f.Limit = 1000
	}
	cond, args, err := receivedAfter(f)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.Query(ctx, `SELECT indicator_id, origin_node, sender, kind, value, country, sector, tlp, named, confidence,
		sightings, first_seen, last_seen, detected, applied, valid_until, revoked, warning FROM federation_warnings WHERE `+cond+`
		ORDER BY applied, indicator_id, origin_node, sender LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out = []ReceivedIndicator{}
	for rows.Next() {
		var r ReceivedIndicator
		var kind, level int
		var named string
		var first, last, detected, applied, until, revoked int64
		if err := rows.Scan(&r.ID, &r.OriginNode, &r.Sender, &kind, &r.Value, &r.Country, &r.Sector, &level, &named, &r.Confidence,
			&r.Sightings, &first, &last, &detected, &applied, &until, &revoked, &r.Warning); err != nil {
			return nil, "", err
		}
		next = strings.Join([]string{strconv.FormatInt(applied, 10), r.ID, r.OriginNode, r.Sender}, "~")
		r.Indicator = ReceivedID(ioc.Kind(kind), r.Value)
		r.Type, r.TLP = ioc.Kind(kind).String(), tlp.Level(level)
		if named != "" {
			r.Named = strings.Split(named, ",")
		}
		r.FirstSeen, r.LastSeen = store.Time(first), store.Time(last)
		r.Detected, r.Applied, r.ValidUntil, r.Revoked = store.Time(detected), store.Time(applied), store.Time(until), store.Time(revoked)
		if f.Member != "" && !tlp.MayReceive(r.TLP, tlp.Recipient{Member: f.Member}.RelationTo("", r.Named)) {
			continue
		}
		out = append(out, r)
	}
	return out, next, rows.Err()
}

// receivedAfter is the condition selecting the rows after f's cursor:
// "applied~indicator id~origin node~sender". A cursor of an earlier
// version, "applied~indicator id", continues after every origin of that
// id.
func receivedAfter(f ReceivedFilter) (string, []any, error) {
	cond, args := `applied >= ?`, []any{store.Nanos(f.Since)}
	if f.Cursor == "" {
		return cond, args, nil
	}
	parts := strings.Split(f.Cursor, "~")
	n, perr := strconv.ParseInt(parts[0], 10, 64)
	if perr != nil || (len(parts) != 2 && len(parts) != 4) || parts[1] == "" {
		return "", nil, fmt.Errorf("%w: cursor %q", ErrBadCursor, f.Cursor)
	}
	if len(parts) == 2 {
		return cond + ` AND (applied > ? OR applied = ? AND indicator_id > ?)`, append(args, n, n, parts[1]), nil
	}
	id, node, sender := parts[1], parts[2], parts[3]
	return cond + ` AND (applied > ? OR applied = ? AND (indicator_id > ? OR indicator_id = ? AND
		(origin_node > ? OR origin_node = ? AND sender > ?)))`, append(args, n, n, id, id, node, node, sender), nil
}

// ErrBadCursor: a listing's cursor is not one it returned.
var ErrBadCursor = errors.New("federation: bad cursor")
