package web

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/user"
)

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// browser is an HTTP client with a cookie jar, as a browser keeps them.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string
}

func newBrowser(t testing.TB, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var tokenField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login fills in the login form and returns the answer's status.
func (b *browser) login(name, pw string) *http.Response {
	b.t.Helper()
	page := b.do("GET", "/login", "", nil)
	m := tokenField.FindStringSubmatch(read(page))
	if m == nil {
		b.t.Fatal("login page has no CSRF field")
	}
	form := url.Values{"user": {name}, "password": {pw}, "csrf": {m[1]}}
	resp := b.do("POST", "/login", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode == http.StatusSeeOther {
		var s struct{ CSRF string }
		json.Unmarshal([]byte(read(b.do("GET", "/web/session", "", nil))), &s)
		b.csrf = s.CSRF
	}
	return resp
}

func (b *browser) do(method, path, body string, hdr map[string]string) *http.Response {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp
}

// call makes an API call as the page does, with the CSRF token.
func (b *browser) call(method, path, body string) (int, string) {
	resp := b.do(method, path, body, map[string]string{csrfHeader: b.csrf, "Content-Type": "application/json"})
	return resp.StatusCode, read(resp)
}

func read(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestLoginAndSession(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, user.Options{})
		b := newBrowser(t, f.srv.URL)
		if resp := b.do("GET", "/", "", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Fatalf("GET / without a session: %s to %q, want 303 to /login", resp.Status, resp.Header.Get("Location"))
		}
		if resp := b.login("ana@fr-soc", "not the password"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password: %s", resp.Status)
		}
		resp := b.login("ana@fr-soc", testPassword)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %s %s", resp.Status, read(resp))
		}
		var session *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "xsoc_session" && c.Value != "" {
				session = c
			}
		}
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
			t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict", session)
		}
		if b.csrf == "" {
			t.Fatal("no CSRF token from /web/session")
		}
		page := b.do("GET", "/", "", nil)
		if page.StatusCode != http.StatusOK || !strings.Contains(page.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("GET / logged in: %s, CSP %q", page.Status, page.Header.Get("Content-Security-Policy"))
		}
		read(page)
		if code, body := b.call("GET", "/api/v1/me", ""); code != http.StatusOK || !strings.Contains(body, `"fr-soc"`) {
			t.Fatalf("/api/v1/me: %d %s", code, body)
		}
		if code, _ := b.call("POST", "/logout", ""); code != http.StatusOK {
			t.Fatalf("logout: %d", code)
		}
		if code, _ := b.call("GET", "/api/v1/me", ""); code != http.StatusUnauthorized {
			t.Fatalf("after logout: %d, want 401", code)
		}
	})
}

func TestLoginCSRF(t *testing.T) {
	f := newFixture(t, sqlite(t), user.Options{})
	b := newBrowser(t, f.srv.URL)
	read(b.do("GET", "/login", "", nil))
	form := url.Values{"user": {"ana@fr-soc"}, "password": {testPassword}, "csrf": {"forged"}}
	resp := b.do("POST", "/login", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login with a forged form token: %s", resp.Status)
	}
}

func TestRolesAndCSRF(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, user.Options{})
		raised := f.campaign(t, "beacon", time.Now().Add(-time.Minute))
		fr := raised[0].ID
		tests := []struct {
			name, login, method, path, body, csrf string
			want                                  int
		}{
			{"viewer reads", "vic@fr-soc", "GET", "/api/v1/alerts/" + fr, "", "", 200},
			{"viewer may not acknowledge", "vic@fr-soc", "POST", "/api/v1/alerts/" + fr + "/ack", "", "ok", 403},
			{"analyst without CSRF token", "ana@fr-soc", "POST", "/api/v1/alerts/" + fr + "/ack", "", "", 403},
			{"analyst with a forged CSRF token", "ana@fr-soc", "POST", "/api/v1/alerts/" + fr + "/ack", "", "forged", 403},
			{"analyst acknowledges", "ana@fr-soc", "POST", "/api/v1/alerts/" + fr + "/ack", "", "ok", 200},
			{"analyst of another member cannot act on it", "ana@nl-bank", "POST", "/api/v1/alerts/" + fr + "/close", "", "ok", 403},
			{"analyst may not change sharing", "ana@fr-soc", "POST", "/api/v1/members/fr-soc/alert-tlp", `{"tlp":"TLP:AMBER"}`, "ok", 403},
			{"admin changes sharing", "adm@fr-soc", "POST", "/api/v1/members/fr-soc/alert-tlp", `{"tlp":"TLP:GREEN"}`, "ok", 200},
			{"admin is not an operator", "adm@fr-soc", "GET", "/api/v1/members", "", "", 403},
			{"platform admin lists members", "ops", "GET", "/api/v1/members", "", "", 200},
			{"platform admin sees users", "ops", "GET", "/web/users", "", "", 200},
			{"viewer may not list users", "vic@fr-soc", "GET", "/web/users", "", "", 403},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				b := newBrowser(t, f.srv.URL)
				if resp := b.login(tc.login, testPassword); resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("login %s: %s", tc.login, resp.Status)
				}
				hdr := map[string]string{"Content-Type": "application/json"}
				switch tc.csrf {
				case "ok":
					hdr[csrfHeader] = b.csrf
				case "":
				default:
					hdr[csrfHeader] = tc.csrf
				}
				resp := b.do(tc.method, tc.path, tc.body, hdr)
				body := read(resp)
				if resp.StatusCode != tc.want {
					t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.want)
				}
				if resp.StatusCode == 403 && !strings.Contains(body, `"error"`) {
					t.Fatalf("403 without a message: %s", body)
				}
			})
		}
	})
}

