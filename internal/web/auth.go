package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/user"
)

// csrfHeader carries a session's anti-forgery token on every
// state-changing request. Another site can make a browser send the
// session cookie (were it not SameSite=Strict) but cannot read the token
// nor set this header.
const csrfHeader = "X-CSRF-Token"

// cookieName is the session cookie's name: over HTTPS with the __Host-
// prefix, which browsers accept only Secure, host-only and for path /.
func (c *Console) cookieName() string {
	if c.cfg.Secure {
		return "__Host-xsoc_session"
	}
	return "xsoc_session"
}

func (c *Console) loginCookieName() string {
	if c.cfg.Secure {
		return "__Host-xsoc_login"
	}
	return "xsoc_login"
}

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.cfg.Secure, SameSite: http.SameSiteStrictMode})
}

// sessionOf returns the request's session and the principal it acts as.
func (c *Console) sessionOf(r *http.Request) (user.Session, member.Principal, error) {
	ck, err := r.Cookie(c.cookieName())
	if err != nil {
		return user.Session{}, member.Principal{}, user.ErrNoSession
	}
	s, err := c.cfg.Users.Session(r.Context(), ck.Value)
	if err != nil {
		return user.Session{}, member.Principal{}, err
	}
	p, err := c.principal(r.Context(), s.User)
	return s, p, err
}

// principal is what a person's session acts as: a platform admin as an
// operator, anyone else as their member — the principal the member's API
// key gives. KeyID names the person in audit trails.
func (c *Console) principal(ctx context.Context, u user.User) (member.Principal, error) {
	if u.Role == user.PlatformAdmin {
		return member.Principal{Role: member.RoleOperator, KeyID: "user:" + u.Name}, nil
	}
	m, err := c.cfg.Members.Get(ctx, u.Member)
	if err != nil {
		return member.Principal{}, fmt.Errorf("user %s: member %s: %w", u.Name, u.Member, err)
	}
	return member.Principal{Role: member.RoleMember, KeyID: "user:" + u.Name, Member: m}, nil
}

type sessionKey struct{}

// sessionFrom returns the session session() put in the request context.
func sessionFrom(ctx context.Context) user.Session {
	s, _ := ctx.Value(sessionKey{}).(user.Session)
	return s
}

// session wraps a console endpoint: it runs only with a valid session
// whose role is at least min, carrying a valid CSRF token when the method
// changes state.
func (c *Console) session(min user.Role, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, p, ok := c.authorize(w, r)
		if !ok {
			return
		}
		// The console's own routes spend the user's tokens here; its
		// REST calls spend them in Config.API.
		if c.cfg.Throttle != nil && !c.cfg.Throttle(w, r, p.KeyID) {
			return
		}
		if !s.User.Role.AtLeast(min) {
			api.Error(w, http.StatusForbidden, fmt.Sprintf("your role (%s) may not do this: it needs %s", s.User.Role, min))
			return
		}
		ctx := context.WithValue(api.WithPrincipal(r.Context(), p), sessionKey{}, s)
		next(w, r.WithContext(ctx))
	})
}

