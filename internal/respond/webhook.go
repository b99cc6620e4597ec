package respond

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers xsoc sets on every webhook request.
const (
	// HeaderTimestamp carries the Unix time (seconds) of the attempt.
	HeaderTimestamp = "X-Xsoc-Timestamp"
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of
	// "<timestamp>.<body>" under the playbook's secret.
	HeaderSignature = "X-Xsoc-Signature"
	// HeaderDelivery is the same for every attempt of one delivery;
	// receivers drop repeats with it.
	HeaderDelivery = "X-Xsoc-Delivery"
	// HeaderPlaybook names the playbook that sent the request.
	HeaderPlaybook = "X-Xsoc-Playbook"
)

// webhookRequest is a webhook rendered for one alert, as stored in the
// outbox.
type webhookRequest struct {
	URL     string        `json:"url"`
	Method  string        `json:"method"`
	Headers [][2]string   `json:"headers,omitempty"`
	Body    string        `json:"body"`
	Timeout time.Duration `json:"timeout"`
}

// Sign returns the X-Xsoc-Signature value for a body sent at timestamp
// (the X-Xsoc-Timestamp value): "sha256=" followed by the hex HMAC-SHA256
// of timestamp, ".", body. The timestamp is signed so that a receiver can
// refuse old requests replayed by someone who captured one; receivers
// should compare with hmac.Equal and reject timestamps more than a few
// minutes old.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (r *Responder) sendWebhook(ctx context.Context, d Delivery, w *webhookRequest) result {
	pb, ok := r.set.Load().byName[d.Playbook]
	if !ok || len(pb.secret) == 0 {
		// Perhaps playbooks are not loaded yet after a restart: retry.
		return result{err: fmt.Errorf("playbook %q is not loaded, so there is no secret to sign with", d.Playbook)}
	}
	timeout := w.Timeout
	if timeout <= 0 || timeout > maxActionTimeout {
		timeout = defaultActionTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body := []byte(w.Body)
	req, err := http.NewRequestWithContext(ctx, w.Method, w.URL, bytes.NewReader(body))
	if err != nil {
		return result{err: err, permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "xsoc-respond")
	for _, h := range w.Headers {
		req.Header.Set(h[0], h[1])
	}
	ts := strconv.FormatInt(r.opts.Now().Unix(), 10)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(pb.secret, ts, body))
	req.Header.Set(HeaderDelivery, strconv.FormatInt(d.ID, 10))
	req.Header.Set(HeaderPlaybook, d.Playbook)
	resp, err := r.opts.HTTPClient.Do(req)
	if err != nil {
		return result{err: err}
	}
	// Read a little of the body: it explains failures, and draining lets
	// the connection be reused.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return classifyHTTP(resp.StatusCode, resp.Header.Get("Retry-After"), strings.TrimSpace(string(snippet)), r.opts.Now())
}

// classifyHTTP decides what a webhook answer means: 2xx is delivered; 408,
// 429 and 5xx are worth retrying (after Retry-After if given); any other
// answer is a request the target will never accept.
func classifyHTTP(status int, retryAfter, snippet string, now time.Time) result {
	if status >= 200 && status < 300 {
		return result{}
	}
	err := fmt.Errorf("HTTP %d", status)
	if snippet != "" {
		err = fmt.Errorf("HTTP %d: %s", status, snippet)
	}
	if status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 {
		wait, _ := parseRetryAfter(retryAfter, now)
		return result{err: err, retryAfter: wait}
	}
	return result{err: err, permanent: true}
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
// It returns 0 and false when the value is absent or malformed, and 0 and
// true for a date already past.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Clamp before multiplying so a huge value cannot overflow.
		return time.Duration(min(secs, int64(366*24*3600))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
