package ioc

import (
	"encoding/binary"
	"encoding/hex"
	"hash/maphash"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/gaissmai/bart"
	"github.com/xsoc/xsoc/internal/tlp"
)

// space is a key space: one lookup structure per kind of key. IP addresses
// split into IPv4 and IPv6 exact keys and CIDR ranges.
type space uint8

const (
	spV4 space = iota
	spV6
	spMD5
	spSHA1
	spSHA256
	spDomain
	spURL
	spEmail
	numSpaces

	// spCIDR marks batch operations on CIDR ranges, which live in a bart
	// table rather than in a hash table.
	spCIDR = numSpaces
)

// firstStrSpace is the first space whose keys are strings.
const firstStrSpace = spDomain

// kindOfSpace maps a space back to the indicator kind.
var kindOfSpace = [numSpaces + 1]Kind{
	spV4: KindIP, spV6: KindIP, spMD5: KindMD5, spSHA1: KindSHA1, spSHA256: KindSHA256,
	spDomain: KindDomain, spURL: KindURL, spEmail: KindEmail, spCIDR: KindIP,
}

// meta is one entry: everything the index knows about one indicator on one
// value, in 36 bytes. Strings are not stored here: the source, owner, named
// recipients, TLP and half-life are interned together as a provenance, and
// a STIX id of the usual "type--uuid" form is kept as the uuid's 16 bytes
// plus an interned type. Entries live in the metaLog and are never modified
// once published; an entry's key is in the lookup structure that points at
// it.
type meta struct {
	// id is the uuid of a "type--uuid" id, or for other ids their offset
	// (8 bytes) and length (4 bytes) in the raw id arena.
	id     [16]byte
	prov   uint32 // index into the provenance table
	from   uint32 // valid_from, Unix seconds; 0: always
	until  uint32 // valid_until, Unix seconds; 0: never expires
	next   uint32 // next entry on the same key, 0 at the end of the chain
	idType uint16 // index into the id type table, or rawID
	conf   uint8  // confidence 0–100 at valid_from
	flags  uint8
}

// flagExact marks a domain entry that matches the name itself only, not
// the names below it.
const flagExact = 1

// rawID marks a meta whose id is not of the form "type--uuid".
const rawID = 0xffff

// provenance is what many entries share: who says it, who owns it, who may
// see it and how fast it ages.
type provenance struct {
	source   string
	owner    string
	named    []string
	halfLife uint32 // seconds; 0: no decay
	tlp      tlp.Level
	// warnedFrom is the country of the cross-border warning the entries
	// came with, if any.
	warnedFrom string
}

// key returns the interning key of p.
func (p *provenance) key() string {
	b := make([]byte, 0, 64)
	b = append(b, p.source...)
	b = append(b, 0)
	b = append(b, p.owner...)
	for _, n := range p.named {
		b = append(b, 0)
		b = append(b, n...)
	}
	b = append(b, 1, byte(p.tlp))
	b = binary.LittleEndian.AppendUint32(b, p.halfLife)
	b = append(b, p.warnedFrom...)
	return string(b)
}

// The metaLog is an append-only array of metas in fixed chunks, addressed
// by a uint32 reference; reference 0 is never used and means "none". The
// writer appends beyond the length that published snapshots see, and never
// changes an entry readers can reach, so readers need no lock; chunks never
// move, so growth copies only the chunk directory.
const (
	chunkBits = 14
	chunkLen  = 1 << chunkBits
	chunkMask = chunkLen - 1
)

type metaChunk [chunkLen]meta

type metaLog struct {
	chunks []*metaChunk
	n      uint32 // entries in use, including the unused entry 0
}

func newMetaLog() metaLog {
	return metaLog{chunks: []*metaChunk{new(metaChunk)}, n: 1}
}

// at returns entry r.
func (l *metaLog) at(r uint32) *meta {
	return &l.chunks[r>>chunkBits][r&chunkMask]
}

// add appends m and returns its reference. It reports false when the log
// holds 2^32-1 entries.
func (l *metaLog) add(m meta) (uint32, bool) {
	if l.n == ^uint32(0) {
		return 0, false
	}
	if int(l.n>>chunkBits) == len(l.chunks) {
		l.chunks = append(l.chunks, new(metaChunk))
	}
	r := l.n
	*l.at(r) = m
	l.n++
	return r, true
}

// base is the large immutable layer of the index: flat hash tables built in
// one go at compaction.
type base struct {
	seed   uint64       // for IPv4 keys
	bseed  maphash.Seed // for byte keys
	v4     flatTable[uint32]
	v6     flatTable[[16]byte]
	md5    flatTable[[16]byte]
	sha1   flatTable[[20]byte]
	sha256 flatTable[[32]byte]
	str    [numSpaces - firstStrSpace]strTable
	keys   [numSpaces]int // keys per space
	filter filter         // every key's hash
}

