package scenario

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Extras adds labelled activity to every victim's intrusion beyond the
// kill chain of the package documentation, for measuring the anomaly and
// first-seen detectors. Each part draws from its own random streams
// (derived from Config.Seed, see the package documentation), so switching
// parts on adds records without changing any other: with Extras zero, a
// scenario is byte for byte what it was before Extras existed.
type Extras struct {
	// PortScan: patient zero scans about 1,050 TCP ports on the domain
	// controller and the file server, then sweeps 445 and 3389 over the
	// workstations (T1046).
	PortScan bool
	// DGABurst: the implant loses its C2 and walks a fallback DGA of 150
	// names within a minute or two, all NXDOMAIN but the last (T1568.002).
	DGABurst bool
	// ExfilBurst: patient zero uploads about 2.4 GB to the C2 server in
	// 40 HTTPS posts over a few minutes (T1041).
	ExfilBurst bool
	// ImpossibleTravel: every member's staff sign in to Entra ID (Elastic
	// Agent's Azure sign-in documents, FormatECS, with source.geo and
	// source.as) from the office, home and now and then a trip abroad;
	// the victim's stolen password is used from a hosting provider on
	// another continent minutes after the user signed in at home
	// (T1078.004).
	ImpossibleTravel bool
}

// AllExtras switches every part of Extras on.
func AllExtras() Extras {
	return Extras{PortScan: true, DGABurst: true, ExfilBurst: true, ImpossibleTravel: true}
}

// any reports whether some part is on.
func (x Extras) any() bool { return x.PortScan || x.DGABurst || x.ExfilBurst || x.ImpossibleTravel }

