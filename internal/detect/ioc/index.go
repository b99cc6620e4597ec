package ioc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"
	"github.com/xsoc/xsoc/internal/tlp"
)

// DefaultMinConfidence is the decayed confidence below which a decaying
// entry stops matching when Options.MinConfidence is zero.
const DefaultMinConfidence = 20

// DefaultCompactMin is the smallest delta that triggers a compaction when
// Options.CompactMin is zero.
const DefaultCompactMin = 1 << 16

// Options configure an Index. The zero value is usable.
type Options struct {
	// Relations returns the members that member is a client of (the
	// tlp.Recipient's ClientOf): a company served by a national SOC may use
	// that SOC's TLP:AMBER indicators. It is called at most once per event,
	// and only when a TLP:AMBER indicator of another member matches. Nil
	// means no member is a client of another.
	Relations func(member string) []string
	// MinConfidence is the decayed confidence below which an entry with a
	// half-life stops matching. Zero means DefaultMinConfidence. Entries
	// without a half-life do not decay and always pass.
	MinConfidence int
	// Clock tells the time for events without a timestamp, for Lookup, and
	// for valid_from (see Index). Nil means time.Now.
	Clock func() time.Time
	// CompactMin is the number of keys the delta layer may hold before a
	// commit folds it into the base layer; the delta may also grow to an
	// eighth of the base. Zero means DefaultCompactMin.
	CompactMin int
}

// Indicator is one indicator of compromise as added to the index.
type Indicator struct {
	// ID identifies the indicator, usually its STIX id
	// ("indicator--<uuid>"). Adding an indicator whose ID is already
	// indexed on the same value by the same Owner replaces the old entry;
	// another owner's entry under the same ID stays (intelligence objects
	// are owned per member, and two members may hold one id).
	ID string
	// Kind and Value say what to look for; Value is normalised (see
	// Normalize).
	Kind  Kind
	Value string
	// Source names the feed or member the indicator came from.
	Source string
	// Owner is the member that shared it: the originator for TLP.
	Owner string
	// Confidence is 0–100 (STIX confidence) at ValidFrom.
	Confidence int
	// TLP is the sharing level; Named lists members the owner shared the
	// indicator with explicitly.
	TLP   tlp.Level
	Named []string
	// ValidFrom is when the indicator became valid, and the start of its
	// decay. Zero: always valid, no decay.
	ValidFrom time.Time
	// ValidUntil is when it stops matching. Zero: never.
	ValidUntil time.Time
	// HalfLife is the time in which confidence halves. Zero: no decay.
	HalfLife time.Duration
	// ExactOnly makes a domain indicator match the name itself, not the
	// names below it.
	ExactOnly bool
	// WarnedFrom is the country of a cross-border warning the indicator
	// came with; ValidFrom is then when it was detected there. Alerts it
	// raises say so: "known from a cross-border warning (detected in FR
	// 3 min ago)". Entries of one ID on one value from several owners are
	// the origins of one received indicator: an event raises one alert
	// naming every origin its member may use (see the package
	// documentation).
	WarnedFrom string
}

// Index holds indicators of compromise and matches events against them. It
// is a detect.Detector named "ioc".
//
// Readers (Detect, Lookup) never block: they load the current snapshot with
// one atomic load. Writers build a Batch and Commit it; commits are
// serialised among themselves and publish a new snapshot that shares all
// unchanged data with the previous one (see the package documentation).
type Index struct {
	opts Options
	cur  atomic.Pointer[snapshot]

	mu sync.Mutex // serialises commits; guards w
	w  writer
}

// writer is the state only commits touch: the append-only tails of the
// tables snapshots share, and the interning maps.
type writer struct {
	log       metaLog
	provs     []provenance
	provIdx   map[string]uint32
	idTypes   []string
	idTypeIdx map[string]uint16
	rawIDs    []byte
}

