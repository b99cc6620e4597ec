package ingest

import (
	"bytes"
	"testing"

	"github.com/nats-io/nats.go"
)

// FuzzDecodeBatch checks that any bus message is decoded into lines that
// put back together give its body, or refused: as plain lines (messages
// written before compression), compressed as the acceptor writes them,
// and as arbitrary bytes claiming to be S2 (refused or decoded, never a
// panic or a huge allocation).
func FuzzDecodeBatch(f *testing.F) {
	f.Add("m1", "ecs", "1709633647000000000", []byte("{\"a\":1}\n{\"b\":2}\n"))
	f.Add("m1", "windows", "0", []byte("no newline at the end"))
	f.Add("", "ecs", "1", []byte("x\n"))
	f.Add("m1", "bogus", "1", []byte("\n\n"))
	f.Add("m1", "syslog", "-9223372036854775808", []byte{})
	f.Add("m1", "ecs", "1", encodeBody([]byte("{\"a\":1}\n")))
	f.Fuzz(func(t *testing.T, member, format, received string, data []byte) {
		hdr := nats.Header{}
		hdr.Set(hdrMember, member)
		hdr.Set(hdrFormat, format)
		hdr.Set(hdrReceived, received)
		compressed := nats.Header{}
		for k, v := range hdr {
			compressed[k] = v
		}
		compressed.Set(hdrEncoding, encodingS2)
		DecodeBatch(compressed, data, 7) // arbitrary bytes: must not panic
		for _, m := range []struct {
			hdr  nats.Header
			body []byte
		}{{hdr, data}, {compressed, encodeBody(data)}} {
			b, err := DecodeBatch(m.hdr, m.body, 7)
			if err != nil {
				continue
			}
			joined := bytes.Join(b.Lines, []byte{'\n'})
			if !bytes.Equal(joined, data) && !bytes.Equal(append(joined, '\n'), data) {
				t.Fatalf("lines %q do not give back the body %q", b.Lines, data)
			}
			if b.Member != member || b.Seq != 7 {
				t.Fatalf("batch %+v of member %q", b, member)
			}
		}
	})
}