// String names the parts switched on, for people: "port scan, DGA burst".
func (x Extras) String() string {
	var parts []string
	for _, p := range []struct {
		on   bool
		name string
	}{{x.PortScan, "port scan"}, {x.DGABurst, "DGA burst"}, {x.ExfilBurst, "exfiltration burst"}, {x.ImpossibleTravel, "impossible travel"}} {
		if p.on {
			parts = append(parts, p.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// extras generates the Extras of one victim's intrusion after run has
// laid it out, from the stream "extras" of the campaign and victim.
func (a *attackRun) extras(ci, vi int) []Record {
	x := a.g.cfg.Extras
	if !x.any() {
		return nil
	}
	e := a.g.newEmitter(a.s, newRand(a.g.cfg.Seed, strHash("extras"), uint64(ci), uint64(vi)))
	b := *a
	b.e = e
	if x.PortScan {
		b.portScan(b.at(25 * time.Minute))
	}
	if x.ImpossibleTravel {
		b.impossibleTravel(b.at(50 * time.Minute))
	}
	if x.DGABurst {
		b.dgaBurst(b.at(60 * time.Minute))
	}
	if x.ExfilBurst {
		b.exfilBurst(b.at(100 * time.Minute))
	}
	return e.out
}

// scanPorts are the TCP ports a scanner tries: 1–1024 and the usual
// services above.
var scanPorts = func() []uint16 {
	var ps []uint16
	for p := uint16(1); p <= 1024; p++ {
		ps = append(ps, p)
	}
	return append(ps, 1080, 1433, 1521, 1723, 2049, 2375, 3128, 3268, 3269, 3306, 3389, 5060, 5432, 5900, 5985, 5986,
		6379, 7001, 8000, 8008, 8080, 8081, 8443, 8888, 9000, 9090, 9200, 9389, 10000, 11211, 27017, 47001, 49152, 49666)
}()

// openPorts are the ports Windows servers answer on.
var openPorts = map[uint16]bool{53: true, 88: true, 135: true, 139: true, 389: true, 445: true, 464: true, 593: true,
	636: true, 3268: true, 3269: true, 3389: true, 5985: true, 9389: true, 47001: true}

// portScan is a TCP connect scan from patient zero: every scan port of
// the domain controller and the file server, then SMB and RDP on the
// workstations.
func (a *attackRun) portScan(t time.Time) {
	e, h := a.e, a.h
	a.step("T1046", PhaseDiscovery, "TCP port scan from patient zero")
	probe := func(dst *host, port uint16) {
		state := "S0" // filtered by the host firewall
		if openPorts[port] && (dst.kind != workstation || port == 445 || port == 135) {
			state = "SF"
		} else if e.r.IntN(4) == 0 {
			state = "REJ"
		}
		f := &flow{start: t, src: h.ip, sport: ephemeralPort(e.r), dst: dst.ip, dport: port, proto: "tcp", state: state}
		if state == "SF" {
			f.dur, f.up, f.down = time.Duration(1+e.r.IntN(20))*time.Millisecond, 0, 0
		}
		e.network(f)
		if e.r.IntN(50) == 0 {
			e.netConn(t, h, a.payload, f)
		}
		t = t.Add(time.Duration(2+e.r.IntN(6)) * time.Millisecond)
	}
	for _, dst := range []*host{a.s.dc, a.s.fs} {
		for _, i := range e.r.Perm(len(scanPorts)) {
			probe(dst, scanPorts[i])
		}
	}
	for _, dst := range a.s.ws {
		if dst != h {
			probe(dst, 445)
			probe(dst, 3389)
		}
	}
}

// c2 returns the C2 name and address the implant resolved first.
func (a *attackRun) c2() (string, netip.Addr) {
	for _, d := range a.c.DGADomains {
		if j := indexOf(a.c.C2Domains, d); j >= 0 {
			return d, a.c.C2IPs[j]
		}
	}
	return a.c.C2Domains[0], a.c.C2IPs[0]
}

// dgaBurst walks a fallback DGA: 150 names of 12–20 letters, each
// unanswered but the last, which reaches the second C2 address.
func (a *attackRun) dgaBurst(t time.Time) {
	e, h := a.e, a.h
	a.step("T1568.002", PhaseCommandAndControl, "fallback DGA burst")
	const n = 150
	for i := 0; i < n; i++ {
		b := make([]byte, 12+e.r.IntN(9))
		for j := range b {
			b[j] = byte('a' + e.r.IntN(26))
		}
		name := string(b) + "." + dgaTLDs[e.r.IntN(len(dgaTLDs))]
		var answers []netip.Addr
		if i == n-1 {
			answers = []netip.Addr{a.c.C2IPs[len(a.c.C2IPs)-1]}
		}
		e.lookup(t, h, a.payload, name, answers, 100)
		t = t.Add(time.Duration(300+e.r.IntN(700)) * time.Millisecond)
	}
}

// exfilBurst uploads about 2.4 GB from patient zero to the C2 server over
// HTTPS in 40 posts of about 60 MB.
func (a *attackRun) exfilBurst(t time.Time) {
	e, h := a.e, a.h
	a.step("T1041", PhaseExfiltration, "bulk upload over the C2 channel")
	name, ip := a.c2()
	for i := 0; i < 40; i++ {
		size := int64(logNormal(e.r, 60e6, 0.4))
		f := e.newHTTPS(t, h, name, ip, goTLS, size, int64(300+e.r.IntN(400)), false)
		f.tls.version, f.tls.cipher = "TLSv12", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
		f.tls.issuer = "C=US, O=Let's Encrypt, CN=R11"
		f.dur = time.Duration(float64(size) / 8e6 * float64(time.Second))
		e.send(h, a.payload, f, 30)
		t = t.Add(a.scaled(time.Duration(4000+e.r.IntN(4000)) * time.Millisecond))
	}
}

// geoPlace is where a sign-in comes from: an address block of a network
// (autonomous system) in a city.
type geoPlace struct {
	country, city string
	lat, lon      float64
	asn           int
	org           string
	block         netip.Prefix
}

// homePlaces are the broadband and mobile networks staff sign in from at
// home, per member country; travelPlaces are where they travel.
var (
	homePlaces = map[string][]geoPlace{
		"DE": {{"DE", "Mannheim", 49.49, 8.47, 3320, "Deutsche Telekom AG", netip.MustParsePrefix("87.128.0.0/10")},
			{"DE", "Karlsruhe", 49.01, 8.40, 3209, "Vodafone GmbH", netip.MustParsePrefix("2.200.0.0/14")}},
		"FR": {{"FR", "Paris", 48.86, 2.35, 3215, "Orange S.A.", netip.MustParsePrefix("90.0.0.0/9")},
			{"FR", "Versailles", 48.80, 2.13, 12322, "Free SAS", netip.MustParsePrefix("82.64.0.0/14")}},
		"SE": {{"SE", "Gothenburg", 57.71, 11.97, 3301, "Telia Company AB", netip.MustParsePrefix("78.64.0.0/12")},
			{"SE", "Borås", 57.72, 12.94, 2119, "Telenor Norge AS", netip.MustParsePrefix("85.224.0.0/13")}},
		"NL": {{"NL", "Amsterdam", 52.37, 4.90, 1136, "KPN B.V.", netip.MustParsePrefix("77.160.0.0/12")},
			{"NL", "Utrecht", 52.09, 5.12, 33915, "Vodafone Libertel B.V.", netip.MustParsePrefix("31.20.0.0/14")}},
	}
	travelPlaces = []geoPlace{
		{"BE", "Brussels", 50.85, 4.35, 5432, "Proximus NV", netip.MustParsePrefix("81.240.0.0/12")},
		{"AT", "Vienna", 48.21, 16.37, 8447, "A1 Telekom Austria AG", netip.MustParsePrefix("80.120.0.0/14")},
		{"ES", "Madrid", 40.42, -3.70, 3352, "Telefonica de Espana", netip.MustParsePrefix("80.24.0.0/13")},
		{"IT", "Milan", 45.46, 9.19, 3269, "Telecom Italia S.p.A.", netip.MustParsePrefix("79.0.0.0/10")},
	}
	// actorPlaces are the hosting networks the actor signs in from.
	actorPlaces = []geoPlace{
		{"SG", "Singapore", 1.29, 103.85, 14061, "DigitalOcean, LLC", netip.MustParsePrefix("128.199.128.0/17")},
		{"BR", "São Paulo", -23.55, -46.63, 20473, "The Constant Company, LLC", netip.MustParsePrefix("45.77.0.0/16")},
		{"US", "Ashburn", 39.04, -77.49, 9009, "M247 Europe SRL", netip.MustParsePrefix("38.132.96.0/19")},
	}
	signinApps = []string{"Office 365 Exchange Online", "Microsoft Teams", "Office 365 SharePoint Online", "Microsoft Office", "OneDrive SyncEngine"}
)

// officePlace is the member's own egress address as a sign-in origin.
func (s *site) officePlace() geoPlace {
	home := homePlaces[s.m.Country]
	p := geoPlace{country: s.m.Country, city: s.m.Country, block: netip.PrefixFrom(s.m.Egress, 32), asn: 64500, org: s.m.Name}
	if len(home) > 0 {
		p.city, p.lat, p.lon = home[0].city, home[0].lat, home[0].lon
	}
	return p
}

// signIns generates the members' benign Entra ID sign-ins in [from, to):
// per user and peak hour about one sign-in, from the office, from home
// (outside office hours) and, for about one sign-in in 300, from a trip
// abroad.
func (g *gen) signIns(e *emitter, from, to time.Time) {
	s := e.s
	span := to.Sub(from)
	level := s.activityLevel(from.Add(span/2), workstation)
	for _, u := range s.users {
		for n := poisson(e.r, 0.8*level*span.Hours()); n > 0; n-- {
			t := from.Add(time.Duration(e.r.Int64N(int64(span))))
			lt := t.In(s.location())
			place := s.officePlace()
			switch {
			case e.r.IntN(300) == 0:
				place = pick(e.r, travelPlaces)
			case lt.Hour() < 8 || lt.Hour() >= 17 || e.r.IntN(5) == 0:
				if home := homePlaces[s.m.Country]; len(home) > 0 {
					place = pick(e.r, home)
				}
			}
			ok := e.r.IntN(40) != 0
			e.signIn(t, u, place, addrIn(place.block, e.r.Uint64()), ok)
		}
	}
}

// impossibleTravel: the victim signs in at home, then the stolen password
// is used from the actor's hosting network on another continent twenty
// minutes later (scaled by StepScale, at least two), and twice more while the actor reads mail.
func (a *attackRun) impossibleTravel(t time.Time) {
	e, s := a.e, a.s
	u := a.h.user
	e.label = nil // the user's own sign-in is benign
	if home := homePlaces[s.m.Country]; len(home) > 0 {
		place := pick(e.r, home)
		e.signIn(t.Add(-max(a.scaled(20*time.Minute), 2*time.Minute)), u, place, addrIn(place.block, e.r.Uint64()), true)
	}
	a.step("T1078.004", PhaseInitialAccess, "stolen password used from another continent")
	place := actorPlaces[int(strHash(a.c.ID)%uint64(len(actorPlaces)))]
	ip := addrIn(place.block, e.r.Uint64())
	for i := 0; i < 3; i++ {
		e.signIn(t.Add(a.scaled(time.Duration(i)*4*time.Minute)), u, place, ip, true)
	}
}

// signIn writes one Entra ID sign-in as Elastic Agent's Azure integration
// indexes it (data stream azure.signinlogs).
func (e *emitter) signIn(t time.Time, u *account, p geoPlace, ip netip.Addr, ok bool) {
	w := e.buf()
	w.begin()
	w.time("@timestamp", t.UTC(), "2006-01-02T15:04:05.000Z")
	w.obj("event")
	w.str("kind", "event")
	w.strs("category", []string{"authentication"})
	w.strs("type", []string{"info"})
	w.str("action", "Sign-in activity")
	outcome, code := "success", int64(0)
	if !ok {
		outcome, code = "failure", 50126 // invalid user name or password
	}
	w.str("outcome", outcome)
	w.str("dataset", "azure.signinlogs")
	w.str("module", "azure")
	w.str("id", guid(e.r)[1:37])
	w.end()
	w.obj("user")
	w.str("name", u.mail)
	w.str("full_name", u.first+" "+u.last)
	w.str("domain", e.s.m.MailDomain)
	w.end()
	w.obj("source")
	w.str("ip", ip.String())
	w.obj("geo")
	w.str("country_iso_code", p.country)
	w.str("city_name", p.city)
	w.obj("location")
	w.float("lat", p.lat, 2)
	w.float("lon", p.lon, 2)
	w.end()
	w.end()
	w.obj("as")
	w.int("number", int64(p.asn))
	w.obj("organization")
	w.str("name", p.org)
	w.end()
	w.end()
	w.end()
	w.obj("cloud")
	w.str("provider", "azure")
	w.end()
	w.obj("azure")
	w.obj("signinlogs")
	w.str("category", "SignInLogs")
	w.obj("properties")
	w.str("app_display_name", pick(e.r, signinApps))
	w.str("client_app_used", "Browser")
	w.str("user_principal_name", u.mail)
	w.obj("status")
	w.int("error_code", code)
	w.end()
	w.end()
	w.end()
	w.end()
	w.obj("observer")
	w.str("vendor", "Microsoft")
	w.str("product", "Entra ID")
	w.end()
	w.str("message", fmt.Sprintf("Sign-in of %s from %s (%s, AS%d)", u.mail, ip, p.country, p.asn))
	w.end()
	e.emit(FormatECS, t, w.b, "entra-id")
}
