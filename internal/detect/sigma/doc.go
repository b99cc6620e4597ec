// Package sigma is xsoc's Sigma detection engine: it parses Sigma rules
// (specification 2.1: detection rules, correlation rules and meta-filters),
// compiles them once into matchers and tests the live event stream against
// them, raising an alert.Alert per match.
//
// # Using it
//
//	rules, errs := sigma.LoadDir("rules/", sigma.Options{})  // errs: file, line, rule, reason
//	eng := sigma.NewEngine(sigma.Options{Placeholders: map[string][]string{"Admins": {"adm_*"}}})
//	eng.Load(rules)                       // hot swap; Detect keeps running
//	out = eng.Detect(ev, out[:0])         // detect.Detector; no allocation without a match
//	ok, why := sigma.Explain(rules[0], ev) // which parts matched, and on which values
//
// # How an event is tested
//
// Rules are compiled, not interpreted. Compile groups rules by logsource;
// each logsource becomes an event predicate (see Logsource tables below),
// and a router indexed by event.module picks the groups an event belongs
// to, so a DNS event never meets the process-creation rules.
//
// Within a group, a rule is evaluated only when its trigger sets hit. A
// trigger set is a set of leaves (primitive tests with a literal: contains,
// startswith, endswith and exact values, the longest literal of a
// wildcard pattern, the literals a regular expression requires) of which
// one must hold for the rule to hold: for "a and b" both a set from a and
// one from b, for "a or b" one set joining both. Each rule waits for its
// three rarest sets, rarity being estimated from the needles' length and
// whether they occur in text most Windows events carry. Rules that offer
// no literal at all (only "not", numeric comparisons...) are evaluated on
// every event of their group.
//
// Only the needles of trigger leaves are searched for, one prefilter per
// field shared by all the group's rules, so a field is read once per
// event. Other leaves — typically the filters under "not", full of text
// like "c:\windows\system32\" that nearly every event holds — are
// decided directly, and only when a candidate rule reaches them.
//
// The prefilter is a gram index: each needle of four bytes or more is
// indexed under its rarest 4-byte substring (the one the fewest needles
// share, avoiding common text). Scanning a value shifts each byte,
// lowered, into a 32-bit window, hashes it and tests one bit of a filter
// of at most 32 KB; only a set bit leads to the needles of that gram,
// which are compared with the value at their offset, so a hit is exact
// and says where the needle lies (for startswith, endswith and exact). A
// field whose needles are all long (Sysmon's Hashes: 36 bytes and more)
// is scanned in steps of (shortest-3)/2 bytes, each needle being indexed
// under one gram per alignment. Needles of one to three bytes go to a
// small Aho–Corasick automaton. Both fold ASCII case on the fly, so ASCII
// values are never copied; values holding other text are folded once per
// event. A field is read only when a scan or a leaf needs it, and only
// the first of its candidate event fields that is present.
//
// Telemetry repeats itself: a fleet starts the same few hundred images,
// with the same hashes, parents, companies and descriptions, over and
// over. So each goroutine remembers, per prefilter, what the values it
// scanned lately hit: a table of 1,024 entries keyed by the value's
// 64-bit hash (seeded at random per rule set) and length, each holding up
// to 29 hits. A value seen before is not scanned again; its hits are
// replayed in the order the scan made them, which leaves the event's
// state exactly as scanning would. A prefilter whose values rarely come
// back (command lines with process ids and temporary names) switches its
// memo off for a while after a probing period with fewer than one hit in
// four, so unique values do not pay for hashing and storing.
//
// Leaf results are cached per event, conditions are evaluated with
// short-circuiting, cheapest operand first, and all per-event state lives
// in a pooled scratch area stamped with a generation number, so starting
// an event clears nothing and the no-match path does not allocate.
//
// Memory, not arithmetic, sets the pace once the memos work: an event is
// a couple of kilobytes of slots, names and values, and reading them back
// from main memory cost as much as testing them. So the pipeline hands
// the engine events 64 at a time, right after parsing them, and
// DetectBatch reads the fields of the next eight events together
// (event.Event.PrefetchFields, then PrefetchValue) before testing them, so
// that their cache misses overlap instead of coming one after the other.
//
// On the project's 2-core machine (a virtual machine: compare runs made
// side by side), in events per CPU second of one core, over generated
// Sysmon process-creation events (1.2 % matching) and SigmaHQ rules, no
// allocation without a match:
//
//	rules                       fresh (pipeline)   DetectBatch, from memory   Detect, from memory
//	100 process_creation        1.0–1.4 M          740 k–1.15 M               0.93–1.3 M
//	1,000 process_creation      545–740 k          420–630 k                  410–430 k
//	all 1,183 process_creation  520–625 k          405–550 k                  370–380 k
//	3,000 of all SigmaHQ rules  270–330 k          250–262 k                  235–250 k
//
// "Fresh" is BenchmarkDetectFresh and the first column of "xsoc bench
// sigma": NDJSON lines parsed 64 at a time, each chunk passed to
// DetectBatch, as the pipeline does. "From memory" cycles through events
// held in memory: 10,000 generated ones in BenchmarkDetect and
// BenchmarkDetectBatch, 20,000 parsed ones with their raw lines (120 MB,
// far beyond the processor's caches: the low ends) in "xsoc bench
// sigma". Without read-ahead (Detect) one event's misses come one after
// the other; DetectBatch reads ahead only the fields the prefilters read
// (PrefetchValue), or every value when a keyword rule searches them all.
// The 3,000-rule set has such a rule for every Windows event (mimikatz
// keywords), which costs about 1.3 µs per event by itself, a third of the
// total: every value of every event is searched, and pids, GUIDs and
// timestamps never repeat. Prefer rules on named fields.
//
// Counted by callgrind, an event costs about 19,500 instructions in the
// engine with 1,000 rules (35,400 before the memos): marking the leaves
// and trigger sets a value makes true (about 22 leaves per event),
// reading the event's fields, and scanning the values that do not repeat
// (command lines: four in ten are new). Fields without a slot (Hashes,
// User...) are found through the event's index of names, and well-known
// names are one shared string, so finding them reads none of the event's
// names.
//
// # Matching semantics
//
// Values are compared case-insensitively (Unicode simple lower-casing)
// unless the cased modifier is given. '*' matches any run of characters
// and '?' exactly one; a backslash escapes '*', '?' and itself, any other
// backslash is literal, so "C:\Windows\" needs no doubling. A list of
// values is ORed (ANDed with all), a map is ANDed, a list of maps is ORed.
// Keyword searches (a list of plain values) look for the value anywhere in
// any field of the event, and in event.original unless that is a JSON
// object: a JSON original's values are the event's fields already, and
// its field names are not log content ("password" would match every event
// with a password field, empty or not). In xsoc an absent field
// and an empty one are the same, so "Field: null" and "Field: ”" both
// match when the field is absent or empty, and "not filter" holds when the
// filter's field is missing. A field with several values (a list) matches
// when any value does.
//
// All modifiers of the specification are implemented: contains,
// startswith, endswith, all, cased, exists, neq, re (with the i, m and s
// sub-modifiers), cidr (IPv4 and IPv6), base64, base64offset, utf16le,
// utf16be, utf16, wide, windash (-, /, en dash, em dash, horizontal bar),
// gt, gte, lt, lte, fieldref (also with contains/startswith/endswith),
// expand (placeholders from Options.Placeholders, which ParsePlaceholders
// and PlaceholderValues read from a file; an unknown placeholder
// makes the rule fail to compile, with the reason), and the time
// modifiers minute, hour, day, week, month and year. Encodings (base64,
// base64offset) make the value case-sensitive, as encoded text is.
//
// Regular expressions use Go's RE2 engine: matching is linear in the
// length of the input, so no expression can backtrack catastrophically.
// PCRE constructs RE2 lacks (look-around, back-references) make the rule
// fail to compile with the reason, and expressions compiling to more than
// 20,000 instructions are refused. Like the specification says, they are
// case-sensitive unless the i sub-modifier is given.
//
// The condition grammar has and, or, not, parentheses, "1 of pattern",
// "any of", "all of", "N of", "1 of them" and "all of them" (identifiers
// starting with '_' are not part of them), with precedence not over and
// over or; a condition given as a list is the OR of its entries.
//
// # Field mapping
//
// FieldCandidates says which event fields a Sigma field name stands for,
// per logsource; the first present in an event is tested. Windows fields
// map to their exact ECS equivalent first (CommandLine to
// process.command_line, Image to process.executable, ParentImage,
// ParentCommandLine, TargetFilename to file.path, QueryName to
// dns.question.name, DestinationIp, ...) and then to the verbatim
// winlog.event_data.<Name>; fields whose ECS form loses detail (User, whose
// ECS user.name drops the domain) go verbatim first. EventID is
// winlog.event_id or event.code. Zeek fields are zeek.<service>.<field>
// then ECS (id.orig_h is source.ip, query is dns.question.name ...);
// proxy, webserver, firewall and DNS W3C names map to ECS (c-uri,
// cs-host, src_ip, ...); any other field is looked up by its own name.
//
// # Logsource tables
//
// DescribeLogsource renders a logsource's predicate. In short: Windows
// categories of Sysmon (process_creation 1, network_connection 3,
// image_load 7, file_event 11, registry_* 12-14, dns_query 22, ...) accept
// event.module sysmon with the event.code, or the Sysmon channel with the
// winlog.event_id; process_creation also accepts Security 4688 and plain
// ECS process start events on Windows. ps_script, ps_module and the
// ps_classic_* categories use the PowerShell channels and ids, and the
// ETW categories file_access and file_rename the Kernel-File provider. Windows
// services map to their event log channel (security, system, sysmon,
// powershell, taskscheduler and the others of the taxonomy); security and
// sysmon also accept their event.module. Zeek services accept event.module
// zeek and event.dataset zeek.<service>; the dns, proxy, webserver and
// firewall categories accept Zeek, Suricata and the usual modules;
// antivirus accepts event.category malware, the Defender channel and
// antivirus modules, database event.category database and database
// modules (mysql, postgresql, mssql, oracle, mongodb); Linux
// services accept syslog events of the matching program, auditd its
// module. A logsource xsoc has no entry for is routed by its product and
// service (event.dataset "<product>.<service>", event.module "<service>"
// or "<product>"); one with only an unknown category is tested against
// every event.
//
// # Correlations and filters
//
// Correlation rules (event_count, value_count, value_sum, value_avg,
// temporal, temporal_ordered) run over the live stream. Every match of a
// correlated rule updates a sliding window over event time for its
// group-by values (aliases map a group-by name to a different field per
// rule), kept apart per member organisation; the condition is checked on
// each update and a firing group starts afresh. Each correlation keeps at most Options.MaxGroups groups, evicting
// the least recently seen, and at most 65,536 entries per window.
// Correlated rules raise no alert of their own unless generate is true;
// correlations can be chained. Chains are checked when rules load (see
// checkCorrelationGraph): correlations naming each other in a loop, more
// than 8 deep, or letting one match of a rule cause more than 256
// correlation updates are refused with the rules named, so no rule set
// can make one event cost without bound. State is keyed by correlation id and
// survives Engine.Load. value_percentile is reported as unsupported: the
// specification does not say which percentile of which distribution its
// threshold compares. Meta-filters (filter.rules naming rules by id or
// name) add "and not <filter condition>" to each named rule.
//
// # Not supported
//
// Legacy forms are reported as unsupported (LoadError.Unsupported) with
// the reason rather than loaded: rule collections with action: global,
// aggregations in the condition ("| count() by x > 5", "near"), and the
// timeframe key. Rewrite them as Sigma v2 correlation rules.
package sigma
