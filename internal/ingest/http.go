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

// DefaultMaxBody bounds one request body after decompression unless the
// configuration says otherwise.
const DefaultMaxBody = 64 << 20

// DefaultMaxInflight bounds concurrent ingest requests unless the
// configuration says otherwise.
const DefaultMaxInflight = 256

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

// Limits bound what the ingest handler holds at once.
type Limits struct {
	// MaxBody bounds one request body after decompression (413 past it);
	// 0 means DefaultMaxBody.
	MaxBody int64
	// MaxInflight bounds concurrent requests (429 past it); 0 means
	// DefaultMaxInflight.
	MaxInflight int
	// Budget bounds the memory request bodies hold, node-wide and per key
	// (503 past it); nil means a budget of four bodies, two per key.
	Budget *Budget
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
	budget  *Budget
	// blocks lends body blocks from one request to the next.
	blocks blockPool
}

// NewHandler returns the bulk ingest handler. member extracts the
// authenticated member id from a request (set by the API's authentication).
func NewHandler(a *Acceptor, member func(*http.Request) (string, bool), log *slog.Logger, lim Limits) *Handler {
	if lim.MaxInflight <= 0 {
		lim.MaxInflight = DefaultMaxInflight
	}
	if lim.MaxBody <= 0 {
		lim.MaxBody = DefaultMaxBody
	}
	if lim.Budget == nil {
		lim.Budget = NewBudget(4*(lim.MaxBody+1), 2*(lim.MaxBody+1))
	}
	return &Handler{
		acceptor: a, member: member, log: log,
		inflight: make(chan struct{}, lim.MaxInflight),
		pool:     sync.Pool{New: func() any { return new(checker) }},
		timeout:  30 * time.Second,
		maxBody:  lim.MaxBody,
		budget:   lim.Budget,
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
	hd := &hold{b: h.budget, key: member, pool: &h.blocks}
	defer hd.done()
	var res Result
	runs, err := h.take(w, r, hd, f, &res)
	switch {
	case errors.Is(err, errTooLarge):
		httpError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	case errors.Is(err, errBudget):
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, err.Error()+"; nothing was accepted, retry later or send smaller requests")
		return
	case err != nil:
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if res.Accepted > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
		err = h.acceptor.publish(ctx, member, f, runs, r.Header.Get("Idempotency-Key"))
		cancel()
		if err != nil {
			// A publish given up on (a deadline) may still be sent
			// from the blocks: they must not be lent again.
			hd.keep = true
			h.busError(w, member, err)
			return
		}
	}
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

// take reads the request body, decompressing gzip as it reads, checks
// its lines and returns the accepted ones as runs of bus messages. The
// body is read into blocks reserved from the budget — nothing is held that
// the budget did not grant — and lines are checked as each block fills;
// reading stops one byte past the size limit, whatever a gzip stream would
// inflate to. A truncated gzip stream is not an error: the complete lines
// before the break are kept and the cut one is rejected.
func (h *Handler) take(w http.ResponseWriter, r *http.Request, hd *hold, f format.Format, res *Result) ([]run, error) {
	var rd io.Reader = http.MaxBytesReader(w, r.Body, h.maxBody)
	hint := r.ContentLength
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, fmt.Errorf("gzip: %v", err)
		}
		rd = zr
		hint *= 4 // a first guess; reading grows it as needed
	default:
		return nil, fmt.Errorf("unsupported Content-Encoding %q: use gzip or none", enc)
	}
	c := h.pool.Get().(*checker)
	defer h.pool.Put(c)
	sp := splitter{c: c, f: f, res: res, n: 1, hd: hd}
	err := h.read(rd, hint, hd, &sp)
	if err == nil {
		err = sp.err
	}
	var maxErr *http.MaxBytesError
	switch {
	case errors.Is(err, errTooLarge), errors.Is(err, errBudget):
		return nil, err
	case errors.As(err, &maxErr):
		return nil, fmt.Errorf("%w: over %d bytes; split it", errTooLarge, h.maxBody)
	case err != nil:
		return nil, fmt.Errorf("reading body: %v", err)
	}
	return sp.runs, nil
}

// errTooLarge refuses a request body over the size limit (HTTP 413).
var errTooLarge = errors.New("request body too large")

