// Package web is xsoc's web console: the analyst's and operator's view of
// the platform, served by every node from files embedded in the binary.
//
// People log in with a user name and password (package user); their
// session acts as the principal their member's API key acts as, so the
// console reads and writes through the same REST API, with the same
// visibility rules, and a person's role only narrows what they may do.
// The browser side is plain ES modules with vendored, pinned libraries
// (Chart.js for charts, d3-geo and topojson-client with Natural Earth
// geometry for the map); nothing is fetched from elsewhere.
package web

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/user"
)

//go:generate sh frontend/vendor.sh

//go:embed static
var staticFiles embed.FS

// Config is what the console needs of its node.
type Config struct {
	Users   *user.Store
	Members *member.Registry
	// API serves the node's REST routes without authenticating: the
	// console authenticates the session and puts its principal in the
	// request context, as api.Authenticate does for keys. It applies the
	// rate limits and bounds (the principal's key id is "user:<name>").
	API http.Handler
	// Alerts feeds the live stream and the dashboard's counts.
	Alerts *alert.Service
	// Intel is the intel repository the Intel page lists and imports into.
	Intel *intel.Repo
	// Metrics is the node's Prometheus registry: ingest counts and
	// detection latency for the dashboard.
	Metrics prometheus.Gatherer
	// Secure marks cookies Secure; set it when the node serves HTTPS.
	Secure bool
	Log    *slog.Logger
	// Throttle, when set, spends a token of the logged-in user's rate
	// limit (who is the session principal's key id) for each request
	// to the console's own routes (/web/...) made in a session; it
	// answers the request itself (429) and reports false when the user's
	// bucket is empty.
	Throttle func(w http.ResponseWriter, r *http.Request, who string) bool
	// Audited, when set, wraps the console's own routes that change
	// something (users, imports) or show other members' data (the Intel
	// page), for the audit log.
	Audited func(http.Handler) http.Handler
}

// Console is the web console's HTTP handler.
type Console struct {
	cfg     Config
	limiter *user.Limiter
	mux     *http.ServeMux
	live    *hub
	// done closes when the server shuts down: open live streams end, so
	// that a graceful shutdown need not wait for browsers to leave.
	done      chan struct{}
	closeOnce sync.Once
}

// Close ends the open live streams; register it with the HTTP server's
// RegisterOnShutdown.
func (c *Console) Close() { c.closeOnce.Do(func() { close(c.done) }) }

// New returns the console; it registers with cfg.Alerts for the live
// stream.
func New(cfg Config) *Console {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Console{cfg: cfg, limiter: user.NewLimiter(), mux: http.NewServeMux(), live: newHub(),
		done: make(chan struct{})}
	if cfg.Alerts != nil {
		cfg.Alerts.OnAlert(c.live.publish)
	}
	static, _ := fs.Sub(staticFiles, "static")
	files := http.FileServerFS(static)
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(files)))
	c.mux.HandleFunc("GET /{$}", c.app)
	c.mux.HandleFunc("GET /login", c.loginPage)
	c.mux.HandleFunc("POST /login", c.login)
	c.mux.HandleFunc("POST /logout", c.logout)
	c.mux.Handle("GET /web/session", c.session(user.Viewer, c.whoami))
	c.mux.Handle("GET /web/stream", c.session(user.Viewer, c.stream))
	c.mux.Handle("GET /web/summary", c.session(user.Viewer, c.summary))
	c.mux.Handle("GET /web/users", c.session(user.Admin, c.listUsers))
	c.mux.Handle("POST /web/users", c.session(user.Admin, c.audited(c.addUser)))
	c.mux.Handle("POST /web/users/{name}/disable", c.session(user.Admin, c.audited(c.setUserDisabled(true))))
	c.mux.Handle("POST /web/users/{name}/enable", c.session(user.Admin, c.audited(c.setUserDisabled(false))))
	c.mux.Handle("POST /web/users/{name}/password", c.session(user.Admin, c.audited(c.resetPassword)))
	c.mux.Handle("GET /web/intel", c.session(user.Viewer, c.audited(c.intelList)))
	c.mux.Handle("POST /web/intel/import", c.session(user.Admin, c.audited(c.intelImport)))
	c.mux.Handle("POST /web/rules/test", c.session(user.Viewer, c.testRules))
	c.mux.Handle("/api/", http.HandlerFunc(c.proxyAPI))
	return c
}

// Serves reports whether the console answers r: its pages, files and own
// endpoints, and API calls that carry a session cookie rather than an API
// key. Everything else stays with the API's key authentication.
func (c *Console) Serves(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case p == "/", p == "/login", p == "/logout", strings.HasPrefix(p, "/static/"), strings.HasPrefix(p, "/web/"):
		return true
	case strings.HasPrefix(p, "/api/"):
		return r.Header.Get("Authorization") == "" && r.Header.Get("X-Api-Key") == "" && hasCookie(r, c.cookieName())
	}
	return false
}

func hasCookie(r *http.Request, name string) bool {
	_, err := r.Cookie(name)
	return err == nil
}

// ServeHTTP serves the console with its security headers.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Scripts and styles come only from the console's own files: an
	// injected <script> or inline handler does not run.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if c.cfg.Secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.mux.ServeHTTP(w, r)
}

// audited wraps h with Config.Audited, if set.
func (c *Console) audited(h http.HandlerFunc) http.HandlerFunc {
	if c.cfg.Audited == nil {
		return h
	}
	return c.cfg.Audited(h).ServeHTTP
}

// app serves the single page; it asks /web/session who is logged in and
// sends the browser to the login page when nobody is.
func (c *Console) app(w http.ResponseWriter, r *http.Request) {
	if _, _, err := c.sessionOf(r); err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.ServeFileFS(w, r, staticFiles, "static/index.html")
}

// cacheFor lets browsers keep static files for a minute: pages load
// fast, and a new binary's files are picked up soon.
func cacheFor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
		h.ServeHTTP(w, r)
	})
}
