package iocfeed

import "testing"

// FuzzRead checks that any STIX object is read or refused without
// panicking, and that what a simple indicator tests is named.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		`{"type":"indicator","spec_version":"2.1","id":"indicator--5330e3e3-8f58-4d21-9f4b-793a054c0d33","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","pattern":"[domain-name:value = 'evil.example']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"}`,
		`{"type":"indicator","spec_version":"2.1","id":"indicator--5330e3e3-8f58-4d21-9f4b-793a054c0d34","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.0/24'] OR [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z","revoked":true}`,
		`{"type":"indicator","spec_version":"2.1","id":"indicator--5330e3e3-8f58-4d21-9f4b-793a054c0d35","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","pattern":"alert tcp any any -> any any","pattern_type":"snort","valid_from":"2020-01-01T00:00:00Z"}`,
		`{"type":"malware"}`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, obs, shape, err := Read(raw)
		if err != nil {
			return
		}
		if shape == Simple && len(obs) == 0 {
			t.Fatalf("simple indicator %q tests nothing", raw)
		}
	})
}
