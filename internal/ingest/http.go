package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest/format"
)

// MaxRequestBytes bounds one request body after decompression.
const MaxRequestBytes = 256 << 20

// maxReportedErrors bounds the per-line errors a response lists; the
// counts are always complete.
const maxReportedErrors = 100

// LineError is one rejected line of a request.
type LineError struct {
	Line   int    `json:"line"` // 1-based
	Reason string `json:"reason"`
}

// Result is the answer to a bulk request.
type Result struct {
	Accepted int         `json:"accepted"`
	Rejected int         `json:"rejected"`
	Errors   []LineError `json:"errors,omitempty"`
	// ErrorsTruncated is set when more lines were rejected than Errors lists.
	ErrorsTruncated bool `json:"errors_truncated,omitempty"`
	// Note explains a problem with the request as a whole that still let
	// some lines through (a truncated gzip stream).
	Note string `json:"note,omitempty"`
}

func (r *Result) reject(line int, reason string) {
	r.Rejected++
	if len(r.Errors) < maxReportedErrors {
		r.Errors = append(r.Errors, LineError{Line: line, Reason: reason})
	} else {
		r.ErrorsTruncated = true
	}
}

// Handler serves POST /api/v1/ingest: NDJSON (or newline-separated syslog /
// CEF lines), optionally gzip-compressed (Content-Encoding: gzip), one
// event per line. ?format= names the input format (default: auto-detected
// per line). The answer lists accepted and rejected counts with the reason
// for each reject; it is sent only after the accepted lines are durable.
type Handler struct {
	acceptor *Acceptor
	// member returns the authenticated member of a request.
	member func(*http.Request) (string, bool)
	log    *slog.Logger
	// inflight limits concurrent requests; past it the answer is 429.
	inflight chan struct{}
	pool     sync.Pool // *checker for validation
	// Timeout bounds the wait for the bus to acknowledge.
	timeout time.Duration
	// maxBody bounds a request body after decompression.
	maxBody int64
}

// NewHandler returns the bulk ingest handler. member extracts the
// authenticated member id from a request (set by the API's authentication).
func NewHandler(a *Acceptor, member func(*http.Request) (string, bool), log *slog.Logger, maxInflight int) *Handler {
	if maxInflight <= 0 {
		maxInflight = 256
	}
	return &Handler{
		acceptor: a, member: member, log: log,
		inflight: make(chan struct{}, maxInflight),
		pool:     sync.Pool{New: func() any { return new(checker) }},
		timeout:  30 * time.Second,
		maxBody:  MaxRequestBytes,
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	member, ok := h.member(r)
	if !ok {
		httpError(w, http.StatusForbidden, "ingest needs a member API key")
		return
	}
	select {
	case h.inflight <- struct{}{}:
		defer func() { <-h.inflight }()
	default:
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusTooManyRequests, "too many concurrent ingest requests; retry later")
		return
	}
	if msg := checkContentType(r.Header.Get("Content-Type")); msg != "" {
		httpError(w, http.StatusUnsupportedMediaType, msg)
		return
	}
	f, err := format.ParseFormat(r.URL.Query().Get("format"))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	body, truncated, err := h.body(w, r)
	if errors.Is(err, errTooLarge) {
		httpError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	var res Result
	lines := h.split(body, truncated, f, &res)
	if len(lines) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
		err = h.acceptor.Accept(ctx, member, f, lines, r.Header.Get("Idempotency-Key"))
		cancel()
		if err != nil {
			h.busError(w, member, err)
			return
		}
	}
	res.Accepted = len(lines)
	status := http.StatusOK
	if res.Accepted == 0 && res.Rejected > 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, res)
}

func (h *Handler) busError(w http.ResponseWriter, member string, err error) {
	if Retryable(err) {
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "event bus saturated, nothing was accepted; retry later: "+err.Error())
		return
	}
	h.log.Error("ingest: bus publish failed", "member", member, "err", err)
	w.Header().Set("Retry-After", "5")
	httpError(w, http.StatusServiceUnavailable, "event bus unavailable, nothing was accepted: "+err.Error())
}

