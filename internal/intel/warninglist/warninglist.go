package warninglist

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/gaissmai/bart"
)

// The list types MISP defines.
const (
	TypeString    = "string"    // the value equals an entry
	TypeSubstring = "substring" // the value contains an entry
	TypeHostname  = "hostname"  // the value's host is an entry or below one
	TypeCIDR      = "cidr"      // the value's address is in an entry's range
	TypeRegex     = "regex"     // the value matches an entry, a PCRE "/re/flags"
)

// List is one MISP warning list as its list.json has it.
type List struct {
	Name               string   `json:"name"`
	Description        string   `json:"description"`
	Version            int      `json:"version"`
	Type               string   `json:"type"`
	List               []string `json:"list"`
	MatchingAttributes []string `json:"matching_attributes"`
}

// ParseList reads a list.json document and checks that it names its list,
// has a known type and says which attributes it applies to.
func ParseList(data []byte) (List, error) {
	var l List
	if err := json.Unmarshal(data, &l); err != nil {
		return List{}, fmt.Errorf("warninglist: %v", err)
	}
	switch {
	case l.Name == "":
		return List{}, errors.New("warninglist: list has no name")
	case !slices.Contains([]string{TypeString, TypeSubstring, TypeHostname, TypeCIDR, TypeRegex}, l.Type):
		return List{}, fmt.Errorf("warninglist: %s: unknown type %q", l.Name, l.Type)
	case len(l.MatchingAttributes) == 0:
		return List{}, fmt.Errorf("warninglist: %s: no matching_attributes", l.Name)
	}
	return l, nil
}

// Load reads every <dir>/*/list.json (the layout of the MISP
// misp-warninglists repository's lists folder; dir may also be the
// repository itself, with its lists/ folder) into a Set. Lists are ordered by
// folder name, which decides which list Check names when several match.
func Load(dir string) (*Set, error) {
	if st, err := os.Stat(filepath.Join(dir, "lists")); err == nil && st.IsDir() {
		dir = filepath.Join(dir, "lists")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "list.json"))
	if err != nil {
		return nil, fmt.Errorf("warninglist: %v", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("warninglist: no */list.json under %s", dir)
	}
	slices.Sort(files)
	lists := make([]List, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("warninglist: %v", err)
		}
		l, err := ParseList(data)
		if err != nil {
			return nil, fmt.Errorf("%v (in %s)", err, f)
		}
		lists = append(lists, l)
	}
	return NewSet(lists...)
}

// Set is a compiled group of warning lists, safe for concurrent use.
//
// Entries of all lists share one structure per list type, each entry
// tagged with its list: exact strings in a map, host names in a map probed
// once per parent domain, ranges in one bart table, substrings in a map
// keyed by their first three bytes, regular expressions in a slice. A
// check costs a few map probes plus one bart lookup, whatever the number of
// lists.
type Set struct {
	lists []setList

	exact  map[string][]uint16
	suffix map[string][]uint16
	cidr   *bart.Table[[]uint16]
	// substrings of three bytes or more, by their first three bytes; the
	// shorter ones are tried one by one.
	subs      map[[3]byte][]subEntry
	shortSubs []subEntry
	regexes   []regexEntry
	skipped   []string
}

type setList struct {
	name  string
	attrs map[string]bool
}

type subEntry struct {
	s    string
	list uint16
}

type regexEntry struct {
	re   *regexp.Regexp
	list uint16
}

// NewSet compiles lists. Regular expressions Go cannot run (RE2 has no
// back-references or look-around) are left out and reported by Skipped, as
// are unparsable CIDR entries.
func NewSet(lists ...List) (*Set, error) {
	if len(lists) > 1<<16 {
		return nil, errors.New("warninglist: more than 65536 lists")
	}
	s := &Set{
		exact:  map[string][]uint16{},
		suffix: map[string][]uint16{},
		cidr:   new(bart.Table[[]uint16]),
		subs:   map[[3]byte][]subEntry{},
	}
	for i, l := range lists {
		id := uint16(i)
		attrs := make(map[string]bool, len(l.MatchingAttributes))
		for _, a := range l.MatchingAttributes {
			attrs[strings.ToLower(strings.TrimSpace(a))] = true
		}
		s.lists = append(s.lists, setList{name: l.Name, attrs: attrs})
		for _, v := range l.List {
			if err := s.addEntry(l, id, v); err != nil {
				s.skipped = append(s.skipped, fmt.Sprintf("%s: %q: %v", l.Name, v, err))
			}
		}
	}
	return s, nil
}