// blockSize is the unit bodies are read in: room for the longest accepted
// line and for one bus message. A body costs its size plus at most one
// block; the blocks it fills are its runs' storage, never copied again.
const blockSize = maxBatchBytes

// minBodyBuffer is the first buffer of a body of unknown size; it doubles
// up to blockSize.
const minBodyBuffer = 64 << 10

// read reads rd to its end into blocks reserved from hd, handing each full
// block's complete lines to sp and carrying the cut last line over into the
// next block.
func (h *Handler) read(rd io.Reader, hint int64, hd *hold, sp *splitter) error {
	limit := min(int64(blockSize), h.maxBody+1)
	block, err := hd.alloc(min(max(hint+1, minBodyBuffer), limit))
	if err != nil {
		return err
	}
	var total int64
	for {
		n, err := rd.Read(block[len(block):cap(block)])
		block = block[:len(block)+n]
		if total += int64(n); total > h.maxBody {
			return fmt.Errorf("%w: over %d bytes after decompression; split it", errTooLarge, h.maxBody)
		}
		switch {
		case err == io.EOF:
			sp.last(block, false)
			return nil
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gzip.ErrChecksum):
			sp.last(block, true)
			return nil
		case err != nil:
			return err
		case len(block) < cap(block):
			continue
		}
		var next []byte
		if int64(cap(block)) < limit { // the first block, still growing
			if next, err = hd.alloc(min(2*int64(cap(block)), limit)); err != nil {
				return err
			}
			next = append(next, block...)
			hd.free(block)
			block = next
			continue
		}
		if next, err = hd.alloc(limit); err != nil {
			return err
		}
		block = append(next, sp.full(block)...)
	}
}

// splitter checks the lines of a body block by block, records accepted and
// rejected lines in res, and moves the accepted lines of each block to its
// front, each ending in a newline, cut into runs of one bus message each.
// It keeps nothing per line, so a body of a million tiny lines costs no
// more memory than its bytes.
type splitter struct {
	c    *checker
	f    format.Format
	res  *Result
	n    int // the number of the next line, from 1
	over int // bytes so far of a line too long for a block; 0 if none
	runs []run

	// Zeek TSV logs (see zeekTSV) are converted to JSON lines, which do
	// not fit in place: they go to side blocks reserved from hd, each
	// cut into runs like the body's blocks. err is the reservation that
	// failed.
	hd        *hold
	tsv       *zeekTSV
	side      []byte
	sideStart int
	sideLines int
	scratch   []byte
	err       error
}

// full takes a full block: it checks the complete lines and returns the
// cut last line, to be carried over into the next block.
func (s *splitter) full(block []byte) []byte {
	data := s.skip(block)
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 && len(data) == len(block) {
		// A line fills the block: it is far over MaxLineBytes.
		s.over = len(data)
		return nil
	}
	s.lines(data[:end+1], false)
	return data[end+1:]
}

// last takes the final block; truncated says the body was cut off.
func (s *splitter) last(block []byte, truncated bool) {
	if truncated {
		s.res.Note = "gzip stream truncated: complete lines before the break were processed"
	}
	data := s.skip(block)
	if s.over > 0 {
		s.tooLong()
		return
	}
	s.lines(data, truncated)
}

// skip passes over the rest of a line too long for a block, returning what
// follows it.
func (s *splitter) skip(block []byte) []byte {
	if s.over == 0 {
		return block
	}
	i := bytes.IndexByte(block, '\n')
	if i < 0 {
		s.over += len(block)
		return block[len(block):]
	}
	s.over += i
	s.tooLong()
	return block[i+1:]
}

func (s *splitter) tooLong() {
	s.res.reject(s.n, fmt.Sprintf("line is %d bytes, over the %d-byte (1 MiB) limit", s.over, MaxLineBytes))
	s.n++
	s.over = 0
}

