package federation

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
)

// SecretSize is the size of a pseudonymisation secret in bytes.
const SecretSize = 32

// pseudonymVersion is mixed into every pseudonym, so that a future change
// of the canonical forms cannot make two schemes' pseudonyms collide.
const pseudonymVersion = "xsoc-pseudonym-v1"

// Pseudonymiser turns observable values into pseudonyms: HMAC-SHA256
// under a key the member nodes share, over the observable's type and
// canonical value, truncated to 128 bits and written as 32 hex digits.
// Equal values of the same type get equal pseudonyms on every member
// node, so the hub correlates them; without the key the hub cannot
// compute a pseudonym, so it cannot test guesses of the values either.
//
// The key rotates on the secret's Schedule: each epoch's key is derived
// from the master secret and the epoch's number, so every member node
// holding the same secret file switches at the same moment without
// talking to the others. For the Overlap after a switch a node gives the
// previous epoch's pseudonym too, so that a value seen just before the
// switch at one node and just after it at another still correlates; once
// the overlap is over, pseudonyms of the old epoch match nothing new.
type Pseudonymiser struct {
	secret   []byte
	schedule Schedule
}

// Schedule is when a secret's pseudonyms rotate. Every is the length of
// an epoch (0: never; the master secret is the key for ever), Since the
// start of epoch 1 (before it, epoch 0, keyed with the master secret
// itself, so that a secret used without a schedule gives the same
// pseudonyms as before one was set), Overlap how long after a switch the
// previous epoch's pseudonyms are given too.
type Schedule struct {
	Every   time.Duration `json:"every"`
	Overlap time.Duration `json:"overlap"`
	Since   time.Time     `json:"since"`
}

// Epoch is one period of a Schedule, with its own key.
type Epoch struct {
	// N numbers the epoch: 0 before the schedule's start (or without
	// one), then 1, 2, …
	N     int64     `json:"epoch"`
	Start time.Time `json:"start,omitzero"`
	// End is when the next epoch starts (zero: never).
	End time.Time `json:"end,omitzero"`
	// OverlapUntil is when pseudonyms of the previous epoch stop being
	// given (zero: no previous epoch).
	OverlapUntil time.Time `json:"overlap_until,omitzero"`
}

// ErrBadSchedule: a rotation schedule that cannot work.
var ErrBadSchedule = errors.New("federation: rotation schedule not valid")

// check validates a schedule.
func (s Schedule) check() error {
	switch {
	case s.Every == 0 && s.Overlap == 0:
		return nil
	case s.Every < time.Hour:
		return fmt.Errorf("%w: epochs of %v; want at least 1h", ErrBadSchedule, s.Every)
	case s.Overlap < 0 || s.Overlap >= s.Every:
		return fmt.Errorf("%w: an overlap of %v; want from 0 up to less than the epoch (%v)", ErrBadSchedule, s.Overlap, s.Every)
	case s.Since.IsZero():
		return fmt.Errorf("%w: no start", ErrBadSchedule)
	}
	return nil
}

// EpochAt returns the epoch of time t.
func (s Schedule) EpochAt(t time.Time) Epoch {
	if s.Every == 0 {
		return Epoch{}
	}
	if t.Before(s.Since) {
		return Epoch{N: 0, End: s.Since}
	}
	n := int64(t.Sub(s.Since)/s.Every) + 1
	return s.epoch(n)
}

// epoch returns epoch n (n ≥ 1) of a schedule.
func (s Schedule) epoch(n int64) Epoch {
	start := s.Since.Add(time.Duration(n-1) * s.Every)
	return Epoch{N: n, Start: start.UTC(), End: start.Add(s.Every).UTC(), OverlapUntil: start.Add(s.Overlap).UTC()}
}

// NewPseudonymiser returns a Pseudonymiser keyed with secret, which must
// be at least SecretSize bytes, that never rotates.
func NewPseudonymiser(secret []byte) (*Pseudonymiser, error) {
	return NewRotatingPseudonymiser(secret, Schedule{})
}