// New returns an empty index.
func New(opts Options) *Index {
	if opts.MinConfidence == 0 {
		opts.MinConfidence = DefaultMinConfidence
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.CompactMin <= 0 {
		opts.CompactMin = DefaultCompactMin
	}
	x := &Index{opts: opts}
	x.w = writer{
		log:       newMetaLog(),
		provIdx:   map[string]uint32{},
		idTypeIdx: map[string]uint16{},
	}
	x.cur.Store(&snapshot{
		log:  x.w.log,
		base: newBase([numSpaces]int{}, [numSpaces]int{}),
		cidr: new(bart.Table[uint32]),
	})
	return x
}

// DetectorName is the detector name of the index's alerts.
const DetectorName = "ioc"

// Name returns DetectorName.
func (x *Index) Name() string { return DetectorName }

// Len returns the number of entries (indicator, value) indexed.
func (x *Index) Len() int { return x.cur.Load().live }

// Add adds or replaces indicators in one commit.
func (x *Index) Add(inds ...Indicator) error {
	b := x.NewBatch()
	for i := range inds {
		if err := b.Add(inds[i]); err != nil {
			return err
		}
	}
	return b.Commit()
}

// Batch gathers additions and removals that Commit applies at once, in
// order. A Batch is not safe for concurrent use; several batches may be
// filled concurrently.
type Batch struct {
	x   *Index
	ops []op
	// Batch-local interning, remapped to the index's tables at Commit so
	// that filling a batch needs no lock.
	provs     []provenance
	provIdx   map[string]uint32
	idTypes   []string
	idTypeIdx map[string]uint16
	rawIDs    []byte
}

// op is one addition or removal.
type op struct {
	key string // binary key of its space
	m   meta   // the entry to add, or the id to remove
	sp  space
	del bool
	any bool // removal of every entry on the key
	// owner limits a removal to that owner's entry ("": any owner's).
	owner string
}

// NewBatch starts a batch of changes to x.
func (x *Index) NewBatch() *Batch {
	return &Batch{x: x, provIdx: map[string]uint32{}, idTypeIdx: map[string]uint16{}}
}

// Len returns the number of operations in b.
func (b *Batch) Len() int { return len(b.ops) }

// Add queues the addition of ind, replacing an entry with the same ID on
// the same value. It returns an error, and queues nothing, when ind is
// invalid.
func (b *Batch) Add(ind Indicator) error {
	if ind.ID == "" {
		return errors.New("ioc: indicator without id")
	}
	if ind.Owner == "" {
		return fmt.Errorf("ioc: indicator %s has no owner", ind.ID)
	}
	if ind.Confidence < 0 || ind.Confidence > 100 {
		return fmt.Errorf("ioc: indicator %s: confidence %d outside 0–100", ind.ID, ind.Confidence)
	}
	if ind.TLP > tlp.Red {
		return fmt.Errorf("ioc: indicator %s: invalid TLP level %d", ind.ID, ind.TLP)
	}
	if ind.HalfLife < 0 {
		return fmt.Errorf("ioc: indicator %s: negative half-life", ind.ID)
	}
	if !ind.ValidUntil.IsZero() && !ind.ValidFrom.IsZero() && !ind.ValidUntil.After(ind.ValidFrom) {
		return fmt.Errorf("ioc: indicator %s: valid_until %s is not after valid_from %s",
			ind.ID, ind.ValidUntil.Format(time.RFC3339), ind.ValidFrom.Format(time.RFC3339))
	}
	sp, key, err := keyOf(ind.Kind, ind.Value)
	if err != nil {
		return fmt.Errorf("ioc: indicator %s: %w", ind.ID, stripPrefix(err))
	}
	m := meta{
		from: unixSeconds(ind.ValidFrom),
		conf: uint8(ind.Confidence),
	}
	if !ind.ValidUntil.IsZero() {
		m.until = unixSeconds(ind.ValidUntil)
	}
	if ind.ExactOnly && ind.Kind == KindDomain {
		m.flags |= flagExact
	}
	half := ind.HalfLife.Seconds()
	if half > float64(^uint32(0)) {
		half = float64(^uint32(0))
	}
	p := provenance{source: ind.Source, owner: ind.Owner, named: ind.Named, tlp: ind.TLP, warnedFrom: ind.WarnedFrom}
	if ind.HalfLife > 0 {
		p.halfLife = max(1, uint32(half))
	}
	m.prov = b.intern(p)
	b.setID(&m, ind.ID)
	b.ops = append(b.ops, op{key: key, m: m, sp: sp})
	return nil
}

// Remove queues the removal of the entries with the given id on value,
// whoever owns them; an empty id removes every entry on value. Removing
// what is not indexed is not an error.
func (b *Batch) Remove(k Kind, value, id string) error {
	return b.RemoveOwned(k, value, id, "")
}

// RemoveOwned is Remove limited to the entry owner added under id; an
// empty owner removes every owner's.
func (b *Batch) RemoveOwned(k Kind, value, id, owner string) error {
	sp, key, err := keyOf(k, value)
	if err != nil {
		return err
	}
	o := op{key: key, sp: sp, del: true, any: id == "", owner: owner}
	if id != "" {
		b.setID(&o.m, id)
	}
	b.ops = append(b.ops, o)
	return nil
}

// stripPrefix drops the package prefix of a wrapped error's message.
func stripPrefix(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), "ioc: "))
}