// lines checks the lines of data and moves the accepted ones to its front
// as runs. The last line may lack its newline; it gets one if data has
// room after it (a body that ends exactly at its buffer's end keeps it
// without).
func (s *splitter) lines(data []byte, truncated bool) {
	// out grows over data's front: every accepted line moves to an offset
	// at or before its own, so copying never overwrites unread input.
	out := data[:0:cap(data)]
	start, lines := 0, 0
	closeRun := func() {
		if lines > 0 {
			s.runs = append(s.runs, run{data: out[start:len(out):len(out)], lines: lines})
			start, lines = len(out), 0
		}
	}
	for ; len(data) > 0 && s.err == nil; s.n++ {
		line, rest, complete := bytes.Cut(data, []byte{'\n'})
		data = rest
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if truncated && !complete {
			s.res.reject(s.n, "line cut off by the truncated gzip stream")
			continue
		}
		if s.tsv == nil && zeekHeader(line, s.f) {
			s.tsv = new(zeekTSV)
			s.tsv.reset()
		}
		if s.tsv != nil && line[0] == '#' {
			if reason := s.tsv.header(line); reason != "" {
				s.res.reject(s.n, reason)
			}
			continue
		}
		if s.tsv != nil && s.tsv.open {
			closeRun()
			s.zeekLine(line)
			continue
		}
		if reason := s.c.check(line, s.f); reason != "" {
			s.res.reject(s.n, reason)
			continue
		}
		s.closeSide()
		if lines > 0 && (len(out)-start+len(line)+1 > maxBatchBytes || lines >= maxBatchLines) {
			closeRun()
		}
		out = append(out, line...)
		if len(out) < cap(out) {
			out = append(out, '\n')
		}
		lines++
		s.res.Accepted++
	}
	closeRun()
	s.closeSide()
}

// zeekLine converts a data line of a Zeek TSV log to JSON and adds it to
// the side block.
func (s *splitter) zeekLine(line []byte) {
	js, err := s.tsv.convert(s.scratch[:0], line)
	s.scratch = js[:0]
	if err != nil {
		s.res.reject(s.n, err.Error())
		return
	}
	if reason := s.c.check(js, format.Zeek); reason != "" {
		s.res.reject(s.n, "as Zeek JSON: "+reason)
		return
	}
	if s.sideLines >= maxBatchLines || len(s.side)+len(js)+1 > cap(s.side) {
		s.closeSide()
	}
	if len(s.side)+len(js)+1 > cap(s.side) {
		side, err := s.hd.alloc(max(blockSize, int64(len(js)+1)))
		if err != nil {
			s.err = err
			return
		}
		s.side, s.sideStart = side, 0
	}
	s.side = append(append(s.side, js...), '\n')
	s.sideLines++
	s.res.Accepted++
}

// closeSide ends the run of converted lines being filled, if any.
func (s *splitter) closeSide() {
	if s.sideLines > 0 {
		s.runs = append(s.runs, run{data: s.side[s.sideStart:len(s.side):len(s.side)], lines: s.sideLines})
		s.sideStart, s.sideLines = len(s.side), 0
	}
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
	if f == format.Auto {
		f = framing(line)
	}
	switch f {
	case format.Syslog, format.CEF:
		if bytes.IndexByte(line, 0) >= 0 {
			return errNUL
		}
		c.ev.Reset()
		if err := c.parser.Parse(f, line, &c.ev); err != nil {
			return err.Error()
		}
		return ""
	}
	if !validJSON(line) {
		// Valid JSON holds no NUL byte (not even in a string, where it
		// is a control character), so looking for one can wait until
		// the line is bad anyway.
		if bytes.IndexByte(line, 0) >= 0 {
			return errNUL
		}
		return jsonReason(line)
	}
	if line[0] != '{' {
		return "not a JSON object: each line must be one event object"
	}
	return ""
}

// errNUL is the reason a line holding a NUL byte is rejected.
const errNUL = "line contains a NUL byte"

// framing returns the format a line is checked as when the request names
// none: ECS for JSON (every JSON format is checked alike: for validity
// only), else what format.Sniff says (syslog or CEF). It decides JSON by
// the first byte, as Sniff does, without Sniff's scan of a JSON line's
// member names for the mapping to use — which the pipeline does again
// after the ack anyway, and which cost as much as validating the line.
func framing(line []byte) format.Format {
	s := bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n') {
		s = s[1:]
	}
	if len(s) > 0 && (s[0] == '{' || s[0] == '[') {
		return format.ECS
	}
	return format.Sniff(line)
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
