package federation

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/store"
)

// API serves the federation's REST endpoints on a node: its status, a
// member node's agreements, received warnings and revocations, and the
// hub's audit of forwards.
type API struct {
	// Role is "hub" or "member" ("" registers only the status); Node the
	// node's name, Hub a member node's hub.
	Role, Node, Hub string
	DB              *store.DB
	Bus             *bus.Bus
	Metrics         *Metrics
	// Agreements and Warner are a member node's.
	Agreements *Agreements
	Warner     *Warner
	// Sharing (members' sharing modes) and Pseudonyms (the key's epochs)
	// are a member node's; CorroborationMembers the hub's threshold.
	Sharing              *Sharing
	Pseudonyms           *Pseudonymiser
	CorroborationMembers int
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/federation/status", api.RequireOperator(http.HandlerFunc(a.status)))
	switch a.Role {
	case "hub":
		mux.Handle("GET /api/v1/federation/forwards", api.RequireOperator(http.HandlerFunc(a.forwards)))
	case "member":
		mux.Handle("GET /api/v1/federation/agreements", api.RequireOperator(http.HandlerFunc(a.listAgreements)))
		mux.Handle("POST /api/v1/federation/agreements", api.RequireOperator(http.HandlerFunc(a.addAgreement)))
		mux.Handle("DELETE /api/v1/federation/agreements", api.RequireOperator(http.HandlerFunc(a.removeAgreement)))
		mux.Handle("GET /api/v1/federation/warnings", http.HandlerFunc(a.warnings))
		mux.Handle("POST /api/v1/federation/revoke", api.RequireOperator(http.HandlerFunc(a.revoke)))
		mux.Handle("GET /api/v1/federation/sharing", api.RequireOperator(http.HandlerFunc(a.listSharing)))
		mux.Handle("PUT /api/v1/federation/sharing", api.RequireOperator(http.HandlerFunc(a.setSharing)))
	}
}

// Status is a node's view of the federation.
type Status struct {
	Role string `json:"role"`
	Node string `json:"node"`
	Hub  string `json:"hub,omitempty"`
	// Links is the number of leaf node links up: on a member node 1 while
	// the hub is reached, on a hub the member nodes connected.
	Links int `json:"links"`
	// Nodes are, at a hub, the member nodes whose directories it holds,
	// with when it last heard from each.
	Nodes map[string]time.Time `json:"nodes,omitempty"`
	// Below are, at a hub, the nodes below its member hubs, each with the
	// member hub it is reached through.
	Below map[string]string `json:"below,omitempty"`
	// Lag is, per durable consumer of the federation, the messages
	// waiting for it.
	Lag map[string]uint64 `json:"lag"`
	// Warnings counts the early warning path; Refused its refusals by
	// reason.
	Warnings WarningCounts    `json:"warnings"`
	Refused  map[string]int64 `json:"refused"`
	// LastApplied is when the last warning's indicators became active
	// here, and LastDelay how long after their detection.
	LastApplied time.Time `json:"last_applied,omitzero"`
	LastDelay   string    `json:"last_delay,omitempty"`
	// Corroboration is the corroborated release and the pseudonym key's
	// epoch.
	Corroboration *CorroborationStatus `json:"corroboration,omitempty"`
}

// WarningCounts are the early warning counters of a node.
type WarningCounts struct {
	Sent      int64 `json:"sent"`
	Withheld  int64 `json:"withheld"`
	Forwarded int64 `json:"forwarded"`
	Received  int64 `json:"received"`
	Applied   int64 `json:"applied"`
	Expired   int64 `json:"expired"`
	Revoked   int64 `json:"revoked"`
}

// Status reads the node's federation status.
func (a *API) Status(ctx context.Context) (Status, error) {
	st := Status{Role: a.Role, Node: a.Node, Hub: a.Hub, Lag: map[string]uint64{}, Refused: map[string]int64{}}
	if a.Bus != nil {
		st.Links = a.Bus.LeafLinks()
	}
	if m := a.Metrics; m != nil {
		st.Warnings = WarningCounts{Sent: count(m.sent), Withheld: count(m.withheld), Forwarded: count(m.forwarded),
			Received: count(m.received), Applied: count(m.applied), Expired: count(m.expired), Revoked: count(m.revoked)}
		st.Refused = m.Refusals()
		if at := m.lastApply.Load(); at != 0 {
			st.LastApplied = time.Unix(0, at).UTC()
			st.LastDelay = time.Duration(m.lastDelay.Load()).Round(time.Millisecond).String()
		}
	}
	if a.Bus != nil {
		a.lag(ctx, &st)
	}
	if err := a.corroboration(ctx, &st); err != nil {
		return st, err
	}
	if a.Role == "hub" {
		rows, err := a.DB.Query(ctx, `SELECT node, received FROM federation_nodes ORDER BY node`)
		if err != nil {
			return st, err
		}
		defer rows.Close()
		st.Nodes = map[string]time.Time{}
		for rows.Next() {
			var node string
			var at int64
			if err := rows.Scan(&node, &at); err != nil {
				return st, err
			}
			st.Nodes[node] = store.Time(at)
		}
		if err := rows.Err(); err != nil {
			return st, err
		}
		st.Below, err = farNodes(ctx, a.DB)
		return st, err
	}
	return st, nil
}

