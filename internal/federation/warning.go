package federation

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/detect/stixpattern"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Subjects and streams of the early warning path. A member node publishes
// its warnings (and its directory) into the hub's warning stream; the hub
// forwards each warning into the inbox stream of every member node that
// may receive it.
const (
	// WarningStream is the hub's stream of warnings and directories.
	WarningStream = "XSOC_FED_WARNINGS"
	// WarningSubject prefixes warning subjects: xsoc.fed.warn.<node>.<sender>.
	WarningSubject = "xsoc.fed.warn"
	// DirectorySubject prefixes directory subjects: xsoc.fed.dir.<node>.
	DirectorySubject = "xsoc.fed.dir"
	// InboxStream is a member node's stream of warnings from the hub.
	InboxStream = "XSOC_FED_INBOX"
	// InboxSubject prefixes inbox subjects: xsoc.fed.inbox.<node>.
	InboxSubject = "xsoc.fed.inbox"
)

// Relay headers: the hub's seal on a forwarded warning, and the members
// of the receiving node it is for (TLP:AMBER under an agreement).
const (
	hdrRelayCert      = "Xsoc-Relay-Cert"
	hdrRelaySignature = "Xsoc-Relay-Signature"
	hdrRecipients     = "Xsoc-Recipients"
)

// Limits of what a warning may carry and how old it may be.
const (
	// maxWarningIndicators bounds the indicators of one warning message,
	// so that a message stays well below NATS's payload limit.
	maxWarningIndicators = 200
	// maxWarningAge is how old a warning may be when it arrives; older
	// ones are refused as stale (replays of old messages among them).
	maxWarningAge = 7 * 24 * time.Hour
	// maxClockSkew is how far in the future a warning may be dated.
	maxClockSkew = 5 * time.Minute
)

// warningTTL is how long a pushed indicator stays active, by kind:
// addresses change hands quickly, names less so, and a file hash names
// the same file for ever.
var warningTTL = map[ioc.Kind]time.Duration{
	ioc.KindIP:     7 * 24 * time.Hour,
	ioc.KindDomain: 30 * 24 * time.Hour,
	ioc.KindURL:    30 * 24 * time.Hour,
	ioc.KindEmail:  30 * 24 * time.Hour,
	ioc.KindMD5:    180 * 24 * time.Hour,
	ioc.KindSHA1:   180 * 24 * time.Hour,
	ioc.KindSHA256: 180 * 24 * time.Hour,
}

// Warning is a cross-border early warning: the external observables of
// member alerts of one node, one member and one TLP level, as a STIX 2.1
// bundle of indicators, sightings and the identity that sighted them —
// a country and a sector, never the member's name. Sender stands for the
// member: a handle only its node can link to it (see memberHandle).
type Warning struct {
	// ID names this message; it is never used twice.
	ID      string    `json:"id"`
	Node    string    `json:"node"`
	Sender  string    `json:"sender"`
	Country string    `json:"country"`
	Sector  string    `json:"sector,omitempty"`
	TLP     tlp.Level `json:"tlp"`
	Created time.Time `json:"created"`
	// Partners are, for TLP:AMBER, the agreements under which the sender
	// shares it; the hub forwards only to members both these and its own
	// record of the sender's agreements name.
	Partners []Partner `json:"partners,omitempty"`
	// Bundle holds the indicators and sightings.
	Bundle json.RawMessage `json:"bundle,omitempty"`
	// Revoke lists indicators of earlier warnings the sender withdraws
	// (false positives).
	Revoke []string `json:"revoke,omitempty"`
	// Pseudonyms are the pseudonyms of the observables, for the hub's
	// corroboration: alone (no bundle) from a member in corroborated
	// mode, whose values stay home until the hub asks for them; next to
	// the bundle in an immediate warning, so that its sighting counts.
	Pseudonyms []Sighted `json:"pseudonyms,omitempty"`
	// Withheld are the objects of the bundle a hub refused and left out
	// of its forward (see warnwire.go); the origin's signature covers
	// their digests.
	Withheld []Withheld `json:"withheld,omitempty"`
}

// Subject is the subject a warning is published on.
func (w *Warning) Subject() string { return WarningSubject + "." + w.Node + "." + w.Sender }

// Item is one indicator of a warning as a receiving node indexes it.
type Item struct {
	ID         string
	Kind       ioc.Kind
	Value      string
	Confidence int
	Detected   time.Time
	ValidUntil time.Time
	Count      int
	FirstSeen  time.Time
	LastSeen   time.Time
}

