// Package stixpattern evaluates shared STIX indicators whose patterns are
// more than one observable test over the live event stream. Its Detector
// is the detect.Detector named "stix-pattern".
//
// Most shared indicators are one address, domain, URL or hash; the IOC
// index (detect/ioc, fed by iocfeed) serves those with a lookup per
// value. The rest — several comparisons in one observation
// ("[process:name = 'powershell.exe' AND process:command_line MATCHES
// '-enc']"), or observations across events joined by AND, OR and
// FOLLOWEDBY, with WITHIN, REPEATS and START/STOP — are compiled by the
// pattern package (intel/stix/pattern) and evaluated here.
//
// # Loading
//
// Sync reads the intel repository's change feed (indicators only) from
// where it last stopped. Per collection and indicator id, the latest
// version (by its STIX modified time) decides: a complex STIX pattern is
// compiled; a revoked version, a simple pattern (the IOC index's), a
// pattern in another language or a version that cannot be read or
// compiled makes the indicator stop matching. Deleting the latest version
// falls back to the one before, read again from the repository. Versions
// that cannot be read are logged and counted in Stats, never fatal. Run
// calls Sync whenever the repository signals a commit and on a poll
// interval.
//
// The detector keeps one version per indicator, and only for indicators
// that have had a complex pattern, so that millions of simple indicators
// cost it nothing. A version older than the one in force, stored late, is
// ignored (Stats.Superseded). One case escapes this: a complex version
// stored after a newer, simple version of the same indicator (a bundle
// listing the newest version first); the older pattern then matches until
// the indicator changes again.
//
// # Matching
//
// An event is tested against an indicator only when the event's member may
// receive the indicator under TLP (tlp.MayReceive with the member's
// relation to the indicator's owner: itself, a named recipient, a client
// through Options.Relations, or the community), when the indicator has not
// expired at the event's time (valid_until) and when it has started
// (valid_from, by the clock, as in the IOC index).
//
// Single-observation patterns are decided by the event alone. Each
// multi-observation pattern keeps an Observer (bounded, event-time
// ordered partial matches) per member, so that events of different members
// never combine into one match and a member's events never complete a
// match with another member's. Every pattern has its own compiled matcher,
// which lets a Sync replace the changed indicators while the partial
// matches of all the others carry on. A member's observers are created on
// its first event; their memory is bounded per pattern by
// Options.Observer.
//
// Every match raises one alert.Alert: RuleID and Key are the indicator
// id, RuleTitle its name (or its pattern), Severity follows its confidence
// as in the IOC index (ioc.SeverityOf; 50 when unstated), Techniques are
// the ATT&CK ids its kill-chain phases or MITRE external references name,
// TLP is the indicator's level, and EventIDs are the events of the match.
// An indicator stored in several collections raises one alert per event.
//
// # Cost
//
// Detect reads the current rule set with one atomic load and never takes
// the detector's lock; it allocates nothing when no pattern matches. Each
// multi-observation pattern an event may use costs one uncontended mutex
// (its observer's) per event.
package stixpattern
