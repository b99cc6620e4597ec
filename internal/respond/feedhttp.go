package respond

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// FeedHandler serves GET /api/v1/blocklists/{format}?type=... for the
// member that memberFromContext finds in the request context (the node's
// authentication middleware puts it there). Formats are edl, suricata, rpz
// and stix. Responses carry a weak ETag and Last-Modified; a request whose
// If-None-Match holds the current ETag gets 304 Not Modified.
func (r *Responder) FeedHandler(memberFromContext func(context.Context) (string, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		member, ok := memberFromContext(req.Context())
		if !ok || member == "" {
			http.Error(w, "no member in request", http.StatusUnauthorized)
			return
		}
		format := req.PathValue("format")
		if format == "" {
			// Mounted without a {format} pattern: take the last segment.
			format = path.Base(req.URL.Path)
		}
		feed, err := r.Feed(req.Context(), member, Format(format), req.URL.Query().Get("type"))
		if errors.Is(err, ErrBadFeedRequest) {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err != nil {
			r.log.Error("respond: feed", "member", member, "format", format, "error", err)
			http.Error(w, "feed unavailable", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("ETag", feed.ETag)
		h.Set("Cache-Control", "private, no-cache")
		if !feed.LastModified.IsZero() {
			h.Set("Last-Modified", feed.LastModified.UTC().Format(http.TimeFormat))
		}
		if etagListMatches(req.Header.Get("If-None-Match"), feed.ETag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", feed.ContentType)
		h.Set("Content-Length", strconv.Itoa(len(feed.Body)))
		h.Set("X-Xsoc-Entries", strconv.Itoa(feed.Count))
		if req.Method == http.MethodHead {
			return
		}
		w.Write(feed.Body)
	})
}

// etagListMatches applies If-None-Match's weak comparison: any listed tag
// equal to etag once "W/" prefixes are ignored, or "*".
func etagListMatches(header, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t != "" && strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}
