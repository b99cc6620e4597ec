package respond

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/tlp"
)

// tlpMarkings are the STIX 2.1 marking-definition ids of the TLP 2.0
// levels, indexed by tlp.Level.
var tlpMarkings = [...]string{
	tlp.Clear:       "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
	tlp.Green:       "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
	tlp.Amber:       "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
	tlp.AmberStrict: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
	tlp.Red:         "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

// markingOf returns the marking for l, treating an unknown level as the
// most restrictive.
func markingOf(l tlp.Level) string {
	if int(l) < len(tlpMarkings) {
		return tlpMarkings[l]
	}
	return tlpMarkings[tlp.Red]
}

// stixNamespace is the UUIDv5 namespace of xsoc's deterministic STIX ids.
var stixNamespace = [16]byte{0x6f, 0x3c, 0x1e, 0x52, 0x8a, 0x47, 0x4d, 0x0b, 0x9c, 0x2e, 0x51, 0x7a, 0x03, 0xd4, 0xb8, 0x66}

// uuid5 returns the RFC 9562 version 5 UUID of name in stixNamespace:
// the same name always gives the same id.
func uuid5(name string) string {
	h := sha1.New()
	h.Write(stixNamespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	s := hex.EncodeToString(u[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

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

const stixTime = "2006-01-02T15:04:05.000Z"

// renderSTIX writes the items as a STIX 2.1 bundle of indicators. Ids are
// stable: an indicator from a STIX source keeps its own id, others get a
// UUIDv5 of type and value, so consumers update rather than duplicate
// them.
func renderSTIX(items []feedItem, etag string, now time.Time) []byte {
	bundle := stixBundle{Type: "bundle", ID: "bundle--" + uuid5("bundle|"+etag)}
	for _, it := range items {
		created := it.Added
		if created.IsZero() {
			created = now.Truncate(time.Second)
		}
		ind := stixIndicator{
			Type: "indicator", SpecVersion: "2.1",
			ID:      indicatorID(it),
			Created: created.UTC().Format(stixTime), Modified: created.UTC().Format(stixTime),
			Name:           "xsoc blocklist: " + it.Type + " " + it.Value,
			Description:    it.Reason,
			IndicatorTypes: []string{"malicious-activity"},
			Pattern:        stixPattern(it.Type, it.Value),
			PatternType:    "stix", PatternVersion: "2.1",
			ValidFrom:         created.UTC().Format(stixTime),
			ObjectMarkingRefs: []string{markingOf(it.TLP)},
		}
		if !it.Expires.IsZero() && it.Expires.After(created) {
			ind.ValidUntil = it.Expires.UTC().Format(stixTime)
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
	return "indicator--" + uuid5(it.Type+"|"+it.Value)
}

// stixEscaper escapes a string literal in a STIX pattern.
var stixEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// stixPattern writes the STIX patterning expression for one value.
func stixPattern(typ, value string) string {
	v := stixEscaper.Replace(value)
	switch typ {
	case TypeIP, TypeCIDR:
		obj := "ipv4-addr"
		if a, err := netip.ParseAddr(strings.SplitN(value, "/", 2)[0]); err == nil && a.Is6() {
			obj = "ipv6-addr"
		}
		return "[" + obj + ":value = '" + v + "']"
	case TypeDomain:
		return "[domain-name:value = '" + v + "']"
	case TypeURL:
		return "[url:value = '" + v + "']"
	case TypeHash:
		return "[file:hashes.'" + hashAlgorithm(value) + "' = '" + v + "']"
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