func TestVisibility(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, user.Options{})
		raised := f.campaign(t, "beacon", time.Now().Add(-time.Minute))
		de := raised[2]
		if de.Member != "de-energie" || de.TLP.String() != "TLP:AMBER+STRICT" {
			t.Fatalf("fixture: %s at %s", de.Member, de.TLP)
		}
		for _, tc := range []struct {
			login string
			sees  bool
		}{{"ana@fr-soc", false}, {"vic@fr-soc", false}, {"vic@de-energie", true}, {"ops", true}} {
			b := newBrowser(t, f.srv.URL)
			b.login(tc.login, testPassword)
			code, list := b.call("GET", "/api/v1/alerts?limit=1000", "")
			if code != 200 {
				t.Fatalf("%s: list %d", tc.login, code)
			}
			if got := strings.Contains(list, de.ID); got != tc.sees {
				t.Errorf("%s sees the AMBER+STRICT alert in the list: %v, want %v", tc.login, got, tc.sees)
			}
			code, _ = b.call("GET", "/api/v1/alerts/"+de.ID, "")
			if (code == 200) != tc.sees {
				t.Errorf("%s opens the AMBER+STRICT alert: %d", tc.login, code)
			}
			code, sum := b.call("GET", "/web/summary", "")
			var s summary
			json.Unmarshal([]byte(sum), &s)
			want := 2
			if tc.sees {
				want = 3
			}
			if tc.login == "vic@de-energie" {
				want = 3 // its own, and the two shared at TLP:CLEAR
			}
			if code != 200 || s.Total != want {
				t.Errorf("%s: summary %d total %d, want %d", tc.login, code, s.Total, want)
			}
		}
	})
}

func TestExpiredSession(t *testing.T) {
	c := &clock{t: time.Now()}
	f := newFixture(t, sqlite(t), user.Options{Idle: time.Minute, Absolute: time.Hour, Now: c.now})
	b := newBrowser(t, f.srv.URL)
	b.login("ana@fr-soc", testPassword)
	if code, _ := b.call("GET", "/api/v1/me", ""); code != 200 {
		t.Fatalf("fresh session: %d", code)
	}
	c.advance(2 * time.Minute)
	if code, body := b.call("GET", "/api/v1/me", ""); code != http.StatusUnauthorized || !strings.Contains(body, "log in again") {
		t.Fatalf("expired session: %d %s", code, body)
	}
	if resp := b.do("GET", "/", "", nil); resp.Header.Get("Location") != "/login" {
		t.Fatalf("GET / with an expired session: %s %q", resp.Status, resp.Header.Get("Location"))
	}
}

func TestLoginRateLimit(t *testing.T) {
	f := newFixture(t, sqlite(t), user.Options{})
	b := newBrowser(t, f.srv.URL)
	for i := 0; i < 5; i++ {
		if resp := b.login("ana@fr-soc", "wrong password "+string(rune('a'+i))); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %s", i+1, resp.Status)
		}
	}
	resp := b.login("ana@fr-soc", testPassword)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("sixth try, right password: %s, want 429 with Retry-After", resp.Status)
	}
	if resp := b.login("vic@fr-soc", testPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("another account from the same address: %s", resp.Status)
	}
}

func TestLiveStream(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, user.Options{})
		b := newBrowser(t, f.srv.URL)
		b.login("vic@fr-soc", testPassword)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/web/stream", nil)
		resp, err := b.c.Do(req)
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %v %v", err, resp)
		}
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		readLine(t, r) // retry:
		f.campaign(t, "live one", time.Now())
		var got []liveAlert
		for len(got) < 2 {
			line := readLine(t, r)
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var batch []liveAlert
				if err := json.Unmarshal([]byte(data), &batch); err != nil {
					t.Fatalf("data %q: %v", data, err)
				}
				got = append(got, batch...)
			}
		}
		for _, a := range got {
			if a.Member == "de-energie" {
				t.Fatal("the stream sent fr-soc an AMBER+STRICT alert of de-energie")
			}
			if a.RuleTitle != "live one" {
				t.Fatalf("alert %+v", a)
			}
		}
	})
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(line, "\n")
}

func TestHubDropsForSlowReaders(t *testing.T) {
	h := newHub()
	s := h.subscribe(alertViewerOperator())
	for i := 0; i < queueLen+10; i++ {
		h.publish(alert.Alert{ID: "x", Member: "m"})
	}
	if len(s.queue) != queueLen || s.lost != 10 {
		t.Fatalf("queue %d lost %d", len(s.queue), s.lost)
	}
	h.unsubscribe(s)
	h.publish(alert.Alert{ID: "y"}) // no one listens: must not block
}

func alertViewerOperator() alert.Viewer { return alert.Viewer{Operator: true} }

// clock is a settable clock, safe to read from the server's goroutines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func sqlite(t *testing.T) *store.DB { return storetest.SQLite(t, schemas()...) }
