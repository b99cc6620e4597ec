package scenario

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Campaign is one attack campaign: an actor's infrastructure and tools,
// reused against several members in different countries.
type Campaign struct {
	// ID is a stable identifier such as "C1-amber-heron".
	ID string `json:"id"`
	// Name is the campaign's display name.
	Name string `json:"name"`
	// Sender is the phishing sender address; SenderDomain its domain and
	// SenderIP the mail server it sends from.
	Sender       string     `json:"sender"`
	SenderDomain string     `json:"sender_domain"`
	SenderIP     netip.Addr `json:"sender_ip"`
	// Document is the macro-enabled lure attached to the e-mail.
	Document File `json:"document"`
	// Payload is the implant the lure installs.
	Payload File `json:"payload"`
	// Dumper is the renamed credential-dumping tool used by some victims.
	Dumper File `json:"dumper"`
	// StagingURL serves the PowerShell stages and the payload; it lives on
	// StagingDomain at StagingIP (a compromised web site).
	StagingURL    string     `json:"staging_url"`
	StagingDomain string     `json:"staging_domain"`
	StagingIP     netip.Addr `json:"staging_ip"`
	// DGADomains are the names the implant's weekly domain generation
	// algorithm produces; C2Domains is the registered subset, resolving to
	// C2IPs.
	DGADomains []string     `json:"dga_domains"`
	C2Domains  []string     `json:"c2_domains"`
	C2IPs      []netip.Addr `json:"c2_ips"`
	// JA3 is the MD5 JA3 fingerprint of the implant's TLS client.
	JA3 string `json:"ja3"`
	// Victims lists the targeted members in attack order.
	Victims []Victim `json:"victims"`
}

// File is a file known to threat intelligence.
type File struct {
	Name   string `json:"name"`
	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	SHA256 string `json:"sha256"`
}

// Victim is one targeted member.
type Victim struct {
	Member  string `json:"member"`
	Country string `json:"country"`
	// Host is patient zero's host name; User its user.
	Host string `json:"host"`
	User string `json:"user"`
	// Start is when the phishing e-mail arrives.
	Start time.Time `json:"start"`
}

// Countries returns the distinct countries the campaign hits, in attack
// order.
func (c *Campaign) Countries() []string {
	var out []string
	for _, v := range c.Victims {
		if !slices.Contains(out, v.Country) {
			out = append(out, v.Country)
		}
	}
	return out
}

// Indicator is one observable of a campaign, typed with MISP attribute
// types: "email-src", "domain", "ip-src", "ip-dst", "url", "md5",
// "sha1", "sha256", "filename", "ja3-fingerprint-md5".
type Indicator struct {
	Type     string `json:"type"`
	Value    string `json:"value"`
	Campaign string `json:"campaign"`
	Comment  string `json:"comment,omitempty"`
}

