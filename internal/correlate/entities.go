package correlate

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
)

// Entities are what an incident's alerts point at.
type Entities struct {
	Hosts       []string           `json:"hosts,omitempty"`
	Users       []string           `json:"users,omitempty"`
	Observables []alert.Observable `json:"observables,omitempty"`
}

// entitiesOf extracts the entities of one alert: host and user names from
// its observables and evidence, and its other observables.
func entitiesOf(a *alert.Alert) Entities {
	e := observablesOf(a)
	hosts, users := EvidenceNames(a.Evidence)
	for _, h := range hosts {
		e.Hosts = appendFold(e.Hosts, h)
	}
	for _, u := range users {
		e.Users = appendFold(e.Users, u)
	}
	return e
}

// observablesOf is entitiesOf without the names in the evidence, which
// take parsing it.
func observablesOf(a *alert.Alert) Entities {
	var e Entities
	for _, o := range a.Observables {
		if o.Value == "" {
			continue
		}
		switch {
		case o.Type == "host" || o.Role == "host":
			e.Hosts = appendFold(e.Hosts, o.Value)
		case o.Type == "user-account" || o.Role == "user":
			e.Users = appendFold(e.Users, o.Value)
		default:
			if !slices.Contains(e.Observables, o) {
				e.Observables = append(e.Observables, o)
			}
		}
	}
	return e
}

// EvidenceNames returns the host names (host.name) and user names
// (user.name) of an alert's evidence documents, each once ignoring case.
// Evidence is informative: a document that does not parse only loses
// its names.
func EvidenceNames(evidence []string) (hosts, users []string) {
	for _, doc := range evidence {
		h, u, ok := docNames(doc)
		if !ok {
			continue
		}
		if h != "" {
			hosts = appendFold(hosts, h)
		}
		if u != "" {
			users = appendFold(users, u)
		}
	}
	return hosts, users
}

// docNames returns the host.name and user.name of one evidence document
// as event.Event.ParseJSON and Get read them, and whether it parses.
// Placing an alert reads them; decoding the whole document into an event
// (its original line included) was a tenth of the cost of committing an
// alert, so the flat documents AppendJSON writes are scanned instead, and
// any other shape is decoded in full.
func docNames(doc string) (host, user string, ok bool) {
	if host, user, ok, sure := scanNames(doc); sure {
		return host, user, ok
	}
	var ev event.Event
	if ev.ParseJSON([]byte(doc)) != nil {
		return "", "", false
	}
	host, _ = ev.Get("host.name")
	user, _ = ev.Get("user.name")
	return host, user, true
}

// scanNames reads the names of a flat document: one JSON object whose
// keys need no unescaping and where neither the names nor the times
// (which must parse) take any form but a string. sure is false for any
// other document, which the caller decodes in full.
func scanNames(doc string) (host, user string, ok, sure bool) {
	if !json.Valid([]byte(doc)) {
		return "", "", false, true
	}
	i := skipSpace(doc, 0)
	if doc[i] != '{' {
		return "", "", false, false
	}
	var times []string
	for i = skipSpace(doc, i+1); doc[i] != '}'; i = skipSpace(doc, i) {
		if doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
		end := stringEnd(doc, i)
		key := doc[i+1 : end-1]
		if strings.IndexByte(key, '\\') >= 0 {
			return "", "", false, false
		}
		i = skipSpace(doc, skipSpace(doc, end)+1) // past the colon
		start := i
		i = valueEnd(doc, i)
		switch key {
		case "host.name", "user.name", event.FieldTimestamp, event.FieldIngested:
			if doc[start] != '"' {
				return "", "", false, false
			}
			var v string
			if json.Unmarshal([]byte(doc[start:i]), &v) != nil {
				return "", "", false, false
			}
			switch key {
			case "host.name":
				host = v // a repeated key: the last one counts, as in a map
			case "user.name":
				user = v
			default:
				times = append(times, key, v)
			}
		case "", "host", "user": // an object here would flatten into a name
			if doc[start] == '{' || doc[start] == '[' {
				return "", "", false, false
			}
		}
	}
	last := map[string]string{}
	for j := 0; j < len(times); j += 2 {
		last[times[j]] = times[j+1]
	}
	for _, t := range last {
		if _, err := event.ParseTime(t); err != nil {
			return "", "", false, true
		}
	}
	return host, user, true, true
}