// keyOf validates and normalises a value and returns its space and binary
// key.
func keyOf(k Kind, value string) (space, string, error) {
	value = strings.TrimSpace(value)
	switch k {
	case KindIP:
		p, err := parseRange(value)
		if err != nil {
			return 0, "", err
		}
		if !p.IsSingleIP() {
			return spCIDR, encodePrefix(p), nil
		}
		if p.Addr().Is4() {
			return spV4, string(p.Addr().AsSlice()), nil
		}
		return spV6, string(p.Addr().AsSlice()), nil
	case KindMD5, KindSHA1, KindSHA256:
		var h [32]byte
		n, ok := decodeHex(&h, value)
		if !ok || n != hashLen(k) {
			return 0, "", fmt.Errorf("ioc: %q is not a %s hash (%d hex digits)", value, k, 2*hashLen(k))
		}
		return map[Kind]space{KindMD5: spMD5, KindSHA1: spSHA1, KindSHA256: spSHA256}[k], string(h[:n]), nil
	case KindDomain, KindURL, KindEmail:
		v, err := Normalize(k, value)
		if err != nil {
			return 0, "", err
		}
		return map[Kind]space{KindDomain: spDomain, KindURL: spURL, KindEmail: spEmail}[k], v, nil
	}
	return 0, "", fmt.Errorf("ioc: invalid kind %d", uint8(k))
}

// intern returns the batch-local index of provenance p.
func (b *Batch) intern(p provenance) uint32 {
	k := p.key()
	if i, ok := b.provIdx[k]; ok {
		return i
	}
	p.named = append([]string(nil), p.named...) // the caller may reuse its slice
	i := uint32(len(b.provs))
	b.provs = append(b.provs, p)
	b.provIdx[k] = i
	return i
}

// setID encodes id into m with batch-local type and raw id tables.
func (b *Batch) setID(m *meta, id string) {
	if typ, u, ok := splitTypedID(id); ok && len(b.idTypes) < rawID {
		t, seen := b.idTypeIdx[typ]
		if !seen {
			t = uint16(len(b.idTypes))
			b.idTypes = append(b.idTypes, typ)
			b.idTypeIdx[typ] = t
		}
		m.idType, m.id = t, u
		return
	}
	setRawID(m, len(b.rawIDs), len(id))
	b.rawIDs = append(b.rawIDs, id...)
}

// Commit applies the batch and publishes the result to readers. The batch
// is empty afterwards, even when Commit fails, and may be reused. Matching continues on the previous
// snapshot while Commit runs, including during a compaction.
func (b *Batch) Commit() error {
	if len(b.ops) == 0 {
		return nil
	}
	x := b.x
	x.mu.Lock()
	defer x.mu.Unlock()
	// The batch's local references are rewritten below, so it is emptied
	// whatever the outcome.
	defer func() {
		clear(b.ops) // drop the keys' strings
		*b = Batch{x: x, ops: b.ops[:0], provIdx: map[string]uint32{}, idTypeIdx: map[string]uint16{}}
	}()
	old := x.cur.Load()
	if err := x.w.adopt(b); err != nil {
		return err
	}
	next, err := x.apply(old, b.ops)
	if err != nil {
		return err
	}
	if x.needsCompaction(next) {
		if next, err = x.compact(next); err != nil {
			return err
		}
	}
	x.cur.Store(next)
	return nil
}

// Compact folds the delta layer into a new base layer now, and reclaims the
// memory of replaced entries. Commit does this on its own when the delta
// grows; Compact is for callers that want the smallest, fastest index after
// a bulk load.
func (x *Index) Compact() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	next, err := x.compact(x.cur.Load())
	if err != nil {
		return err
	}
	x.cur.Store(next)
	return nil
}

