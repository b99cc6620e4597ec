// Package tlp implements the Traffic Light Protocol 2.0 (FIRST): the five
// sharing levels, their STIX 2.1 marking definitions, and the single place
// where xsoc decides who may receive a marked object.
package tlp

import (
	"fmt"
	"strings"
)

// Level is a TLP 2.0 sharing level. Higher levels are more restrictive; the
// zero value is Clear.
type Level uint8

// The TLP 2.0 levels, least restrictive first.
const (
	Clear Level = iota
	Green
	Amber
	AmberStrict
	Red
)

var names = [...]string{"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}

// String returns the level in the form "TLP:AMBER+STRICT".
func (l Level) String() string {
	if int(l) < len(names) {
		return "TLP:" + names[l]
	}
	return fmt.Sprintf("TLP:?%d", l)
}

// Parse reads a level in any of the spellings found in the field:
// "TLP:AMBER+STRICT", "amber+strict", "tlp:white" (TLP 1.0's WHITE is
// TLP 2.0's CLEAR), "AMBER_STRICT".
func Parse(s string) (Level, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimPrefix(u, "TLP:")
	u = strings.TrimPrefix(u, "TLP-")
	u = strings.ReplaceAll(u, "_", "+")
	u = strings.ReplaceAll(u, " ", "")
	switch u {
	case "CLEAR", "WHITE":
		return Clear, nil
	case "GREEN":
		return Green, nil
	case "AMBER":
		return Amber, nil
	case "AMBER+STRICT":
		return AmberStrict, nil
	case "RED":
		return Red, nil
	}
	return 0, fmt.Errorf("tlp: unknown level %q", s)
}

// MarshalText encodes l as "TLP:GREEN".
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText accepts every spelling Parse does.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