// newBase returns an empty base sized for keys[sp] keys per space and
// strBytes[sp] key bytes per string space.
func newBase(keys, strBytes [numSpaces]int) *base {
	b := &base{seed: rand.Uint64(), bseed: maphash.MakeSeed()}
	total := 0
	for _, n := range keys {
		total += n
	}
	b.filter = newFilter(total)
	b.v4 = newFlatTable[uint32](keys[spV4], lineStart)
	b.v6 = newFlatTable[[16]byte](keys[spV6], ^0)
	b.md5 = newFlatTable[[16]byte](keys[spMD5], ^0)
	b.sha1 = newFlatTable[[20]byte](keys[spSHA1], ^0)
	b.sha256 = newFlatTable[[32]byte](keys[spSHA256], ^0)
	for sp := firstStrSpace; sp < numSpaces; sp++ {
		b.str[sp-firstStrSpace] = newStrTable(keys[sp], strBytes[sp])
	}
	return b
}

// hash returns the hash of key k in space sp, for get and touch.
func (b *base) hash(sp space, k []byte) uint64 {
	if sp == spV4 {
		return mix64(uint64(binary.BigEndian.Uint32(k)), b.seed)
	}
	return maphash.Bytes(b.bseed, k)
}

// get returns the chain head for key k in space sp, whose hash is h, or 0.
// k has the space's key length.
func (b *base) get(sp space, k []byte, h uint64) uint32 {
	if b.keys[sp] == 0 {
		return 0
	}
	switch sp {
	case spV4:
		return b.v4.get(binary.BigEndian.Uint32(k), h)
	case spV6:
		return b.v6.get([16]byte(k), h)
	case spMD5:
		return b.md5.get([16]byte(k), h)
	case spSHA1:
		return b.sha1.get([20]byte(k), h)
	case spSHA256:
		return b.sha256.get([32]byte(k), h)
	}
	return b.str[sp-firstStrSpace].get(k, h)
}

// lookup returns the chain head for key k in space sp, or 0.
func (b *base) lookup(sp space, k []byte) uint32 {
	if b.keys[sp] == 0 {
		return 0
	}
	return b.get(sp, k, b.hash(sp, k))
}

// touch reads the slot where a lookup of hash h in space sp starts, so
// that several lookups' cache misses overlap (see matcher.flush). It reads
// the slot's first and last bytes, which may lie in two cache lines, and
// branches on neither. The result only keeps the reads from being
// optimised away.
func (b *base) touch(sp space, h uint64) uint32 {
	switch sp {
	case spV4:
		if s := b.v4.first(h); s != nil {
			return s.ref
		}
	case spV6:
		if s := b.v6.first(h); s != nil {
			return s.ref + uint32(s.key[0])
		}
	case spMD5:
		if s := b.md5.first(h); s != nil {
			return s.ref + uint32(s.key[0])
		}
	case spSHA1:
		if s := b.sha1.first(h); s != nil {
			return s.ref + uint32(s.key[0])
		}
	case spSHA256:
		if s := b.sha256.first(h); s != nil {
			return s.ref + uint32(s.key[0])
		}
	default:
		return b.str[sp-firstStrSpace].touch(h)
	}
	return 0
}

// insert adds a key the base does not hold yet.
func (b *base) insert(sp space, k []byte, ref uint32) {
	b.keys[sp]++
	h := b.hash(sp, k)
	b.filter.add(h)
	switch sp {
	case spV4:
		b.v4.insert(binary.BigEndian.Uint32(k), h, ref)
	case spV6:
		b.v6.insert([16]byte(k), h, ref)
	case spMD5:
		b.md5.insert([16]byte(k), h, ref)
	case spSHA1:
		b.sha1.insert([20]byte(k), h, ref)
	case spSHA256:
		b.sha256.insert([32]byte(k), h, ref)
	default:
		b.str[sp-firstStrSpace].insert(k, h, ref)
	}
}

