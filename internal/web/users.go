package web

import (
	"errors"
	"net/http"

	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/user"
)

// Account management from the browser, as `xsoc users` does it on the
// node: a member's admins manage their own member's accounts (up to
// admin), platform admins every account. Passwords are made by the node
// and shown once, so that no one chooses a weak one for someone else.

// manageable returns the account name names if the caller may manage it.
// Another member's account answers as if it did not exist, so that an
// admin cannot learn other members' user names by trying them.
func (c *Console) manageable(w http.ResponseWriter, r *http.Request, name string) (user.User, bool) {
	s := sessionFrom(r.Context())
	u, err := c.cfg.Users.Get(r.Context(), name)
	if err == nil && s.User.Role != user.PlatformAdmin && u.Member != s.User.Member {
		err = user.ErrNotFound
	}
	switch {
	case errors.Is(err, user.ErrNotFound):
		api.Error(w, http.StatusNotFound, "no such user: "+name)
		return u, false
	case err != nil:
		api.Error(w, http.StatusInternalServerError, err.Error())
		return u, false
	}
	return u, true
}

// addUser serves POST /web/users {"name", "member", "role"}: a new account
// with a random password, shown once in the answer.
func (c *Console) addUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name   string `json:"name"`
		Member string `json:"member"`
		Role   string `json:"role"`
	}
	if !api.DecodeJSON(w, r, &req) {
		return
	}
	s := sessionFrom(r.Context())
	role, err := user.ParseRole(req.Role)
	if err != nil {
		api.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.User.Role != user.PlatformAdmin {
		if req.Member != "" && req.Member != s.User.Member {
			api.Error(w, http.StatusForbidden, "a member's admin adds accounts of that member only")
			return
		}
		if role == user.PlatformAdmin {
			api.Error(w, http.StatusForbidden, "only a platform admin may add a platform admin")
			return
		}
		req.Member = s.User.Member
	}
	if req.Member != "" {
		if _, err := c.cfg.Members.Get(r.Context(), req.Member); errors.Is(err, member.ErrNotFound) {
			api.Error(w, http.StatusBadRequest, "no such member: "+req.Member)
			return
		} else if err != nil {
			api.Error(w, http.StatusInternalServerError, err.Error())
			return
		}
	}
	pw := user.RandomPassword()
	u, err := c.cfg.Users.Add(r.Context(), user.User{Name: req.Name, Member: req.Member, Role: role}, pw)
	switch {
	case errors.Is(err, user.ErrExists):
		api.Error(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		api.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	c.cfg.Log.Info("web: user added", "user", u.Name, "member", u.Member, "role", u.Role, "by", s.User.Name)
	api.JSON(w, http.StatusCreated, map[string]any{"user": u, "password": pw,
		"note": "give this password to the person; it is not shown again"})
}

// setUserDisabled serves POST /web/users/{name}/disable and …/enable.
// Disabling ends the account's sessions at once. Nobody disables their own
// account, which would lock them out mid-change.
func (c *Console) setUserDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := sessionFrom(r.Context())
		u, ok := c.manageable(w, r, r.PathValue("name"))
		if !ok {
			return
		}
		if disabled && u.Name == s.User.Name {
			api.Error(w, http.StatusBadRequest, "you cannot disable your own account")
			return
		}
		if err := c.cfg.Users.SetDisabled(r.Context(), u.Name, disabled); err != nil {
			api.Error(w, http.StatusInternalServerError, err.Error())
			return
		}
		c.cfg.Log.Info("web: user disabled or enabled", "user", u.Name, "disabled", disabled, "by", s.User.Name)
		u, _ = c.cfg.Users.Get(r.Context(), u.Name)
		api.JSON(w, http.StatusOK, map[string]any{"user": u})
	}
}

// resetPassword serves POST /web/users/{name}/password: a new random
// password, shown once; the account's sessions end.
func (c *Console) resetPassword(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	u, ok := c.manageable(w, r, r.PathValue("name"))
	if !ok {
		return
	}
	pw := user.RandomPassword()
	if err := c.cfg.Users.SetPassword(r.Context(), u.Name, pw); err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	c.cfg.Log.Info("web: password reset", "user", u.Name, "by", s.User.Name)
	api.JSON(w, http.StatusOK, map[string]any{"user": u, "password": pw,
		"note": "the account's sessions have ended; give this password to the person; it is not shown again"})
}