// NewRotatingPseudonymiser returns a Pseudonymiser whose key rotates on
// schedule.
func NewRotatingPseudonymiser(secret []byte, schedule Schedule) (*Pseudonymiser, error) {
	if len(secret) < SecretSize {
		return nil, fmt.Errorf("federation: pseudonymisation secret has %d bytes, want at least %d", len(secret), SecretSize)
	}
	if err := schedule.check(); err != nil {
		return nil, err
	}
	schedule.Since = schedule.Since.UTC()
	return &Pseudonymiser{secret: append([]byte(nil), secret...), schedule: schedule}, nil
}

// Schedule returns the pseudonymiser's rotation schedule.
func (p *Pseudonymiser) Schedule() Schedule { return p.schedule }

// NewSecret returns a fresh random secret, hex-encoded as secret files
// hold it.
func NewSecret() string {
	b := make([]byte, SecretSize)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// WriteSecret writes a fresh secret to path, readable by the owner only,
// without a rotation schedule. It refuses to overwrite a secret:
// replacing it changes every pseudonym and so breaks correlation with
// earlier alerts.
func WriteSecret(path string) error {
	return WriteSecretSchedule(path, Schedule{})
}

// WriteSecretSchedule writes a fresh secret with a rotation schedule.
func WriteSecretSchedule(path string, s Schedule) error {
	if err := s.check(); err != nil {
		return err
	}
	return writeNew(path, []byte(secretFile(NewSecret(), s)))
}

// secretFile renders a secret file: the secret's hex digits on the first
// line, then the schedule, one "name value" a line.
func secretFile(hexSecret string, s Schedule) string {
	out := hexSecret + "\n"
	if s.Every > 0 {
		out += "rotate-every " + ShortDuration(s.Every) + "\noverlap " + ShortDuration(s.Overlap) + "\nsince " + s.Since.UTC().Format(time.RFC3339) + "\n"
	}
	return out
}

// SetSchedule gives the secret in path a rotation schedule from
// s.Since on (replacing any it had). Until then the node keeps the
// pseudonyms it gave; give the new file to every member node before
// s.Since. Pseudonyms of the old schedule are given during the overlap
// after the change too, as at every switch.
func SetSchedule(path string, s Schedule) error {
	p, err := LoadSecret(path)
	if err != nil {
		return err
	}
	if err := s.check(); err != nil {
		return err
	}
	if s.Every == 0 {
		return fmt.Errorf("%w: no epoch length", ErrBadSchedule)
	}
	if p.schedule.Every > 0 {
		return fmt.Errorf("%w: %s rotates already (every %v since %s); write a new secret to change the schedule",
			ErrBadSchedule, path, p.schedule.Every, p.schedule.Since.Format(time.RFC3339))
	}
	data := secretFile(hex.EncodeToString(p.secret), s)
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadSecret reads a secret file: hex digits (at least 2*SecretSize) on
// the first line, then optionally the rotation schedule ("rotate-every
// 720h", "overlap 24h", "since 2026-01-01T00:00:00Z"); surrounding white
// space and lines starting with # are ignored.
func LoadSecret(path string) (*Pseudonymiser, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("federation: secret: %w", err)
	}
	var secret []byte
	var s Schedule
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if secret == nil {
			if secret, err = hex.DecodeString(line); err != nil {
				return nil, fmt.Errorf("federation: secret %s: want hex digits (xsoc federation secret writes one)", path)
			}
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		value = strings.TrimSpace(value)
		switch name {
		case "rotate-every":
			s.Every, err = time.ParseDuration(value)
		case "overlap":
			s.Overlap, err = time.ParseDuration(value)
		case "since":
			s.Since, err = time.Parse(time.RFC3339, value)
		default:
			err = fmt.Errorf("unknown setting %q", name)
		}
		if err != nil {
			return nil, fmt.Errorf("federation: secret %s: %v", path, err)
		}
	}
	p, err := NewRotatingPseudonymiser(secret, s)
	if err != nil {
		return nil, fmt.Errorf("federation: secret %s: %w", path, err)
	}
	return p, nil
}

// key returns epoch n's key: the master secret for epoch 0, else an HMAC
// of the epoch's number under it.
func (p *Pseudonymiser) key(n int64) []byte {
	if n == 0 {
		return p.secret
	}
	mac := hmac.New(sha256.New, p.secret)
	mac.Write([]byte("xsoc-pseudonym-epoch-v1"))
	mac.Write([]byte{0})
	mac.Write([]byte(strconv.FormatInt(n, 10)))
	return mac.Sum(nil)
}

// Pseudonym returns the pseudonym of value as an observable of type typ
// in the current epoch, and the type it was computed for (an address's
// family follows the value: an IPv4 address written as IPv4-mapped IPv6
// is an IPv4 address).
func (p *Pseudonymiser) Pseudonym(typ, value string) (string, string) {
	ps, typ := p.PseudonymsAt(time.Now(), typ, value)
	return ps[0].Value, typ
}

// EpochPseudonym is a pseudonym and the epoch whose key made it.
type EpochPseudonym struct {
	Epoch int64  `json:"epoch"`
	Value string `json:"pseudonym"`
}

// PseudonymsAt returns the pseudonyms of value at time t: that of t's
// epoch first, then, during the overlap after a switch, the previous
// epoch's.
func (p *Pseudonymiser) PseudonymsAt(t time.Time, typ, value string) ([]EpochPseudonym, string) {
	typ, value = canonical(typ, value)
	e := p.schedule.EpochAt(t)
	out := []EpochPseudonym{{Epoch: e.N, Value: p.pseudonymIn(e.N, typ, value)}}
	if e.N > 0 && t.Before(e.OverlapUntil) {
		out = append(out, EpochPseudonym{Epoch: e.N - 1, Value: p.pseudonymIn(e.N-1, typ, value)})
	}
	return out, typ
}

// pseudonymIn computes a canonical value's pseudonym under epoch n's key.
func (p *Pseudonymiser) pseudonymIn(n int64, typ, value string) string {
	mac := hmac.New(sha256.New, p.key(n))
	mac.Write([]byte(pseudonymVersion))
	mac.Write([]byte{0})
	mac.Write([]byte(typ))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// canonical returns the form of an observable that two nodes seeing the
// same thing agree on: addresses in their shortest form, CIDR ranges
// masked, and everything else trimmed and in lower case (the correlator
// compares values case-insensitively too).
func canonical(typ, value string) (string, string) {
	value = strings.TrimSpace(value)
	switch typ {
	case "ipv4-addr", "ipv6-addr":
		if ip, err := netip.ParseAddr(value); err == nil {
			ip = ip.Unmap()
			return addrType(ip), ip.String()
		}
		if pfx, err := netip.ParsePrefix(value); err == nil {
			pfx = pfx.Masked()
			if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
				pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
			}
			return addrType(pfx.Addr()), pfx.String()
		}
	}
	return typ, strings.ToLower(value)
}

func addrType(ip netip.Addr) string {
	if ip.Is4() {
		return "ipv4-addr"
	}
	return "ipv6-addr"
}

// pseudonymTime is the moment whose epoch an alert's pseudonyms belong
// to: its detection, so that an alert sent late (the hub was away) and
// sent again gives the same pseudonyms.
func pseudonymTime(a *alert.Alert) time.Time {
	if a.Detected.IsZero() {
		return time.Now()
	}
	return a.Detected
}

// ShortDuration writes a duration without empty trailing units: 720h,
// 1h30m, not 720h0m0s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// scheduleJSON is a Schedule as JSON: durations as "720h".
type scheduleJSON struct {
	Every   string    `json:"every"`
	Overlap string    `json:"overlap"`
	Since   time.Time `json:"since"`
}

// MarshalJSON writes the durations as text ("720h").
func (s Schedule) MarshalJSON() ([]byte, error) {
	return json.Marshal(scheduleJSON{Every: ShortDuration(s.Every), Overlap: ShortDuration(s.Overlap), Since: s.Since})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Schedule) UnmarshalJSON(data []byte) error {
	var j scheduleJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	var err1, err2 error
	s.Every, err1 = time.ParseDuration(j.Every)
	s.Overlap, err2 = time.ParseDuration(j.Overlap)
	s.Since = j.Since
	return errors.Join(err1, err2)
}