// adopt remaps a batch's interned provenances, id types and raw ids onto
// the index's tables.
func (w *writer) adopt(b *Batch) error {
	provMap := make([]uint32, len(b.provs))
	for i := range b.provs {
		p := &b.provs[i]
		k := p.key()
		g, ok := w.provIdx[k]
		if !ok {
			g = uint32(len(w.provs))
			w.provs = append(w.provs, *p)
			w.provIdx[k] = g
		}
		provMap[i] = g
	}
	typeMap := make([]uint16, len(b.idTypes))
	for i, typ := range b.idTypes {
		g, ok := w.idTypeIdx[typ]
		if !ok {
			if len(w.idTypes) >= rawID {
				return errors.New("ioc: too many distinct id types")
			}
			g = uint16(len(w.idTypes))
			w.idTypes = append(w.idTypes, typ)
			w.idTypeIdx[typ] = g
		}
		typeMap[i] = g
	}
	shift := len(w.rawIDs)
	w.rawIDs = append(w.rawIDs, b.rawIDs...)
	for i := range b.ops {
		m := &b.ops[i].m
		if !b.ops[i].del {
			m.prov = provMap[m.prov]
		}
		if b.ops[i].any {
			continue
		}
		if m.idType == rawID {
			off := binary.LittleEndian.Uint64(m.id[:8])
			n := binary.LittleEndian.Uint32(m.id[8:12])
			setRawID(m, shift+int(off), int(n))
		} else {
			m.idType = typeMap[m.idType]
		}
	}
	return nil
}

// apply returns a snapshot with ops applied on top of old, as changes to
// the delta layer and to the CIDR table (bart's persistent updates). The
// new entries go to the end of the shared meta log, so old stays valid.
func (x *Index) apply(old *snapshot, ops []op) (*snapshot, error) {
	next := *old
	// Size each delta map copy for the batch up front: a bulk load then
	// never rehashes.
	var perSpace [numSpaces]int
	for i := range ops {
		if ops[i].sp < numSpaces {
			perSpace[ops[i].sp]++
		}
	}
	cloned := [numSpaces]bool{}
	hintCopied := [numHints]bool{}
	var scratch []meta
	for i := range ops {
		o := &ops[i]
		var head uint32
		if o.sp == spCIDR {
			p, _ := decodePrefix([]byte(o.key))
			head, _ = next.cidr.Get(p)
		} else {
			head = next.head(o.sp, []byte(o.key))
		}
		newHead, delta, changed, err := x.w.rewrite(&next, head, o, &scratch)
		if err != nil {
			return nil, err
		}
		if !changed {
			continue
		}
		next.live += delta
		if o.sp == spCIDR {
			p, _ := decodePrefix([]byte(o.key))
			if newHead == 0 {
				next.cidr = next.cidr.DeletePersist(p)
				continue
			}
			next.cidr = next.cidr.InsertPersist(p, newHead)
			for _, h := range familyHints[family(p)] {
				if !hintCopied[h] {
					next.rangeHint[h] = next.rangeHint[h].clone(hintBits[h])
					hintCopied[h] = true
				}
				next.rangeHint[h].mark(p)
			}
			continue
		}
		if o.sp == spDomain && !o.del {
			next.domainLabels |= labelBit([]byte(o.key))
		}
		if !cloned[o.sp] {
			d := make(map[string]uint32, len(next.delta[o.sp])+perSpace[o.sp])
			maps.Copy(d, next.delta[o.sp])
			next.delta[o.sp] = d
			cloned[o.sp] = true
		}
		d := next.delta[o.sp]
		_, inDelta := d[o.key]
		switch {
		case newHead == 0 && next.base.lookup(o.sp, []byte(o.key)) == 0:
			// Gone, and nothing in base to shadow: no tombstone needed.
			if inDelta {
				delete(d, o.key)
				next.deltaKeys--
			}
		default:
			if !inDelta {
				next.deltaKeys++
			}
			d[o.key] = newHead
		}
	}
	next.log = x.w.log
	next.provs = x.w.provs
	next.idTypes = x.w.idTypes
	next.rawIDs = x.w.rawIDs
	return &next, nil
}

// rewrite writes the chain that results from applying o to the chain at
// head, and returns its head, the change in entry count, and whether
// anything changed.
func (w *writer) rewrite(s *snapshot, head uint32, o *op, scratch *[]meta) (uint32, int, bool, error) {
	kept := (*scratch)[:0]
	removed := 0
	for r := head; r != 0; {
		e := w.log.at(r)
		r = e.next
		if o.any || w.sameID(e, &o.m) && w.sameOwner(e, o) {
			removed++
			continue
		}
		kept = append(kept, *e)
	}
	*scratch = kept
	if o.del && removed == 0 {
		return head, 0, false, nil
	}
	if !o.del {
		kept = append(kept, o.m)
		*scratch = kept
	}
	var newHead uint32
	for i := len(kept) - 1; i >= 0; i-- {
		m := kept[i]
		m.next = newHead
		r, ok := w.log.add(m)
		if !ok {
			return 0, 0, false, errors.New("ioc: index full (2^32 entries written since the last compaction)")
		}
		newHead = r
	}
	delta := -removed
	if !o.del {
		delta++
	}
	return newHead, delta, true, nil
}