// authorize checks the session and, for state-changing methods, the CSRF
// token and the request's origin; it answers the request itself when they
// fail.
func (c *Console) authorize(w http.ResponseWriter, r *http.Request) (user.Session, member.Principal, bool) {
	s, p, err := c.sessionOf(r)
	if err != nil {
		if !errors.Is(err, user.ErrNoSession) {
			c.cfg.Log.Error("web: session lookup failed", "err", err)
		}
		c.setCookie(w, c.cookieName(), "", -1)
		api.Error(w, http.StatusUnauthorized, "your session has expired or you are not logged in: log in again")
		return s, p, false
	}
	if !safeMethod(r.Method) {
		if !sameOrigin(r) {
			api.Error(w, http.StatusForbidden, "request from another origin refused")
			return s, p, false
		}
		if got := r.Header.Get(csrfHeader); subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) != 1 {
			api.Error(w, http.StatusForbidden, "missing or wrong CSRF token: reload the page and try again")
			return s, p, false
		}
	}
	return s, p, true
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin accepts a request whose Origin (or, without one, Referer)
// names this host; browsers send Origin on every cross-site POST.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		o = r.Header.Get("Referer")
	}
	if o == "" {
		return true // not a browser, or one that sends neither: the token decides
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// proxyAPI runs a REST call for a logged-in person, if their role allows
// it.
func (c *Console) proxyAPI(w http.ResponseWriter, r *http.Request) {
	s, p, ok := c.authorize(w, r)
	if !ok {
		return
	}
	if need := requiredRole(r); !s.User.Role.AtLeast(need) {
		api.Error(w, http.StatusForbidden, fmt.Sprintf("your role (%s) may not do this: it needs %s", s.User.Role, need))
		return
	}
	c.cfg.API.ServeHTTP(w, r.WithContext(api.WithPrincipal(r.Context(), p)))
}

// analystCalls are the API calls that work cases; other state-changing
// calls need an admin. Reading needs only a viewer; the API itself then
// refuses what the principal (member or operator) may not read.
var analystCalls = []string{
	"POST /api/v1/alerts/{id}/ack",
	"POST /api/v1/alerts/{id}/close",
	"PATCH /api/v1/incidents/{id}",
	"POST /api/v1/incidents/{id}/merge",
	"POST /api/v1/incidents/{id}/split",
	"POST /api/v1/incidents/{id}/nis2/significant",
	"POST /api/v1/incidents/{id}/nis2/reports",
}

// policy matches requests to analystCalls with the API's own routing
// rules, so that a path the API routes to a case action is recognised
// whatever its spelling.
var policy = func() *http.ServeMux {
	m := http.NewServeMux()
	for _, p := range analystCalls {
		m.Handle(p, http.NotFoundHandler())
	}
	return m
}()

// requiredRole is the least role that may make the call r.
func requiredRole(r *http.Request) user.Role {
	if safeMethod(r.Method) {
		return user.Viewer
	}
	if _, pattern := policy.Handler(r); pattern != "" {
		return user.Analyst
	}
	return user.Admin
}

// whoami tells the page who is logged in, their CSRF token and when the
// session ends.
func (c *Console) whoami(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	p, _ := api.PrincipalFrom(r.Context())
	out := map[string]any{"user": s.User.Name, "role": s.User.Role, "csrf": s.CSRF, "expires": s.Expires,
		"operator": p.Operator()}
	if !p.Operator() {
		out["member"] = p.Member
	}
	w.Header().Set("Cache-Control", "no-store")
	api.JSON(w, http.StatusOK, out)
}

// listUsers lists the accounts of the caller's member; platform admins
// see every account.
func (c *Console) listUsers(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	us, err := c.cfg.Users.List(r.Context(), s.User.Member)
	if err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	if us == nil {
		us = []user.User{}
	}
	api.JSON(w, http.StatusOK, map[string]any{"users": us})
}

var loginTemplate = template.Must(template.ParseFS(staticFiles, "static/login.html"))

type loginView struct {
	Error, Notice, User, Token string
}

// loginPage shows the login form with a fresh login CSRF token
// (double-submit: in a cookie and in the form), so that another site
// cannot log a browser in to an account of its choosing.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	v := loginView{}
	if r.URL.Query().Get("expired") != "" {
		v.Notice = "Your session has ended. Log in again."
	}
	c.renderLogin(w, http.StatusOK, v)
}

func (c *Console) renderLogin(w http.ResponseWriter, status int, v loginView) {
	var b [24]byte
	rand.Read(b[:])
	v.Token = base64.RawURLEncoding.EncodeToString(b[:])
	c.setCookie(w, c.loginCookieName(), v.Token, 600)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	loginTemplate.Execute(w, v)
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		c.renderLogin(w, http.StatusBadRequest, loginView{Error: "The form could not be read."})
		return
	}
	name, pw := r.PostForm.Get("user"), r.PostForm.Get("password")
	ck, err := r.Cookie(c.loginCookieName())
	if !sameOrigin(r) || err != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		c.renderLogin(w, http.StatusForbidden, loginView{User: name, Error: "The login form expired or came from another site. Try again."})
		return
	}
	addr := clientAddr(r)
	if ok, wait := c.limiter.Allow(name, addr); !ok {
		c.cfg.Log.Warn("web: login refused, too many failures", "user", name, "addr", addr)
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		c.renderLogin(w, http.StatusTooManyRequests, loginView{User: name,
			Error: fmt.Sprintf("Too many failed logins. Try again in %s.", wait.Round(time.Minute).String())})
		return
	}
	token, s, err := c.cfg.Users.Login(r.Context(), name, pw)
	if errors.Is(err, user.ErrBadLogin) {
		c.limiter.Fail(name, addr)
		c.cfg.Log.Info("web: failed login", "user", name, "addr", addr)
		c.renderLogin(w, http.StatusUnauthorized, loginView{User: name, Error: "Wrong user name or password."})
		return
	}
	if err != nil {
		c.cfg.Log.Error("web: login failed", "err", err)
		c.renderLogin(w, http.StatusServiceUnavailable, loginView{User: name, Error: "Login is unavailable right now."})
		return
	}
	c.limiter.Succeed(name)
	c.cfg.Log.Info("web: login", "user", s.User.Name, "member", s.User.Member, "role", s.User.Role, "addr", addr)
	c.setCookie(w, c.loginCookieName(), "", -1)
	c.setCookie(w, c.cookieName(), token, 0)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// clientAddr is the address a login came from: the TCP peer. Headers
// such as X-Forwarded-For are not trusted, as anyone can set them.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// logout ends the session. It is a POST with the CSRF token, so that
// another site cannot log people out.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := c.authorize(w, r); !ok {
		return
	}
	ck, _ := r.Cookie(c.cookieName())
	if err := c.cfg.Users.Logout(r.Context(), ck.Value); err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	c.setCookie(w, c.cookieName(), "", -1)
	api.JSON(w, http.StatusOK, map[string]string{"login": "/login"})
}