// checkContentType accepts NDJSON, JSON and plain text bodies.
func checkContentType(ct string) string {
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Sprintf("bad Content-Type %q: %v", ct, err)
	}
	switch mt {
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/json",
		"application/x-json-stream", "text/plain":
		return ""
	}
	return fmt.Sprintf("unsupported Content-Type %q: send application/x-ndjson (one JSON event per line) or text/plain (syslog/CEF lines)", mt)
}

// body reads the whole request body, decompressing gzip. A truncated gzip
// stream is not an error: it returns what decompressed with truncated set,
// and split keeps the complete lines and rejects the partial last one.
func (h *Handler) body(w http.ResponseWriter, r *http.Request) (body []byte, truncated bool, err error) {
	var rd io.Reader = http.MaxBytesReader(w, r.Body, h.maxBody)
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, false, fmt.Errorf("gzip: %v", err)
		}
		rd = io.LimitReader(zr, h.maxBody+1)
	default:
		return nil, false, fmt.Errorf("unsupported Content-Encoding %q: use gzip or none", enc)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength < h.maxBody {
		buf.Grow(int(r.ContentLength) + 1)
	}
	_, err = buf.ReadFrom(rd)
	if int64(buf.Len()) > h.maxBody {
		return nil, false, fmt.Errorf("%w: over %d bytes after decompression; split it", errTooLarge, h.maxBody)
	}
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return nil, false, fmt.Errorf("%w: over %d bytes; split it", errTooLarge, h.maxBody)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gzip.ErrChecksum):
		return buf.Bytes(), true, nil
	case err != nil:
		return nil, false, fmt.Errorf("reading body: %v", err)
	}
	return buf.Bytes(), false, nil
}

// errTooLarge refuses a request body over MaxRequestBytes (HTTP 413).
var errTooLarge = errors.New("request body too large")

// split cuts body into lines, validates each, records rejects in res and
// returns the accepted lines (aliasing body).
func (h *Handler) split(body []byte, truncated bool, f format.Format, res *Result) [][]byte {
	if truncated {
		res.Note = "gzip stream truncated: complete lines before the break were processed"
	}
	lines := make([][]byte, 0, bytes.Count(body, []byte{'\n'})+1)
	c := h.pool.Get().(*checker)
	defer h.pool.Put(c)
	for n := 1; len(body) > 0; n++ {
		line, rest, complete := bytes.Cut(body, []byte{'\n'})
		body = rest
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if truncated && !complete {
			res.reject(n, "line cut off by the truncated gzip stream")
			continue
		}
		if reason := c.check(line, f); reason != "" {
			res.reject(n, reason)
			continue
		}
		lines = append(lines, line)
	}
	return lines
}

// checker validates lines; it keeps a parser and an event to reuse.
type checker struct {
	parser format.Parser
	ev     event.Event
}

// check validates one line's framing and returns the reason it is bad, or
// "". JSON lines are only checked for validity here (the pipeline maps
// them after the ack); syslog and CEF lines are parsed, which costs about
// as much as validating JSON.
func (c *checker) check(line []byte, f format.Format) string {
	if len(line) > MaxLineBytes {
		return fmt.Sprintf("line is %d bytes, over the %d-byte (1 MiB) limit", len(line), MaxLineBytes)
	}
	if bytes.IndexByte(line, 0) >= 0 {
		return "line contains a NUL byte"
	}
	if f == format.Auto {
		f = format.Sniff(line)
	}
	switch f {
	case format.Syslog, format.CEF:
		c.ev.Reset()
		if err := c.parser.Parse(f, line, &c.ev); err != nil {
			return err.Error()
		}
		return ""
	}
	if !validJSON(line) {
		return jsonReason(line)
	}
	if line[0] != '{' {
		return "not a JSON object: each line must be one event object"
	}
	return ""
}

// jsonReason explains why line is not valid JSON; only called on the
// (rare) reject path, so decoding twice does not matter.
func jsonReason(line []byte) string {
	var v any
	err := json.Unmarshal(line, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	if err != nil {
		return "invalid JSON: " + err.Error()
	}
	return "invalid JSON"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
