// Package ioc matches events against the indicators of compromise members
// share: IP addresses and CIDR ranges, domains (with their subdomains), URLs,
// file hashes (MD5, SHA-1, SHA-256) and e-mail addresses. An *Index is the
// detect.Detector named "ioc"; every ingested event passes through it.
//
// # Matching
//
// Detect looks at source.ip, destination.ip, host.ip, dns.answers.data,
// dns.question.name, url.domain, destination.domain, tls.server.sni,
// url.full, file.hash.*, process.hash.*, email.from.address and
// email.to.address; when an event has url.full but no url.domain, the
// URL's host is matched as a domain (or an address) too. A domain indicator matches the name and every name
// below it (evil.example matches a.b.evil.example, never badevil.example)
// unless it is exact-only; an address matches exact entries and every range
// containing it. Each usable indicator raises one alert whose rule id is
// the indicator's id, whose TLP is the indicator's and whose key is the
// matched value.
//
// An indicator received in cross-border warnings (Indicator.WarnedFrom)
// from several origins is one id on its value with one entry per origin,
// each with its owner, TLP level, confidence, detection time and expiry,
// so that each origin is used, expires and is removed on its own. An
// event raises one alert for it, naming the countries of the origins the
// event's member may use, earliest detection first ("known from
// cross-border warnings (detected in FR 3 min ago, DE 1 min ago)"), as
// restricted as the most restricted origin it names and as severe as the
// most confident. The warnings' alerts on one matched value (a domain
// and its parent) become one, and that alert joins the alert of the
// member's own intelligence on the value ("(source feed) — also known
// from a cross-border warning …") unless it is more restricted: naming a
// warning never raises the TLP level of a local detection, which decides
// what of it the member's node shares.
//
// An entry is usable by the event's member when TLP lets the member receive
// it (tlp.MayReceive, with client relations from Options.Relations), when it
// has not expired at the event's time (valid_until), when it has started
// (valid_from, by the clock: an event from shortly before an indicator was
// published still matches it), and, for entries with a half-life, while
// its confidence, halved every half-life since valid_from, stays at or
// above Options.MinConfidence. Decayed confidence sets the alert's severity.
//
// # Layout
//
// Memory per entry is what limits an index of tens of millions of
// indicators, so entries are stored compactly:
//
//   - Every entry is a 36-byte meta record in an append-only log of fixed
//     chunks, referenced by a uint32. Strings shared by many entries
//     (source, owner, named recipients, with TLP and half-life) are
//     interned together as one provenance; a STIX id "type--uuid" is kept
//     as its 16 uuid bytes and an interned type. Entries on the same value
//     form a chain through the record's next field.
//
//   - Exact values map to their chain in flat open-addressed hash tables
//     with fixed-size binary keys: IPv4 as a uint32 (8-byte slots), IPv6 and
//     MD5 as 16 bytes, SHA-1 as 20, SHA-256 as 32. Domains, URLs and e-mail
//     addresses live in one byte arena per kind with 12-byte slots.
//
//   - CIDR ranges live in a bart.Table[uint32], bart's most compact table
//     that carries a payload (bart.Lite carries none, bart.Fast spends 256
//     more bytes per node). Single addresses do not go there: a host route
//     costs about 80 bytes in bart, against about 11 in the flat table.
//
//   - A blocked Bloom filter of one byte per key sits in front of the base
//     layer's tables. Most values an event carries are not indicators; the
//     filter, small enough to stay in the processor's cache, turns most of
//     those lookups away before they miss the cache in a table of hundreds
//     of megabytes. Range lookups are likewise skipped, through bitmaps of
//     the /16 (and, for IPv4, /24) prefixes ranges cover, unless a range
//     may contain the address; domain lookups skip the parent names of a
//     label count no indexed domain has.
//
// An IPv4 indicator costs about 49 bytes all-in (see BenchmarkMemory).
//
// Detect looks an event's values up together: it normalises them into a
// buffer, then resolves them in short passes (hash, filter, table slot,
// entry) that each start the reads of every value before using any. A
// processor keeps several such reads in flight, so cache misses overlap
// instead of following one another. CountFor does the same for a stream
// of values, 32 at a time. In an index of ten million indicators, where
// one random memory read takes about as long as a lookup's whole
// computation, a batched lookup is much faster than one that waits for its
// own misses (Lookup and LookupFor look up one value). Bench, behind "xsoc
// bench ioc", reports the batched rate (BenchResult.LookupsPerSec, with
// BenchResult.Batch values per call) and the one-value rate
// (BenchResult.SingleLookupsPerSec).
//
// DetectBatch, which the pipeline calls with a whole batch of events,
// carries this across events: it screens up to 256 events at a time
// through one lookup queue, each value tagged with its event, and marks
// the events with a value the index holds at all. Only the marked events,
// a few in a hundred, then go through Detect's own matching (TLP,
// validity, decay, one alert per indicator and value), in order, against
// the same snapshot, so DetectBatch appends exactly what Detect would.
//
// The screen is where the detection path spends its time, and it is built
// to keep the processor busy:
//
//   - It reads the inspected fields of 16 events in one loop of
//     independent loads before matching any: an event's fields span about
//     ten cache lines, and a batch that has left the caches would
//     otherwise cost them one after the other. The loop records which
//     fields each event has, and matching visits only those.
//   - IPv4 addresses, most of what events carry, go through a queue of
//     their own, 64 deep: an address is parsed eight bytes at a time into
//     a uint32 and looked up in the flat table's passes without the
//     general queue's key buffer and records. Names are lowercased and
//     their dots found eight bytes at a time, hashes decoded the same
//     way.
//   - The finer range hint (a 2 MiB bitmap of /24 prefixes) is read in
//     the lookup passes, with the other misses, rather than when a value
//     is queued.
//
// Carrying the screen's findings to the matching of a marked event
// instead of looking its values up again was measured and left out: at 5
// percent of events alerting, the second lookups are about 4 percent of
// the time, building the alerts about 15 percent; at a realistic rate
// well under 1 percent, they are nothing.
//
// BenchmarkDetectBatch and "xsoc bench ioc" measure the detection path at
// 10M indicators, 4 values per event, on a shared two-core machine, in
// value lookups per CPU-second of one core: with 0.1 percent of events
// alerting, 4.9-6.6M on batches just written into recycled events, as the
// pipeline's parser leaves them, and 3.9-6.3M when every event is read
// from main memory; with 5 percent alerting, 3.5-4.1M and 2.6-4.1M
// (before this design, in the same runs: 3.6-4.2M and 2.3-3.0M at 0.1
// percent). The rates move with the load other programs put on the
// machine.
//
// # Updates
//
// Matching never waits for updates. The index is an immutable snapshot
// behind an atomic.Pointer: readers load it once per event and never lock.
// Writers gather changes in a Batch and Commit it; commits are serialised
// by a mutex that readers never touch. A commit builds the next snapshot
// from the current one without changing anything a reader can see:
//
//   - new entries are appended to the meta log past the end readers know;
//   - changed values go to a small delta layer (one map per kind, copied
//     on write) that shadows the large immutable base layer value by value;
//   - ranges are updated with bart's persistent InsertPersist and
//     DeletePersist, which copy only the path they change;
//
// then publishes it with one atomic store. When the delta outgrows
// Options.CompactMin and an eighth of the base, or replaced entries pile
// up in the log, the commit compacts: it builds a new base layer and a new
// log holding only live entries, off to the side, and publishes that.
// Snapshots still in use keep the old structures alive until their readers
// are done; the garbage collector frees them.
//
// Bulk loads should use one large batch: its commit goes straight to a
// compacted base. A commit's cost is proportional to the batch and the
// delta, except for compactions, which are proportional to the index.
package ioc
