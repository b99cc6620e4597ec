package ioc

import (
	"encoding/hex"
	"math"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/tlp"
)

// BenchResult is what Bench measured.
type BenchResult struct {
	// Indicators is the number of entries indexed.
	Indicators int
	// BuildTime is the time to add them all in one batch and commit it,
	// including normalisation and compaction into the base layer.
	BuildTime time.Duration
	// BytesPerIndicator is the live heap the index holds, per entry.
	BytesPerIndicator float64
	// LookupsPerSec is the rate of lookups on one goroutine, per second
	// of CPU time the process used (wall time where the system does not
	// tell CPU time), in the fastest of ten rounds. The lookups are
	// batched: Batch values per CountFor call, which keeps up to
	// batchDepth of them in flight at once (see CountFor).
	LookupsPerSec float64
	// Batch is how many values each CountFor call of LookupsPerSec looked
	// up; 1 would mean unbatched.
	Batch int
	// SingleLookupsPerSec is the rate of the same lookups made one value
	// per call, each waiting for its own cache misses, as Lookup does.
	SingleLookupsPerSec float64
	// AllocsPerLookup is the heap allocations per lookup.
	AllocsPerLookup float64

	// DetectEventsPerSec is the rate of the detection path, DetectBatch
	// on benchBatch events of eventValues values per call, about
	// BenchHitRate of them raising an alert, in events per CPU-second of
	// one goroutine, in the fastest of ten rounds. Each batch is written
	// into recycled events just before the call, as the pipeline's parser
	// leaves a batch; the writing is not counted.
	DetectEventsPerSec float64
	// DetectLookupsPerSec is the same rate in values looked up.
	DetectLookupsPerSec float64
	// EventsPerCall is how many events each DetectBatch call was given,
	// and ValuesPerEvent how many values they carried on average.
	EventsPerCall  int
	ValuesPerEvent float64
	// ColdEventsPerSec and ColdLookupsPerSec are the same rates with
	// every event read from main memory: the batches come from a stream
	// of events far larger than the processor's caches.
	ColdEventsPerSec  float64
	ColdLookupsPerSec float64
}

// BenchHitRate is the share of events that raise an alert in Bench's
// measurement of the detection path. Real traffic hits well under 1 %.
const BenchHitRate = 0.001

// BenchMix describes the synthetic indicators Bench indexes and the lookups
// it makes, for printing next to the result.
const BenchMix = "indicators: 80% IPv4 addresses (0.1% of them /24 ranges), 10% domains, 10% SHA-256; " +
	"lookups: 10% hits, 90% misses; 50% IPv4, 25% domains with a subdomain (parent matching), 25% SHA-256; " +
	"looked up in batches of 256 values (CountFor), and one value per call; " +
	"detection: the same values, 4 to an event, 0.1% of events raising an alert, 256 events per DetectBatch call"

// benchIndex indexes the first n synthetic indicators of Bench, in one
// batch as bulk loads should be.
func benchIndex(n int) (*Index, error) {
	x := New(Options{})
	b := x.NewBatch()
	gen := newBenchGen(1)
	for i := 0; i < n; i++ {
		if err := b.Add(gen.indicator(i)); err != nil {
			return nil, err
		}
	}
	return x, b.Commit()
}

