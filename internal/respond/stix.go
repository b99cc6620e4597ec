package respond

import (
	"encoding/json"
	"net/netip"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
)

type stixBundle struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Objects []stixIndicator `json:"objects,omitempty"`
}

type stixIndicator struct {
	Type              string   `json:"type"`
	SpecVersion       string   `json:"spec_version"`
	ID                string   `json:"id"`
	Created           string   `json:"created"`
	Modified          string   `json:"modified"`
	Name              string   `json:"name"`
	Description       string   `json:"description,omitempty"`
	IndicatorTypes    []string `json:"indicator_types"`
	Pattern           string   `json:"pattern"`
	PatternType       string   `json:"pattern_type"`
	PatternVersion    string   `json:"pattern_version"`
	ValidFrom         string   `json:"valid_from"`
	ValidUntil        string   `json:"valid_until,omitempty"`
	ObjectMarkingRefs []string `json:"object_marking_refs"`
}

// renderSTIX writes the items as a STIX 2.1 bundle of indicators. The
// objects are plain structs marshalled directly, which keeps large feeds
// cheap; markings, ids and timestamps come from the stix package. Ids are
// stable: an indicator from a STIX source keeps its own id, others get a
// UUIDv5 of type and value, so consumers update rather than duplicate
// them.
func renderSTIX(items []feedItem, etag string, now time.Time) []byte {
	bundle := stixBundle{Type: "bundle", ID: stix.NameID("bundle", etag)}
	for _, it := range items {
		created := it.Added
		if created.IsZero() {
			created = now.Truncate(time.Second)
		}
		ind := stixIndicator{
			Type: "indicator", SpecVersion: "2.1",
			ID:      indicatorID(it),
			Created: stix.FormatTime(created), Modified: stix.FormatTime(created),
			Name:           "xsoc blocklist: " + it.Type + " " + it.Value,
			Description:    it.Reason,
			IndicatorTypes: []string{"malicious-activity"},
			Pattern:        stixPattern(it.Type, it.Value),
			PatternType:    "stix", PatternVersion: "2.1",
			ValidFrom:         stix.FormatTime(created),
			ObjectMarkingRefs: []string{stix.MarkingRef(it.TLP)},
		}
		if !it.Expires.IsZero() && it.Expires.After(created) {
			ind.ValidUntil = stix.FormatTime(it.Expires)
		}
		bundle.Objects = append(bundle.Objects, ind)
	}
	out, _ := json.MarshalIndent(bundle, "", "  ") // plain structs of strings: cannot fail
	return append(out, '\n')
}

func indicatorID(it feedItem) string {
	if id, ok := strings.CutPrefix(it.id, "indicator--"); ok && len(id) == 36 {
		return it.id
	}
	return stix.NameID("indicator", it.Type+"|"+it.Value)
}

// stixPattern writes the STIX patterning expression for one value.
func stixPattern(typ, value string) string {
	v := pattern.Quote(value)
	switch typ {
	case TypeIP, TypeCIDR:
		obj := "ipv4-addr"
		if a, err := netip.ParseAddr(strings.SplitN(value, "/", 2)[0]); err == nil && a.Is6() {
			obj = "ipv6-addr"
		}
		return "[" + obj + ":value = " + v + "]"
	case TypeDomain:
		return "[domain-name:value = " + v + "]"
	case TypeURL:
		return "[url:value = " + v + "]"
	case TypeHash:
		return "[file:hashes.'" + hashAlgorithm(value) + "' = " + v + "]"
	}
	return ""
}

// hashAlgorithm names a hex hash by its length, in STIX's vocabulary.
func hashAlgorithm(v string) string {
	switch len(v) {
	case 32:
		return "MD5"
	case 40:
		return "SHA-1"
	case 128:
		return "SHA-512"
	}
	return "SHA-256"
}