// addEntry files one entry of list l.
func (s *Set) addEntry(l List, id uint16, v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	switch l.Type {
	case TypeString, TypeHostname:
		v = strings.ToLower(v)
		// A leading dot means "this domain and below" in either type; a
		// hostname list always means that.
		if l.Type == TypeHostname || strings.HasPrefix(v, ".") {
			if host := strings.Trim(v, "."); host != "" {
				s.suffix[host] = appendList(s.suffix[host], id)
			}
			return nil
		}
		v = strings.TrimSuffix(v, ".")
		s.exact[v] = appendList(s.exact[v], id)
	case TypeSubstring:
		v = strings.ToLower(v)
		e := subEntry{s: v, list: id}
		if len(v) < 3 {
			s.shortSubs = append(s.shortSubs, e)
			return nil
		}
		k := [3]byte{v[0], v[1], v[2]}
		s.subs[k] = append(s.subs[k], e)
	case TypeCIDR:
		p, err := parseRange(v)
		if err != nil {
			return err
		}
		s.cidr.Modify(p, func(old []uint16, _ bool) ([]uint16, bool) {
			return appendList(old, id), false
		})
	case TypeRegex:
		re, err := compilePCRE(v)
		if err != nil {
			return err
		}
		s.regexes = append(s.regexes, regexEntry{re: re, list: id})
	}
	return nil
}

// appendList adds id to ids once.
func appendList(ids []uint16, id uint16) []uint16 {
	if len(ids) > 0 && ids[len(ids)-1] == id {
		return ids
	}
	return append(ids, id)
}