// Bench builds an index of n synthetic indicators (see BenchMix) and makes
// lookups lookups against it on the calling goroutine, through the path
// Detect takes (normalisation, TLP check, validity and decay included),
// twice: batched, benchBatch values per CountFor call, and one value per
// call. Then it runs the detection path, DetectBatch, on events carrying
// about as many values, twice: on batches just written, and on events
// read from main memory. It is what "xsoc bench ioc" runs; the data are
// deterministic, the timings are not. Memory is measured with
// runtime.MemStats, so run it in an otherwise idle process.
func Bench(n, lookups int) BenchResult {
	if n <= 0 {
		return BenchResult{}
	}
	before := liveHeap()
	start := time.Now()
	x, err := benchIndex(n)
	if err != nil {
		panic("ioc: bench: " + err.Error()) // a bug in benchGen
	}
	res := BenchResult{Indicators: x.Len(), BuildTime: time.Since(start)}
	res.BytesPerIndicator = float64(liveHeap()-before) / float64(res.Indicators)
	if lookups <= 0 {
		runtime.KeepAlive(x)
		return res
	}

	qs := benchQueries(n)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	res.Batch = benchBatch
	res.LookupsPerSec = benchRate(x, qs, lookups, benchBatch)
	res.SingleLookupsPerSec = benchRate(x, qs, lookups, 1)
	runtime.ReadMemStats(&ms)
	res.AllocsPerLookup = float64(ms.Mallocs-mallocs) / float64(2*lookups)

	evs := benchEvents(x, qs, BenchHitRate)
	parsed, cold := newDetectStream(x, evs, true), newDetectStream(x, evs, false)
	res.EventsPerCall = benchBatch
	res.ValuesPerEvent = float64(cold.sums[len(evs)]) / float64(len(evs))
	res.DetectEventsPerSec, res.DetectLookupsPerSec = detectRate(parsed, lookups)
	res.ColdEventsPerSec, res.ColdLookupsPerSec = detectRate(cold, lookups)
	return res
}

// detectRate runs about lookups values' worth of events of d through
// DetectBatch in ten rounds, and returns the events and values per second
// of the fastest round (see benchRate).
func detectRate(d *detectStream, lookups int) (eventsPerSec, valuesPerSec float64) {
	calls := max(1, lookups/eventValues/benchBatch/10)
	best := 0.0
	for range 10 {
		values, took := 0, time.Duration(0)
		for range calls {
			n, t := d.step()
			values, took = values+n, took+t
		}
		if rate := float64(values) / max(took, time.Nanosecond).Seconds(); rate > best {
			best = rate
			eventsPerSec = float64(calls*benchBatch) / max(took, time.Nanosecond).Seconds()
		}
	}
	return eventsPerSec, best
}

// detectStream feeds a stream of events to DetectBatch, benchBatch at a
// time, for Bench and BenchmarkDetectBatch.
type detectStream struct {
	x   *Index
	evs []*event.Event
	// detect is the call step times: (*Index).DetectBatch unless a
	// benchmark sets another, to compare the same stream through it.
	detect func(*Index, []*event.Event, []alert.Alert) []alert.Alert
	sums   []int // sums[i] is the number of values in evs[:i]
	// parsed, when not nil, holds benchBatch recycled events: each batch
	// is copied into them before the call, as a parser fills the events
	// of a batch.
	parsed []*event.Event
	next   int
	out    []alert.Alert
}

// newDetectStream returns a stream of evs (at least benchBatch events),
// copied into recycled events before each call when parsed is set.
func newDetectStream(x *Index, evs []*event.Event, parsed bool) *detectStream {
	d := &detectStream{x: x, evs: evs, detect: (*Index).DetectBatch, sums: make([]int, len(evs)+1)}
	for i, ev := range evs {
		d.sums[i+1] = d.sums[i] + bits.OnesCount32(fieldSet(ev))
	}
	if parsed {
		d.parsed = make([]*event.Event, benchBatch)
		for i := range d.parsed {
			d.parsed[i] = new(event.Event)
		}
	}
	return d
}

// step runs d.detect on the next benchBatch events of the stream and
// returns how many values they carry and the CPU time the call took (the
// wall time where the system does not tell CPU time).
func (d *detectStream) step() (int, time.Duration) {
	if d.next+benchBatch > len(d.evs) {
		d.next = 0
	}
	batch := d.evs[d.next : d.next+benchBatch]
	values := d.sums[d.next+benchBatch] - d.sums[d.next]
	d.next += benchBatch
	if d.parsed != nil {
		for i, ev := range batch {
			*d.parsed[i] = *ev
		}
		batch = d.parsed
	}
	start, cpu := time.Now(), processCPU()
	d.out = d.detect(d.x, batch, d.out[:0])
	took, used := time.Since(start), processCPU()-cpu
	if used > 0 {
		took = used
	}
	return values, took
}

