package intel

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/tlp"
)

const (
	tlpGreen2   = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	tlpRed2     = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	tlpAmber1   = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	tlpWhite1   = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	statementID = "marking-definition--d81f86b9-975b-4c0b-875e-810c5ad45a4f"
)

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; "" for success
		want    Envelope
	}{
		{"indicator", `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
			"created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.123456Z","object_marking_refs":["` + tlpGreen2 + `"],
			"x_xsoc_recipients":["cert-be"]}`, "",
			Envelope{Type: "indicator", ID: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", SpecVersion: "2.1",
				Created:  time.Date(2016, 4, 6, 20, 3, 48, 0, time.UTC),
				Modified: time.Date(2016, 4, 6, 20, 3, 48, 123456000, time.UTC),
				Markings: []string{tlpGreen2}, Recipients: []string{"cert-be"}}},
		{"observable without spec_version", `{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}`, "",
			Envelope{Type: "ipv4-addr", ID: "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", SpecVersion: "2.1"}},
		{"granular marking", `{"type":"note","spec_version":"2.1","id":"note--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2016-05-12T08:17:27.000Z",
			"granular_markings":[{"marking_ref":"` + tlpRed2 + `","selectors":["content"]}]}`, "",
			Envelope{Type: "note", ID: "note--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061", SpecVersion: "2.1",
				Created: time.Date(2016, 5, 12, 8, 17, 27, 0, time.UTC), Markings: []string{tlpRed2}}},
		{"not an object", `[1,2]`, "not a JSON object", Envelope{}},
		{"empty", ``, "not a JSON object", Envelope{}},
		{"broken JSON", `{"type":"indicator",`, "invalid JSON", Envelope{}},
		{"wrong property type", `{"type":7}`, "wrong JSON type", Envelope{}},
		{"no type", `{"id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`, "type missing", Envelope{}},
		{"no id", `{"type":"indicator","spec_version":"2.1"}`, "id missing", Envelope{}},
		{"bad type name", `{"type":"Indicator","id":"Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`, "not a STIX type name", Envelope{}},
		{"id without uuid", `{"type":"indicator","id":"indicator--42"}`, "not of the form", Envelope{}},
		{"id of other type", `{"type":"malware","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`, "does not match type", Envelope{}},
		{"stix 2.0", `{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z"}`, "spec_version missing", Envelope{}},
		{"wrong spec_version", `{"type":"indicator","spec_version":"2.0","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`, `spec_version "2.0" not supported`, Envelope{}},
		{"local time", `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48+02:00"}`, "must be in UTC", Envelope{}},
		{"garbage time", `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","modified":"yesterdayZ"}`, "not RFC 3339", Envelope{}},
		{"modified before created", `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
			"created":"2016-04-06T20:03:48.000Z","modified":"2015-04-06T20:03:48.000Z"}`, "earlier than created", Envelope{}},
		{"recipients not a list", `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","x_xsoc_recipients":"a"}`, "list of member ids", Envelope{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnvelope(json.RawMessage(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !envelopeEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func envelopeEqual(a, b Envelope) bool {
	return a.Type == b.Type && a.ID == b.ID && a.SpecVersion == b.SpecVersion &&
		a.Created.Equal(b.Created) && a.Modified.Equal(b.Modified) &&
		strings.Join(a.Markings, ",") == strings.Join(b.Markings, ",") &&
		strings.Join(a.Recipients, ",") == strings.Join(b.Recipients, ",")
}

func TestEnvelopeLevel(t *testing.T) {
	tests := []struct {
		markings []string
		def      tlp.Level
		want     tlp.Level
	}{
		{nil, tlp.Amber, tlp.Amber},
		{nil, tlp.Green, tlp.Green},
		{[]string{statementID}, tlp.AmberStrict, tlp.AmberStrict}, // not a TLP marking
		{[]string{tlpWhite1}, tlp.Red, tlp.Clear},
		{[]string{tlpGreen2, tlpAmber1}, tlp.Clear, tlp.Amber}, // most restrictive wins
		{[]string{tlpRed2, tlpGreen2}, tlp.Clear, tlp.Red},
	}
	for _, tt := range tests {
		if got := (Envelope{Markings: tt.markings}).Level(tt.def); got != tt.want {
			t.Errorf("Level(%v, default %v) = %v, want %v", tt.markings, tt.def, got, tt.want)
		}
	}
}

func TestTimestampRoundTrip(t *testing.T) {
	for _, s := range []string{
		"2016-04-06T20:03:48.000Z",
		"2016-04-06T20:03:48.100Z",
		"2016-04-06T20:03:48.123456Z",
		"2016-04-06T20:03:48.123456789Z",
	} {
		ts, err := ParseTimestamp(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatTimestamp(ts); got != s {
			t.Errorf("FormatTimestamp(ParseTimestamp(%q)) = %q", s, got)
		}
	}
	ts, _ := ParseTimestamp("2016-04-06T20:03:48Z")
	if got := FormatTimestamp(ts); got != "2016-04-06T20:03:48.000Z" {
		t.Errorf("seconds-only timestamp formats as %q", got)
	}
	for _, bad := range []string{"", "2016-04-06", "2016-04-06T20:03:48", "9999-01-01T00:00:00Z", "2016-13-06T20:03:48Z"} {
		if _, err := ParseTimestamp(bad); err == nil {
			t.Errorf("ParseTimestamp(%q) accepted", bad)
		}
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		u := NewUUID()
		if !ValidUUID(u) || u[14] != '4' || seen[u] {
			t.Fatalf("bad or repeated UUID %q", u)
		}
		seen[u] = true
	}
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add(`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","object_marking_refs":["` + tlpGreen2 + `"]}`)
	f.Add(`{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"}`)
	f.Add(`{"type":"x","id":"x--"}`)
	f.Add(`{"granular_markings":[{"marking_ref":7}]}`)
	f.Add(`{"x_xsoc_recipients":[null,""]}`)
	f.Add(`nul`)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEnvelope(json.RawMessage(s))
		if err != nil {
			return
		}
		// Whatever parses is a coherent 2.1 envelope.
		if e.SpecVersion != SpecVersion || !strings.HasPrefix(e.ID, e.Type+"--") {
			t.Fatalf("accepted incoherent envelope %+v from %q", e, s)
		}
		_ = e.Level(tlp.Amber)
	})
}
