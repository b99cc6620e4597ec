// Package ingest accepts telemetry — HTTP bulk NDJSON, syslog over UDP and
// TCP — and makes it durable on the bus before acknowledging it.
//
// Accepting is deliberately cheap: split into lines, check each line's
// framing (valid JSON, or a parsable syslog/CEF header), and publish the
// good lines of a request as one JetStream message (a batch). Full
// normalisation happens once, after the ack, in the pipeline. Batching
// hundreds of events per message is what makes durable ingest fast: one
// JetStream message costs about as much as ten events of parsing.
package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"

	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/ingest/format"
)

// Header names of a batch message.
const (
	hdrMember   = "Xsoc-Member"
	hdrFormat   = "Xsoc-Format"
	hdrReceived = "Xsoc-Received"
	// hdrEncoding names the compression of the body; a message without it
	// (written before compression was introduced) is plain lines.
	hdrEncoding = "Xsoc-Encoding"
)

// encodingS2 marks a body compressed with S2 (klauspost/compress/s2,
// block format). Batches are text and compress several-fold, which
// shrinks everything JetStream does per byte: copies, checksums, file
// writes and delivery to each consumer.
const encodingS2 = "s2"

// MaxLineBytes is the largest accepted input line (1 MiB).
const MaxLineBytes = 1 << 20

// maxBatchBytes bounds one bus message; larger requests become several
// messages published concurrently.
const maxBatchBytes = 4 << 20

// maxBatchLines bounds the events in one bus message so that the pipeline's
// unit of work (and of redelivery) stays small.
const maxBatchLines = 2000

// Publisher stores a message durably; *bus.Bus is one.
type Publisher interface {
	Publish(ctx context.Context, subject string, hdr nats.Header, data []byte, msgID string) (uint64, error)
}

// Batch is a set of accepted input lines of one member and format, as
// carried by one bus message.
type Batch struct {
	Member   string
	Format   format.Format
	Received time.Time
	// Seq is the message's stream sequence; with a line's index it names
	// events that carry no id of their own.
	Seq   uint64
	Lines [][]byte
}

// Subject returns the bus subject of a member's input.
func Subject(member string) string { return bus.IngestSubject + "." + member }

// header returns the message header of a batch, marking its body S2
// compressed when compressed is set.
func header(member string, f format.Format, received time.Time, compressed bool) nats.Header {
	hdr := nats.Header{}
	hdr.Set(hdrMember, member)
	hdr.Set(hdrFormat, string(f))
	hdr.Set(hdrReceived, strconv.FormatInt(received.UnixNano(), 10))
	if compressed {
		hdr.Set(hdrEncoding, encodingS2)
	}
	return hdr
}

// encodeBody compresses a run's lines into a new buffer: the bus may still
// resend the message after Publish gave up on it, so the buffer is never
// reused.
func encodeBody(data []byte) []byte {
	return s2.Encode(make([]byte, s2.MaxEncodedLen(len(data))), data)
}

// body returns what the Acceptor publishes for a run's lines.
func (a *Acceptor) body(data []byte) []byte {
	if a.plain {
		return data
	}
	return encodeBody(data)
}

// decodeBody returns the lines of a message body, decompressing it into a
// fresh buffer if it is compressed: decoded events keep referring to their
// line bytes, so the buffer must live as long as they do.
func decodeBody(hdr nats.Header, data []byte) ([]byte, error) {
	switch enc := hdr.Get(hdrEncoding); enc {
	case "":
		return data, nil
	case encodingS2:
		n, err := s2.DecodedLen(data)
		if err != nil {
			return nil, fmt.Errorf("ingest: batch: corrupt s2 body: %w", err)
		}
		if n > maxBatchBytes {
			return nil, fmt.Errorf("ingest: batch: s2 body decodes to %d bytes, more than the %d a batch may hold", n, maxBatchBytes)
		}
		out, err := s2.Decode(make([]byte, n), data)
		if err != nil {
			return nil, fmt.Errorf("ingest: batch: corrupt s2 body: %w", err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("ingest: batch: unknown %s %q", hdrEncoding, enc)
	}
}

// run is the body of one bus message: accepted lines, each ending in a
// newline (the last one may lack it), within maxBatchBytes and
// maxBatchLines.
type run struct {
	data  []byte
	lines int
}

// runsOf copies lines into runs.
func runsOf(lines [][]byte) []run {
	var runs []run
	for _, c := range chunk(lines) {
		runs = append(runs, run{data: joinLines(c), lines: len(c)})
	}
	return runs
}

// joinLines copies lines into one buffer, each ending in a newline.
func joinLines(lines [][]byte) []byte {
	size := 0
	for _, l := range lines {
		size += len(l) + 1
	}
	data := make([]byte, 0, size)
	for _, l := range lines {
		data = append(data, l...)
		data = append(data, '\n')
	}
	return data
}

// DecodeBatch reads a batch from a bus message's header and body. The
// lines alias data, or a buffer of their own if the body is compressed.
func DecodeBatch(hdr nats.Header, data []byte, seq uint64) (Batch, error) {
	b, err := DecodeHeader(hdr, seq)
	if err != nil {
		return b, err
	}
	b.Lines, err = DecodeLines(hdr, data)
	return b, err
}

// DecodeHeader reads a batch from a bus message's header only: its
// member, format and time of receipt, with Lines left nil. A reader that
// finds the batch already parsed (in one process, detection and the
// archive share their parses) needs nothing more, and saves decompressing
// and splitting the body; DecodeLines reads the lines when it must parse.
func DecodeHeader(hdr nats.Header, seq uint64) (Batch, error) {
	b := Batch{Member: hdr.Get(hdrMember), Seq: seq}
	if b.Member == "" {
		return b, errors.New("ingest: batch without member")
	}
	f, err := format.ParseFormat(hdr.Get(hdrFormat))
	if err != nil {
		return b, fmt.Errorf("ingest: batch: %w", err)
	}
	b.Format = f
	ns, err := strconv.ParseInt(hdr.Get(hdrReceived), 10, 64)
	if err != nil {
		return b, fmt.Errorf("ingest: batch: bad %s header: %w", hdrReceived, err)
	}
	b.Received = time.Unix(0, ns).UTC()
	return b, nil
}

// DecodeLines reads the lines of a batch from a bus message's body, as
// its header (DecodeHeader) describes it. The lines alias data, or a
// buffer of their own if the body is compressed.
func DecodeLines(hdr nats.Header, data []byte) ([][]byte, error) {
	data, err := decodeBody(hdr, data)
	if err != nil {
		return nil, err
	}
	lines := make([][]byte, 0, bytes.Count(data, []byte{'\n'}))
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			lines = append(lines, data)
			break
		}
		lines = append(lines, data[:i])
		data = data[i+1:]
	}
	return lines, nil
}

