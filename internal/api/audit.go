package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/audit"
	"github.com/xsoc/xsoc/internal/member"
)

// Audited wraps the authenticated routes so that the audit log records
// every administrative request — any request with an operator key, and
// any request that changes something (all but GET and HEAD), bulk ingest
// excepted — and every read by a member of alerts or incidents another
// member owns: who (member or operator, key id), what (the route and the
// object), when, from where (the client's address), and the answer's
// status. next must be the route multiplexer itself: the route pattern is
// read from the request after it matched.
func Audited(l *audit.Log, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		read := r.Method == http.MethodGet || r.Method == http.MethodHead
		admin := p.Operator() || !read && r.URL.Path != "/api/v1/ingest"
		crossRead := !p.Operator() && read && readsCases(r.URL.Path)
		if !admin && !crossRead {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK, keep: crossRead}
		next.ServeHTTP(rec, r)
		e := ReadEntry(r, p, rec.status)
		if admin {
			record(l, log, r, e)
		}
		if crossRead && rec.status == http.StatusOK {
			RecordReads(l, log, r, e, othersData(rec.body.Bytes(), p.Member.ID))
		}
	})
}

// ConsoleAudited wraps the web console's own routes (which do not go
// through Audited): every change made there (any method but GET and
// HEAD: users added, disabled, given passwords; intelligence imported) is
// recorded with who made it, and a member's read of other members' data
// as Audited records the API's: one entry per owner, naming the objects
// (those with an "id" and a "member", "members" or "owner").
func ConsoleAudited(l *audit.Log, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		read := r.Method == http.MethodGet || r.Method == http.MethodHead
		crossRead := read && !p.Operator() && p.Member.ID != ""
		if read && !crossRead {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK, keep: crossRead}
		next.ServeHTTP(rec, r)
		e := ReadEntry(r, p, rec.status)
		e.Via = "console"
		if !read {
			record(l, log, r, e)
		}
		if crossRead && rec.status == http.StatusOK {
			RecordReads(l, log, r, e, othersData(rec.body.Bytes(), p.Member.ID))
		}
	})
}

// ReadEntry is the audit entry of request r by p answered with status:
// who, from where, what (the route), when.
func ReadEntry(r *http.Request, p member.Principal, status int) audit.Entry {
	e := audit.Entry{
		At: time.Now(), Actor: p.Member.ID, Role: string(p.Role), KeyID: p.KeyID, Via: "api",
		Remote: r.RemoteAddr, Action: actionOf(r), Target: r.PathValue("id"), Status: status,
	}
	if e.Target == "" {
		e.Target = r.PathValue("name") // the console's users
	}
	if p.Operator() {
		e.Actor = "operator"
	}
	return e
}

// Owned is the ids of the objects of one owner that an answer carried.
type Owned struct {
	Owner string
	IDs   []string
}

// RecordReads records, from entry e, one entry per owner in read — the
// member whose data the request read and the ids of those objects, at
// most maxAuditedIDs (the volume is one entry per owner per request,
// however large the answer).
func RecordReads(l *audit.Log, log *slog.Logger, r *http.Request, e audit.Entry, read []Owned) {
	for _, o := range read {
		x := e
		ids := o.IDs
		if len(ids) > maxAuditedIDs {
			x.Detail = fmt.Sprintf("read data of another member (%d objects, the first %d named)", len(ids), maxAuditedIDs)
			ids = ids[:maxAuditedIDs]
		} else {
			x.Detail = "read data of another member"
		}
		x.Owner, x.Target = o.Owner, strings.Join(ids, ",")
		record(l, log, r, x)
	}
}

// record writes e. The answer is sent: a failed write cannot refuse it,
// so it is logged loudly instead.
func record(l *audit.Log, log *slog.Logger, r *http.Request, e audit.Entry) {
	if err := l.Record(r.Context(), e); err != nil {
		log.Error("audit: entry lost", "err", err, "actor", e.Actor, "action", e.Action, "target", e.Target)
	}
}

