package iocfeed

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
	"github.com/xsoc/xsoc/internal/tlp"
)

// TestReadObject checks the shape and observables ReadObject finds in
// objects built by the stix constructors, and that Read finds the same in
// their JSON.
func TestReadObject(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	newIndicator := func(p, lang string) stix.Object {
		o, err := stix.NewIndicator(stix.IndicatorSpec{ID: stix.NameID("indicator", p), Pattern: p, PatternType: lang,
			ValidFrom: from, TLP: tlp.Green, Created: from, Modified: from})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	revoked := newIndicator("[domain-name:value = 'gone.example']", "")
	revoked.Set("revoked", true)
	identity, err := stix.NewIdentity("fr-soc", "organization")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		obj   stix.Object
		shape Shape
		obs   []pattern.Observable
	}{
		{"simple", newIndicator("[domain-name:value = 'Evil.example']", ""), Simple,
			[]pattern.Observable{{Type: pattern.TypeDomain, Value: "evil.example"}}},
		{"complex", newIndicator("[ipv4-addr:value = '45.77.1.2'] FOLLOWEDBY [domain-name:value = 'x.example']", ""), Complex, nil},
		{"other language", newIndicator("title: x", "sigma"), Complex, nil},
		{"revoked", revoked, Revoked, nil},
		{"identity", identity, NotIndicator, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, obs, shape, err := ReadObject(tt.obj)
			if err != nil || shape != tt.shape || !reflect.DeepEqual(obs, tt.obs) {
				t.Fatalf("ReadObject: %v %v %v, want %v %v", obs, shape, err, tt.obs, tt.shape)
			}
			raw, err := json.Marshal(tt.obj)
			if err != nil {
				t.Fatal(err)
			}
			if _, obs, shape, err := Read(raw); err != nil || shape != tt.shape || !reflect.DeepEqual(obs, tt.obs) {
				t.Fatalf("Read: %v %v %v, want %v %v", obs, shape, err, tt.obs, tt.shape)
			}
		})
	}
}

// TestReadInvalidPattern checks that a pattern that does not parse is an
// error: Read's validation finds it, and ReadObject finds it in an object
// that skipped validation.
func TestReadInvalidPattern(t *testing.T) {
	raw := []byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` +
		`"created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","valid_from":"2026-01-01T00:00:00Z",` +
		`"pattern_type":"stix","pattern":"[domain-name:value = "}`)
	if _, _, _, err := Read(raw); err == nil {
		t.Error("Read accepted a pattern that does not parse")
	}
	var obj stix.Object
	if err := json.Unmarshal(raw, &obj); err != nil { // not validated
		t.Fatal(err)
	}
	if _, _, _, err := ReadObject(obj); err == nil {
		t.Error("ReadObject accepted a pattern that does not parse")
	}
}

// TestValidatorWithoutLists checks that without warning lists the
// validator only checks that an object is valid STIX.
func TestValidatorWithoutLists(t *testing.T) {
	v := Validator(nil)
	listed := indicator(t, "[ipv4-addr:value = '192.0.2.1']", tlp.Green, false) // on the documentation-range list
	if err := v(listed); err != nil {
		t.Errorf("warning-listed indicator refused without lists: %v", err)
	}
	if err := v(json.RawMessage(`{"type":"indicator"}`)); err == nil {
		t.Error("invalid object accepted")
	}
}
