package intel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/tlp"
)

// SpecVersion is the STIX version the repository stores, validates and
// detects on (STIX 2.0 objects are converted to it as they are added;
// their 2.0 form is kept beside for clients that ask for it).
const SpecVersion = "2.1"

// MediaType is the media type of the objects the repository stores.
const MediaType = "application/stix+json;version=2.1"

// RecipientsProperty is the custom STIX property in which an originator
// names the members that may receive an object whatever its TLP level.
const RecipientsProperty = "x_xsoc_recipients"

// tlpMarkings maps the STIX marking-definition ids of the TLP 2.0 and TLP
// 1.0 levels to xsoc's levels. TLP 1.0's WHITE is TLP 2.0's CLEAR.
var tlpMarkings = map[string]tlp.Level{
	// TLP 2.0 (STIX extension definitions).
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": tlp.Clear,
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": tlp.Green,
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": tlp.Amber,
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": tlp.AmberStrict,
	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": tlp.Red,
	// TLP 1.0 (defined in the STIX 2.1 specification itself).
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": tlp.Clear,
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": tlp.Green,
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": tlp.Amber,
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": tlp.Red,
}

// TLPMarking returns the TLP level of a STIX marking-definition id, and
// whether the id is one of the TLP markings.
func TLPMarking(id string) (tlp.Level, bool) {
	l, ok := tlpMarkings[id]
	return l, ok
}

// Validator checks a whole STIX object beyond the envelope the repository
// parses itself; a non-nil error rejects the object with that reason.
type Validator func(raw json.RawMessage) error

// Envelope is the part of a STIX object the repository reads.
type Envelope struct {
	Type        string
	ID          string
	SpecVersion string
	// Created and Modified are zero when the object has none (cyber
	// observables carry neither).
	Created  time.Time
	Modified time.Time
	// Markings lists the marking-definition ids the object refers to, at
	// object level and in granular markings.
	Markings []string
	// Recipients lists the members named in RecipientsProperty.
	Recipients []string
}

// wireEnvelope is the JSON shape of Envelope.
type wireEnvelope struct {
	Type              string          `json:"type"`
	ID                string          `json:"id"`
	SpecVersion       *string         `json:"spec_version"`
	Created           string          `json:"created"`
	Modified          string          `json:"modified"`
	ObjectMarkingRefs []string        `json:"object_marking_refs"`
	GranularMarkings  []granular      `json:"granular_markings"`
	Recipients        json.RawMessage `json:"x_xsoc_recipients"`
}

type granular struct {
	MarkingRef string `json:"marking_ref"`
}

// ParseEnvelope reads and checks the envelope of one STIX 2.1 object. The
// error says what is wrong in words a sender can act on.
func ParseEnvelope(raw json.RawMessage) (Envelope, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Envelope{}, errors.New("not a JSON object")
	}
	var w wireEnvelope
	if err := json.Unmarshal(raw, &w); err != nil {
		return Envelope{}, fmt.Errorf("invalid JSON: %s", jsonReason(err))
	}
	e := Envelope{Type: w.Type, ID: w.ID}
	if err := checkTypeAndID(w.Type, w.ID); err != nil {
		return Envelope{}, err
	}
	switch {
	case w.SpecVersion != nil:
		e.SpecVersion = *w.SpecVersion
	case w.Created == "" && w.Modified == "":
		// STIX 2.1 cyber observables may omit spec_version; STIX 2.0
		// objects (which always have created) may not pass as 2.1.
		e.SpecVersion = SpecVersion
	default:
		return Envelope{}, errors.New("spec_version missing: only STIX 2.1 objects are accepted")
	}
	if e.SpecVersion != SpecVersion {
		return Envelope{}, fmt.Errorf("spec_version %q not supported: only STIX %s objects are accepted", e.SpecVersion, SpecVersion)
	}
	var err error
	if e.Created, err = optionalTimestamp("created", w.Created); err != nil {
		return Envelope{}, err
	}
	if e.Modified, err = optionalTimestamp("modified", w.Modified); err != nil {
		return Envelope{}, err
	}
	if !e.Created.IsZero() && !e.Modified.IsZero() && e.Modified.Before(e.Created) {
		return Envelope{}, errors.New("modified is earlier than created")
	}
	e.Markings = append(e.Markings, w.ObjectMarkingRefs...)
	for _, g := range w.GranularMarkings {
		if g.MarkingRef != "" {
			e.Markings = append(e.Markings, g.MarkingRef)
		}
	}
	if e.Recipients, err = parseRecipients(w.Recipients); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// checkTypeAndID checks the STIX identifier form "type--uuid".
