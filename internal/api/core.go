package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/xsoc/xsoc/internal/eventlog"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Core serves the foundation's endpoints: who am I, members and keys
// (operators), and the ingest rejects of the calling member.
type Core struct {
	Members *member.Registry
	Events  *eventlog.Log
	// AfterAdd, if set, runs after a member is added (to grant it the
	// community's default rights).
	AfterAdd func(context.Context, member.Member) error
}

// Register adds Core's routes to mux. Routes are relative to the API's
// authenticated handler.
func (c *Core) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/me", c.me)
	mux.Handle("GET /api/v1/members", RequireOperator(http.HandlerFunc(c.listMembers)))
	mux.Handle("POST /api/v1/members", RequireOperator(http.HandlerFunc(c.addMember)))
	mux.Handle("GET /api/v1/members/{id}", http.HandlerFunc(c.getMember))
	mux.Handle("POST /api/v1/members/{id}/rotate-key", RequireOperator(http.HandlerFunc(c.rotateKey)))
	mux.HandleFunc("POST /api/v1/members/{id}/alert-tlp", c.setAlertTLP)
	mux.Handle("GET /api/v1/ingest/rejects", RequireMember(http.HandlerFunc(c.rejects)))
}

func (c *Core) me(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	out := map[string]any{"role": p.Role, "key_id": p.KeyID}
	if p.Member.ID != "" {
		out["member"] = p.Member
	}
	JSON(w, http.StatusOK, out)
}

func (c *Core) listMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := c.Members.List(r.Context())
	if err != nil {
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	JSON(w, http.StatusOK, map[string]any{"members": ms})
}

// getMember shows a member to operators and to the member itself; other
// members see the public profile (name, country, sector) that correlation
// and sharing already reveal.
func (c *Core) getMember(w http.ResponseWriter, r *http.Request) {
	m, err := c.Members.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, member.ErrNotFound) {
		Error(w, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	p, _ := PrincipalFrom(r.Context())
	if !p.Operator() && p.Member.ID != m.ID {
		m.ClientOf = nil
	}
	JSON(w, http.StatusOK, m)
}

type addMemberRequest struct {
	member.Member
}

func (c *Core) addMember(w http.ResponseWriter, r *http.Request) {
	var req addMemberRequest
	if !DecodeJSON(w, r, &req) {
		return
	}
	m, key, err := c.Members.Add(r.Context(), req.Member)
	switch {
	case errors.Is(err, member.ErrExists):
		Error(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if c.AfterAdd != nil {
		if err := c.AfterAdd(r.Context(), m); err != nil {
			Error(w, http.StatusInternalServerError, "member added, but granting its rights failed: "+err.Error())
			return
		}
	}
	JSON(w, http.StatusCreated, map[string]any{"member": m, "api_key": key,
		"note": "store the API key now: xsoc keeps only its hash and cannot show it again"})
}

func (c *Core) rotateKey(w http.ResponseWriter, r *http.Request) {
	key, err := c.Members.RotateKey(r.Context(), r.PathValue("id"))
	if errors.Is(err, member.ErrNotFound) {
		Error(w, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	JSON(w, http.StatusOK, map[string]any{"api_key": key,
		"note": "every earlier key of this member is revoked; store this one now"})
}

func (c *Core) rejects(w http.ResponseWriter, r *http.Request) {
	id, _ := MemberFrom(r.Context())
	limit, err := QueryInt(r, "limit", 100)
	if err != nil {
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	rs, err := c.Events.Rejects(r.Context(), id, limit)
	if err != nil {
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	JSON(w, http.StatusOK, map[string]any{"rejects": rs})
}

// setAlertTLP sets who sees a member's alerts: {"tlp": "TLP:GREEN"}. A
// member sets its own; operators set anyone's.
func (c *Core) setAlertTLP(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if p, _ := PrincipalFrom(r.Context()); !p.Operator() && p.Member.ID != id {
		Error(w, http.StatusForbidden, "a member sets only its own sharing level")
		return
	}
	var req struct {
		TLP tlp.Level `json:"tlp"`
	}
	if !DecodeJSON(w, r, &req) {
		return
	}
	if err := c.Members.SetAlertTLP(r.Context(), id, req.TLP); errors.Is(err, member.ErrNotFound) {
		Error(w, http.StatusNotFound, err.Error())
		return
	} else if err != nil {
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	JSON(w, http.StatusOK, map[string]string{"member": id, "alert_tlp": req.TLP.String()})
}