// External is an observable of an alert that names the same thing for
// everyone and may be pushed to other members: a public address, a
// domain outside the private name spaces, a URL whose host is one of
// those, a file hash, or an e-mail sender. Hosts, users, private or
// reserved addresses and e-mail recipients never are.
func External(o alert.Observable) bool {
	v := strings.TrimSpace(o.Value)
	if v == "" || o.Role == "host" || o.Role == "user" || o.Role == "target" {
		return false
	}
	switch o.Type {
	case "ipv4-addr", "ipv6-addr":
		ip, err := netip.ParseAddr(v)
		return err == nil && PublicAddr(ip)
	case "domain-name":
		return publicName(v)
	case "url":
		u, err := url.Parse(v)
		if err != nil || u.Hostname() == "" {
			return false
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
			return PublicAddr(ip)
		}
		return publicName(u.Hostname())
	case "email-addr":
		at := strings.LastIndexByte(v, '@')
		return o.Role == "source" && at > 0 && publicName(v[at+1:])
	case "file:hashes.MD5", "file:hashes.'SHA-1'", "file:hashes.'SHA-256'":
		return true
	}
	return false
}

// Pushable reports whether an observable of an alert leaves as an early
// warning: it must be External, and a hash of the running process only
// leaves when intelligence raised the alert (an IOC or STIX pattern
// match). A behavioural rule fires on what a process does, and that
// process is most often a system binary (powershell.exe, cmd.exe,
// wmic.exe): its hash names no threat, and pushed it would alert every
// member that runs the same binary.
func Pushable(a *alert.Alert, o alert.Observable) bool {
	if !External(o) {
		return false
	}
	if o.Role == "process" && strings.HasPrefix(o.Type, "file:hashes.") {
		return a.Detector == ioc.DetectorName || a.Detector == stixpattern.Name
	}
	return true
}

// specialPrefixes are the IANA special-purpose ranges that are not
// globally reachable (RFC 6890 and its updates) beyond what netip
// classifies: shared address space, documentation, benchmarking,
// protocol assignments, reserved.
var specialPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001::/23"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("3fff::/20"),
}

// PublicAddr reports whether ip is a globally reachable unicast address:
// not private, loopback, link-local, multicast, shared, documentation or
// reserved.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range specialPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// privateSuffixes are name spaces that name different things at every
// organisation.
var privateSuffixes = []string{".local", ".lan", ".internal", ".intranet", ".corp", ".home", ".home.arpa",
	".localdomain", ".localhost", ".in-addr.arpa", ".ip6.arpa", ".test", ".invalid"}

// publicName reports whether a domain name names the same thing
// everywhere: it has a dot, is not an address, and is not under a
// private or special-use suffix.
func publicName(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	if !strings.Contains(name, ".") {
		return false
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return false
	}
	for _, s := range privateSuffixes {
		if strings.HasSuffix(name, s) || name == s[1:] {
			return false
		}
	}
	return true
}

// patternOf writes the STIX pattern testing one observable.
func patternOf(o alert.Observable) string {
	path := o.Type + ":value"
	if strings.HasPrefix(o.Type, "file:") {
		path = o.Type
	}
	return "[" + path + " = " + pattern.Quote(strings.TrimSpace(o.Value)) + "]"
}

// confidenceOf maps an alert's severity to the confidence of the
// indicators it gives.
func confidenceOf(s alert.Severity) int {
	switch s {
	case alert.Critical:
		return 90
	case alert.High:
		return 80
	case alert.Medium:
		return 60
	}
	return 40
}

// indicatorID is the STIX id of origin node's indicator for an
// observable: the same on every push, so that a later push updates it.
func indicatorID(node string, o alert.Observable) string {
	typ, value := canonical(o.Type, o.Value)
	return stix.NameID("indicator", "xsoc-warning|"+node+"|"+typ+"|"+value)
}

// sighterID is the identity standing for "a member of this sector in this
// country": the same for every member that shares both.
func sighterID(country, sector string) string {
	return stix.NameID("identity", "xsoc-warning-sighter|"+country+"|"+sector)
}

// buildBundle turns the external observables of alerts into STIX
// indicators, one per observable, each with a sighting by the identity
// of the member's country and sector. It returns the bundle and how many
// indicators it holds.
func buildBundle(node, country, sector string, level tlp.Level, alerts []*alert.Alert) (json.RawMessage, int, error) {
	now := stix.FormatTime(time.Now().UTC().Truncate(time.Millisecond))
	who := sighterID(country, sector)
	ident, err := json.Marshal(&wireObject{Type: "identity", SpecVersion: "2.1", ID: who, Created: now, Modified: now,
		Name: strings.TrimSpace(sector + " member in " + country), IdentityClass: "organization"})
	if err != nil {
		return nil, 0, err
	}
	objs := [][]byte{ident}
	seen := map[string]bool{}
	marking := []string{stix.MarkingRef(level)}
	for _, a := range alerts {
		for _, o := range a.Observables {
			if !Pushable(a, o) {
				continue
			}
			id := indicatorID(node, o)
			if seen[id] {
				continue
			}
			seen[id] = true
			ind, sig, err := warningObjects(id, who, now, marking, a, o)
			if err != nil {
				return nil, 0, err
			}
			objs = append(objs, ind, sig)
		}
	}
	if len(seen) == 0 {
		return nil, 0, nil
	}
	return encodeBundle(objs), len(seen), nil
}

