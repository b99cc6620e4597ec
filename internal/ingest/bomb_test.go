package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/xsoc/xsoc/internal/ingest/format"
)

// bombMember is one gzip member inflating to 4 MiB of valid event lines
// (the worst case: every line is kept until the request ends); gzip
// readers read concatenated members as one stream, so n copies inflate to
// n × 4 MiB.
func bombMember(t testing.TB) []byte {
	t.Helper()
	line := `{"message":"` + strings.Repeat("a", 1000) + `"}` + "\n"
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write(bytes.Repeat([]byte(line), 4<<20/len(line)))
	w.Close()
	return b.Bytes()
}

// heapSys is the heap memory the runtime holds from the operating system.
// It never shrinks (released pages stay counted), so its growth over a
// request is the most the request made the heap grow.
func heapSys() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapSys
}

func quietHandler(b Publisher, member func(*http.Request) (string, bool), lim Limits) *Handler {
	return NewHandler(NewAcceptor(b), member, slog.New(slog.NewTextHandler(io.Discard, nil)), lim)
}

func TestGzipBombIsRefusedWithoutGrowingTheHeap(t *testing.T) {
	member := bombMember(t)
	bomb := bytes.Repeat(member, 256) // 1 GiB inflated
	t.Logf("bomb: %d bytes inflating to 1 GiB", len(bomb))
	h := quietHandler(openBus(t, 0), func(*http.Request) (string, bool) { return "m1", true }, Limits{})
	before := heapSys()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", bytes.NewReader(bomb))
	req.Header.Set("Content-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	grown := int64(heapSys() - before)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("gzip bomb answered %d: %s", rec.Code, rec.Body)
	}
	// The body and one block being read, and the first buffers that
	// doubled up to a block.
	if limit := int64(DefaultMaxBody + 2*blockSize); grown > limit {
		t.Errorf("heap grew by %d MiB for one refused bomb; the cap is %d MiB", grown>>20, DefaultMaxBody>>20)
	}
	if used := h.budget.Used(); used != 0 {
		t.Errorf("budget holds %d bytes after the request", used)
	}
	t.Logf("heap grew by %d MiB", grown>>20)
}

// gatedReader serves data up to gate bytes, then waits for open to close.
type gatedReader struct {
	data    []byte
	gate    int
	reached func()
	open    <-chan struct{}
	once    sync.Once
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if len(g.data) == 0 {
		return 0, io.EOF
	}
	if g.gate <= 0 {
		g.once.Do(g.reached)
		<-g.open
		g.gate = len(g.data)
	}
	n := copy(p[:min(len(p), g.gate)], g.data)
	g.data, g.gate = g.data[n:], g.gate-n
	return n, nil
}

func TestConcurrentGzipBombsStayWithinTheBudget(t *testing.T) {
	const maxBody = 16 << 20
	budget := NewBudget(64<<20, 40<<20)
	h := quietHandler(openBus(t, 0), func(r *http.Request) (string, bool) { return r.Header.Get("Member"), true },
		Limits{MaxBody: maxBody, Budget: budget})
	member := bombMember(t)
	bomb := bytes.Repeat(member, 64) // 256 MiB inflated
	before := heapSys()

	// Eight bombs of one key stop after 12 MiB inflated until all of them
	// are in flight (or refused), so that they overlap for certain.
	const bombs = 8
	open := make(chan struct{})
	var parked, finished sync.WaitGroup
	parked.Add(bombs)
	codes := make([]*httptest.ResponseRecorder, bombs)
	for i := range bombs {
		finished.Add(1)
		var once sync.Once
		park := func() { once.Do(parked.Done) }
		go func() {
			defer finished.Done()
			defer park()
			req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest",
				&gatedReader{data: bomb, gate: 3 * len(member), reached: park, open: open})
			req.Header.Set("Content-Encoding", "gzip")
			req.Header.Set("Member", "m1")
			codes[i] = httptest.NewRecorder()
			h.ServeHTTP(codes[i], req)
		}()
	}
	parked.Wait()
	// While m1's bombs hold its share, another member still gets in.
	good := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", strings.NewReader(`{"message":"hello"}`+"\n"))
	good.Header.Set("Member", "m2")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, good)
	if rec.Code != http.StatusOK {
		t.Errorf("another member's request answered %d while one member's bombs were in flight: %s", rec.Code, rec.Body)
	}
	close(open)
	finished.Wait()
	grown := int64(heapSys() - before)

	refused := 0
	for _, rec := range codes {
		switch rec.Code {
		case http.StatusRequestEntityTooLarge:
		case http.StatusServiceUnavailable:
			refused++
			if rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "budget") {
				t.Errorf("503 without Retry-After or reason: %s", rec.Body)
			}
		default:
			t.Errorf("bomb answered %d: %s", rec.Code, rec.Body)
		}
	}
	if refused == 0 {
		t.Errorf("no bomb was refused for the budget")
	}
	if grown > 64<<20+8<<20 {
		t.Errorf("heap grew by %d MiB under %d concurrent bombs; the budget is 64 MiB", grown>>20, bombs)
	}
	if used := budget.Used(); used != 0 {
		t.Errorf("budget holds %d bytes after every request ended", used)
	}
	t.Logf("%d of %d bombs refused for the budget, the rest 413; heap grew by %d MiB", refused, bombs, grown>>20)
}

