package api

import (
	"crypto/sha256"
	_ "embed" // for the OpenAPI document
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// openAPIDocument is the OpenAPI 3.1 description of the REST API, every
// route under /api/v1 plus /metrics, /healthz and the TAXII 2.1 server.
// It is embedded as a string, which nothing can change at run time; a
// test checks it against the routes the code registers, so that a route
// cannot be added without being described.
//
//go:embed openapi.json
var openAPIDocument string

// OpenAPI returns the OpenAPI 3.1 description of the API as JSON. The
// slice is the caller's own copy.
func OpenAPI() []byte { return []byte(openAPIDocument) }

// OpenAPIHandler serves the OpenAPI description as application/json. Mount
// it at GET /api/v1/openapi.json behind the API's authentication, like
// every other call. It answers HEAD, range and conditional requests; the
// ETag is a hash of the document, so clients may cache it across calls
// and see a new one after an upgrade.
func OpenAPIHandler() http.Handler {
	sum := sha256.Sum256([]byte(openAPIDocument))
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("ETag", etag)
		h.Set("Cache-Control", "private, no-cache")
		http.ServeContent(w, r, "openapi.json", time.Time{}, strings.NewReader(openAPIDocument))
	})
}
