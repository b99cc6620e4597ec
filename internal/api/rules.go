package api

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/respond"
	"github.com/xsoc/xsoc/internal/rulestore"
)

// Rules serves the Sigma rule set: everyone may list it; operators upload,
// enable and disable rules.
type Rules struct {
	Engine *sigma.Engine
	Store  *rulestore.Store
	// Reload recompiles the stored rules into the engine.
	Reload func(context.Context) error
}

// Register adds the routes.
func (h *Rules) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/rules", h.list)
	mux.Handle("POST /api/v1/rules", RequireOperator(http.HandlerFunc(h.upload)))
	mux.Handle("POST /api/v1/rules/{id}/enable", RequireOperator(http.HandlerFunc(h.enable)))
	mux.Handle("POST /api/v1/rules/{id}/disable", RequireOperator(http.HandlerFunc(h.disable)))
}

func (h *Rules) list(w http.ResponseWriter, r *http.Request) {
	rules := h.Engine.Rules()
	q := r.URL.Query()
	if t := strings.ToUpper(q.Get("technique")); t != "" {
		kept := rules[:0]
		for _, ri := range rules {
			for _, tech := range ri.Techniques {
				if strings.HasPrefix(tech, t) {
					kept = append(kept, ri)
					break
				}
			}
		}
		rules = kept
	}
	JSON(w, http.StatusOK, map[string]any{"rules": rules, "count": len(rules)})
}

// upload stores a rule file sent as the body (YAML, one or more
// documents) under ?name=, after checking that it parses and compiles.
func (h *Rules) upload(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		Error(w, http.StatusBadRequest, "query parameter name (the rule file's name) is required")
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
	if err != nil {
		Error(w, http.StatusBadRequest, "reading rule: "+err.Error())
		return
	}
	rules, err := sigma.ParseRule(data, name)
	if err != nil {
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, errs := sigma.Compile(rules, h.Engine.Options()); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		Error(w, http.StatusBadRequest, strings.Join(msgs, "; "))
		return
	}
	if err := h.Store.Put(r.Context(), "api/"+name, data); err != nil {
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	if err := h.Reload(r.Context()); err != nil {
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	JSON(w, http.StatusCreated, map[string]any{"stored": "api/" + name, "rules": len(rules)})
}

func (h *Rules) enable(w http.ResponseWriter, r *http.Request)  { h.setEnabled(w, r, true) }
func (h *Rules) disable(w http.ResponseWriter, r *http.Request) { h.setEnabled(w, r, false) }

func (h *Rules) setEnabled(w http.ResponseWriter, r *http.Request, on bool) {
	id := r.PathValue("id")
	if err := h.Engine.SetEnabled(id, on); err != nil {
		Error(w, http.StatusNotFound, err.Error())
		return
	}
	if err := h.Store.SetEnabled(r.Context(), id, on); err != nil {
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	JSON(w, http.StatusOK, map[string]any{"id": id, "enabled": on})
}

// Playbooks serves the loaded playbooks, their deliveries and dry runs.
type Playbooks struct {
	Respond *respond.Responder
}

// Register adds the routes.
func (h *Playbooks) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/playbooks", RequireOperator(http.HandlerFunc(h.list)))
	mux.Handle("GET /api/v1/deliveries", RequireOperator(http.HandlerFunc(h.deliveries)))
	mux.Handle("POST /api/v1/playbooks/simulate", RequireOperator(http.HandlerFunc(h.simulate)))
}

// simulate answers which playbooks and actions an alert (the JSON body)
// would set off, without doing anything.
func (h *Playbooks) simulate(w http.ResponseWriter, r *http.Request) {
	var a alert.Alert
	if !DecodeJSON(w, r, &a) {
		return
	}
	JSON(w, http.StatusOK, map[string]any{"planned": h.Respond.Simulate(a)})
}

func (h *Playbooks) list(w http.ResponseWriter, r *http.Request) {
	JSON(w, http.StatusOK, map[string]any{"playbooks": h.Respond.Playbooks()})
}

func (h *Playbooks) deliveries(w http.ResponseWriter, r *http.Request) {
	limit, err := QueryInt(r, "limit", 100)
	if err != nil {
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	ds, err := h.Respond.Deliveries(r.Context(), r.URL.Query().Get("state"), limit)
	if err != nil {
		Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	JSON(w, http.StatusOK, map[string]any{"deliveries": ds})
}