// parseRange reads an address or CIDR range, IPv4-mapped IPv6 unmapped.
func parseRange(v string) (netip.Prefix, error) {
	if !strings.Contains(v, "/") {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap().WithZone("")
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// compilePCRE turns MISP's "/pattern/flags" into a Go regexp. The flags i,
// m, s and U map to Go's; g (global) means nothing for a match test.
func compilePCRE(v string) (*regexp.Regexp, error) {
	pattern, flags := v, ""
	if strings.HasPrefix(v, "/") {
		end := strings.LastIndexByte(v, '/')
		if end == 0 {
			return nil, errors.New("unterminated /pattern/")
		}
		pattern, flags = v[1:end], v[end+1:]
	}
	goFlags := ""
	for _, f := range flags {
		switch f {
		case 'i', 'm', 's', 'U':
			goFlags += string(f)
		case 'g':
		default:
			return nil, fmt.Errorf("unsupported flag %q", f)
		}
	}
	if goFlags != "" {
		pattern = "(?" + goFlags + ")" + pattern
	}
	return regexp.Compile(pattern)
}

// Skipped lists the entries NewSet could not use, with the reason.
func (s *Set) Skipped() []string { return s.skipped }

// Names returns the names of the set's lists, in order.
func (s *Set) Names() []string {
	names := make([]string, len(s.lists))
	for i, l := range s.lists {
		names[i] = l.name
	}
	return names
}

// Check reports whether value, of the given kind, is on a list that applies
// to that kind, and returns the name of the first such list.
//
// kind is a MISP attribute type ("ip-dst", "domain", "hostname", "url",
// "md5", "email-src", "domain|ip", ...), or one of the names xsoc's indicator
// kinds and STIX use: "ip" (and "ipv4-addr", "ipv6-addr": both ip-src and
// ip-dst), "domain-name" (domain and hostname), "email" and "email-addr"
// (email-src and email-dst), "sha-1", "sha-256". A composite type's value
// ("example.com|192.0.2.1") is checked part by part. For url and uri
// values, string, hostname and cidr lists are checked against the URL's
// host, as MISP does; substring and regex lists against the whole URL.
// Comparisons ignore case, surrounding space and a trailing dot.
func (s *Set) Check(kind, value string) (listName string, hit bool) {
	i := s.first(kind, value)
	if i < 0 {
		return "", false
	}
	return s.lists[i].name, true
}

// CheckAll returns the names of every list that applies to kind and holds
// value, in list order.
func (s *Set) CheckAll(kind, value string) []string {
	hit := make([]bool, len(s.lists))
	s.each(kind, value, func(id uint16) { hit[id] = true })
	var names []string
	for i, h := range hit {
		if h {
			names = append(names, s.lists[i].name)
		}
	}
	return names
}

// first returns the index of the first list matching, or -1.
func (s *Set) first(kind, value string) int {
	best := -1
	s.each(kind, value, func(id uint16) {
		if best < 0 || int(id) < best {
			best = int(id)
		}
	})
	return best
}

// each calls fn for every list that applies to kind and holds value, in no
// particular order and possibly more than once.
func (s *Set) each(kind, value string, fn func(uint16)) {
	types := attributeTypes(kind)
	if len(types) == 0 {
		return
	}
	consider := func(id uint16) {
		if s.applies(int(id), types) {
			fn(id)
		}
	}
	parts := []string{value}
	if strings.Contains(types[0], "|") {
		parts = strings.Split(value, "|")
	}
	for _, part := range parts {
		s.checkPart(types, part, consider)
	}
}

// applies reports whether list i matches any of the attribute types.
func (s *Set) applies(i int, types []string) bool {
	for _, t := range types {
		if s.lists[i].attrs[t] {
			return true
		}
	}
	return false
}

// checkPart offers every list that has value among its entries to consider.
func (s *Set) checkPart(types []string, value string, consider func(uint16)) {
	whole := strings.ToLower(strings.TrimSpace(value))
	v := strings.TrimSuffix(whole, ".")
	if types[0] == "url" || types[0] == "uri" {
		v = urlHost(v)
	}
	if v == "" {
		return
	}
	for _, id := range s.exact[v] {
		consider(id)
	}
	// The host and each parent domain, cut at label boundaries.
	for h := v; ; {
		for _, id := range s.suffix[h] {
			consider(id)
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			break
		}
		h = h[i+1:]
	}
	if s.cidr.Size() > 0 {
		if a, err := netip.ParseAddr(strings.Trim(v, "[]")); err == nil {
			a = a.Unmap().WithZone("")
			for _, ids := range s.cidr.Supernets(netip.PrefixFrom(a, a.BitLen())) {
				for _, id := range ids {
					consider(id)
				}
			}
		}
	}
	for i := 0; i+3 <= len(whole); i++ {
		for _, e := range s.subs[[3]byte{whole[i], whole[i+1], whole[i+2]}] {
			if strings.HasPrefix(whole[i:], e.s) {
				consider(e.list)
			}
		}
	}
	for _, e := range s.shortSubs {
		if strings.Contains(whole, e.s) {
			consider(e.list)
		}
	}
	raw := strings.TrimSpace(value)
	for _, e := range s.regexes {
		if s.applies(int(e.list), types) && e.re.MatchString(raw) {
			consider(e.list)
		}
	}
}

// urlHost returns the host of a URL ("https://user@Host:443/x" gives
// "host"), or the part before the first '/' of a URL without a scheme.
func urlHost(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.LastIndexByte(u, '@'); i >= 0 {
		u = u[i+1:]
	}
	if strings.HasPrefix(u, "[") {
		if i := strings.IndexByte(u, ']'); i >= 0 {
			return u[1:i]
		}
	}
	if i := strings.LastIndexByte(u, ':'); i >= 0 && strings.Count(u, ":") == 1 {
		u = u[:i]
	}
	return strings.TrimSuffix(u, ".")
}

// kindTypes maps the kind names other than MISP attribute types to the
// attribute types they stand for.
var kindTypes = map[string][]string{
	"ip": {"ip-src", "ip-dst"}, "ipv4-addr": {"ip-src", "ip-dst"}, "ipv6-addr": {"ip-src", "ip-dst"},
	"domain-name": {"domain", "hostname"},
	"email":       {"email-src", "email-dst"}, "email-addr": {"email-src", "email-dst"},
	"sha-1": {"sha1"}, "sha-256": {"sha256"},
}

// attributeTypes returns the MISP attribute types kind stands for.
func attributeTypes(kind string) []string {
	k := strings.ToLower(strings.TrimSpace(kind))
	if k == "" {
		return nil
	}
	if t, ok := kindTypes[k]; ok {
		return t
	}
	return []string{k}
}