// STIXPattern returns the indicator as a STIX 2.1 pattern, or "" for a
// type STIX has no object path for.
func (i Indicator) STIXPattern() string {
	q := strings.ReplaceAll(strings.ReplaceAll(i.Value, `\`, `\\`), `'`, `\'`)
	switch i.Type {
	case "email-src":
		return "[email-message:from_ref.value = '" + q + "']"
	case "domain":
		return "[domain-name:value = '" + q + "']"
	case "ip-src", "ip-dst":
		return "[ipv4-addr:value = '" + q + "']"
	case "url":
		return "[url:value = '" + q + "']"
	case "md5":
		return "[file:hashes.MD5 = '" + q + "']"
	case "sha1":
		return "[file:hashes.'SHA-1' = '" + q + "']"
	case "sha256":
		return "[file:hashes.'SHA-256' = '" + q + "']"
	case "filename":
		return "[file:name = '" + q + "']"
	case "ja3-fingerprint-md5":
		return "[network-traffic:extensions.'x-ja3'.hash = '" + q + "']"
	}
	return ""
}

// Indicators returns the campaign's observables for loading as threat
// intelligence, in a fixed order.
func (c *Campaign) Indicators() []Indicator {
	var out []Indicator
	add := func(typ, value, comment string) {
		out = append(out, Indicator{Type: typ, Value: value, Campaign: c.ID, Comment: comment})
	}
	add("email-src", c.Sender, "phishing sender")
	add("domain", c.SenderDomain, "phishing sender domain")
	add("ip-src", c.SenderIP.String(), "phishing mail server")
	for _, f := range []struct {
		file File
		role string
	}{{c.Document, "macro lure"}, {c.Payload, "implant"}, {c.Dumper, "credential dumper"}} {
		add("sha256", f.file.SHA256, f.role+" "+f.file.Name)
		add("sha1", f.file.SHA1, f.role+" "+f.file.Name)
		add("md5", f.file.MD5, f.role+" "+f.file.Name)
	}
	add("filename", c.Payload.Name, "implant")
	add("url", c.StagingURL, "PowerShell stage")
	add("domain", c.StagingDomain, "compromised staging site")
	add("ip-dst", c.StagingIP.String(), "staging server")
	for _, d := range c.C2Domains {
		add("domain", d, "command and control (DGA, registered)")
	}
	for _, ip := range c.C2IPs {
		add("ip-dst", ip.String(), "command and control")
	}
	for _, d := range c.DGADomains {
		if !slices.Contains(c.C2Domains, d) {
			add("domain", d, "DGA candidate (unregistered)")
		}
	}
	add("ja3-fingerprint-md5", c.JA3, "implant TLS client")
	return out
}

// Word lists for campaign names and infrastructure.
var (
	adjectives = []string{"amber", "silent", "copper", "northern", "velvet", "hollow", "crimson", "pale", "iron", "frozen"}
	animals    = []string{"heron", "lynx", "badger", "kestrel", "otter", "viper", "marten", "raven", "ibex", "wolf"}
	lureWords  = []string{"nordlogistik", "eurofaktura", "docuvault", "paysettle", "tradeledger", "swiftinvoice", "cargodocs", "remitcentral"}
	siteWords  = []string{"alpenblick-ferienwohnung", "bakkerij-devries", "trattoria-sole", "yoga-studio-lumen", "weingut-kessler", "campingplaats-duin"}
	dgaTLDs    = []string{"top", "xyz", "online", "site", "info"}
	// hostingBlocks are VPS ranges the actor rents from.
	hostingBlocks = []netip.Prefix{
		netip.MustParsePrefix("45.133.216.0/22"), netip.MustParsePrefix("91.215.152.0/22"),
		netip.MustParsePrefix("194.87.216.0/22"), netip.MustParsePrefix("5.252.176.0/22"),
		netip.MustParsePrefix("185.117.88.0/22"), netip.MustParsePrefix("193.233.20.0/22"),
	}
	// megaBlock serves the cloud-storage upload endpoints.
	megaBlock = netip.MustParsePrefix("66.203.125.0/24")
)

const dgaPerWeek = 30

// dgaWords are the dictionary of the implant's word DGA (Config.DGADictionary).
var dgaWords = []string{"amber", "anchor", "autumn", "basket", "bridge", "bright", "candle", "castle", "cedar",
	"circle", "clever", "copper", "cotton", "crystal", "dinner", "doctor", "dragon", "eagle", "ember", "engine",
	"falcon", "forest", "garden", "golden", "harbor", "hidden", "hollow", "island", "jacket", "kitten", "ladder",
	"lemon", "letter", "market", "meadow", "mirror", "morning", "motion", "number", "orange", "paper", "pepper",
	"pillow", "planet", "pocket", "purple", "rabbit", "river", "rocket", "saddle", "silver", "simple", "spring",
	"station", "summer", "sunset", "thunder", "timber", "travel", "valley", "velvet", "window", "winter", "yellow"}

// dga returns the implant's domain list for the ISO week of t: seeded
// pseudo-random letters over a few cheap TLDs, as many crimeware DGAs do,
// or two dictionary words when words is set.
func dga(seed uint64, t time.Time, words bool) []string {
	year, week := t.ISOWeek()
	r := newRand(seed, uint64(year), uint64(week))
	out := make([]string, dgaPerWeek)
	for i := range out {
		if words {
			out[i] = pick(r, dgaWords) + pick(r, dgaWords) + "." + pick(r, []string{"net", "com"})
			continue
		}
		n := 10 + r.IntN(7)
		b := make([]byte, n)
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		out[i] = string(b) + "." + dgaTLDs[r.IntN(len(dgaTLDs))]
	}
	return out
}

// fileFor derives a File's hashes from the campaign and its role.
func fileFor(id, role, name string) File {
	d := digestOf("campaign:" + id + ":" + role)
	return File{Name: name, MD5: d.MD5, SHA1: d.SHA1, SHA256: d.SHA256}
}

// planCampaigns draws the campaigns' infrastructure and victims.
func (g *gen) planCampaigns() {
	for k := 0; k < g.cfg.Campaigns; k++ {
		r := newRand(g.cfg.Seed, strHash("campaign"), uint64(k))
		adj, animal := pick(r, adjectives), pick(r, animals)
		c := &Campaign{
			ID:   fmt.Sprintf("C%d-%s-%s", k+1, adj, animal),
			Name: "Operation " + strings.ToUpper(adj[:1]) + adj[1:] + " " + strings.ToUpper(animal[:1]) + animal[1:],
		}
		c.SenderDomain = pick(r, []string{"billing-", "invoice-", "secure-", "docs-"}) + pick(r, lureWords) + "." + pick(r, []string{"com", "net", "eu"})
		c.Sender = pick(r, []string{"accounts", "billing", "noreply", "finance"}) + "@" + c.SenderDomain
		c.SenderIP = addrIn(pick(r, hostingBlocks), r.Uint64())
		c.Document = fileFor(c.ID, "document", "invoice.docm")
		c.Payload = fileFor(c.ID, "payload", "OneDriveUpdater.exe")
		c.Dumper = fileFor(c.ID, "dumper", "sshd_cfg.exe")
		c.StagingDomain = "www." + pick(r, siteWords) + "." + pick(r, []string{"de", "nl", "it", "at"})
		c.StagingIP = addrIn(pick(r, hostingBlocks), r.Uint64())
		c.StagingURL = "http://" + c.StagingDomain + "/wp-content/uploads/2024/11/" + randHex(r, 6) + ".txt"
		c.C2IPs = []netip.Addr{addrIn(pick(r, hostingBlocks), r.Uint64()), addrIn(pick(r, hostingBlocks), r.Uint64())}
		c.JA3 = goTLS.ja3Hash()
		dgaSeed := r.Uint64()
		g.dgaSeeds = append(g.dgaSeeds, dgaSeed)
		first := g.firstAttack(k)
		seedWeek := first
		if !g.cfg.DGAWeek.IsZero() {
			seedWeek = g.cfg.DGAWeek
		}
		week := dga(dgaSeed, seedWeek, g.cfg.DGADictionary)
		c.DGADomains = week
		// The actor registers two names of the week, late in the list so
		// that infected hosts try many unregistered names first.
		c.C2Domains = []string{week[dgaPerWeek-8+r.IntN(3)], week[dgaPerWeek-3+r.IntN(3)]}
		c.Victims = g.pickVictims(r, first)
		g.camps = append(g.camps, c)
	}
}

// firstAttack is when campaign k's first phishing mail arrives.
func (g *gen) firstAttack(k int) time.Time {
	c := &g.cfg
	offset := c.FirstAttack
	if offset == 0 {
		offset = c.Duration / 10
	}
	// Campaigns interleave: each starts half a victim gap after the
	// previous one, as several actors work the same day.
	offset += time.Duration(k) * c.VictimGap / 2
	t := c.Start.Add(offset)
	if c.WorkingHoursOnly {
		t = nextWorkingTime(t, g.sites[0].location())
	}
	return t
}

// nextWorkingTime moves t to the next weekday between 08:00 and 17:00
// local time, when staff read their mail.
func nextWorkingTime(t time.Time, loc *time.Location) time.Time {
	for i := 0; i < 24*8; i++ {
		lt := t.In(loc)
		wd := lt.Weekday()
		if wd != time.Saturday && wd != time.Sunday && lt.Hour() >= 8 && lt.Hour() < 17 {
			return t
		}
		t = t.Add(30 * time.Minute)
	}
	return t
}

// pickVictims chooses three or four members (all of them when there are
// fewer), the first two in different countries, and staggers their
// attacks by about VictimGap.
func (g *gen) pickVictims(r *rand.Rand, first time.Time) []Victim {
	order := r.Perm(len(g.sites))
	// Move a member of another country into second place.
	firstCountry := g.sites[order[0]].m.Country
	for i := 1; i < len(order); i++ {
		if g.sites[order[i]].m.Country != firstCountry {
			order[1], order[i] = order[i], order[1]
			break
		}
	}
	n := min(len(order), 3+r.IntN(2))
	var out []Victim
	t := first
	for i := 0; i < n; i++ {
		s := g.sites[order[i]]
		// Patient zero is an ordinary user, not one of the IT staff.
		h := s.ws[r.IntN(len(s.ws))]
		if len(s.ws) > len(s.admins) {
			h = s.ws[len(s.admins)+r.IntN(len(s.ws)-len(s.admins))]
		}
		if i > 0 {
			t = t.Add(time.Duration(float64(g.cfg.VictimGap) * (0.7 + 0.6*r.Float64()))).Round(time.Second)
			if g.cfg.WorkingHoursOnly {
				t = nextWorkingTime(t, s.location())
			}
		}
		out = append(out, Victim{Member: s.m.ID, Country: s.m.Country, Host: h.name, User: h.user.name, Start: t})
	}
	return out
}
