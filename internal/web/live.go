package web

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/api"
)

// liveAlert is what the live stream sends of an alert: enough for a row
// of the dashboard's stream and its counters; the page fetches the rest
// when the alert is opened.
type liveAlert struct {
	ID         string         `json:"id"`
	Member     string         `json:"member"`
	Detected   time.Time      `json:"detected"`
	EventTime  time.Time      `json:"event_time"`
	Detector   string         `json:"detector"`
	RuleTitle  string         `json:"rule_title"`
	Severity   alert.Severity `json:"severity"`
	Techniques []string       `json:"techniques,omitempty"`
	Count      int            `json:"count"`
	Status     alert.Status   `json:"status"`
	Incident   string         `json:"incident,omitempty"`
	TLP        string         `json:"tlp"`
}

// subscriber is one open stream: the viewer it filters for and a bounded
// queue. A stream that cannot keep up loses alerts rather than holding up
// detection, and is told so.
type subscriber struct {
	viewer alert.Viewer
	queue  chan liveAlert
	mu     sync.Mutex
	lost   int
}

// queueLen bounds each stream's backlog: ten seconds at 1,000 alerts a
// second would be more than a page shows, and a stalled browser must not
// grow the process.
const queueLen = 4096

// hub fans alerts out to the open streams.
type hub struct {
	mu   sync.RWMutex
	subs map[*subscriber]struct{}
}

func newHub() *hub { return &hub{subs: map[*subscriber]struct{}{}} }

// publish hands an alert to every stream whose viewer may see it. It runs
// on the alert service's goroutine, so it never blocks.
func (h *hub) publish(a alert.Alert) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.subs) == 0 {
		return
	}
	la := liveAlert{ID: a.ID, Member: a.Member, Detected: a.Detected, EventTime: a.EventTime, Detector: a.Detector,
		RuleTitle: a.RuleTitle, Severity: a.Severity, Techniques: a.Techniques, Count: a.Count,
		Status: a.Status, Incident: a.Incident, TLP: a.TLP.String()}
	for s := range h.subs {
		if !s.viewer.MaySee(&a) {
			continue
		}
		select {
		case s.queue <- la:
		default:
			s.mu.Lock()
			s.lost++
			s.mu.Unlock()
		}
	}
}

func (h *hub) subscribe(v alert.Viewer) *subscriber {
	s := &subscriber{viewer: v, queue: make(chan liveAlert, queueLen)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// streamBatch is how long the stream gathers alerts before sending them
// as one event: at 1,000 alerts a second the page then handles four
// updates a second, not a thousand.
const streamBatch = 250 * time.Millisecond

// stream serves the live alert stream as server-sent events: "alerts"
// events carrying a JSON array, "lost" when alerts were dropped for a
// slow reader, and a comment every 15 s to keep proxies from closing it.
func (c *Console) stream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		api.Error(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	p, _ := api.PrincipalFrom(r.Context())
	sub := c.live.subscribe(api.Viewer(p))
	defer c.live.unsubscribe(sub)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("retry: 3000\n\n"))
	fl.Flush()
	expires := sessionFrom(r.Context()).Expires
	tick := time.NewTicker(streamBatch)
	defer tick.Stop()
	keepAlive := time.Now()
	var batch []liveAlert
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.done:
			return
		case a := <-sub.queue:
			batch = append(batch, a)
			continue
		case now := <-tick.C:
			if now.After(expires) {
				// The session may have ended; the browser reconnects and
				// is told whether it still holds one.
				w.Write([]byte("event: session\ndata: {}\n\n"))
				fl.Flush()
				return
			}
			sub.mu.Lock()
			lost := sub.lost
			sub.lost = 0
			sub.mu.Unlock()
			if lost > 0 {
				w.Write([]byte("event: lost\ndata: " + itoa(lost) + "\n\n"))
			}
			if len(batch) > 0 {
				data, _ := json.Marshal(batch)
				w.Write([]byte("event: alerts\ndata: "))
				w.Write(data)
				w.Write([]byte("\n\n"))
				batch = batch[:0]
			} else if now.Sub(keepAlive) < 15*time.Second && lost == 0 {
				continue
			} else if lost == 0 {
				w.Write([]byte(": keep-alive\n\n"))
			}
			keepAlive = now
			fl.Flush()
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
