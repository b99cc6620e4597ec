package misp

import (
	"bytes"
	"testing"
)

// FuzzReadHashes checks that any hashes.csv is read or refused, and that
// every value hash read lists at least one event.
func FuzzReadHashes(f *testing.F) {
	for _, s := range []string{
		"d41d8cd98f00b204e9800998ecf8427e,5c9a7a1e-8a34-4f5e-9a1b-1c2d3e4f5a6b\n",
		"# comment\n\nd41d8cd98f00b204e9800998ecf8427e,a\nd41d8cd98f00b204e9800998ecf8427e,b\n",
		"no comma\n", ",\n", "a,b,c\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadHashes(bytes.NewReader(data))
		if err != nil {
			return
		}
		for h, events := range got {
			if len(events) == 0 {
				t.Fatalf("value hash %q lists no event", h)
			}
		}
	})
}

// FuzzImportCSV checks that any CSV feed is imported or refused without
// panicking, whatever its columns.
func FuzzImportCSV(f *testing.F) {
	for _, s := range []string{
		"ip-dst,198.51.100.7,botnet C2\n",
		"#type,value\ndomain,evil.example\nmd5,d41d8cd98f00b204e9800998ecf8427e\n",
		"\"unterminated,quote\n", "a;b;c\n",
	} {
		f.Add([]byte(s), 2, 1)
	}
	f.Fuzz(func(t *testing.T, data []byte, valueCol, typeCol int) {
		if valueCol < 0 || valueCol > 8 || typeCol < 0 || typeCol > 8 {
			return
		}
		ImportCSV(bytes.NewReader(data), CSVSpec{ValueColumn: valueCol, TypeColumn: typeCol}, Options{})
	})
}