func checkTypeAndID(typ, id string) error {
	if typ == "" {
		return errors.New("type missing")
	}
	if !validTypeName(typ) {
		return fmt.Errorf("type %q is not a STIX type name", typ)
	}
	if id == "" {
		return errors.New("id missing")
	}
	prefix, uuid, ok := strings.Cut(id, "--")
	if !ok || !ValidUUID(uuid) {
		return fmt.Errorf("id %q is not of the form %s--<uuid>", id, typ)
	}
	if prefix != typ {
		return fmt.Errorf("id %q does not match type %q", id, typ)
	}
	return nil
}

// validTypeName reports whether s follows STIX's type-name rule: 3 to 250
// characters of lower-case ASCII letters, digits and hyphens.
func validTypeName(s string) bool {
	if len(s) < 3 || len(s) > 250 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidUUID reports whether s is a UUID in its hyphenated text form. Hex
// digits of either case are accepted, as RFC 9562 asks of readers (some
// published STIX examples carry upper-case digits).
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func optionalTimestamp(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := ParseTimestamp(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

func parseRecipients(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%s must be a list of member ids", RecipientsProperty)
	}
	for _, m := range list {
		if m == "" {
			return nil, fmt.Errorf("%s has an empty member id", RecipientsProperty)
		}
	}
	return list, nil
}

// jsonReason shortens encoding/json's errors to what a sender needs.
func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("property %q has the wrong JSON type (%s)", te.Field, te.Value)
	}
	return err.Error()
}

// Level returns the TLP level of an object: the most restrictive TLP
// marking it carries, or def when it carries none.
func (e Envelope) Level(def tlp.Level) tlp.Level {
	level, marked := tlp.Clear, false
	for _, m := range e.Markings {
		if l, ok := tlpMarkings[m]; ok {
			marked = true
			level = max(level, l)
		}
	}
	if !marked {
		return def
	}
	return level
}

// Version returns the STIX version of the object: modified, else created,
// else the zero time (objects without either have a single version).
func (e Envelope) Version() time.Time {
	if !e.Modified.IsZero() {
		return e.Modified
	}
	return e.Created
}

// ParseTimestamp reads an RFC 3339 timestamp as STIX and TAXII write them
// ("2016-05-12T08:17:27.000Z"); any sub-second precision is kept. STIX and
// TAXII require UTC, so the timestamp must end in "Z".
func ParseTimestamp(s string) (time.Time, error) {
	if !strings.HasSuffix(s, "Z") {
		return time.Time{}, fmt.Errorf("timestamp %q must be in UTC and end in Z", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339", s)
	}
	if t.Year() < 1678 || t.Year() > 2261 {
		// Outside what Unix nanoseconds in a BIGINT can hold.
		return time.Time{}, fmt.Errorf("timestamp %q is out of range", s)
	}
	return t.UTC(), nil
}

// FormatTimestamp writes t in UTC with at least millisecond precision, and
// with as many more digits as it needs to be exact, so that a version read
// back matches the object's own modified property.
func FormatTimestamp(t time.Time) string {
	t = t.UTC()
	switch ns := t.Nanosecond(); {
	case ns%int(time.Millisecond) == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%int(time.Microsecond) == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	default:
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
}

// FormatDateAdded writes a date_added timestamp with the microsecond
// precision TAXII servers use.
func FormatDateAdded(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}
