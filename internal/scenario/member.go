package scenario

import (
	"fmt"
	"net/netip"
	"time"
)

// Member is one member organisation of the xsoc community: who it is and
// what its network looks like.
type Member struct {
	// ID is the member's slug, e.g. "de-energie". It names the output
	// files and is the owning member of every record.
	ID string
	// Name is the organisation's display name.
	Name string
	// Country is the ISO 3166-1 alpha-2 code of the member state.
	Country string
	// Sector is the NIS2 sector, e.g. "energy", "health", "banking",
	// "public-administration".
	Sector string
	// Public is true for public-sector bodies.
	Public bool

	// Locale selects user names, file names and lure language: "de",
	// "fr", "sv", "nl" or "en".
	Locale string
	// Domain is the Active Directory DNS domain, e.g.
	// "corp.rheintal-energie.de"; hosts are named <host>.<Domain>.
	Domain string
	// NetBIOS is the short domain name used in DOMAIN\user.
	NetBIOS string
	// MailDomain is the e-mail domain of the staff.
	MailDomain string
	// HostPrefix starts every host name, e.g. "RTE" gives RTE-WS0412 and
	// RTE-DC01.
	HostPrefix string
	// Network is the internal address range (RFC 1918); hosts are numbered
	// inside it. Members must not overlap.
	Network netip.Prefix
	// Egress is the public address the member's traffic leaves from.
	Egress netip.Addr
	// Location is the member's local time zone; the working day follows
	// it. Nil means UTC.
	Location *time.Location

	// Workstations is the number of Windows workstations.
	Workstations int
	// Servers is the number of Windows servers beyond the domain
	// controller and the file server that every member has.
	Servers int
	// Telemetry says which sensors the member runs and so which formats
	// its records come in.
	Telemetry Telemetry
}

// Telemetry lists a member's sensors.
type Telemetry struct {
	// Endpoint is FormatWindows (winlogbeat) or FormatECS (Elastic Agent).
	Endpoint string
	// Zeek and Suricata are network sensors at the internet edge.
	Zeek, Suricata bool
	// Proxy is a Squid web proxy logging over syslog.
	Proxy bool
	// Firewall is a perimeter firewall logging in CEF.
	Firewall bool
	// WebServer is a public nginx web server logging over syslog.
	WebServer bool
}

// cet is Central European (standard) Time. Fixed zones keep scenarios
// independent of the machine's time zone database.
var cet = time.FixedZone("CET", 3600)

// DefaultMembers returns four member organisations in four member states
// and sectors, each with its own naming, address range and sensors. The
// organisations are fictitious.
func DefaultMembers() []Member {
	return []Member{
		{
			ID: "de-energie", Name: "Rheintal Energie AG", Country: "DE", Sector: "energy", Public: false,
			Locale: "de", Domain: "corp.rheintal-energie.de", NetBIOS: "RHEINTAL", MailDomain: "rheintal-energie.de",
			HostPrefix: "RTE", Network: netip.MustParsePrefix("10.20.0.0/16"), Egress: netip.MustParseAddr("198.51.100.20"),
			Location: cet, Workstations: 60, Servers: 6,
			Telemetry: Telemetry{Endpoint: FormatWindows, Zeek: true, Proxy: true, Firewall: true},
		},
		{
			ID: "fr-soc", Name: "Centre opérationnel de cybersécurité interministériel", Country: "FR", Sector: "public-administration", Public: true,
			Locale: "fr", Domain: "ad.cosi.interieur-exemple.fr", NetBIOS: "COSI", MailDomain: "cosi.interieur-exemple.fr",
			HostPrefix: "PAR", Network: netip.MustParsePrefix("10.64.0.0/16"), Egress: netip.MustParseAddr("198.51.100.64"),
			Location: cet, Workstations: 45, Servers: 5,
			Telemetry: Telemetry{Endpoint: FormatWindows, Suricata: true, Proxy: true},
		},
		{
			ID: "se-sjukhus", Name: "Västerhavets universitetssjukhus", Country: "SE", Sector: "health", Public: true,
			Locale: "sv", Domain: "vhus.regionvast-exempel.se", NetBIOS: "VHUS", MailDomain: "vhus.regionvast-exempel.se",
			HostPrefix: "VHS", Network: netip.MustParsePrefix("172.20.0.0/16"), Egress: netip.MustParseAddr("203.0.113.30"),
			Location: cet, Workstations: 55, Servers: 6,
			Telemetry: Telemetry{Endpoint: FormatECS, Suricata: true, Proxy: true, WebServer: true},
		},
		{
			ID: "nl-bank", Name: "Zuiderbank N.V.", Country: "NL", Sector: "banking", Public: false,
			Locale: "nl", Domain: "corp.zuiderbank.nl", NetBIOS: "ZUIDERBANK", MailDomain: "zuiderbank.nl",
			HostPrefix: "ZB", Network: netip.MustParsePrefix("10.128.0.0/16"), Egress: netip.MustParseAddr("203.0.113.128"),
			Location: cet, Workstations: 70, Servers: 8,
			Telemetry: Telemetry{Endpoint: FormatWindows, Zeek: true, Suricata: true, Firewall: true, WebServer: true},
		},
	}
}

