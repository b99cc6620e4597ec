package stix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// typeVocabularies are the STIX 2.0 types whose required labels became a
// typed vocabulary property in STIX 2.1.
var typeVocabularies = map[string]string{
	"indicator":    "indicator_types",
	"malware":      "malware_types",
	"tool":         "tool_types",
	"report":       "report_types",
	"threat-actor": "threat_actor_types",
}

// Is20 reports whether raw is a STIX 2.0 object: one that says
// spec_version "2.0", or an object with created but no spec_version (STIX
// 2.0 domain, relationship and marking objects always have created and
// never spec_version; STIX 2.1 requires spec_version wherever created is
// required, and its cyber observables have neither).
func Is20(raw []byte) bool {
	var head struct {
		SpecVersion *string `json:"spec_version"`
		Created     *string `json:"created"`
	}
	if json.Unmarshal(raw, &head) != nil {
		return false
	}
	if head.SpecVersion != nil {
		return *head.SpecVersion == "2.0"
	}
	return head.Created != nil
}

// Upgrade20 converts a STIX 2.0 object to STIX 2.1, as the differences
// the 2.1 specification lists require: spec_version "2.1"; created and
// modified with at least millisecond precision; the labels that STIX 2.0
// required on indicators, malware, tools, reports and threat actors moved
// to their 2.1 vocabulary properties (indicator_types, malware_types,
// ...); an indicator's pattern_type "stix" (and pattern_version "2.0",
// the grammar it was written in); a malware's is_family true (2.0 malware
// described families). Observed data keeps its objects dictionary, which
// 2.1 still accepts. Everything else is kept as it is. An object that is
// no STIX 2.0 object (see Is20) is returned unchanged with false.
func Upgrade20(raw []byte) ([]byte, bool, error) {
	if !Is20(raw) {
		return raw, false, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return raw, false, fmt.Errorf("stix 2.0: %w", err)
	}
	m["spec_version"] = "2.1"
	for _, k := range []string{"created", "modified"} {
		if s, ok := m[k].(string); ok {
			if t, err := ParseTime(s); err == nil && !hasMillis(s) {
				m[k] = t.UTC().Format(timeFormat)
			}
		}
	}
	typ, _ := m["type"].(string)
	if prop, ok := typeVocabularies[typ]; ok {
		if labels, has := m["labels"]; has {
			if _, set := m[prop]; !set {
				m[prop] = labels
			}
			delete(m, "labels")
		}
	}
	switch typ {
	case "indicator":
		if _, ok := m["pattern_type"]; !ok {
			m["pattern_type"] = "stix"
			if _, ok := m["pattern_version"]; !ok {
				m["pattern_version"] = "2.0"
			}
		}
	case "malware":
		if _, ok := m["is_family"]; !ok {
			m["is_family"] = true
		}
	}
	out, err := marshal(m)
	if err != nil {
		return raw, false, fmt.Errorf("stix 2.0: %w", err)
	}
	return out, true, nil
}

// hasMillis reports whether a timestamp has at least three fractional
// digits.
func hasMillis(s string) bool {
	dot := strings.IndexByte(s, '.')
	return dot >= 0 && len(s)-dot-2 >= 3
}
