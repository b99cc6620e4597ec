package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Collections serves TAXII collection management: operators create
// collections and give members rights on them; every key lists the
// collections it may use.
type Collections struct {
	Repo    *intel.Repo
	Members *member.Registry
}

// Register adds the collection routes to mux.
func (c *Collections) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/collections", c.list)
	mux.Handle("POST /api/v1/collections", RequireOperator(http.HandlerFunc(c.create)))
	mux.Handle("PUT /api/v1/collections/{id}/rights/{member}", RequireOperator(http.HandlerFunc(c.setRights)))
}

// CollectionView is a collection as the API shows it: to a member, its own
// rights; to an operator, every member's.
type CollectionView struct {
	ID            string `json:"id"`
	Title         string `json:"title"`
	Description   string `json:"description,omitempty"`
	Alias         string `json:"alias,omitempty"`
	DefaultTLP    string `json:"default_tlp"`
	CommunityRead bool   `json:"community_read"`
	CanRead       bool   `json:"can_read"`
	CanWrite      bool   `json:"can_write"`
	// Rights lists, for operators, the members given rights by name.
	Rights map[string]RightsView `json:"rights,omitempty"`
}

// RightsView is a member's rights on a collection.
type RightsView struct {
	Read  bool `json:"read"`
	Write bool `json:"write"`
}

// ViewCollection makes the API view of a collection; rights, if not nil,
// are every member's (for operators).
func ViewCollection(a intel.Access, rights map[string]intel.Rights) CollectionView {
	v := CollectionView{ID: a.ID, Title: a.Title, Description: a.Description, Alias: a.Alias,
		DefaultTLP: a.UnmarkedLevel().String(), CommunityRead: a.CommunityRead, CanRead: a.CanRead, CanWrite: a.CanWrite}
	if rights != nil {
		v.Rights = map[string]RightsView{}
		for m, r := range rights {
			v.Rights[m] = RightsView{Read: r.Read, Write: r.Write}
		}
	}
	return v
}

func (c *Collections) viewer(r *http.Request) intel.Viewer {
	p, _ := PrincipalFrom(r.Context())
	return intel.Viewer{Member: p.Member.ID, ClientOf: p.Member.ClientOf, Operator: p.Operator()}
}

func (c *Collections) list(w http.ResponseWriter, r *http.Request) {
	v := c.viewer(r)
	cs, err := c.Repo.Collections(r.Context(), v)
	if err != nil {
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]CollectionView, 0, len(cs))
	for _, a := range cs {
		var rights map[string]intel.Rights
		if v.Operator {
			if rights, err = c.Repo.MemberRights(r.Context(), a.ID); err != nil {
				Error(w, http.StatusInternalServerError, err.Error())
				return
			}
		}
		out = append(out, ViewCollection(a, rights))
	}
	JSON(w, http.StatusOK, map[string]any{"collections": out})
}

type createCollectionRequest struct {
	ID            string `json:"id"`
	Title         string `json:"title"`
	Description   string `json:"description"`
	Alias         string `json:"alias"`
	DefaultTLP    string `json:"default_tlp"`
	CommunityRead bool   `json:"community_read"`
}

func (c *Collections) create(w http.ResponseWriter, r *http.Request) {
	var req createCollectionRequest
	if !DecodeJSON(w, r, &req) {
		return
	}
	col := intel.Collection{ID: req.ID, Title: req.Title, Description: req.Description, Alias: req.Alias, CommunityRead: req.CommunityRead}
	if req.DefaultTLP != "" {
		l, err := tlp.Parse(req.DefaultTLP)
		if err != nil {
			Error(w, http.StatusBadRequest, "default_tlp: "+err.Error())
			return
		}
		col.DefaultTLP = &l
	}
	col, err := c.Repo.CreateCollection(r.Context(), col)
	switch {
	case errors.Is(err, intel.ErrInvalid):
		Error(w, http.StatusBadRequest, err.Error())
		return
	case err != nil && strings.Contains(strings.ToLower(err.Error()), "unique"):
		Error(w, http.StatusConflict, "a collection with id "+req.ID+" exists")
		return
	case err != nil:
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	a := intel.Access{Collection: col, CanRead: true, CanWrite: true}
	JSON(w, http.StatusCreated, ViewCollection(a, map[string]intel.Rights{}))
}

func (c *Collections) setRights(w http.ResponseWriter, r *http.Request) {
	var req RightsView
	if !DecodeJSON(w, r, &req) {
		return
	}
	id, m := r.PathValue("id"), r.PathValue("member")
	if _, err := c.Members.Get(r.Context(), m); errors.Is(err, member.ErrNotFound) {
		Error(w, http.StatusNotFound, err.Error())
		return
	} else if err != nil {
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	err := c.Repo.SetRights(r.Context(), id, m, intel.Rights{Read: req.Read, Write: req.Write})
	switch {
	case errors.Is(err, intel.ErrNotFound):
		Error(w, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, intel.ErrInvalid):
		Error(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	JSON(w, http.StatusOK, map[string]any{"collection": id, "member": m, "rights": req})
}