// validate checks that m can be simulated.
func (m *Member) validate() error {
	switch {
	case m.ID == "":
		return fmt.Errorf("member without ID")
	case len(m.Country) != 2:
		return fmt.Errorf("member %s: country %q is not an ISO 3166 alpha-2 code", m.ID, m.Country)
	case m.Domain == "" || m.NetBIOS == "" || m.HostPrefix == "":
		return fmt.Errorf("member %s: Domain, NetBIOS and HostPrefix are required", m.ID)
	case !m.Network.IsValid() || !m.Network.Addr().Is4() || m.Network.Bits() > 22:
		return fmt.Errorf("member %s: Network %v must be an IPv4 prefix of /22 or larger", m.ID, m.Network)
	case !m.Egress.IsValid():
		return fmt.Errorf("member %s: Egress address is required", m.ID)
	case m.Workstations < 1:
		return fmt.Errorf("member %s: at least one workstation is required", m.ID)
	case m.Servers < 0:
		return fmt.Errorf("member %s: negative server count", m.ID)
	case m.Telemetry.Endpoint != FormatWindows && m.Telemetry.Endpoint != FormatECS:
		return fmt.Errorf("member %s: endpoint telemetry %q is neither %q nor %q", m.ID, m.Telemetry.Endpoint, FormatWindows, FormatECS)
	case !m.Telemetry.Zeek && !m.Telemetry.Suricata:
		return fmt.Errorf("member %s: a network sensor (Zeek or Suricata) is required", m.ID)
	}
	if _, ok := locales[m.Locale]; !ok {
		return fmt.Errorf("member %s: unknown locale %q", m.ID, m.Locale)
	}
	return nil
}

// locale holds the language-dependent vocabulary of a member.
type locale struct {
	first, last []string
	// userName builds a logon name from first and last name.
	userName func(first, last string) string
	// invoice is the lure's file name stem ("Rechnung").
	invoice string
	// finance is the finance department's share folder.
	finance string
	// subject is the phishing mail's subject.
	subject string
	// docs are everyday document names on the file server.
	docs []string
}

