package ioc

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// An indicator received in cross-border warnings from several origins is
// indexed as one id on its value with one entry per origin (each its own
// owner, TLP, confidence, detection time and expiry), so that TLP,
// expiry and revocation apply to each origin on its own. An event that
// matches it raises one alert naming every origin the event's member may
// use; a warning's alert also folds into the alert of the member's own
// intelligence on the same value when naming its origins restricts that
// alert no further (see finish).

// raised is what the matcher keeps about one alert of the event it
// matches until finish writes its title.
type raised struct {
	// kind and value start the title: "IOC match: ip 192.0.2.1".
	kind  Kind
	value string
	// source is where the entry of local intelligence came from; empty
	// for an alert a cross-border warning raised.
	source string
	// origins are the cross-border warnings' origins the alert names.
	origins []origin
	// gone marks an alert folded into another.
	gone bool
}

// origin is one origin of a received indicator: who pushed it, from which
// country, and when it was detected there.
type origin struct {
	owner, country string
	detected       uint32 // Unix seconds
}

// originOf returns the origin of entry e of a cross-border warning.
func originOf(e *meta, p *provenance) origin {
	return origin{owner: p.owner, country: p.warnedFrom, detected: e.from}
}

// addOrigin adds the origin of entry e to alert i of out, which another
// origin of the same indicator raised: the alert is as severe as its most
// confident origin and as restricted as its most restricted one.
func (m *matcher) addOrigin(i int, e *meta, p *provenance, conf int) {
	r := &m.raised[i-m.start]
	o := originOf(e, p)
	if !slices.Contains(r.origins, o) {
		r.origins = append(r.origins, o)
	}
	a := &m.out[i]
	a.Severity = max(a.Severity, SeverityOf(conf))
	a.TLP = max(a.TLP, p.tlp)
}

// finish folds the alerts of the event's warnings and writes every
// alert's title. Alerts of warnings on the same matched value (a domain
// and its parent, say, each pushed by its own origins) become one. That
// alert then folds into the alert of local intelligence on the value
// when it is no more restricted: one alert per value, attributed to the
// member's own intelligence and to every warning, whose TLP level — and
// with it what the node shares of the member's own detection — stays
// its own. A warning more restricted than the local alert keeps an alert
// of its own, at its own level.
func (m *matcher) finish() {
	if len(m.raised) == 0 {
		return
	}
	m.foldWarnings()
	var now int64
	for i := range m.raised {
		if len(m.raised[i].origins) > 0 {
			now = m.x.opts.Clock().Unix()
			break
		}
	}
	for i := range m.raised {
		m.out[m.start+i].RuleTitle = m.raised[i].title(now)
	}
}

// foldWarnings merges the alerts of warnings into others on the same
// matched value, as finish describes, and drops the merged ones.
func (m *matcher) foldWarnings() {
	alerts := m.out[m.start:]
	folded := false
	// One alert of warnings per value: the first takes in the others.
	for i := range alerts {
		if m.raised[i].source != "" {
			continue
		}
		for j := range i {
			if !m.raised[j].gone && m.raised[j].source == "" && alerts[j].Key == alerts[i].Key {
				m.merge(j, i)
				folded = true
				break
			}
		}
	}
	// It joins the first alert of local intelligence on the value that
	// it does not restrict further.
	for i := range alerts {
		if m.raised[i].gone || m.raised[i].source != "" {
			continue
		}
		for j := range alerts {
			if !m.raised[j].gone && m.raised[j].source != "" && alerts[j].Key == alerts[i].Key && alerts[j].TLP >= alerts[i].TLP {
				m.merge(j, i)
				folded = true
				break
			}
		}
	}
	if !folded {
		return
	}
	n := 0
	for i := range alerts {
		if !m.raised[i].gone {
			alerts[n], m.raised[n] = alerts[i], m.raised[i]
			n++
		}
	}
	clear(alerts[n:])
	m.out = m.out[:m.start+n]
	m.raised = m.raised[:n]
}

// merge folds alert i of the event into alert j and marks i gone.
func (m *matcher) merge(j, i int) {
	dst, src := &m.out[m.start+j], &m.out[m.start+i]
	dst.Severity = max(dst.Severity, src.Severity)
	dst.TLP = max(dst.TLP, src.TLP)
	for _, o := range src.Observables {
		if !slices.Contains(dst.Observables, o) {
			dst.Observables = append(dst.Observables, o)
		}
	}
	r := &m.raised[j]
	for _, o := range m.raised[i].origins {
		if !slices.Contains(r.origins, o) {
			r.origins = append(r.origins, o)
		}
	}
	m.raised[i].gone = true
}

// title writes the alert's title at clock time now: its head, the local
// source, and the countries of the warnings, earliest detection first,
// each once with how long ago it was first detected there:
//
//	IOC match: ip 192.0.2.1 (source feed)
//	IOC match: ip 192.0.2.1 — known from a cross-border warning (detected in DE 3 min ago)
//	IOC match: ip 192.0.2.1 — known from cross-border warnings (detected in FR 3 min ago, DE 1 min ago)
//	IOC match: ip 192.0.2.1 (source feed) — also known from a cross-border warning (detected in DE 3 min ago)
func (r *raised) title(now int64) string {
	if len(r.origins) == 0 {
		return "IOC match: " + r.kind.String() + " " + r.value + " (source " + r.source + ")"
	}
	var b strings.Builder
	b.WriteString("IOC match: " + r.kind.String() + " " + r.value)
	if r.source != "" {
		b.WriteString(" (source " + r.source + ")")
	}
	b.WriteString(" — ")
	if r.source != "" {
		b.WriteString("also ")
	}
	if len(r.origins) == 1 {
		b.WriteString("known from a cross-border warning (detected in ")
	} else {
		b.WriteString("known from cross-border warnings (detected in ")
	}
	slices.SortFunc(r.origins, func(a, b origin) int {
		return cmp.Or(cmp.Compare(a.detected, b.detected), strings.Compare(a.country, b.country))
	})
	var named []string
	for _, o := range r.origins {
		if slices.Contains(named, o.country) {
			continue // the country's earliest detection is named
		}
		if len(named) > 0 {
			b.WriteString(", ")
		}
		named = append(named, o.country)
		b.WriteString(o.country + " " + Ago(time.Duration(max(now-int64(o.detected), 0))*time.Second))
	}
	b.WriteString(")")
	return b.String()
}
