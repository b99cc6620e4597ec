package ingest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"

	"github.com/xsoc/xsoc/internal/ingest/format"
)

// recorder keeps what is published to it.
type recorder struct {
	hdrs []nats.Header
	data [][]byte
}

func (r *recorder) Publish(_ context.Context, _ string, hdr nats.Header, data []byte, _ string) (uint64, error) {
	r.hdrs = append(r.hdrs, hdr)
	r.data = append(r.data, data)
	return uint64(len(r.data)), nil
}

func TestBatchRoundTripCompressed(t *testing.T) {
	var lines [][]byte
	for i := range 300 {
		lines = append(lines, []byte(sysmonLine(i)))
	}
	rec := &recorder{}
	if err := NewAcceptor(rec).Accept(context.Background(), "m1", format.ECS, lines, ""); err != nil {
		t.Fatal(err)
	}
	if len(rec.data) != 1 {
		t.Fatalf("%d messages, want 1", len(rec.data))
	}
	if got := rec.hdrs[0].Get(hdrEncoding); got != encodingS2 {
		t.Fatalf("%s = %q, want %q", hdrEncoding, got, encodingS2)
	}
	plain := bytes.Join(lines, []byte{'\n'})
	if len(rec.data[0])*2 > len(plain) {
		t.Errorf("body of %d bytes compressed to %d", len(plain), len(rec.data[0]))
	}
	b, err := DecodeBatch(rec.hdrs[0], rec.data[0], 3)
	if err != nil {
		t.Fatal(err)
	}
	if b.Member != "m1" || b.Format != format.ECS || b.Seq != 3 || len(b.Lines) != len(lines) {
		t.Fatalf("batch %s %s %d with %d lines", b.Member, b.Format, b.Seq, len(b.Lines))
	}
	for i, l := range b.Lines {
		if !bytes.Equal(l, lines[i]) {
			t.Fatalf("line %d: %q, want %q", i, l, lines[i])
		}
	}
	// The decoded lines must not share storage with the message body.
	for i := range rec.data[0] {
		rec.data[0][i] = 0
	}
	if !bytes.Equal(b.Lines[0], lines[0]) {
		t.Fatal("decoded lines alias the compressed body")
	}
}

// plainHeader is the header of a batch written before compression.
func plainHeader() nats.Header {
	return header("m1", format.Syslog, time.Unix(0, 1709633647000000000), false)
}

// TestAcceptorPublishPlain: an Acceptor told to publish plain bodies
// writes what an xsoc before compression wrote and reads: no encoding
// header, the lines as they came.
func TestAcceptorPublishPlain(t *testing.T) {
	lines := [][]byte{[]byte(sysmonLine(1)), []byte(sysmonLine(2))}
	rec := &recorder{}
	a := NewAcceptor(rec)
	a.PublishPlain()
	if err := a.Accept(context.Background(), "m1", format.ECS, lines, ""); err != nil {
		t.Fatal(err)
	}
	if len(rec.data) != 1 || rec.hdrs[0].Get(hdrEncoding) != "" {
		t.Fatalf("%d messages, encoding %q: want one, plain", len(rec.data), rec.hdrs[0].Get(hdrEncoding))
	}
	if want := append(bytes.Join(lines, []byte{'\n'}), '\n'); !bytes.Equal(rec.data[0], want) {
		t.Fatalf("body %q, want the lines as they came", rec.data[0])
	}
}

func TestDecodeBatchUncompressed(t *testing.T) {
	b, err := DecodeBatch(plainHeader(), []byte("a\nbb\nccc"), 9)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(bytes.Join(b.Lines, []byte("|"))); got != "a|bb|ccc" || b.Format != format.Syslog {
		t.Fatalf("lines %q format %s", got, b.Format)
	}
	if want := time.Unix(0, 1709633647000000000).UTC(); !b.Received.Equal(want) {
		t.Fatalf("received %v, want %v", b.Received, want)
	}
}

func TestDecodeBatchRefuses(t *testing.T) {
	s2hdr := header("m1", format.ECS, time.Unix(1, 0), true)
	good := s2.Encode(nil, []byte("{\"a\":1}\n{\"b\":2}\n"))
	// The block format has no checksum (JetStream's store has its own), so
	// corruption is caught where it breaks the structure: here the
	// decoded length no longer matches the blocks.
	corrupt := bytes.Clone(good)
	corrupt[0]++
	unknown := header("m1", format.ECS, time.Unix(1, 0), true)
	unknown.Set(hdrEncoding, "zstd")
	tests := []struct {
		name string
		hdr  nats.Header
		data []byte
		want string
	}{
		{"corrupt", s2hdr, corrupt, "corrupt s2 body"},
		{"truncated", s2hdr, good[:len(good)-4], "corrupt s2 body"},
		{"not s2", s2hdr, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "corrupt s2 body"},
		{"empty", s2hdr, nil, "corrupt s2 body"},
		// A header claiming 1 GiB: refused before anything is allocated.
		{"oversize", s2hdr, []byte{0x80, 0x80, 0x80, 0x80, 0x04, 0x00}, "more than"},
		{"unknown encoding", unknown, good, "unknown Xsoc-Encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBatch(tt.hdr, tt.data, 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestDecodeBatchOversizeReal(t *testing.T) {
	body := s2.Encode(nil, bytes.Repeat([]byte("x\n"), maxBatchBytes/2+1))
	_, err := DecodeBatch(header("m1", format.ECS, time.Unix(1, 0), true), body, 1)
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err %v, want oversize refused", err)
	}
}