// splitBody reads body as a request body and returns its runs.
func splitBody(h *Handler, body []byte, f format.Format, res *Result) ([]run, error) {
	hd := &hold{b: h.budget, key: "m1"}
	defer hd.done()
	sp := splitter{c: new(checker), f: f, res: res, n: 1, hd: hd}
	err := h.read(bytes.NewReader(body), int64(len(body)), hd, &sp)
	if err == nil {
		err = sp.err
	}
	return sp.runs, err
}

func TestSplitMovesLinesIntoRuns(t *testing.T) {
	good := `{"a":1}`
	long := `{"a":"` + strings.Repeat("x", blockSize) + `"}`
	tests := []struct {
		name, body string
		want       []string // run contents
		rejected   []int    // line numbers
	}{
		{"no trailing newline", good + "\n" + good, []string{good + "\n" + good + "\n"}, nil},
		{"crlf and blanks", good + "\r\n\r\n  \n" + good + "\r\n", []string{good + "\n" + good + "\n"}, nil},
		{"reject in between", good + "\n{bad\n" + good, []string{good + "\n" + good + "\n"}, []int{2}},
		{"line longer than a block", good + "\n" + long + "\n" + good + "\n", []string{good + "\n", good + "\n"}, []int{2}},
		{"line longer than a block, last", good + "\n" + long, []string{good + "\n"}, []int{2}},
		{"lines across blocks", strings.Repeat(good+"\n", 2*blockSize/len(good)),
			[]string{strings.Repeat(good+"\n", maxBatchLines)}, nil},
	}
	h := quietHandler(nil, nil, Limits{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res Result
			runs, err := splitBody(h, []byte(tt.body), "", &res)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			lines := 0
			for _, r := range runs {
				got = append(got, string(r.data))
				lines += r.lines
			}
			if strings.HasPrefix(tt.name, "lines across blocks") {
				// Every line arrives, in runs of maxBatchLines.
				if lines != strings.Count(tt.body, "\n") || got[0] != tt.want[0] || strings.Join(got, "") != tt.body {
					t.Errorf("%d lines in %d runs, want %d", lines, len(runs), strings.Count(tt.body, "\n"))
				}
			} else if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("runs %.80q, want %.80q", got, tt.want)
			}
			var rejected []int
			for _, e := range res.Errors {
				rejected = append(rejected, e.Line)
			}
			if fmt.Sprint(rejected) != fmt.Sprint(tt.rejected) {
				t.Errorf("rejected lines %v, want %v (%+v)", rejected, tt.rejected, res.Errors)
			}
		})
	}
}

// TestPooledBlocksCarryOnlyTheirRequest: a request read into a block an
// earlier, longer request used stores its own lines and nothing of the
// earlier one's.
func TestPooledBlocksCarryOnlyTheirRequest(t *testing.T) {
	b := openBus(t, 0)
	h := quietHandler(b, func(*http.Request) (string, bool) { return "m1", true }, Limits{})
	long := strings.Repeat(`{"first":"`+strings.Repeat("x", 1000)+`"}`+"\n", 200)
	var second []string
	for i := range 150 {
		second = append(second, fmt.Sprintf(`{"second":%d,"pad":"%s"}`, i, strings.Repeat("y", 900)))
	}
	short := strings.Join(second, "\n") // no newline at the end
	c1, _ := blockClass(int64(len(long) + 1))
	c2, _ := blockClass(int64(len(short) + 1))
	if c1 < 0 || c1 != c2 {
		t.Fatalf("the bodies' blocks are of size classes %d and %d, not one", c1, c2)
	}
	for _, body := range []string{long, short} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/ingest", strings.NewReader(body)))
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	stored := storedLines(t, b)
	if len(stored) != 200+len(second) || strings.Join(stored[200:], "\n") != short {
		t.Errorf("%d lines stored, the last %.80q", len(stored), stored[len(stored)-1])
	}
}

// failing is a Publisher whose publishes never finish in time.
type failing struct{}

func (failing) Publish(context.Context, string, nats.Header, []byte, string) (uint64, error) {
	return 0, context.DeadlineExceeded
}

// TestUnfinishedPublishKeepsItsBlocks: the blocks of a request whose
// publish failed may still be read by the bus client; they are not lent
// to the next request.
func TestUnfinishedPublishKeepsItsBlocks(t *testing.T) {
	h := quietHandler(failing{}, func(*http.Request) (string, bool) { return "m1", true }, Limits{})
	body := strings.Repeat(`{"a":1}`+"\n", 100)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/ingest", strings.NewReader(body)))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	for i := range blockClasses {
		if p := h.blocks.classes[i].Get(); p != nil {
			t.Errorf("a block of class %d went back to the pool", i)
		}
	}
	if used := h.budget.Used(); used != 0 {
		t.Errorf("budget holds %d bytes after the request", used)
	}
}
