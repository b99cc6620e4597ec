// Package api is xsoc's REST API (/api/v1, described by /api/v1/openapi.json).
//
// Every call is authenticated with an API key — "Authorization: Bearer
// <key>", or HTTP Basic with the key as password (for TAXII clients) — and
// acts as the key's principal: a member sees its own data and what others
// shared with it under TLP 2.0; an operator runs the platform. /healthz is
// the only unauthenticated path, and says only "ok".
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/member"
)

// Authenticator checks API keys; *member.Registry is one.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (member.Principal, error)
}

type principalKey struct{}

// PrincipalFrom returns the authenticated principal of a request context.
func PrincipalFrom(ctx context.Context) (member.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(member.Principal)
	return p, ok
}

// MemberFrom returns the member id of a request context, if the principal
// is a member.
func MemberFrom(ctx context.Context) (string, bool) {
	p, ok := PrincipalFrom(ctx)
	if !ok || p.Member.ID == "" {
		return "", false
	}
	return p.Member.ID, true
}

// MemberOfRequest is MemberFrom for handlers that take a request.
func MemberOfRequest(r *http.Request) (string, bool) { return MemberFrom(r.Context()) }

// WithPrincipal returns ctx carrying p; tests and in-process callers use it.
func WithPrincipal(ctx context.Context, p member.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Authenticate wraps next so that it runs only for requests with a valid
// API key, with the principal in the request context.
func Authenticate(auth Authenticator, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := KeyOf(r)
		if key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="xsoc", Basic realm="xsoc"`)
			Error(w, http.StatusUnauthorized, "missing API key: send Authorization: Bearer <key>")
			return
		}
		p, err := auth.Authenticate(r.Context(), key)
		if err != nil {
			if !errors.Is(err, member.ErrUnauthenticated) {
				log.Error("api: authentication failed", "err", err)
				Error(w, http.StatusServiceUnavailable, "authentication unavailable")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="xsoc", error="invalid_token"`)
			Error(w, http.StatusUnauthorized, "invalid or revoked API key")
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// KeyOf reads the API key from Authorization (Bearer, or Basic with the
// key as password, for TAXII clients) or X-Api-Key.
func KeyOf(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if k, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(k)
		}
		if _, pw, ok := r.BasicAuth(); ok {
			return pw
		}
	}
	return r.Header.Get("X-Api-Key")
}

// RequireOperator wraps next so that only operator keys reach it.
func RequireOperator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := PrincipalFrom(r.Context()); !ok || !p.Operator() {
			Error(w, http.StatusForbidden, "operator API key required")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireMember wraps next so that only member keys reach it.
func RequireMember(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := MemberFrom(r.Context()); !ok {
			Error(w, http.StatusForbidden, "member API key required")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// JSON writes v as a JSON response.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// Error writes {"error": msg} with status.
func Error(w http.ResponseWriter, status int, msg string) {
	JSON(w, status, map[string]string{"error": msg})
}

// DecodeJSON reads a JSON request body of at most 1 MiB into v, rejecting
// unknown fields, and answers 400 itself when it fails.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		Error(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

// QueryTime parses an RFC 3339 query parameter; empty is the zero time.
func QueryTime(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("query parameter " + name + ": want an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return t, nil
}

// QueryInt parses an integer query parameter with a default.
func QueryInt(r *http.Request, name string, def int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("query parameter " + name + ": want an integer")
	}
	return n, nil
}
