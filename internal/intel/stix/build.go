package stix

import (
	"errors"
	"time"

	"github.com/xsoc/xsoc/internal/tlp"
)

// IndicatorSpec describes an indicator for NewIndicator. Zero-valued
// optional fields are left out of the object.
type IndicatorSpec struct {
	// ID is the indicator's id; empty means a fresh random one. Importers
	// pass a deterministic id so that re-imports update rather than
	// duplicate.
	ID          string
	Name        string
	Description string
	// Pattern is required. PatternType defaults to "stix", in which case
	// the pattern must parse.
	Pattern     string
	PatternType string
	// ValidFrom is required; ValidUntil, if set, must be later.
	ValidFrom, ValidUntil time.Time
	// IndicatorTypes are from the indicator-type-ov vocabulary
	// ("malicious-activity", "anomalous-activity", "compromised", ...).
	IndicatorTypes  []string
	KillChainPhases []KillChainPhase
	Labels          []string
	// Confidence is 0-100; nil leaves it out.
	Confidence *int
	// CreatedBy is the identity id of the producer.
	CreatedBy string
	// TLP is the sharing level, written as the TLP 2.0 marking.
	TLP tlp.Level
	// Created and Modified default to now.
	Created, Modified time.Time
}

// NewIndicator builds and validates an indicator.
func NewIndicator(s IndicatorSpec) (Object, error) {
	if s.PatternType == "" {
		s.PatternType = "stix"
	}
	if s.ValidFrom.IsZero() {
		return Object{}, &ValidationError{ID: s.ID, Property: "valid_from", Reason: "required"}
	}
	o := newSDO("indicator", s.ID, s.Created, s.Modified, s.CreatedBy, s.TLP)
	set := o.props
	set["pattern"] = s.Pattern
	set["pattern_type"] = s.PatternType
	set["valid_from"] = FormatTime(s.ValidFrom)
	if !s.ValidUntil.IsZero() {
		set["valid_until"] = FormatTime(s.ValidUntil)
	}
	setString(set, "name", s.Name)
	setString(set, "description", s.Description)
	setStrings(set, "indicator_types", s.IndicatorTypes)
	setStrings(set, "labels", s.Labels)
	if s.Confidence != nil {
		set["confidence"] = jsonNumber(*s.Confidence)
	}
	if len(s.KillChainPhases) > 0 {
		if err := o.Set("kill_chain_phases", s.KillChainPhases); err != nil {
			return Object{}, err
		}
	}
	return o, Validate(o)
}

// NewSighting records that observedBy (an identity id: the member that saw
// it) sighted the indicator count times between firstSeen and lastSeen,
// at the places where (identity or location ids; may be empty).
func NewSighting(indicatorID, observedBy string, count int, firstSeen, lastSeen time.Time, where []string) (Object, error) {
	if count < 0 {
		return Object{}, errors.New("stix: sighting count must not be negative")
	}
	o := newSDO("sighting", "", time.Time{}, time.Time{}, observedBy, tlp.Amber)
	o.Delete("object_marking_refs") // the caller decides with SetTLP
	o.props["sighting_of_ref"] = indicatorID
	o.props["count"] = jsonNumber(count)
	if !firstSeen.IsZero() {
		o.props["first_seen"] = FormatTime(firstSeen)
	}
	if !lastSeen.IsZero() {
		o.props["last_seen"] = FormatTime(lastSeen)
	}
	setStrings(o.props, "where_sighted_refs", where)
	return o, Validate(o)
}

// NewIdentity builds an identity; class is from identity-class-ov
// ("organization", "individual", "group", "system", "class"), or empty.
func NewIdentity(name, class string) (Object, error) {
	o := newSDO("identity", "", time.Time{}, time.Time{}, "", tlp.Clear)
	o.Delete("object_marking_refs")
	o.props["name"] = name
	setString(o.props, "identity_class", class)
	return o, Validate(o)
}

// NewRelationship links source to target with a relationship type
// ("indicates", "uses", "related-to", ...).
func NewRelationship(relType, sourceRef, targetRef, createdBy string) (Object, error) {
	o := newSDO("relationship", "", time.Time{}, time.Time{}, createdBy, tlp.Clear)
	o.Delete("object_marking_refs")
	o.props["relationship_type"] = relType
	o.props["source_ref"] = sourceRef
	o.props["target_ref"] = targetRef
	return o, Validate(o)
}

// NewSCO builds a cyber observable of type typ with props, with its
// deterministic id (see SCOID).
func NewSCO(typ string, props map[string]any) (Object, error) {
	id, err := SCOID(typ, props)
	if err != nil {
		return Object{}, err
	}
	o := Object{props: map[string]any{"type": typ, "spec_version": "2.1", "id": id}}
	for k, v := range props {
		if err := o.Set(k, v); err != nil {
			return Object{}, err
		}
	}
	return o, Validate(o)
}

// NewSDO builds and validates a domain object of type typ (report, note,
// observed-data, ...) with the common properties and props. An empty id
// means a fresh random one; zero times mean now.
func NewSDO(typ, id string, created, modified time.Time, createdBy string, level tlp.Level, props map[string]any) (Object, error) {
	o := newSDO(typ, id, created, modified, createdBy, level)
	for k, v := range props {
		if err := o.Set(k, v); err != nil {
			return Object{}, err
		}
	}
	return o, Validate(o)
}

// newSDO starts an SDO or SRO with the common properties.
func newSDO(typ, id string, created, modified time.Time, createdBy string, level tlp.Level) Object {
	now := time.Now()
	if created.IsZero() {
		created = now
	}
	if modified.IsZero() {
		modified = created
	}
	if id == "" {
		id = NewID(typ)
	}
	o := Object{props: map[string]any{
		"type":         typ,
		"spec_version": "2.1",
		"id":           id,
		"created":      FormatTime(created.Truncate(time.Millisecond)),
		"modified":     FormatTime(modified.Truncate(time.Millisecond)),
	}}
	setString(o.props, "created_by_ref", createdBy)
	o.SetTLP(level)
	return o
}

func setString(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func setStrings(m map[string]any, k string, v []string) {
	if len(v) == 0 {
		return
	}
	l := make([]any, len(v))
	for i, s := range v {
		l[i] = s
	}
	m[k] = l
}
