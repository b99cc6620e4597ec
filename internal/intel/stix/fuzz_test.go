package stix

import "testing"

// FuzzDecode checks that a STIX object that decodes and validates encodes
// to JSON that decodes and validates again.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		validIndicator,
		`{"type":"identity","spec_version":"2.1","id":"identity--5330e3e3-8f58-4d21-9f4b-793a054c0d33","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"x","identity_class":"organization"}`,
		`{"type":"artifact","spec_version":"2.1","id":"artifact--5330e3e3-8f58-4d21-9f4b-793a054c0d33","url":"https://x/a.bin"}`,
		`{"type":"x-y","id":"x-y--5330e3e3-8f58-4d21-9f4b-793a054c0d33","created":"2020-01-01T00:00:00.000Z","x_ref":"x"}`,
		`{"type":"indicator"}`, `[]`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Decode(data)
		if err != nil {
			return
		}
		out, err := o.MarshalJSON()
		if err != nil {
			t.Fatalf("decoded %q, cannot encode it: %v", data, err)
		}
		if _, err := Decode(out); err != nil {
			t.Fatalf("decoded %q, encoded %q, which does not decode: %v", data, out, err)
		}
	})
}

// FuzzParseTime checks that a STIX timestamp that parses is in UTC.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2016-05-12T08:17:27.000Z", "2016-05-12T08:17:27Z", "2016-05-12T08:17:27.123456789123Z", "2016-05-12 08:17:27Z", "2016-05-12T08:17:27+01:00", "Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err == nil && tm.Location().String() != "UTC" {
			t.Fatalf("ParseTime(%q) = %v, not UTC", s, tm)
		}
	})
}
