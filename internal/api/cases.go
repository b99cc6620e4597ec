package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/store"
)

// Cases serves alerts and incidents: listing with filters and pagination,
// triage (ack, close), the case workflow, time metrics and NIS2 reporting.
// What a caller sees is decided by the alert package's visibility rule.
type Cases struct {
	Alerts    *alert.Service
	Incidents *correlate.Correlator
}

// Viewer maps a principal to the viewer the alert and correlate packages
// filter by.
func Viewer(p member.Principal) alert.Viewer {
	return alert.Viewer{Member: p.Member.ID, ClientOf: p.Member.ClientOf, Operator: p.Operator()}
}

// who names the actor in audit trails.
func who(p member.Principal) string {
	if p.Operator() {
		return "operator:" + p.KeyID
	}
	return p.Member.ID + ":" + p.KeyID
}

// Register adds the routes.
func (c *Cases) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/alerts", c.listAlerts)
	mux.HandleFunc("GET /api/v1/alerts/metrics", c.metrics)
	mux.HandleFunc("GET /api/v1/alerts/{id}", c.getAlert)
	mux.HandleFunc("POST /api/v1/alerts/{id}/ack", c.ackAlert)
	mux.HandleFunc("POST /api/v1/alerts/{id}/close", c.closeAlert)
	mux.HandleFunc("GET /api/v1/incidents", c.listIncidents)
	mux.HandleFunc("GET /api/v1/incidents/{id}", c.getIncident)
	mux.HandleFunc("PATCH /api/v1/incidents/{id}", c.updateIncident)
	mux.HandleFunc("GET /api/v1/incidents/{id}/audit", c.audit)
	mux.HandleFunc("POST /api/v1/incidents/{id}/merge", c.merge)
	mux.HandleFunc("POST /api/v1/incidents/{id}/split", c.split)
	mux.HandleFunc("POST /api/v1/incidents/{id}/nis2/significant", c.significant)
	mux.HandleFunc("POST /api/v1/incidents/{id}/nis2/reports", c.submitReport)
	mux.HandleFunc("GET /api/v1/incidents/{id}/nis2/draft", c.draft)
}

// caseError maps the packages' errors to HTTP answers.
func caseError(w http.ResponseWriter, err error) {
	switch {
	case store.NotFound(err):
		Error(w, http.StatusNotFound, "not found")
	case errors.Is(err, alert.ErrForbidden), errors.Is(err, correlate.ErrForbidden):
		Error(w, http.StatusForbidden, err.Error())
	case errors.Is(err, alert.ErrInvalid), errors.Is(err, correlate.ErrInvalid):
		Error(w, http.StatusBadRequest, err.Error())
	default:
		Error(w, http.StatusInternalServerError, err.Error())
	}
}

// reply writes v, or the error err maps to.
func reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		caseError(w, err)
		return
	}
	JSON(w, status, v)
}

func principal(r *http.Request) member.Principal {
	p, _ := PrincipalFrom(r.Context())
	return p
}