// each calls fn for every key of space sp with its chain head. The key
// slice is only valid during the call.
func (b *base) each(sp space, fn func(k []byte, ref uint32)) {
	var buf [4]byte
	switch sp {
	case spV4:
		for _, s := range b.v4.slots {
			if s.ref != 0 {
				binary.BigEndian.PutUint32(buf[:4], s.key)
				fn(buf[:4], s.ref)
			}
		}
	case spV6:
		for i := range b.v6.slots {
			if s := &b.v6.slots[i]; s.ref != 0 {
				fn(s.key[:], s.ref)
			}
		}
	case spMD5:
		for i := range b.md5.slots {
			if s := &b.md5.slots[i]; s.ref != 0 {
				fn(s.key[:], s.ref)
			}
		}
	case spSHA1:
		for i := range b.sha1.slots {
			if s := &b.sha1.slots[i]; s.ref != 0 {
				fn(s.key[:], s.ref)
			}
		}
	case spSHA256:
		for i := range b.sha256.slots {
			if s := &b.sha256.slots[i]; s.ref != 0 {
				fn(s.key[:], s.ref)
			}
		}
	default:
		t := &b.str[sp-firstStrSpace]
		for _, s := range t.slots {
			if s.ref != 0 {
				fn(t.key(s), s.ref)
			}
		}
	}
}

// strBytes returns the arena size of string space sp.
func (b *base) strBytes(sp space) int {
	if sp < firstStrSpace {
		return 0
	}
	return len(b.str[sp-firstStrSpace].arena)
}

// snapshot is one immutable state of the index. Readers load the current
// snapshot with one atomic load and use it without any lock; a commit
// publishes a new one.
type snapshot struct {
	log     metaLog
	provs   []provenance
	idTypes []string
	rawIDs  []byte

	base *base
	// delta shadows base key by key: a key present here has this chain
	// (0: removed) whatever base says. Copied on write at each commit.
	delta     [numSpaces]map[string]uint32
	deltaKeys int
	cidr      *bart.Table[uint32]

	// Cheap filters that spare most lookups the work that cannot succeed.
	// rangeHint marks the address prefixes indexed ranges may cover: [0]
	// the first 16 bits of IPv4, [1] of IPv6, [2] the first 24 bits of
	// IPv4. domainLabels has bit n-1 set when a domain of n labels (n ≥ 64:
	// bit 63) may be indexed. Removals leave bits set; compaction clears
	// them.
	rangeHint    [numHints]*prefixBits
	domainLabels uint64

	live int // entries reachable from the lookup structures
}

// The range hints, and which apply to each address family.
const numHints = 3

var familyHints = [2][]int{{0, 2}, {1}}

// hintBits is the prefix length each range hint resolves.
var hintBits = [numHints]int{16, 16, 24}

// prefixBits has one bit per address prefix of a fixed length.
type prefixBits struct {
	bits  []uint64
	width int // prefix length in bits: 16 or 24
}

func newPrefixBits(width int) *prefixBits {
	return &prefixBits{bits: make([]uint64, 1<<width/64), width: width}
}

// clone returns a copy of r, or a new empty set of the given width if r is
// nil.
func (r *prefixBits) clone(width int) *prefixBits {
	c := newPrefixBits(width)
	if r != nil {
		copy(c.bits, r.bits)
	}
	return c
}

// index returns the prefix of address bytes a.
func (r *prefixBits) index(a []byte) int {
	if r.width == 16 {
		return int(a[0])<<8 | int(a[1])
	}
	return int(a[0])<<16 | int(a[1])<<8 | int(a[2])
}

// mark sets the bit of every prefix p overlaps.
func (r *prefixBits) mark(p netip.Prefix) {
	first := r.index(p.Addr().AsSlice())
	n := 1
	if p.Bits() < r.width {
		n = 1 << (r.width - p.Bits())
	}
	for i := first; i < first+n; i++ {
		r.bits[i>>6] |= 1 << (i & 63)
	}
}

// mayContain reports whether a range marked in r may contain the address
// of bytes a.
func (r *prefixBits) mayContain(a []byte) bool {
	if r == nil {
		return false
	}
	i := r.index(a)
	return r.bits[i>>6]&(1<<(i&63)) != 0
}

// word returns the word of r holding the bit of the address of bytes a,
// or 0 for a nil r; matcher.flushV4 reads it early.
func (r *prefixBits) word(a []byte) uint64 {
	if r == nil {
		return 0
	}
	return r.bits[r.index(a)>>6]
}

// family returns 0 for an IPv4 range, 1 for IPv6.
func family(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 0
	}
	return 1
}

// labelBit returns the domainLabels bit of a domain name.
func labelBit(name []byte) uint64 {
	return labelsBit(countLabels(name))
}

// countLabels returns the number of dot-separated labels of a name.
func countLabels(name []byte) int {
	n := 1
	for _, c := range name {
		if c == '.' {
			n++
		}
	}
	return n
}

// labelsBit returns the domainLabels bit of n labels.
func labelsBit(n int) uint64 {
	return 1 << (min(n, 64) - 1)
}

// head returns the chain head of key k in space sp, or 0.
func (s *snapshot) head(sp space, k []byte) uint32 {
	if s.base.keys[sp] == 0 {
		return s.headHashed(sp, k, 0)
	}
	return s.headHashed(sp, k, s.base.hash(sp, k))
}

