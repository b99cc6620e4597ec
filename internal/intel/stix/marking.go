package stix

import (
	"strings"

	"github.com/xsoc/xsoc/internal/tlp"
)

// The TLP 2.0 marking definitions published by OASIS (cti-stix-common-
// objects, extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d).
const (
	TLPClearRef       = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	TLPGreenRef       = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	TLPAmberRef       = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	TLPAmberStrictRef = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	TLPRedRef         = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"

	// TLP2Extension is the extension definition the TLP 2.0 markings use.
	TLP2Extension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
)

// The TLP 1.0 marking definitions built into STIX 2.1 (section 7.2.1.4).
// TLP 1.0 WHITE is TLP 2.0 CLEAR.
const (
	TLP1WhiteRef = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	TLP1GreenRef = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	TLP1AmberRef = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	TLP1RedRef   = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
)

// tlp2Refs is indexed by tlp.Level.
var tlp2Refs = [...]string{
	tlp.Clear: TLPClearRef, tlp.Green: TLPGreenRef, tlp.Amber: TLPAmberRef,
	tlp.AmberStrict: TLPAmberStrictRef, tlp.Red: TLPRedRef,
}

// tlpByRef maps every TLP marking definition id, both versions, to its
// level.
var tlpByRef = map[string]tlp.Level{
	TLPClearRef: tlp.Clear, TLPGreenRef: tlp.Green, TLPAmberRef: tlp.Amber,
	TLPAmberStrictRef: tlp.AmberStrict, TLPRedRef: tlp.Red,
	TLP1WhiteRef: tlp.Clear, TLP1GreenRef: tlp.Green, TLP1AmberRef: tlp.Amber, TLP1RedRef: tlp.Red,
}

// MarkingRef returns the id of the TLP 2.0 marking definition for l.
func MarkingRef(l tlp.Level) string {
	if int(l) < len(tlp2Refs) {
		return tlp2Refs[l]
	}
	return TLPRedRef
}

// TLPOfRef returns the level a TLP marking definition id (TLP 2.0 or 1.0)
// stands for. Identifiers compare without case, as UUIDs do.
func TLPOfRef(ref string) (tlp.Level, bool) {
	l, ok := tlpByRef[strings.ToLower(ref)]
	return l, ok
}

// TLPOf returns the TLP level of an object from its object_marking_refs.
// When several TLP markings are present the most restrictive wins; ok is
// false when there is none, and the caller chooses the default.
func TLPOf(o Object) (level tlp.Level, ok bool) {
	for _, ref := range o.Strings("object_marking_refs") {
		if l, found := TLPOfRef(ref); found {
			if !ok || l > level {
				level = l
			}
			ok = true
		}
	}
	return level, ok
}

// SetTLP replaces any TLP marking of o with the TLP 2.0 marking for l,
// keeping other markings.
func (o *Object) SetTLP(l tlp.Level) {
	refs := []string{}
	for _, ref := range o.Strings("object_marking_refs") {
		if _, isTLP := TLPOfRef(ref); !isTLP {
			refs = append(refs, ref)
		}
	}
	refs = append(refs, MarkingRef(l))
	_ = o.Set("object_marking_refs", refs) // a []string always encodes
}

// TLPMarkingDefinition returns the standard TLP 2.0 marking-definition
// object for l, as published by OASIS, for inclusion in bundles.
func TLPMarkingDefinition(l tlp.Level) Object {
	name := strings.ToLower(strings.TrimPrefix(l.String(), "TLP:"))
	return Object{props: map[string]any{
		"type":         "marking-definition",
		"spec_version": "2.1",
		"id":           MarkingRef(l),
		"created":      "2022-10-01T00:00:00.000Z",
		"name":         l.String(),
		"extensions": map[string]any{
			TLP2Extension: map[string]any{
				"extension_type": "property-extension",
				"tlp_2_0":        name,
			},
		},
	}}
}

// TLP1MarkingDefinition returns the built-in TLP 1.0 marking-definition
// object for l; TLP 1.0 has no AMBER+STRICT, so ok is false for it.
func TLP1MarkingDefinition(l tlp.Level) (o Object, ok bool) {
	var id, name string
	switch l {
	case tlp.Clear:
		id, name = TLP1WhiteRef, "white"
	case tlp.Green:
		id, name = TLP1GreenRef, "green"
	case tlp.Amber:
		id, name = TLP1AmberRef, "amber"
	case tlp.Red:
		id, name = TLP1RedRef, "red"
	default:
		return Object{}, false
	}
	return Object{props: map[string]any{
		"type":            "marking-definition",
		"spec_version":    "2.1",
		"id":              id,
		"created":         "2017-01-20T00:00:00.000Z",
		"definition_type": "tlp",
		"name":            "TLP:" + strings.ToUpper(name),
		"definition":      map[string]any{"tlp": name},
	}}, true
}