func (c *Cases) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := alert.Filter{Status: alert.Status(q.Get("status")), Technique: strings.ToUpper(q.Get("technique")),
		Detector: q.Get("detector"), RuleID: q.Get("rule"), Incident: q.Get("incident"), Cursor: q.Get("cursor")}
	var err error
	if f.From, f.To, f.Limit, err = window(r); err != nil {
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if s := q.Get("severity"); s != "" {
		if f.Severity, err = alert.ParseSeverity(s); err != nil {
			Error(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if m := q.Get("member"); m != "" {
		f.Members = strings.Split(m, ",")
	}
	if f.Sort, err = alert.ParseSort(q.Get("sort"), q.Get("order")); err != nil {
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	v := Viewer(principal(r))
	if f.Incident != "" {
		// An incident's alerts are the ones it groups as the caller sees
		// it, home or not: a cross-border campaign is no alert's home.
		in, err := c.Incidents.Incident(r.Context(), v, f.Incident)
		if err != nil {
			caseError(w, err)
			return
		}
		f.Incident, f.IDs = "", in.AlertIDs()
	}
	page, err := c.Alerts.List(r.Context(), v, f)
	reply(w, http.StatusOK, page, err)
}

// window reads from, to and limit.
func window(r *http.Request) (from, to time.Time, limit int, err error) {
	if from, err = QueryTime(r, "from"); err != nil {
		return
	}
	if to, err = QueryTime(r, "to"); err != nil {
		return
	}
	limit, err = QueryInt(r, "limit", 0)
	return
}

func (c *Cases) getAlert(w http.ResponseWriter, r *http.Request) {
	a, err := c.Alerts.Get(r.Context(), Viewer(principal(r)), r.PathValue("id"))
	reply(w, http.StatusOK, a, err)
}

func (c *Cases) ackAlert(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	a, err := c.Alerts.Ack(r.Context(), Viewer(p), r.PathValue("id"), who(p))
	reply(w, http.StatusOK, a, err)
}

// closeAlert closes an alert; a body {"verdict": "true-positive"} or
// "false-positive" records the analyst's verdict, which trains the triage
// model of the alert's member.
func (c *Cases) closeAlert(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Verdict string `json:"verdict"`
	}
	if r.ContentLength != 0 && !DecodeJSON(w, r, &req) {
		return
	}
	verdict, err := alert.ParseVerdict(req.Verdict)
	if err != nil {
		caseError(w, err)
		return
	}
	p := principal(r)
	a, err := c.Alerts.CloseWithVerdict(r.Context(), Viewer(p), r.PathValue("id"), who(p), verdict)
	reply(w, http.StatusOK, a, err)
}

func (c *Cases) metrics(w http.ResponseWriter, r *http.Request) {
	from, to, _, err := window(r)
	if err != nil {
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if to.IsZero() {
		to = time.Now()
	}
	if from.IsZero() {
		from = to.Add(-30 * 24 * time.Hour)
	}
	rep, err := c.Alerts.Metrics(r.Context(), Viewer(principal(r)), from, to)
	reply(w, http.StatusOK, rep, err)
}

func (c *Cases) listIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := correlate.Filter{Status: correlate.Status(q.Get("status")), Kind: correlate.Kind(q.Get("kind")),
		CrossBorder: q.Get("cross_border") == "true", Merged: q.Get("merged") == "true",
		Assignee: q.Get("assignee"), Member: q.Get("member"),
		Cursor: q.Get("cursor")}
	var err error
	if f.From, f.To, f.Limit, err = window(r); err != nil {
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if s := q.Get("severity"); s != "" {
		if f.Severity, err = alert.ParseSeverity(s); err != nil {
			Error(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if f.Sort, err = correlate.ParseSort(q.Get("sort"), q.Get("order")); err != nil {
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := c.Incidents.Incidents(r.Context(), Viewer(principal(r)), f)
	reply(w, http.StatusOK, page, err)
}

func (c *Cases) getIncident(w http.ResponseWriter, r *http.Request) {
	inc, err := c.Incidents.Incident(r.Context(), Viewer(principal(r)), r.PathValue("id"))
	reply(w, http.StatusOK, inc, err)
}

func (c *Cases) updateIncident(w http.ResponseWriter, r *http.Request) {
	var ch correlate.Change
	if !DecodeJSON(w, r, &ch) {
		return
	}
	p := principal(r)
	inc, err := c.Incidents.Update(r.Context(), Viewer(p), r.PathValue("id"), ch, who(p))
	reply(w, http.StatusOK, inc, err)
}

func (c *Cases) audit(w http.ResponseWriter, r *http.Request) {
	entries, err := c.Incidents.Audit(r.Context(), Viewer(principal(r)), r.PathValue("id"))
	if err != nil {
		caseError(w, err)
		return
	}
	JSON(w, http.StatusOK, map[string]any{"audit": entries})
}

func (c *Cases) merge(w http.ResponseWriter, r *http.Request) {
	var req struct {
		From string `json:"from"`
	}
	if !DecodeJSON(w, r, &req) {
		return
	}
	p := principal(r)
	inc, err := c.Incidents.Merge(r.Context(), Viewer(p), r.PathValue("id"), req.From, who(p))
	reply(w, http.StatusOK, inc, err)
}

func (c *Cases) split(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Alerts []string `json:"alerts"`
	}
	if !DecodeJSON(w, r, &req) {
		return
	}
	p := principal(r)
	inc, err := c.Incidents.Split(r.Context(), Viewer(p), r.PathValue("id"), req.Alerts, who(p))
	reply(w, http.StatusCreated, inc, err)
}

func (c *Cases) significant(w http.ResponseWriter, r *http.Request) {
	var req struct {
		// AwareAt is when the entity became aware; default now.
		AwareAt time.Time `json:"aware_at"`
	}
	if r.ContentLength != 0 && !DecodeJSON(w, r, &req) {
		return
	}
	if req.AwareAt.IsZero() {
		req.AwareAt = time.Now()
	}
	p := principal(r)
	inc, err := c.Incidents.MarkSignificant(r.Context(), Viewer(p), r.PathValue("id"), who(p), req.AwareAt)
	reply(w, http.StatusOK, inc, err)
}

func (c *Cases) submitReport(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Report string    `json:"report"`
		At     time.Time `json:"at"`
	}
	if !DecodeJSON(w, r, &req) {
		return
	}
	rep, err := correlate.ParseReport(req.Report)
	if err != nil {
		caseError(w, err)
		return
	}
	if req.At.IsZero() {
		req.At = time.Now()
	}
	p := principal(r)
	inc, err := c.Incidents.SubmitReport(r.Context(), Viewer(p), r.PathValue("id"), rep, who(p), req.At)
	reply(w, http.StatusOK, inc, err)
}

// draft renders the NIS2 notification draft as JSON, or as Markdown with
// ?format=markdown.
func (c *Cases) draft(w http.ResponseWriter, r *http.Request) {
	d, err := c.Incidents.NIS2Draft(r.Context(), Viewer(principal(r)), r.PathValue("id"))
	if err != nil {
		caseError(w, err)
		return
	}
	if f := r.URL.Query().Get("format"); f == "markdown" || f == "md" {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Write([]byte(d.Markdown()))
		return
	}
	JSON(w, http.StatusOK, d)
}
