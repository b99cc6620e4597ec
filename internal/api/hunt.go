package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/archive"
)

// Hunt serves hunting on the event archive: search, count and top values,
// always over the calling member's own events.
type Hunt struct {
	Archive *archive.Archive
	// Policies holds each member's retention.
	Policies *archive.Policies
	// Timeout is the server-side cost limit of one query in time
	// (default 30s); the archive bounds the events it reads as well.
	Timeout time.Duration
}

// Register adds Hunt's routes to mux.
func (h *Hunt) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/events", RequireMember(http.HandlerFunc(h.search)))
	mux.Handle("GET /api/v1/events/count", RequireMember(http.HandlerFunc(h.count)))
	mux.Handle("GET /api/v1/events/top", RequireMember(http.HandlerFunc(h.top)))
	mux.HandleFunc("GET /api/v1/members/{id}/retention", h.getRetention)
	mux.Handle("PUT /api/v1/members/{id}/retention", RequireOperator(http.HandlerFunc(h.setRetention)))
}

// getRetention shows a member's retention to operators and to the member.
func (h *Hunt) getRetention(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if p, _ := PrincipalFrom(r.Context()); !p.Operator() && p.Member.ID != id {
		Error(w, http.StatusForbidden, "a member sees only its own retention")
		return
	}
	ret, err := h.Policies.Get(r.Context(), id)
	if err != nil {
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	JSON(w, http.StatusOK, retentionView{Member: id, Retention: ret})
}

type retentionView struct {
	Member string `json:"member"`
	archive.Retention
}

// setRetention sets a member's retention: {"days": 90, "bytes": 0}.
// Operators only: keeping evidence is the node's obligation.
func (h *Hunt) setRetention(w http.ResponseWriter, r *http.Request) {
	var ret archive.Retention
	if !DecodeJSON(w, r, &ret) {
		return
	}
	id := r.PathValue("id")
	if err := h.Policies.Set(r.Context(), id, ret); err != nil {
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	JSON(w, http.StatusOK, retentionView{Member: id, Retention: ret})
}

// huntParams are the query parameters that are not filters.
var huntParams = map[string]bool{"from": true, "to": true, "limit": true, "cursor": true, "q": true, "field": true, "n": true}

// ParseHuntQuery reads a hunting query from URL parameters: from, to
// (RFC 3339), q (text anywhere), limit, cursor, and filters written
// <op>.<field>=<value> with op one of eq, prefix, contains, cidr, gte, gt,
// lte, lt (field.<field>=<value> is eq). Every filter must hold.
func ParseHuntQuery(r *http.Request, member string) (archive.Query, error) {
	q := archive.Query{Member: member, Text: r.URL.Query().Get("q"), Cursor: r.URL.Query().Get("cursor")}
	var err error
	if q.From, err = QueryTime(r, "from"); err != nil {
		return q, err
	}
	if q.To, err = QueryTime(r, "to"); err != nil {
		return q, err
	}
	if q.Limit, err = QueryInt(r, "limit", 100); err != nil {
		return q, err
	}
	for k, vs := range r.URL.Query() {
		if huntParams[k] {
			continue
		}
		op, field, ok := strings.Cut(k, ".")
		if op == "field" {
			op = string(archive.Eq)
		}
		if !ok || !archive.IsOp(op) {
			return q, errors.New("unknown query parameter " + k + ": filters are <op>.<field>=<value> with op one of eq, prefix, contains, cidr, gte, gt, lte, lt")
		}
		for _, v := range vs {
			q.Filters = append(q.Filters, archive.Filter{Field: field, Op: archive.Op(op), Value: v})
		}
	}
	return q, nil
}

// run parses the request's query and runs fn under the time limit,
// answering 400 for the caller's mistakes and for queries over the limit.
func (h *Hunt) run(w http.ResponseWriter, r *http.Request, fn func(context.Context, archive.Query) (any, error)) {
	id, _ := MemberFrom(r.Context())
	q, err := ParseHuntQuery(r, id)
	if err != nil {
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	out, err := fn(ctx, q)
	switch {
	case archive.IsBadQuery(err):
		Error(w, http.StatusBadRequest, err.Error())
	case err != nil && ctx.Err() != nil && r.Context().Err() == nil:
		Error(w, http.StatusBadRequest, "query too costly: it ran past the server's limit of "+timeout.String()+"; narrow the time range or add an equality filter")
	case err != nil:
		Error(w, http.StatusInternalServerError, err.Error())
	default:
		JSON(w, http.StatusOK, out)
	}
}

// search: GET /api/v1/events?from=&to=&eq.host.name=WS-1&cidr.source.ip=10.0.0.0/8&limit=&cursor=
func (h *Hunt) search(w http.ResponseWriter, r *http.Request) {
	h.run(w, r, func(ctx context.Context, q archive.Query) (any, error) {
		p, err := h.Archive.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		return map[string]any{"events": p.Events, "count": len(p.Events), "next": p.Next}, nil
	})
}

// count: GET /api/v1/events/count counts every stored event of the
// caller; with a time range or filters, the matching ones.
func (h *Hunt) count(w http.ResponseWriter, r *http.Request) {
	h.run(w, r, func(ctx context.Context, q archive.Query) (any, error) {
		var n int64
		var err error
		if q.From.IsZero() && q.To.IsZero() && len(q.Filters) == 0 && q.Text == "" {
			n, err = h.Archive.Total(ctx, q.Member)
		} else {
			n, err = h.Archive.Count(ctx, q)
		}
		if err != nil {
			return nil, err
		}
		return map[string]int64{"count": n}, nil
	})
}

// top: GET /api/v1/events/top?field=host.name&n=10&... the most frequent
// values of a field among the matching events.
func (h *Hunt) top(w http.ResponseWriter, r *http.Request) {
	field := r.URL.Query().Get("field")
	if field == "" {
		Error(w, http.StatusBadRequest, "query parameter field: required")
		return
	}
	n, err := QueryInt(r, "n", 10)
	if err != nil {
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	h.run(w, r, func(ctx context.Context, q archive.Query) (any, error) {
		buckets, err := h.Archive.Top(ctx, q, field, n)
		if err != nil {
			return nil, err
		}
		return map[string]any{"field": field, "buckets": buckets}, nil
	})
}