// warningObjects writes the indicator and sighting for one observable of
// alert a, marked with marking (the warning's TLP level).
func warningObjects(id, sighter, now string, marking []string, a *alert.Alert, o alert.Observable) ([]byte, []byte, error) {
	k, _, ok := kindOfObservable(o.Type)
	if !ok {
		return nil, nil, fmt.Errorf("no indicator for %s", o.Type)
	}
	detected := a.Detected.UTC()
	if detected.IsZero() {
		detected = time.Now().UTC()
	}
	conf := confidenceOf(a.Severity)
	labels := []string{"xsoc-early-warning"}
	for _, t := range a.Techniques {
		labels = append(labels, "attack."+strings.ToLower(t))
	}
	created := stix.FormatTime(detected.Truncate(time.Millisecond))
	modified := stix.FormatTime(later(a.LastSeen, detected).UTC().Truncate(time.Millisecond))
	ind, err := json.Marshal(&wireObject{Type: "indicator", SpecVersion: "2.1", ID: id, Created: created, Modified: modified,
		Name: "Early warning: " + o.Type + " seen by a member", IndicatorTypes: []string{"malicious-activity"},
		Pattern: patternOf(o), PatternType: "stix", ValidFrom: stix.FormatTime(detected),
		ValidUntil: stix.FormatTime(detected.Add(warningTTL[k])), Labels: labels, Confidence: &conf, ObjectMarkingRefs: marking})
	if err != nil {
		return nil, nil, err
	}
	first, last := a.EventTime, later(a.LastSeen, a.EventTime)
	count := max(a.Count, 1)
	s := wireObject{Type: "sighting", SpecVersion: "2.1", ID: stix.NewID("sighting"), Created: now, Modified: now,
		SightingOfRef: id, Count: &count, WhereSightedRefs: []string{sighter}, ObjectMarkingRefs: marking}
	if !first.IsZero() {
		s.FirstSeen = stix.FormatTime(first)
	}
	if !last.IsZero() {
		s.LastSeen = stix.FormatTime(last)
	}
	sig, err := json.Marshal(&s)
	return ind, sig, err
}

// ObservableKind is the IOC index kind of the indicator a warning gives
// for an alert observable of type typ.
func ObservableKind(typ string) (ioc.Kind, bool) {
	k, _, ok := kindOfObservable(typ)
	return k, ok
}

// kindOfObservable maps an alert observable type to an index kind.
func kindOfObservable(typ string) (ioc.Kind, string, bool) {
	switch typ {
	case "ipv4-addr", "ipv6-addr":
		return ioc.KindIP, typ, true
	case "domain-name":
		return ioc.KindDomain, typ, true
	case "url":
		return ioc.KindURL, typ, true
	case "email-addr":
		return ioc.KindEmail, typ, true
	case "file:hashes.MD5":
		return ioc.KindMD5, typ, true
	case "file:hashes.'SHA-1'":
		return ioc.KindSHA1, typ, true
	case "file:hashes.'SHA-256'":
		return ioc.KindSHA256, typ, true
	}
	return 0, "", false
}

// Refusal reasons, the label values of the refusal counters.
const (
	reasonSignature = "signature"
	reasonOrigin    = "forged-origin"
	reasonRelay     = "not-from-hub"
	reasonReplay    = "replayed"
	reasonStale     = "stale"
	reasonTLP       = "over-tlp"
	reasonMalformed = "malformed"
	reasonPrivate   = "private-address"
	reasonAgreement = "no-agreement"
)

// refusal is why a warning was refused: a reason (a counter label) and
// the detail logged.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return r.reason + ": " + r.err.Error() }

func refuse(reason string, format string, args ...any) error {
	return &refusal{reason: reason, err: fmt.Errorf(format, args...)}
}

// reasonOf returns the refusal reason of err ("malformed" for others).
func reasonOf(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.reason
	}
	return reasonMalformed
}

// warningID names a warning message after the alert states it carries:
// the same states give the same id (and the hub's stream stores them
// once), whatever the order.
func warningID(node string, states []string) string {
	h := sha256.New()
	for _, s := range states {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return node + ".w." + hex.EncodeToString(h.Sum(nil)[:12])
}
