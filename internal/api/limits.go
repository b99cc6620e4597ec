package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits are the API's per-key rate limits and per-request bounds.
type Limits struct {
	// IngestRate and IngestBurst are each key's token bucket for bulk
	// ingest requests: requests per second, and how many may come at once.
	IngestRate  float64
	IngestBurst int
	// APIRate and APIBurst are each key's token bucket for every other
	// request.
	APIRate  float64
	APIBurst int
	// MaxBody bounds the body of a request other than bulk ingest (which
	// has its own limits).
	MaxBody int64
	// MaxPage bounds the limit parameter of list and search requests.
	MaxPage int
	// MaxRange bounds the from..to span of a hunting query.
	MaxRange time.Duration
}

// Limiter holds each key's token buckets. One Limiter serves every way
// in — REST, TAXII, the console — so that a key (or a console user) has
// one budget whichever it uses.
type Limiter struct {
	lim     Limits
	mu      sync.Mutex
	buckets map[string]*rate.Limiter // by key id and class
}

// NewLimiter returns the token buckets for lim.
func NewLimiter(lim Limits) *Limiter {
	return &Limiter{lim: lim, buckets: map[string]*rate.Limiter{}}
}

// Limit wraps next, the authenticated routes, so that each API key gets
// its token buckets (429 with Retry-After when one is empty) and no
// request asks for more than the bounds allow (413 for a body, 400 for a
// page or a time range, each with the bound in the message).
func Limit(lim Limits, next http.Handler) http.Handler { return NewLimiter(lim).Handler(next) }

// Handler is Limit on l's buckets.
func (l *Limiter) Handler(next http.Handler) http.Handler {
	lim := l.lim
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ingest := r.URL.Path == "/api/v1/ingest"
		if wait, ok := l.take(r, ingest); !ok {
			w.Header().Set("Retry-After", RetryAfter(wait))
			Error(w, http.StatusTooManyRequests, l.Refusal(ingest, wait))
			return
		}
		if !ingest {
			if msg, status := l.check(r); msg != "" {
				Error(w, status, msg)
				return
			}
			if r.Body != nil && lim.MaxBody > 0 {
				r.Body = http.MaxBytesReader(w, r.Body, lim.MaxBody)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// RetryAfter renders a wait as a Retry-After value: whole seconds,
// rounded up.
func RetryAfter(wait time.Duration) string { return strconv.Itoa(int(math.Ceil(wait.Seconds()))) }

// Refusal is the message of a 429: the limit reached and the wait.
func (l *Limiter) Refusal(ingest bool, wait time.Duration) string {
	return fmt.Sprintf("rate limit of this API key (or console user) reached (%s); retry after %s", l.describe(ingest), wait.Round(time.Millisecond))
}

// take spends a token of the request's key, or says how long until one
// is there.
func (l *Limiter) take(r *http.Request, ingest bool) (time.Duration, bool) {
	p, ok := PrincipalFrom(r.Context())
	if !ok {
		return 0, true
	}
	return l.Take(p.KeyID, ingest)
}

// Take spends a token of the bucket of who (a key id, or "user:<name>"
// for a console session) — the ingest bucket or the one for every other
// request — or says how long until one is there.
func (l *Limiter) Take(who string, ingest bool) (time.Duration, bool) {
	limit, burst, class := l.lim.APIRate, l.lim.APIBurst, "api/"
	if ingest {
		limit, burst, class = l.lim.IngestRate, l.lim.IngestBurst, "ingest/"
	}
	if limit <= 0 {
		return 0, true
	}
	l.mu.Lock()
	b := l.buckets[class+who]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(limit), max(burst, 1))
		l.buckets[class+who] = b
	}
	l.mu.Unlock()
	res := b.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return max(d, time.Second), false
	}
	return 0, true
}

func (l *Limiter) describe(ingest bool) string {
	if ingest {
		return fmt.Sprintf("%g ingest requests a second, %d at once", l.lim.IngestRate, l.lim.IngestBurst)
	}
	return fmt.Sprintf("%g requests a second, %d at once", l.lim.APIRate, l.lim.APIBurst)
}

// check applies the per-request bounds: body size, page size, and the
// time range of hunting queries.
func (l *Limiter) check(r *http.Request) (string, int) {
	if l.lim.MaxBody > 0 && r.ContentLength > l.lim.MaxBody {
		return fmt.Sprintf("request body of %d bytes is over the %d-byte limit", r.ContentLength, l.lim.MaxBody), http.StatusRequestEntityTooLarge
	}
	if l.lim.MaxPage > 0 {
		if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > l.lim.MaxPage {
			return fmt.Sprintf("query parameter limit: %d is over the largest page, %d; page with the cursor instead", n, l.lim.MaxPage), http.StatusBadRequest
		}
	}
	if l.lim.MaxRange > 0 && strings.HasPrefix(r.URL.Path, "/api/v1/events") {
		from, err1 := QueryTime(r, "from")
		to, err2 := QueryTime(r, "to")
		if err1 == nil && err2 == nil && !from.IsZero() {
			if to.IsZero() {
				to = time.Now()
			}
			if to.Sub(from) > l.lim.MaxRange {
				return fmt.Sprintf("time range of %s is over the largest, %s; split the query", to.Sub(from).Round(time.Second), l.lim.MaxRange), http.StatusBadRequest
			}
		}
	}
	return "", 0
}