// lag fills in the pending messages of the node's federation consumers.
func (a *API) lag(ctx context.Context, st *Status) {
	type cons struct {
		js             jetstream.JetStream
		stream, durabl string
	}
	var list []cons
	if fed := a.Bus.Federation(); fed != nil {
		js, err := jetstream.New(fed)
		if err == nil {
			switch a.Role {
			case "hub":
				list = append(list, cons{js, AlertStream, hubConsumer}, cons{js, WarningStream, hubWarnConsumer},
					cons{js, RelayStream, hubRelayConsumer}, cons{js, InboxStream, hubDownConsumer},
					cons{js, WarningStream, hubUpConsumer}, cons{js, RelayStream, hubRelayUpConsumer})
			case "member":
				list = append(list, cons{js, InboxStream, inboxConsumer}, cons{js, NoticeStream, noticeConsumer})
			}
		}
	}
	if a.Role == "member" {
		list = append(list, cons{a.Bus.JetStream(), bus.AlertStream, exportConsumer}, cons{a.Bus.JetStream(), bus.AlertStream, warnConsumer})
	}
	for _, c := range list {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		cn, err := c.js.Consumer(cctx, c.stream, c.durabl)
		if err == nil {
			if info, err := cn.Info(cctx); err == nil {
				st.Lag[c.durabl] = info.NumPending + uint64(info.NumAckPending)
			}
		}
		cancel()
	}
}

// count reads a counter.
func count(c prometheus.Counter) int64 {
	var m dto.Metric
	if c.Write(&m) != nil || m.Counter == nil {
		return 0
	}
	return int64(m.Counter.GetValue())
}

func (a *API) status(w http.ResponseWriter, r *http.Request) {
	st, err := a.Status(r.Context())
	if err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	api.JSON(w, http.StatusOK, st)
}

func (a *API) forwards(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := ForwardFilter{Origin: q.Get("origin"), Recipient: q.Get("recipient"), Warning: q.Get("warning")}
	var err error
	if f.Limit, err = intParam(q.Get("limit")); err != nil {
		api.Error(w, http.StatusBadRequest, "limit: "+err.Error())
		return
	}
	if s := q.Get("since"); s != "" {
		if f.Since, err = time.Parse(time.RFC3339, s); err != nil {
			api.Error(w, http.StatusBadRequest, "since: want RFC 3339")
			return
		}
	}
	out, err := Forwards(r.Context(), a.DB, f)
	if err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	api.JSON(w, http.StatusOK, map[string]any{"forwards": out})
}

func intParam(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.Atoi(s)
}

// agreementBody is the body of POST and DELETE on agreements.
type agreementBody struct {
	Member  string `json:"member"`
	Partner string `json:"partner"`
}

func (a *API) listAgreements(w http.ResponseWriter, r *http.Request) {
	out, err := a.Agreements.List(r.Context(), r.URL.Query().Get("member"))
	if err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	api.JSON(w, http.StatusOK, map[string]any{"agreements": out})
}

func (a *API) addAgreement(w http.ResponseWriter, r *http.Request) {
	var b agreementBody
	if !api.DecodeJSON(w, r, &b) {
		return
	}
	p, err := ParsePartner(b.Partner)
	if err != nil {
		api.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	ag, err := a.Agreements.Add(r.Context(), b.Member, p)
	if errors.Is(err, ErrBadAgreement) {
		api.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	api.JSON(w, http.StatusCreated, ag)
}

func (a *API) removeAgreement(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := ParsePartner(q.Get("partner"))
	if err != nil {
		api.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	err = a.Agreements.Remove(r.Context(), q.Get("member"), p)
	switch {
	case errors.Is(err, ErrNoAgreement):
		api.Error(w, http.StatusNotFound, err.Error())
	case err != nil:
		api.Error(w, http.StatusInternalServerError, err.Error())
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// warnings lists the indicators received in warnings: all of them for
// an operator, for a member those TLP lets it see.
func (a *API) warnings(w http.ResponseWriter, r *http.Request) {
	p, ok := api.PrincipalFrom(r.Context())
	if !ok {
		api.Error(w, http.StatusForbidden, "API key required")
		return
	}
	q := r.URL.Query()
	f := ReceivedFilter{}
	if !p.Operator() {
		f.Member = p.Member.ID
	}
	var err error
	if f.Limit, err = intParam(q.Get("limit")); err != nil {
		api.Error(w, http.StatusBadRequest, "limit: "+err.Error())
		return
	}
	if s := q.Get("since"); s != "" {
		if f.Since, err = time.Parse(time.RFC3339Nano, s); err != nil {
			api.Error(w, http.StatusBadRequest, "since: want RFC 3339")
			return
		}
	}
	f.Cursor = q.Get("cursor")
	out, next, err := ListReceivedPage(r.Context(), a.DB, f)
	if errors.Is(err, ErrBadCursor) {
		api.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	page := map[string]any{"warnings": out}
	if next != "" {
		page["next"] = next
	}
	api.JSON(w, http.StatusOK, page)
}

// revokeBody is the body of POST /api/v1/federation/revoke.
type revokeBody struct {
	Member     string   `json:"member"`
	Indicators []string `json:"indicators"`
}

func (a *API) revoke(w http.ResponseWriter, r *http.Request) {
	var b revokeBody
	if !api.DecodeJSON(w, r, &b) {
		return
	}
	if len(b.Indicators) == 0 || len(b.Indicators) > maxWarningIndicators {
		api.Error(w, http.StatusBadRequest, "indicators: want 1 to "+strconv.Itoa(maxWarningIndicators)+" indicator ids")
		return
	}
	if err := a.Warner.Revoke(r.Context(), b.Member, b.Indicators); err != nil {
		api.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	api.JSON(w, http.StatusAccepted, map[string]any{"revoked": b.Indicators})
}
