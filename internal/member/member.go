// Package member owns the organisations that use an xsoc node — national
// SOCs, companies, hospitals — and their API keys.
//
// API keys are shown once, at creation or rotation, and stored only as a
// SHA-256 hash. Keys are 256-bit random secrets, so a fast hash is enough:
// there is nothing to brute-force that a slow password hash would protect.
// A key has the form "xsoc_<key id>_<secret>"; the key id finds the row,
// the secret is compared in constant time.
package member

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/tlp"
)

// Member is one organisation on the platform.
type Member struct {
	// ID is a short stable slug ("de-energie"); every event, alert and
	// intel object carries it.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Country is the ISO 3166-1 alpha-2 code of the EU member state the
	// organisation belongs to ("DE", "FR", "GR" for Greece).
	Country string `json:"country"`
	// Sector is a NIS2 sector (see Sectors).
	Sector string `json:"sector"`
	// Public marks public-sector bodies (national SOCs, hospitals run by
	// the state); false means a private company.
	Public bool `json:"public"`
	// ClientOf lists members this one is a client (constituent) of, such as
	// the national SOC serving it; TLP:AMBER objects of those members reach
	// it on need-to-know.
	ClientOf []string `json:"client_of,omitempty"`
	// AlertTLP is the sharing level the member sets for its alerts and
	// incidents: who else on the platform sees them (see internal/tlp).
	// Nil means TLP:AMBER — the member, its clients and named recipients —
	// so nothing is shared with the community until the member says so.
	AlertTLP *tlp.Level `json:"alert_tlp,omitempty"`
	Created  time.Time  `json:"created"`
}

// AlertLevel returns the TLP level of the member's alerts.
func (m Member) AlertLevel() tlp.Level {
	if m.AlertTLP == nil {
		return tlp.Amber
	}
	return *m.AlertTLP
}

// EUCountries are the ISO 3166-1 alpha-2 codes of the EU member states.
var EUCountries = []string{
	"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
	"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
}

// Sectors are the sectors of NIS2 (Directive (EU) 2022/2555, annexes I and
// II) in xsoc's spelling.
var Sectors = []string{
	"energy", "transport", "banking", "financial-market-infrastructure", "health",
	"drinking-water", "waste-water", "digital-infrastructure", "ict-service-management",
	"public-administration", "space", "postal", "waste-management", "chemicals",
	"food", "manufacturing", "digital-providers", "research",
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// Validate checks a member before it is stored and normalises the
// country code to upper case.
func (m *Member) Validate() error {
	m.Country = strings.ToUpper(strings.TrimSpace(m.Country))
	if m.Country == "EL" { // the EU's own code for Greece
		m.Country = "GR"
	}
	m.Sector = strings.ToLower(strings.TrimSpace(m.Sector))
	switch {
	case !idPattern.MatchString(m.ID):
		return fmt.Errorf("member id %q: want 2-63 characters of a-z, 0-9 and '-', starting with a letter or digit", m.ID)
	case strings.TrimSpace(m.Name) == "":
		return fmt.Errorf("member %s: name is required", m.ID)
	case m.Country == "":
		return fmt.Errorf("member %s: country is required (ISO 3166-1 alpha-2 of an EU member state, e.g. DE, FR, SE)", m.ID)
	case m.Sector == "":
		return fmt.Errorf("member %s: sector is required (one of %s)", m.ID, strings.Join(Sectors, ", "))
	case !slices.Contains(EUCountries, m.Country):
		return fmt.Errorf("member %s: country %q is not an EU member state (ISO 3166-1 alpha-2, e.g. DE, FR, SE)", m.ID, m.Country)
	case !slices.Contains(Sectors, m.Sector):
		return fmt.Errorf("member %s: sector %q is not a NIS2 sector (one of %s)", m.ID, m.Sector, strings.Join(Sectors, ", "))
	}
	for _, c := range m.ClientOf {
		if c == m.ID {
			return fmt.Errorf("member %s: cannot be a client of itself", m.ID)
		}
	}
	return nil
}

// Role is what an API key may do.
type Role string

// The roles.
const (
	// RoleMember keys act for one member: ingest, read its alerts and what
	// others shared with it, share its own intel.
	RoleMember Role = "member"
	// RoleOperator keys run the platform: members, keys, rules, feeds.
	// They are not tied to a member.
	RoleOperator Role = "operator"
)

// Principal is who an authenticated request acts as.
type Principal struct {
	Role   Role
	KeyID  string
	Member Member // zero for operators
}

// Operator reports whether p may run the platform.
func (p Principal) Operator() bool { return p.Role == RoleOperator }