// benchRate makes lookups lookups of qs, batch values per CountFor call,
// and returns the rate. The lookups run in ten rounds; the rate is that of
// the fastest round, by the CPU time the process used: on a shared machine
// the wall clock counts time other processes ran, and the slower rounds are
// those that shared caches and memory bandwidth the most.
func benchRate(x *Index, qs []Query, lookups, batch int) float64 {
	found := 0
	rounds := min(10, max(1, lookups/batch))
	per := max(batch, lookups/rounds/batch*batch)
	best := time.Duration(0)
	for r := 0; r < rounds; r++ {
		start, cpu := time.Now(), processCPU()
		for i := r * per; i < (r+1)*per; i += batch {
			j := i % len(qs) // len(qs) is a multiple of batch
			found += x.CountFor(benchOwner, qs[j:j+batch])
		}
		elapsed, used := time.Since(start), processCPU()-cpu
		if used > 0 {
			elapsed = used
		}
		if best == 0 || elapsed < best {
			best = elapsed
		}
	}
	runtime.KeepAlive(found)
	return float64(per) / max(best, time.Nanosecond).Seconds()
}

// liveHeap returns the heap in use after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

const benchOwner = "bench"

// eventValues is how many values an event typically carries for Detect
// to look up together (source and destination address, a domain...).
const eventValues = 4

// benchBatch is how many values of its key stream Bench hands CountFor at
// once, as a pipeline matching a stream of values would.
const benchBatch = 256

// benchGen produces Bench's deterministic synthetic indicators.
type benchGen struct {
	r   *rand.Rand
	buf []byte
}

func newBenchGen(seed uint64) *benchGen {
	return &benchGen{r: rand.New(rand.NewPCG(seed, 0x10c))}
}

// indicator returns synthetic indicator i: 8 in 10 IPv4 (one in a
// thousand of those a /24), one domain, one SHA-256.
func (g *benchGen) indicator(i int) Indicator {
	ind := Indicator{
		ID: g.id(), Source: "bench-feed", Owner: benchOwner, Confidence: 75, TLP: tlp.Green,
	}
	switch i % 10 {
	case 8:
		ind.Kind, ind.Value = KindDomain, g.domain()
	case 9:
		ind.Kind, ind.Value = KindSHA256, g.sha256()
	default:
		ind.Kind, ind.Value = KindIP, g.ipv4()
		if i%1000 == 0 {
			ind.Value += "/24"
		}
	}
	return ind
}

func (g *benchGen) id() string {
	var u [16]byte
	for i := 0; i < 16; i += 8 {
		v := g.r.Uint64()
		for j := 0; j < 8; j++ {
			u[i+j] = byte(v >> (8 * j))
		}
	}
	return formatTypedID("indicator", u)
}