// headFiltered is head for a key whose base hash h is known and that the
// base's filter says may (maybe) or cannot be in the base.
func (s *snapshot) headFiltered(sp space, k []byte, h uint64, maybe bool) uint32 {
	if d := s.delta[sp]; len(d) != 0 {
		if r, ok := d[string(k)]; ok {
			return r
		}
	}
	if !maybe {
		return 0
	}
	return s.base.get(sp, k, h)
}

// headHashed is head for a key whose base hash h is known.
func (s *snapshot) headHashed(sp space, k []byte, h uint64) uint32 {
	if d := s.delta[sp]; len(d) != 0 {
		if r, ok := d[string(k)]; ok {
			return r
		}
	}
	return s.base.get(sp, k, h)
}

// idString rebuilds the id of entry m.
func (s *snapshot) idString(m *meta) string {
	if m.idType == rawID {
		off := binary.LittleEndian.Uint64(m.id[:8])
		n := binary.LittleEndian.Uint32(m.id[8:12])
		return string(s.rawIDs[off : off+uint64(n)])
	}
	return formatTypedID(s.idTypes[m.idType], m.id)
}

// rawIDBytes returns the bytes of a raw id, or nil for a typed id.
func rawIDBytes(arena []byte, m *meta) []byte {
	if m.idType != rawID {
		return nil
	}
	off := binary.LittleEndian.Uint64(m.id[:8])
	n := binary.LittleEndian.Uint32(m.id[8:12])
	return arena[off : off+uint64(n)]
}

// setRawID points m at a raw id stored at arena offset off.
func setRawID(m *meta, off, n int) {
	m.idType = rawID
	m.id = [16]byte{}
	binary.LittleEndian.PutUint64(m.id[:8], uint64(off))
	binary.LittleEndian.PutUint32(m.id[8:12], uint32(n))
}

// splitTypedID splits a STIX id "type--uuid" whose uuid is in canonical
// lowercase form, the only form that round-trips through 16 bytes.
func splitTypedID(id string) (typ string, uuid [16]byte, ok bool) {
	const uuidLen = 36
	if len(id) < uuidLen+3 || id[len(id)-uuidLen-2:len(id)-uuidLen] != "--" {
		return "", uuid, false
	}
	u := id[len(id)-uuidLen:]
	j := 0
	for i := 0; i < uuidLen; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if u[i] != '-' {
				return "", uuid, false
			}
			i++
			continue
		}
		hi, lo := u[i], u[i+1]
		if !isLowerHex(hi) || !isLowerHex(lo) {
			return "", uuid, false
		}
		h, _ := fromHex(hi)
		l, _ := fromHex(lo)
		uuid[j] = h<<4 | l
		j++
		i += 2
	}
	return id[:len(id)-uuidLen-2], uuid, true
}

func isLowerHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// formatTypedID is the inverse of splitTypedID.
func formatTypedID(typ string, u [16]byte) string {
	b := make([]byte, 0, len(typ)+38)
	b = append(b, typ...)
	b = append(b, "--"...)
	b = hex.AppendEncode(b, u[:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[4:6])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[6:8])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[8:10])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[10:])
	return string(b)
}

// keyString renders a key of space sp as an indicator value.
func keyString(sp space, k []byte) string {
	switch sp {
	case spV4:
		return netip.AddrFrom4([4]byte(k)).String()
	case spV6:
		return netip.AddrFrom16([16]byte(k)).String()
	case spMD5, spSHA1, spSHA256:
		return hex.EncodeToString(k)
	case spCIDR:
		p, _ := decodePrefix(k)
		return p.String()
	}
	return string(k)
}

// encodePrefix renders a CIDR range as a batch key: address bytes then the
// prefix length.
func encodePrefix(p netip.Prefix) string {
	b := p.Addr().AsSlice()
	return string(append(b, byte(p.Bits())))
}

// decodePrefix is the inverse of encodePrefix.
func decodePrefix(k []byte) (netip.Prefix, bool) {
	if len(k) != 5 && len(k) != 17 {
		return netip.Prefix{}, false
	}
	a, _ := netip.AddrFromSlice(k[:len(k)-1])
	return netip.PrefixFrom(a, int(k[len(k)-1])), true
}

// unixSeconds stores t in 32 bits: zero stays zero ("unset"), times before
// 1970 become 1 and times after 2106 the largest value.
func unixSeconds(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	switch {
	case s < 1:
		return 1
	case s > int64(^uint32(0)):
		return ^uint32(0)
	}
	return uint32(s)
}

// fromSeconds is the inverse of unixSeconds; 0 gives the zero time.
func fromSeconds(s uint32) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(int64(s), 0).UTC()
}