// sameID reports whether two entries carry the same id. Both use the
// writer's tables.
func (w *writer) sameID(a, b *meta) bool {
	if a.idType != b.idType {
		return false
	}
	if a.idType != rawID {
		return a.id == b.id
	}
	return string(rawIDBytes(w.rawIDs, a)) == string(rawIDBytes(w.rawIDs, b))
}

// sameOwner reports whether entry e, which carries o's id, is the one o
// replaces or removes: the same owner's (any owner's for a removal that
// names none).
func (w *writer) sameOwner(e *meta, o *op) bool {
	if o.del {
		return o.owner == "" || w.provs[e.prov].owner == o.owner
	}
	return w.provs[e.prov].owner == w.provs[o.m.prov].owner
}

// needsCompaction reports whether the delta layer, or the garbage of
// replaced entries in the log, has grown enough to rebuild.
func (x *Index) needsCompaction(s *snapshot) bool {
	baseKeys := 0
	for _, n := range s.base.keys {
		baseKeys += n
	}
	garbage := int(s.log.n) - 1 - s.live
	return s.deltaKeys > max(x.opts.CompactMin, baseKeys/8) ||
		garbage > max(x.opts.CompactMin, s.live)
}

// compact builds a new base layer holding everything s holds, with an empty
// delta and a fresh meta log containing only live entries, chains stored
// contiguously.
func (x *Index) compact(s *snapshot) (*snapshot, error) {
	var keys, strBytes [numSpaces]int
	for sp := spV4; sp < numSpaces; sp++ {
		keys[sp] = s.base.keys[sp] + len(s.delta[sp])
		strBytes[sp] = s.base.strBytes(sp)
		for k := range s.delta[sp] {
			strBytes[sp] += len(k)
		}
		if sp >= firstStrSpace && strBytes[sp] > int(^uint32(0)) {
			return nil, fmt.Errorf("ioc: %s keys exceed 4 GiB", kindOfSpace[sp])
		}
	}
	nb := newBase(keys, strBytes)
	w := writer{
		log:       newMetaLog(),
		provs:     x.w.provs,
		provIdx:   x.w.provIdx,
		idTypes:   x.w.idTypes,
		idTypeIdx: x.w.idTypeIdx,
	}
	live := 0
	var err error
	copyChain := func(head uint32) uint32 {
		first := uint32(0)
		var prev *meta
		for r := head; r != 0 && err == nil; {
			m := *s.log.at(r)
			r = m.next
			if m.idType == rawID {
				id := rawIDBytes(s.rawIDs, &m)
				setRawID(&m, len(w.rawIDs), len(id))
				w.rawIDs = append(w.rawIDs, id...)
			}
			m.next = 0
			ref, ok := w.log.add(m)
			if !ok {
				err = errors.New("ioc: index full (2^32 entries)")
				return 0
			}
			if prev != nil {
				prev.next = ref
			} else {
				first = ref
			}
			prev = w.log.at(ref)
			live++
		}
		return first
	}
	next := &snapshot{base: nb, cidr: new(bart.Table[uint32])}
	for sp := spV4; sp < numSpaces; sp++ {
		d := s.delta[sp]
		s.base.each(sp, func(k []byte, head uint32) {
			if _, shadowed := d[string(k)]; !shadowed {
				nb.insert(sp, k, copyChain(head))
				if sp == spDomain {
					next.domainLabels |= labelBit(k)
				}
			}
		})
		for k, head := range d {
			if head != 0 {
				nb.insert(sp, []byte(k), copyChain(head))
				if sp == spDomain {
					next.domainLabels |= labelBit([]byte(k))
				}
			}
		}
	}
	for p, head := range s.cidr.All() {
		next.cidr.Insert(p, copyChain(head))
		for _, h := range familyHints[family(p)] {
			if next.rangeHint[h] == nil {
				next.rangeHint[h] = newPrefixBits(hintBits[h])
			}
			next.rangeHint[h].mark(p)
		}
	}
	if err != nil {
		return nil, err
	}
	x.w = w
	next.log, next.provs, next.idTypes, next.rawIDs = w.log, w.provs, w.idTypes, w.rawIDs
	next.live = live
	return next, nil
}