// EncodeBatch returns the header and the body the Acceptor publishes for
// b's lines (S2 compressed), for tools and tests that make bus messages
// without a bus.
func EncodeBatch(b Batch) (nats.Header, []byte) {
	return header(b.Member, b.Format, b.Received, true), encodeBody(joinLines(b.Lines))
}

// Acceptor publishes batches of lines. It is safe for concurrent use.
type Acceptor struct {
	pub Publisher
	now func() time.Time
	// plain publishes bodies uncompressed (see PublishPlain).
	plain bool
}

// NewAcceptor returns an Acceptor publishing to pub, with bodies S2
// compressed.
func NewAcceptor(pub Publisher) *Acceptor {
	return &Acceptor{pub: pub, now: time.Now}
}

// PublishPlain makes a publish bodies uncompressed, as xsoc versions
// before compression did, so that workers of such a version reading the
// same stream can still decode them: a message they cannot decode they
// would drop. Set it before the first Accept.
func (a *Acceptor) PublishPlain() { a.plain = true }

// Accept makes lines durable as one or more batches and returns once all
// are stored. msgID, if not empty, makes the call idempotent: a retry with
// the same id within two minutes stores nothing new. On error no line
// should be considered accepted (some batches may have been stored; a
// retry with the same msgID will not duplicate them).
func (a *Acceptor) Accept(ctx context.Context, member string, f format.Format, lines [][]byte, msgID string) error {
	if len(lines) == 0 {
		return nil
	}
	return a.publish(ctx, member, f, runsOf(lines), msgID)
}

// maxPublishing bounds the bus messages of one request in flight at once;
// a request of many runs waits for acks rather than holding a goroutine
// per run.
const maxPublishing = 16

// publish stores runs as bus messages, as Accept does; the runs' data is
// the messages' bodies, not copied.
func (a *Acceptor) publish(ctx context.Context, member string, f format.Format, runs []run, msgID string) error {
	received := a.now()
	if len(runs) == 1 {
		_, err := a.pub.Publish(ctx, Subject(member), header(member, f, received, !a.plain), a.body(runs[0].data), msgID)
		return err
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	slots := make(chan struct{}, maxPublishing)
	for i, r := range runs {
		slots <- struct{}{}
		if err := pctx.Err(); err != nil {
			once.Do(func() { first = err }) // a failed run or the caller's deadline
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			id := ""
			if msgID != "" {
				id = msgID + "/" + strconv.Itoa(i)
			}
			// Each message gets its own header: publishing with an id writes into it.
			if _, err := a.pub.Publish(pctx, Subject(member), header(member, f, received, !a.plain), a.body(r.data), id); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return first
}

// chunk splits lines into runs that fit one bus message.
func chunk(lines [][]byte) [][][]byte {
	var out [][][]byte
	start, size := 0, 0
	for i, l := range lines {
		if i > start && (size+len(l)+1 > maxBatchBytes || i-start >= maxBatchLines) {
			out = append(out, lines[start:i])
			start, size = i, 0
		}
		size += len(l) + 1
	}
	return append(out, lines[start:])
}

// Retryable reports whether err means the bus is saturated and the client
// should retry later (HTTP 503 with Retry-After).
func Retryable(err error) bool {
	return errors.Is(err, bus.ErrBusy) || errors.Is(err, bus.ErrFull) || errors.Is(err, context.DeadlineExceeded)
}
