package stix

import (
	"encoding/json"
	"fmt"
	"time"
)

// Timestamp is a STIX timestamp in a typed view. It encodes with at least
// millisecond precision, as created and modified require.
type Timestamp struct{ time.Time }

// TS wraps t as a Timestamp.
func TS(t time.Time) Timestamp { return Timestamp{t.UTC()} }

// MarshalJSON writes the timestamp in STIX form.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return json.Marshal(FormatTime(t.Time))
}

// UnmarshalJSON reads a STIX timestamp.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// Common holds the properties shared by SDOs and SROs.
type Common struct {
	Type               string              `json:"type"`
	SpecVersion        string              `json:"spec_version,omitempty"`
	ID                 string              `json:"id"`
	Created            Timestamp           `json:"created,omitzero"`
	Modified           Timestamp           `json:"modified,omitzero"`
	CreatedByRef       string              `json:"created_by_ref,omitempty"`
	Revoked            bool                `json:"revoked,omitempty"`
	Labels             []string            `json:"labels,omitempty"`
	Confidence         *int                `json:"confidence,omitempty"`
	Lang               string              `json:"lang,omitempty"`
	ExternalReferences []ExternalReference `json:"external_references,omitempty"`
	ObjectMarkingRefs  []string            `json:"object_marking_refs,omitempty"`
	GranularMarkings   []GranularMarking   `json:"granular_markings,omitempty"`
}

// ExternalReference points to non-STIX information.
type ExternalReference struct {
	SourceName  string            `json:"source_name"`
	Description string            `json:"description,omitempty"`
	URL         string            `json:"url,omitempty"`
	Hashes      map[string]string `json:"hashes,omitempty"`
	ExternalID  string            `json:"external_id,omitempty"`
}

// GranularMarking applies a marking to parts of an object.
type GranularMarking struct {
	Lang       string   `json:"lang,omitempty"`
	MarkingRef string   `json:"marking_ref,omitempty"`
	Selectors  []string `json:"selectors"`
}

// KillChainPhase names a phase of a kill chain ("mitre-attack",
// "command-and-control").
type KillChainPhase struct {
	KillChainName string `json:"kill_chain_name"`
	PhaseName     string `json:"phase_name"`
}

// Indicator is the typed view of an indicator.
type Indicator struct {
	Common
	Name            string           `json:"name,omitempty"`
	Description     string           `json:"description,omitempty"`
	IndicatorTypes  []string         `json:"indicator_types,omitempty"`
	Pattern         string           `json:"pattern"`
	PatternType     string           `json:"pattern_type"`
	PatternVersion  string           `json:"pattern_version,omitempty"`
	ValidFrom       Timestamp        `json:"valid_from,omitzero"`
	ValidUntil      Timestamp        `json:"valid_until,omitzero"`
	KillChainPhases []KillChainPhase `json:"kill_chain_phases,omitempty"`
}

// ObservedData is the typed view of observed-data.
type ObservedData struct {
	Common
	FirstObserved  Timestamp `json:"first_observed,omitzero"`
	LastObserved   Timestamp `json:"last_observed,omitzero"`
	NumberObserved int       `json:"number_observed"`
	ObjectRefs     []string  `json:"object_refs,omitempty"`
}

// Sighting is the typed view of a sighting.
type Sighting struct {
	Common
	Description      string    `json:"description,omitempty"`
	FirstSeen        Timestamp `json:"first_seen,omitzero"`
	LastSeen         Timestamp `json:"last_seen,omitzero"`
	Count            int       `json:"count,omitempty"`
	SightingOfRef    string    `json:"sighting_of_ref"`
	ObservedDataRefs []string  `json:"observed_data_refs,omitempty"`
	WhereSightedRefs []string  `json:"where_sighted_refs,omitempty"`
	Summary          bool      `json:"summary,omitempty"`
}

// Identity is the typed view of an identity.
type Identity struct {
	Common
	Name               string   `json:"name"`
	Description        string   `json:"description,omitempty"`
	Roles              []string `json:"roles,omitempty"`
	IdentityClass      string   `json:"identity_class,omitempty"`
	Sectors            []string `json:"sectors,omitempty"`
	ContactInformation string   `json:"contact_information,omitempty"`
}

