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

// TestDecodeHeaderLeavesTheBody: DecodeHeader reads a batch's header
// without touching its body — a corrupt body decodes, with no lines — and
// DecodeLines then reads the lines, or refuses the body, as DecodeBatch
// does.
func TestDecodeHeaderLeavesTheBody(t *testing.T) {
	want := Batch{Member: "m1", Format: format.ECS, Received: time.Unix(7, 8).UTC(), Seq: 5,
		Lines: [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)}}
	hdr, body := EncodeBatch(want)
	corrupt := bytes.Clone(body)
	corrupt[0]++
	b, err := DecodeHeader(hdr, 5)
	if err != nil {
		t.Fatal(err)
	}
	if b.Member != want.Member || b.Format != want.Format || !b.Received.Equal(want.Received) || b.Seq != 5 || b.Lines != nil {
		t.Fatalf("header decoded as %+v", b)
	}
	if _, err := DecodeLines(hdr, corrupt); err == nil || !strings.Contains(err.Error(), "corrupt s2 body") {
		t.Fatalf("corrupt body: err %v", err)
	}
	lines, err := DecodeLines(hdr, body)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(bytes.Join(lines, []byte("|"))); got != `{"a":1}|{"b":2}` {
		t.Fatalf("lines %q", got)
	}
	if _, err := DecodeHeader(nats.Header{}, 1); err == nil {
		t.Error("a header without member decoded")
	}
	bad := header("m1", format.ECS, time.Unix(1, 0), true)
	bad.Set(hdrReceived, "yesterday")
	if _, err := DecodeHeader(bad, 1); err == nil {
		t.Error("a header with a bad time of receipt decoded")
	}
}
