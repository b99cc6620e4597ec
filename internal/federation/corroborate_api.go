package federation

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/xsoc/xsoc/internal/api"
)

// CorroborationStatus is a node's part in the corroborated release and
// the pseudonym key's epoch.
type CorroborationStatus struct {
	// Members is how many members must report a pseudonym, in at least
	// two countries, before the hub asks for its value (hub).
	Members int `json:"members,omitempty"`
	// Corroborated counts members in corroborated mode (member node).
	Corroborated int `json:"corroborated_members"`
	// Pending is, at a member node, the values withheld awaiting
	// corroboration; at the hub, the pseudonyms withheld at some node and
	// not corroborated yet.
	Pending int `json:"pending"`
	// Reported counts pseudonymised observables: reported to the hub by
	// members in corroborated mode (member node), recorded (hub).
	Reported int64 `json:"reported"`
	// Reached counts pseudonyms corroborated and Requested the release
	// requests sent (hub); Released the values released and Declined
	// those the member's policy kept home (member node).
	Reached   int64 `json:"corroborations"`
	Requested int64 `json:"release_requests"`
	Released  int64 `json:"released"`
	Declined  int64 `json:"declined"`
	// Epoch is the pseudonym key's current epoch (member node); at the hub
	// only its number, the latest seen.
	Epoch Epoch `json:"epoch"`
	// Rotation is the key's schedule (member node): every, overlap,
	// since; zero without rotation.
	Rotation *Schedule `json:"rotation,omitempty"`
}

// corroboration fills in st.Corroboration.
func (a *API) corroboration(ctx context.Context, st *Status) error {
	m := a.Metrics
	if m == nil || (a.Role != "hub" && a.Role != "member") {
		return nil
	}
	c := &CorroborationStatus{Reported: count(m.corr.reported), Reached: count(m.corr.corroborated),
		Requested: count(m.corr.requested), Released: count(m.corr.released), Declined: count(m.corr.declined)}
	var err error
	switch a.Role {
	case "hub":
		c.Members = max(a.CorroborationMembers, DefaultCorroborationMembers)
		c.Epoch = Epoch{N: m.corr.epochValue()}
		c.Pending, err = pendingPseudonyms(ctx, a.DB, time.Now())
	case "member":
		if a.Pseudonyms != nil {
			s := a.Pseudonyms.Schedule()
			c.Epoch = s.EpochAt(time.Now())
			if s.Every > 0 {
				c.Rotation = &s
			}
		}
		if c.Pending, err = pendingValues(ctx, a.DB, time.Now()); err == nil {
			err = a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM federation_sharing WHERE mode = ?`, ShareCorroborated).Scan(&c.Corroborated)
		}
	}
	st.Corroboration = c
	return err
}

// tick keeps the member node's epoch and pending gauges current.
func (w *Warner) tick(ctx context.Context) {
	w.cfg.Metrics.corr.setEpoch(w.cfg.Pseudonyms.Schedule().EpochAt(time.Now()).N)
	w.countPending(ctx)
}

// sharingBody is the body of PUT /api/v1/federation/sharing.
type sharingBody struct {
	Member string `json:"member"`
	Share  string `json:"share"`
}

func (a *API) listSharing(w http.ResponseWriter, r *http.Request) {
	out, err := a.Sharing.List(r.Context())
	if err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	api.JSON(w, http.StatusOK, map[string]any{"sharing": out})
}

func (a *API) setSharing(w http.ResponseWriter, r *http.Request) {
	var b sharingBody
	if !api.DecodeJSON(w, r, &b) {
		return
	}
	m, err := a.Sharing.Set(r.Context(), b.Member, b.Share)
	if errors.Is(err, ErrBadSharing) {
		api.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	api.JSON(w, http.StatusOK, m)
}