// Malware is the typed view of malware.
type Malware struct {
	Common
	Name            string           `json:"name,omitempty"`
	Description     string           `json:"description,omitempty"`
	MalwareTypes    []string         `json:"malware_types,omitempty"`
	IsFamily        bool             `json:"is_family"`
	Aliases         []string         `json:"aliases,omitempty"`
	KillChainPhases []KillChainPhase `json:"kill_chain_phases,omitempty"`
	FirstSeen       Timestamp        `json:"first_seen,omitzero"`
	LastSeen        Timestamp        `json:"last_seen,omitzero"`
}

// AttackPattern is the typed view of an attack-pattern.
type AttackPattern struct {
	Common
	Name            string           `json:"name"`
	Description     string           `json:"description,omitempty"`
	Aliases         []string         `json:"aliases,omitempty"`
	KillChainPhases []KillChainPhase `json:"kill_chain_phases,omitempty"`
}

// Relationship is the typed view of a relationship.
type Relationship struct {
	Common
	RelationshipType string    `json:"relationship_type"`
	Description      string    `json:"description,omitempty"`
	SourceRef        string    `json:"source_ref"`
	TargetRef        string    `json:"target_ref"`
	StartTime        Timestamp `json:"start_time,omitzero"`
	StopTime         Timestamp `json:"stop_time,omitzero"`
}

// Report is the typed view of a report.
type Report struct {
	Common
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	ReportTypes []string  `json:"report_types,omitempty"`
	Published   Timestamp `json:"published,omitzero"`
	ObjectRefs  []string  `json:"object_refs"`
}

// MarkingDefinition is the typed view of a marking-definition. The TLP
// 1.0 form carries DefinitionType "tlp" and Definition {"tlp": "amber"};
// the TLP 2.0 form carries the level in an extension (see TLPOfRef for the
// standard ids).
type MarkingDefinition struct {
	Common
	Name           string         `json:"name,omitempty"`
	DefinitionType string         `json:"definition_type,omitempty"`
	Definition     map[string]any `json:"definition,omitempty"`
	Extensions     map[string]any `json:"extensions,omitempty"`
}

// Bundle-level typed accessors. Each checks the type and decodes.

// Indicator returns the typed view of an indicator object.
func (o Object) Indicator() (Indicator, error) {
	var v Indicator
	return v, o.asType("indicator", &v)
}

// Sighting returns the typed view of a sighting object.
func (o Object) Sighting() (Sighting, error) {
	var v Sighting
	return v, o.asType("sighting", &v)
}

// Identity returns the typed view of an identity object.
func (o Object) Identity() (Identity, error) {
	var v Identity
	return v, o.asType("identity", &v)
}

// Relationship returns the typed view of a relationship object.
func (o Object) Relationship() (Relationship, error) {
	var v Relationship
	return v, o.asType("relationship", &v)
}

// ObservedData returns the typed view of an observed-data object.
func (o Object) ObservedData() (ObservedData, error) {
	var v ObservedData
	return v, o.asType("observed-data", &v)
}

// Malware returns the typed view of a malware object.
func (o Object) Malware() (Malware, error) {
	var v Malware
	return v, o.asType("malware", &v)
}

// AttackPattern returns the typed view of an attack-pattern object.
func (o Object) AttackPattern() (AttackPattern, error) {
	var v AttackPattern
	return v, o.asType("attack-pattern", &v)
}

// Report returns the typed view of a report object.
func (o Object) Report() (Report, error) {
	var v Report
	return v, o.asType("report", &v)
}

// MarkingDefinition returns the typed view of a marking-definition.
func (o Object) MarkingDefinition() (MarkingDefinition, error) {
	var v MarkingDefinition
	return v, o.asType("marking-definition", &v)
}

func (o Object) asType(typ string, v any) error {
	if t := o.Type(); t != typ {
		return fmt.Errorf("stix: %s is a %q, not a %q", o.ID(), t, typ)
	}
	if err := o.As(v); err != nil {
		return fmt.Errorf("stix: %s: %w", o.ID(), err)
	}
	return nil
}
