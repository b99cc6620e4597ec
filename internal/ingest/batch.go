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
	"time"

	"github.com/nats-io/nats.go"

	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/ingest/format"
)

// Header names of a batch message.
const (
	hdrMember   = "Xsoc-Member"
	hdrFormat   = "Xsoc-Format"
	hdrReceived = "Xsoc-Received"
)

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

// encode returns the message header and body of a batch of lines.
func encode(member string, f format.Format, received time.Time, lines [][]byte) (nats.Header, []byte) {
	size := 0
	for _, l := range lines {
		size += len(l) + 1
	}
	body := make([]byte, 0, size)
	for _, l := range lines {
		body = append(body, l...)
		body = append(body, '\n')
	}
	hdr := nats.Header{}
	hdr.Set(hdrMember, member)
	hdr.Set(hdrFormat, string(f))
	hdr.Set(hdrReceived, strconv.FormatInt(received.UnixNano(), 10))
	return hdr, body
}

// DecodeBatch reads a batch from a bus message's header and body. The
// lines alias data.
func DecodeBatch(hdr nats.Header, data []byte, seq uint64) (Batch, error) {
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
	b.Lines = make([][]byte, 0, bytes.Count(data, []byte{'\n'}))
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			b.Lines = append(b.Lines, data)
			break
		}
		b.Lines = append(b.Lines, data[:i])
		data = data[i+1:]
	}
	return b, nil
}

// Acceptor publishes batches of lines. It is safe for concurrent use.
type Acceptor struct {
	pub Publisher
	now func() time.Time
}

// NewAcceptor returns an Acceptor publishing to pub.
func NewAcceptor(pub Publisher) *Acceptor {
	return &Acceptor{pub: pub, now: time.Now}
}

// Accept makes lines durable as one or more batches and returns once all
// are stored. msgID, if not empty, makes the call idempotent: a retry with
// the same id within two minutes stores nothing new. On error no line
// should be considered accepted (some batches may have been stored; a
// retry with the same msgID will not duplicate them).
func (a *Acceptor) Accept(ctx context.Context, member string, f format.Format, lines [][]byte, msgID string) error {
	if len(lines) == 0 {
		return nil
	}
	received := a.now()
	chunks := chunk(lines)
	if len(chunks) == 1 {
		hdr, body := encode(member, f, received, lines)
		_, err := a.pub.Publish(ctx, Subject(member), hdr, body, msgID)
		return err
	}
	errs := make(chan error, len(chunks))
	for i, c := range chunks {
		go func() {
			hdr, body := encode(member, f, received, c)
			id := ""
			if msgID != "" {
				id = msgID + "/" + strconv.Itoa(i)
			}
			_, err := a.pub.Publish(ctx, Subject(member), hdr, body, id)
			errs <- err
		}()
	}
	var first error
	for range chunks {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
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