// skipSpace returns the index of the first non-space byte of s from i.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at i of
// the valid JSON s.
func stringEnd(s string, i int) int {
	for i++; s[i] != '"'; i++ {
		if s[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// valueEnd returns the index just past the JSON value starting at i of
// the valid JSON s.
func valueEnd(s string, i int) int {
	switch s[i] {
	case '"':
		return stringEnd(s, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch s[i] {
			case '"':
				i = stringEnd(s, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(s) && !strings.ContainsRune(",}] \t\n\r", rune(s[i])) {
		i++
	}
	return i
}

// merge adds the entities of o to e.
func (e *Entities) merge(o Entities) {
	for _, h := range o.Hosts {
		e.Hosts = appendFold(e.Hosts, h)
	}
	for _, u := range o.Users {
		e.Users = appendFold(e.Users, u)
	}
	for _, ob := range o.Observables {
		if !slices.Contains(e.Observables, ob) {
			e.Observables = append(e.Observables, ob)
		}
	}
}

// appendFold appends s unless list holds it already, ignoring case: host
// and user names are case-insensitive on the platforms that report them.
func appendFold(list []string, s string) []string {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return list
		}
	}
	return append(list, s)
}

// localKeys are the entity keys local grouping joins alerts on. Host and
// user names, and every observable, only mean the same thing inside one
// member ("web01" at two members are two machines), so keys carry the
// member.
func localKeys(a *alert.Alert) []string {
	e := entitiesOf(a)
	var keys []string
	for _, h := range e.Hosts {
		keys = append(keys, hostKey(a.Member, h))
	}
	for _, u := range e.Users {
		keys = append(keys, "user|"+a.Member+"|"+strings.ToLower(u))
	}
	for _, o := range e.Observables {
		keys = append(keys, "obs|"+a.Member+"|"+o.Type+"|"+strings.ToLower(o.Value))
	}
	return keys
}

// hostKey is the entity key of host at member.
func hostKey(member, host string) string { return "host|" + member + "|" + strings.ToLower(host) }

// CampaignBy selects what makes alerts at different members one campaign.
type CampaignBy uint8

// The campaign criteria; combine them with |.
const (
	// ByObservable: a shared public indicator (IP address outside private
	// ranges, domain, URL, file hash, e-mail address...).
	ByObservable CampaignBy = 1 << iota
	// ByTechniqueRule: the same rule detecting the same ATT&CK technique.
	ByTechniqueRule
	// ByRule: the same rule, for alerts that name no technique.
	ByRule
	// ByAll is every criterion (the default).
	ByAll = ByObservable | ByTechniqueRule | ByRule
)

// campaignKeys are the keys cross-border detection joins alerts of
// different members on.
func campaignKeys(a *alert.Alert, by CampaignBy) []string {
	var keys []string
	if by&ByObservable != 0 {
		for _, o := range observablesOf(a).Observables { // the evidence adds only names
			if Global(o) {
				keys = append(keys, "obs|"+o.Type+"|"+strings.ToLower(o.Value))
			}
		}
	}
	rule := a.Detector + "/" + a.RuleID
	if by&ByTechniqueRule != 0 {
		for _, t := range a.Techniques {
			keys = append(keys, "tech|"+strings.ToUpper(t)+"|"+rule)
		}
	}
	if by&ByRule != 0 && len(a.Techniques) == 0 {
		keys = append(keys, "rule|"+rule)
	}
	return keys
}

// Global reports whether an observable names the same thing at every
// member: not a host, user or process, and not a private, loopback or
// link-local address. "public-ipv4-addr" and "public-ipv6-addr" are
// addresses already known to be public whose value cannot be parsed (a
// federation hub's pseudonyms of public addresses): global by type.
func Global(o alert.Observable) bool {
	switch o.Type {
	case "host", "user-account", "process", "windows-registry-key", "directory", "mutex":
		return false
	case "public-ipv4-addr", "public-ipv6-addr":
		return true
	case "ipv4-addr", "ipv6-addr":
		addr, err := netip.ParsePrefix(o.Value)
		var ip netip.Addr
		if err == nil {
			ip = addr.Addr()
		} else if ip, err = netip.ParseAddr(o.Value); err != nil {
			return false
		}
		return ip.IsGlobalUnicast() && !ip.IsPrivate()
	}
	return o.Role != "host" && o.Role != "user"
}

// describeKey renders a campaign key for a title.
func describeKey(key string) string {
	parts := strings.Split(key, "|")
	switch {
	case parts[0] == "obs" && len(parts) == 3:
		return parts[1] + " " + parts[2]
	case parts[0] == "tech" && len(parts) == 3:
		return parts[1] + " by rule " + parts[2]
	case parts[0] == "rule" && len(parts) == 2:
		return "rule " + parts[1]
	}
	return key
}