// locales is an immutable lookup table of the supported locales.
var locales = map[string]locale{
	"de": {
		first:    []string{"Michael", "Stefan", "Thomas", "Andreas", "Sabine", "Claudia", "Julia", "Anna", "Markus", "Katrin", "Jan", "Lena", "Frank", "Petra", "Tobias", "Nina"},
		last:     []string{"Schneider", "Weber", "Fischer", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Zimmermann", "Braun"},
		userName: func(f, l string) string { return lower(f[:1] + "." + l) },
		invoice:  "Rechnung", finance: "Finanzen", subject: "Offene Rechnung – Zahlungserinnerung",
		docs: []string{"Netzplanung_2025.xlsx", "Wartungsplan_Umspannwerk.docx", "Protokoll_Betriebsrat.docx", "Lastprognose_Q3.xlsx"},
	},
	"fr": {
		first:    []string{"Claire", "Nicolas", "Julien", "Camille", "Sophie", "Thomas", "Émilie", "Pierre", "Mathieu", "Julie", "Antoine", "Marion", "Laurent", "Céline", "Hugo", "Manon"},
		last:     []string{"Martin", "Bernard", "Dubois", "Durand", "Lefebvre", "Moreau", "Laurent", "Simon", "Michel", "Garcia", "Roux", "Fournier", "Girard", "Bonnet", "Mercier", "Lambert"},
		userName: func(f, l string) string { return asciiFold(lower(f + "." + l)) },
		invoice:  "Facture", finance: "Finances", subject: "Facture impayée - relance",
		docs: []string{"Note_DG_2025.docx", "Budget_previsionnel.xlsx", "Compte_rendu_COMEX.docx", "Plan_continuite.docx"},
	},
	"sv": {
		first:    []string{"Anna", "Erik", "Lars", "Karin", "Maria", "Johan", "Eva", "Anders", "Sara", "Per", "Emma", "Magnus", "Lena", "Oskar", "Ingrid", "Nils"},
		last:     []string{"Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson", "Lindqvist", "Berg", "Lindberg", "Holm", "Sandberg", "Ek"},
		userName: func(f, l string) string { return asciiFold(lower(f + "." + l)) },
		invoice:  "Faktura", finance: "Ekonomi", subject: "Obetald faktura - påminnelse",
		docs: []string{"Schema_akuten_v36.xlsx", "Rutin_lakemedel.docx", "Budget_2025.xlsx", "Protokoll_ledningsgrupp.docx"},
	},
	"nl": {
		first:    []string{"Jan", "Sanne", "Pieter", "Eva", "Daan", "Lotte", "Bram", "Femke", "Thijs", "Iris", "Ruben", "Anouk", "Joost", "Marloes", "Sven", "Esther"},
		last:     []string{"de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Dijk", "Dekker", "Brouwer"},
		userName: func(f, l string) string { return lower(f[:1] + squash(l)) },
		invoice:  "Factuur", finance: "Financien", subject: "Openstaande factuur - herinnering",
		docs: []string{"Kredietrapport_Q2.xlsx", "Risicoanalyse_DNB.docx", "Jaarplan_2025.docx", "Liquiditeitsoverzicht.xlsx"},
	},
	"en": {
		first:    []string{"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "David", "Linda", "William", "Sarah", "Richard", "Karen", "Joseph", "Nancy", "Daniel", "Emma"},
		last:     []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green"},
		userName: func(f, l string) string { return lower(f + "." + l) },
		invoice:  "Invoice", finance: "Finance", subject: "Overdue invoice - reminder",
		docs: []string{"Budget_2025.xlsx", "Board_minutes.docx", "Risk_register.xlsx", "Project_plan.docx"},
	},
}

// lower lower-cases ASCII letters and leaves the rest as is.
func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// squash drops spaces: "de Vries" -> "deVries".
func squash(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// asciiFold replaces the accented letters of the supported locales by
// their ASCII base letter, as account names are ASCII.
func asciiFold(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch r {
		case 'é', 'è', 'ê', 'ë', 'É':
			r = 'e'
		case 'à', 'â', 'å', 'ä', 'Å', 'Ä':
			r = 'a'
		case 'ö', 'ô', 'Ö':
			r = 'o'
		case 'ç':
			r = 'c'
		case 'ü', 'û':
			r = 'u'
		case 'î', 'ï':
			r = 'i'
		}
		out = append(out, r)
	}
	return string(out)
}
