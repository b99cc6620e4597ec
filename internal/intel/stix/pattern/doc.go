// Package pattern implements the STIX 2.1 patterning language: a parser
// for the whole grammar, the extraction of simple indicators for an
// exact-match index, and a matcher that evaluates patterns over xsoc's
// normalised events.
//
// # Parsing
//
// Parse is a hand-written recursive-descent parser for the normative ANTLR
// grammar (STIXPattern.g4 in the STIX 2.1 specification): observation
// expressions joined by AND, OR and FOLLOWEDBY (FOLLOWEDBY binds loosest,
// then OR, then AND), qualifiers WITHIN n SECONDS, REPEATS n TIMES and
// START t'..' STOP t'..', comparison expressions joined by AND and OR, every
// comparison operator with optional NOT, EXISTS, object paths with quoted
// keys and list indexes, and every literal type. Comments (/* */ and //)
// are skipped. Errors are *SyntaxError values carrying the byte offset of
// the problem. Pattern.String renders a canonical form that parses back to
// the same tree.
//
// # Simple indicators
//
// Most shared indicators are one observable: "[ipv4-addr:value =
// '198.51.100.7']". Simple recognises those (and ORs and IN-sets of them,
// and ISSUBSET on a CIDR) and returns normalised Observables, so that an
// exact-match index can serve them without evaluating patterns per event.
//
// # Matching events
//
// A Matcher compiles patterns against the event model: each STIX object
// path maps to the ECS fields that carry the same value (EventFields; for
// example ipv4-addr:value is matched against source.ip, destination.ip and
// host.ip). A path xsoc events do not carry makes Add fail, so that an
// unmatchable indicator is reported rather than silently ignored.
//
// Events are flat: an observation matches one event, and comparisons joined
// by AND inside brackets must all hold on that event. A comparison holds
// when any value of any mapped field satisfies it; with NOT, when the field
// is present and no value satisfies it. Caseless paths (domain names,
// e-mail addresses, hashes) compare without case; on IP paths a CIDR
// literal compares by containment; numbers and timestamps compare by
// value; LIKE and MATCHES use Go regular expressions (RE2 syntax, which
// covers the PCRE subset indicators use).
//
// Patterns decided by one event are served by Matcher.Match without state.
// Patterns over several events are served by an Observer, which keeps a
// bounded, time-ordered history per observation (ObserverOptions) and
// reports each match once, by event time.
package pattern
