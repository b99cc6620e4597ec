package scenario

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Config describes a scenario. The same Config always yields the same
// bytes.
type Config struct {
	// Seed selects the scenario; every random choice derives from it.
	Seed uint64
	// Start and Duration bound the simulated time. Records outside
	// [Start, Start+Duration) are not emitted.
	Start    time.Time
	Duration time.Duration
	// Members are the simulated organisations; nil means DefaultMembers().
	Members []Member
	// EventsPerHostHour is the mean number of benign activities per
	// workstation in a peak office hour (servers do 60% of that). One
	// activity yields one to a dozen records depending on the member's
	// sensors. Zero means 20.
	EventsPerHostHour float64
	// Campaigns is the number of attack campaigns; zero gives background
	// traffic only.
	Campaigns int
	// FirstAttack is the offset from Start of the first campaign's first
	// phishing e-mail; zero means a tenth of Duration. Each further
	// campaign starts half a VictimGap after the previous one.
	FirstAttack time.Duration
	// VictimGap is the mean delay between the attacks on successive
	// victims of a campaign; zero means three hours.
	VictimGap time.Duration
	// StepScale multiplies the delays between kill-chain steps (at 1, the
	// user opens the lure 5 to 35 minutes after it arrives and
	// exfiltration follows about 95 minutes later); zero means 1.
	StepScale float64
	// BeaconInterval is the implant's mean call-home period (jittered by
	// ±BeaconJitter); zero means one minute.
	BeaconInterval time.Duration
	// BeaconJitter is the uniform relative jitter of each call-home
	// interval: 0.3 draws intervals from 0.7 to 1.3 periods. Zero means
	// 0.2.
	BeaconJitter float64
	// DGAWeek, when set, is a date whose ISO week seeds the implant's
	// domain generation instead of the week of the campaign's first
	// attack (what the real algorithms do): a replay moved to another
	// date then produces the same names.
	DGAWeek time.Time
	// DGADictionary makes the implant's domain generation a dictionary
	// one, as Suppobox's and Matsnu's are: each name joins two English
	// words (dgaWords) instead of drawing random letters, from the same
	// seeded stream. Names like that pass a lexical DGA model; only the
	// burst of new, unanswered domains gives them away. Off by default.
	DGADictionary bool
	// WorkingHoursOnly moves each phishing e-mail to the next weekday
	// working hour (08:00–17:00 member time), when staff read mail.
	WorkingHoursOnly bool
	// Extras adds port scans, DGA and exfiltration bursts and impossible
	// travel to every intrusion, and the sign-ins impossible travel needs
	// to the background; off by default.
	Extras Extras
	// BenignDomains extends the built-in list of popular domains with a
	// long tail, for example from LoadWarninglist. Optional.
	BenignDomains []string
}

// DefaultConfig is a realistic day: 24 hours from a Tuesday midnight (CET)
// with two interleaved campaigns whose victims are hit one to two hours
// apart during working hours.
func DefaultConfig(seed uint64) Config {
	return Config{
		Seed:              seed,
		Start:             time.Date(2025, 3, 11, 0, 0, 0, 0, cet),
		Duration:          24 * time.Hour,
		EventsPerHostHour: 20,
		Campaigns:         2,
		FirstAttack:       8*time.Hour + 40*time.Minute,
		VictimGap:         100 * time.Minute,
		StepScale:         1,
		BeaconInterval:    time.Minute,
		WorkingHoursOnly:  true,
	}
}

// TriageConfig is the day the alert triage model is measured on
// ("xsoc ml eval triage"): DefaultConfig's 24 hours and background, but
// four campaigns whose victims are hit four hours apart at any hour, so
// that intrusions run through both halves of the day — the model learns
// from the first half's verdicts and is judged on the second.
func TriageConfig(seed uint64) Config {
	c := DefaultConfig(seed)
	c.Campaigns = 4
	c.FirstAttack = time.Hour
	c.VictimGap = 4 * time.Hour
	c.WorkingHoursOnly = false
	return c
}

// DemoConfig is the compressed profile for a live demonstration: two
// simulated hours of a Tuesday morning in which one campaign hits three
// or four members in different countries minutes apart, and each
// intrusion runs from e-mail to exfiltration in about eight minutes.
func DemoConfig(seed uint64) Config {
	return Config{
		Seed:              seed,
		Start:             time.Date(2025, 3, 11, 9, 30, 0, 0, cet),
		Duration:          2 * time.Hour,
		EventsPerHostHour: 15,
		Campaigns:         1,
		FirstAttack:       10 * time.Minute,
		VictimGap:         9 * time.Minute,
		StepScale:         0.08,
		BeaconInterval:    45 * time.Second,
	}
}

// normalize fills defaults and checks the configuration.
func (c *Config) normalize() error {
	if c.Members == nil {
		c.Members = DefaultMembers()
	}
	if c.EventsPerHostHour == 0 {
		c.EventsPerHostHour = 20
	}
	if c.VictimGap == 0 {
		c.VictimGap = 3 * time.Hour
	}
	if c.StepScale == 0 {
		c.StepScale = 1
	}
	if c.BeaconInterval == 0 {
		c.BeaconInterval = time.Minute
	}
	switch {
	case c.Start.IsZero():
		return errors.New("scenario: Start is required")
	case c.Duration <= 0:
		return fmt.Errorf("scenario: Duration %v must be positive", c.Duration)
	case c.Duration > 31*24*time.Hour:
		return fmt.Errorf("scenario: Duration %v exceeds 31 days", c.Duration)
	case c.EventsPerHostHour < 0 || c.EventsPerHostHour > 10000:
		return fmt.Errorf("scenario: EventsPerHostHour %v out of range [0, 10000]", c.EventsPerHostHour)
	case c.Campaigns < 0 || c.Campaigns > 100:
		return fmt.Errorf("scenario: Campaigns %d out of range [0, 100]", c.Campaigns)
	case c.StepScale < 0 || c.VictimGap < 0 || c.FirstAttack < 0:
		return errors.New("scenario: negative StepScale, VictimGap or FirstAttack")
	case c.BeaconJitter < 0 || c.BeaconJitter >= 1:
		return fmt.Errorf("scenario: BeaconJitter %v out of range [0, 1)", c.BeaconJitter)
	case c.BeaconInterval < time.Second:
		return fmt.Errorf("scenario: BeaconInterval %v is below one second", c.BeaconInterval)
	case len(c.Members) == 0:
		return errors.New("scenario: no members")
	}
	ids := make(map[string]bool)
	countries := make(map[string]bool)
	var nets []netip.Prefix
	for i := range c.Members {
		m := &c.Members[i]
		if err := m.validate(); err != nil {
			return fmt.Errorf("scenario: %w", err)
		}
		if ids[m.ID] {
			return fmt.Errorf("scenario: duplicate member ID %q", m.ID)
		}
		ids[m.ID] = true
		countries[m.Country] = true
		for _, n := range nets {
			if n.Overlaps(m.Network) {
				return fmt.Errorf("scenario: member %s: network %v overlaps %v", m.ID, m.Network, n)
			}
		}
		nets = append(nets, m.Network)
	}
	if c.Campaigns > 0 && len(countries) < 2 {
		return errors.New("scenario: campaigns need members in at least two countries")
	}
	return nil
}
