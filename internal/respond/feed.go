package respond

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Format names a feed format.
type Format string

// The feed formats.
const (
	// FormatEDL is a plain-text external dynamic list, one value per line,
	// as Palo Alto Networks and Fortinet firewalls fetch them. It needs a
	// type: ip (addresses and networks), cidr, domain, url (written
	// without scheme, as PAN-OS expects) or hash.
	FormatEDL Format = "edl"
	// FormatSuricata is a Suricata rule file: IPs and networks in both
	// directions, domains on DNS queries and TLS SNI (subdomains
	// included), URLs on HTTP host and URI. Hashes are not expressible as
	// rules and are left out.
	FormatSuricata Format = "suricata"
	// FormatRPZ is a DNS response policy zone answering NXDOMAIN for each
	// domain and its subdomains, and for answers holding a listed IP.
	FormatRPZ Format = "rpz"
	// FormatSTIX is a STIX 2.1 bundle of indicators with TLP 2.0 markings.
	FormatSTIX Format = "stix"
)

// The types each format can express, so a request for the others is
// refused rather than answered with an empty feed.
var formatTypes = map[Format][]string{
	FormatEDL:      {TypeIP, TypeCIDR, TypeDomain, TypeURL, TypeHash},
	FormatSuricata: {TypeIP, TypeCIDR, TypeDomain, TypeURL},
	FormatRPZ:      {TypeIP, TypeCIDR, TypeDomain},
	FormatSTIX:     {TypeIP, TypeCIDR, TypeDomain, TypeURL, TypeHash},
}

// ErrBadFeedRequest is returned (wrapped) for an unknown format or a type
// the format cannot express.
var ErrBadFeedRequest = errors.New("bad feed request")

// Feed is a rendered feed.
type Feed struct {
	Format      Format
	Type        string
	Body        []byte
	ContentType string
	// ETag is a weak validator over the feed's entries: equal ETags mean
	// the same entries, even though a zone serial or a generation comment
	// may differ.
	ETag string
	// LastModified is when the member's blocklist last changed (an entry
	// added, removed or expired); zero if never.
	LastModified time.Time
	// Count is the number of entries in the feed.
	Count int
}

// feedItem is one entry of a feed: a blocklist entry or an indicator from
// the IndicatorSource.
type feedItem struct {
	Entry
	source string
	id     string
}

// Feed renders member's unexpired blocklist entries and source indicators
// in format, restricted to typ if not empty ("ip" includes networks).
func (r *Responder) Feed(ctx context.Context, member string, format Format, typ string) (*Feed, error) {
	types, ok := formatTypes[format]
	if !ok {
		return nil, fmt.Errorf("respond: unknown feed format %q (use edl, suricata, rpz or stix): %w", format, ErrBadFeedRequest)
	}
	if typ != "" && !slices.Contains(types, typ) {
		return nil, fmt.Errorf("respond: format %s cannot carry type %q (use one of %s): %w",
			format, typ, strings.Join(types, ", "), ErrBadFeedRequest)
	}
	if format == FormatEDL && typ == "" {
		return nil, fmt.Errorf("respond: an EDL holds one type: add type=ip, domain, url or hash: %w", ErrBadFeedRequest)
	}
	items, lastMod, err := r.collect(ctx, member)
	if err != nil {
		return nil, err
	}
	items = slices.DeleteFunc(items, func(it feedItem) bool {
		if typ == "" {
			return !slices.Contains(types, it.Type)
		}
		return it.Type != typ && !(typ == TypeIP && it.Type == TypeCIDR)
	})
	f := &Feed{Format: format, Type: typ, ETag: feedETag(format, typ, items), LastModified: lastMod, Count: len(items)}
	now := r.opts.Now()
	switch format {
	case FormatEDL:
		f.Body, f.ContentType = renderEDL(items), "text/plain; charset=utf-8"
	case FormatSuricata:
		f.Body, f.ContentType = renderSuricata(member, items, now), "text/plain; charset=utf-8"
	case FormatRPZ:
		f.Body, f.ContentType = renderRPZ(member, items, now), "text/dns; charset=utf-8"
	case FormatSTIX:
		f.Body, f.ContentType = renderSTIX(items, f.ETag, now), "application/stix+json;version=2.1"
	}
	return f, nil
}

// collect gathers the member's active blocklist entries and the source's
// active indicators, normalised, merged by (type, value) and sorted.
// Indicators that fail normalisation are left out: a feed line that does
// not parse can take a firewall's whole list down.
func (r *Responder) collect(ctx context.Context, member string) ([]feedItem, time.Time, error) {
	entries, lastMod, err := r.blocklist.listAll(ctx, member)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := r.opts.Now()
	byKey := make(map[[2]string]int)
	var items []feedItem
	add := func(it feedItem) {
		k := [2]string{it.Type, it.Value}
		i, ok := byKey[k]
		if !ok {
			byKey[k] = len(items)
			items = append(items, it)
			return
		}
		// Listed twice: keep the longer life and the laxer marking, since
		// the value is known at that level through the other source.
		old := &items[i]
		if old.Expires.IsZero() || it.Expires.IsZero() {
			old.Expires = time.Time{}
		} else if it.Expires.After(old.Expires) {
			old.Expires = it.Expires
		}
		old.TLP = min(old.TLP, it.TLP)
	}
	for _, e := range entries {
		if e.Active(now) {
			add(feedItem{Entry: e, source: "blocklist"})
		}
	}
	if r.opts.Indicators != nil {
		inds, err := r.opts.Indicators.ActiveIndicators(ctx, member)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("respond: indicator source: %w", err)
		}
		for _, in := range inds {
			typ, val, err := Normalize(in.Type, in.Value)
			if err != nil {
				r.log.Debug("respond: indicator left out of feed", "id", in.ID, "error", err)
				continue
			}
			e := Entry{Member: member, Type: typ, Value: val, TLP: in.TLP, Expires: in.Expires, Added: in.Created,
				Reason: "indicator from " + in.Source}
			if e.Active(now) {
				add(feedItem{Entry: e, source: in.Source, id: in.ID})
			}
		}
	}
	slices.SortFunc(items, func(a, b feedItem) int {
		return cmpStrings(a.Type, b.Type, a.Value, b.Value)
	})
	return items, lastMod, nil
}

func cmpStrings(a1, b1, a2, b2 string) int {
	if c := strings.Compare(a1, b1); c != 0 {
		return c
	}
	return strings.Compare(a2, b2)
}

// feedETag hashes everything a rendering depends on except the time it
// was made.
func feedETag(format Format, typ string, items []feedItem) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", format, typ)
	var buf [8]byte
	for _, it := range items {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%d\x00", it.Type, it.Value, it.Reason, it.source, it.id, it.TLP)
		binary.BigEndian.PutUint64(buf[:], uint64(it.Expires.UnixNano()))
		h.Write(buf[:])
		binary.BigEndian.PutUint64(buf[:], uint64(it.Added.UnixNano()))
		h.Write(buf[:])
	}
	return `W/"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}

func renderEDL(items []feedItem) []byte {
	var b strings.Builder
	for _, it := range items {
		v := it.Value
		if it.Type == TypeURL {
			v = strings.TrimPrefix(strings.TrimPrefix(v, "http://"), "https://")
		}
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