// readsCases reports whether path reads alerts or incidents, the data a
// member may see of other members.
func readsCases(path string) bool {
	return strings.HasPrefix(path, "/api/v1/alerts") || strings.HasPrefix(path, "/api/v1/incidents")
}

// actionOf names a request after its route: "POST members/{id}/rotate-key",
// "GET web/intel".
func actionOf(r *http.Request) string {
	path := r.URL.Path
	if r.Pattern != "" {
		_, path, _ = strings.Cut(r.Pattern, " ")
	}
	return r.Method + " " + strings.TrimPrefix(strings.TrimPrefix(path, "/api/v1/"), "/")
}

// maxAuditedBody bounds the part of an answer kept to find whose data it
// carries; a longer answer is recorded up to there.
const maxAuditedBody = 8 << 20

// maxAuditedIDs bounds the object ids one entry names.
const maxAuditedIDs = 50

// recorder passes an answer through, keeping its status and, when keep
// is set, the start of its body.
type recorder struct {
	http.ResponseWriter
	status int
	keep   bool
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.keep && r.body.Len() < maxAuditedBody {
		r.body.Write(b[:min(len(b), maxAuditedBody-r.body.Len())])
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushing
// streams).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush passes flushes on, for streamed answers.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// othersData finds, in a JSON answer, the objects owned by members other
// than viewer: every object with an "id" and a "member" (alerts, timeline
// entries), "members" (incidents) or "owner" (indicators), at any depth.
func othersData(body []byte, viewer string) []Owned {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	byOwner := map[string][]string{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			id, _ := v["id"].(string)
			var owners []string
			if m, ok := v["member"].(string); ok {
				owners = append(owners, m)
			}
			if m, ok := v["owner"].(string); ok {
				owners = append(owners, m)
			}
			if ms, ok := v["members"].([]any); ok {
				for _, m := range ms {
					if s, ok := m.(string); ok {
						owners = append(owners, s)
					}
				}
			}
			for _, o := range owners {
				if id != "" && o != "" && o != viewer && !slices.Contains(byOwner[o], id) && len(byOwner[o]) <= maxAuditedIDs {
					byOwner[o] = append(byOwner[o], id)
				}
			}
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return Group(byOwner)
}

// Group orders ids by owner as RecordReads takes them.
func Group(byOwner map[string][]string) []Owned {
	out := make([]Owned, 0, len(byOwner))
	for o, ids := range byOwner {
		out = append(out, Owned{Owner: o, IDs: ids})
	}
	slices.SortFunc(out, func(a, b Owned) int { return strings.Compare(a.Owner, b.Owner) })
	return out
}

// AuditHandler serves GET /api/v1/audit to operators: the audit log,
// newest first, filtered by actor, action (a part of it), owner (reads of
// that member's data) and time (from, to), paged with limit and before
// (the smallest id of the previous page).
func AuditHandler(l *audit.Log) http.Handler {
	return RequireOperator(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action"), Owner: q.Get("owner")}
		var err error
		if f.From, err = QueryTime(r, "from"); err == nil {
			f.To, err = QueryTime(r, "to")
		}
		if err == nil {
			f.Limit, err = QueryInt(r, "limit", 100)
		}
		var before int
		if err == nil {
			before, err = QueryInt(r, "before", 0)
			f.Before = int64(before)
		}
		if err == nil && (f.Limit < 1 || f.Limit > audit.MaxLimit) {
			Error(w, http.StatusBadRequest, "query parameter limit: want 1 to 1000")
			return
		}
		if err != nil {
			Error(w, http.StatusBadRequest, err.Error())
			return
		}
		entries, err := l.List(r.Context(), f)
		if err != nil {
			Error(w, http.StatusInternalServerError, err.Error())
			return
		}
		JSON(w, http.StatusOK, map[string]any{"entries": entries})
	}))
}