func (g *benchGen) ipv4() string {
	v := g.r.Uint32()
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

// domain returns a two-label name under one of 64 zones, about 20 bytes.
func (g *benchGen) domain() string {
	g.buf = append(g.buf[:0], 'd')
	g.buf = strconv.AppendUint(g.buf, g.r.Uint64()>>20, 36)
	g.buf = append(g.buf, ".zone"...)
	g.buf = strconv.AppendUint(g.buf, g.r.Uint64N(64), 10)
	g.buf = append(g.buf, ".net"...)
	return string(g.buf)
}

func (g *benchGen) sha256() string {
	var h [32]byte
	for i := 0; i < 32; i += 8 {
		v := g.r.Uint64()
		for j := 0; j < 8; j++ {
			h[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(h[:])
}

// benchQueries returns 2^18 lookups against an index of n benchGen
// indicators: one in ten a hit on one of the first indicators generated
// (found by replaying the generator), the others misses from another
// stream. Real traffic hits far less often; hits cost more (the entry is
// read), so the mix errs on the slow side.
func benchQueries(n int) []Query {
	const size = 1 << 18
	hits := newBenchGen(1)
	misses := newBenchGen(2)
	qs := make([]Query, 0, size)
	var hitQs []Query
	ips := 0
	for i := 0; i < n && len(hitQs) < size/2; i++ {
		ind := hits.indicator(i)
		switch {
		case ind.Kind == KindIP && i%1000 == 0:
			continue // a range, not an address
		case ind.Kind == KindIP:
			// One IPv4 hit in four keeps the hits at half IPv4, since
			// the index holds eight IPv4 for one domain and one hash.
			if ips++; ips%4 != 0 {
				continue
			}
		case ind.Kind == KindDomain:
			ind.Value = "www." + ind.Value // found through its parent
		}
		hitQs = append(hitQs, Query{ind.Kind, ind.Value})
	}
	for i := 0; len(qs) < size; i++ {
		if i%10 == 0 && len(hitQs) > 0 {
			qs = append(qs, hitQs[(i/10)%len(hitQs)])
			continue
		}
		switch i % 4 {
		case 0, 1:
			qs = append(qs, Query{KindIP, misses.ipv4()})
		case 2:
			qs = append(qs, Query{KindDomain, "www." + misses.domain()})
		default:
			qs = append(qs, Query{KindSHA256, misses.sha256()})
		}
	}
	return packed(qs[:size])
}

// packed returns qs with all values copied into one string, in order, so
// that walking the lookups reads memory sequentially as a pipeline reads
// fresh events, instead of missing the cache on every scattered value.
func packed(qs []Query) []Query {
	var all strings.Builder
	for _, q := range qs {
		all.WriteString(q.Value)
	}
	s, off := all.String(), 0
	for i := range qs {
		n := len(qs[i].Value)
		qs[i].Value = s[off : off+n]
		off += n
	}
	return qs
}

// benchEvents turns the key stream of benchQueries into events of
// eventValues values each, every value in a field of its kind, keeping
// just enough of the stream's hits (one value in ten) that about hitRate
// of the events carry one. The stream's misses are random, and in an
// index of millions of addresses some random addresses are indexed: those
// that x holds are left out too. The events are in the order of the
// stream.
func benchEvents(x *Index, all []Query, hitRate float64) []*event.Event {
	// Of every `every` values of the stream, every/10 are hits; keeping
	// one leaves 0.9·every+1 values, (0.9·every+1)/eventValues events of
	// which one hits.
	every := max(10, 10*int(math.Round((eventValues/hitRate-1)/0.9/10)))
	qs := make([]Query, 0, len(all))
	for i, q := range all {
		switch {
		case i%10 == 0 && i%every != 0:
			// a hit left out
		case i%10 != 0 && x.CountFor(benchOwner, all[i:i+1]) != 0:
			// a miss that is not one
		default:
			qs = append(qs, q)
		}
	}
	slots := map[Kind][eventValues]string{
		KindIP:     {"source.ip", "destination.ip", "host.ip", "dns.answers.data"},
		KindDomain: {"dns.question.name", "url.domain", "destination.domain", "tls.server.sni"},
		// Two fields hold a SHA-256: a third in one event replaces one.
		KindSHA256: {"file.hash.sha256", "process.hash.sha256", "file.hash.sha256", "process.hash.sha256"},
	}
	evs := make([]*event.Event, 0, len(qs)/eventValues)
	now := time.Now()
	for i := 0; i+eventValues <= len(qs); i += eventValues {
		ev := &event.Event{ID: "ev" + strconv.Itoa(i), Member: benchOwner, Time: now}
		var used [numKinds]int
		for _, q := range qs[i : i+eventValues] {
			ev.Set(slots[q.Kind][used[q.Kind]], q.Value)
			used[q.Kind]++
		}
		evs = append(evs, ev)
	}
	return evs
}
