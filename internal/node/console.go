package node

import (
	"net/http"

	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/user"
	"github.com/xsoc/xsoc/internal/web"
)

// openConsole builds the user store and the web console, served at / beside
// the API.
func (n *Node) openConsole() error {
	var err error
	if n.Users, err = user.NewStore(n.DB, user.Options{}); err != nil {
		return err
	}
	n.console = web.New(web.Config{Users: n.Users, Members: n.Members, API: n.limiter.Handler(n.guarded), Alerts: n.Alerts,
		Intel: n.Intel, Metrics: n.Metrics, Secure: n.Config.TLSCert != "", Log: n.Log,
		Throttle: n.throttleSession,
		Audited:  func(h http.Handler) http.Handler { return api.ConsoleAudited(n.Audit, n.Log, h) }})
	return nil
}

// throttleSession spends a token of a console user's bucket (who is the
// session's principal key id, "user:<name>"), or answers 429 with
// Retry-After and reports false.
func (n *Node) throttleSession(w http.ResponseWriter, r *http.Request, who string) bool {
	wait, ok := n.limiter.Take(who, false)
	if !ok {
		w.Header().Set("Retry-After", api.RetryAfter(wait))
		api.Error(w, http.StatusTooManyRequests, n.limiter.Refusal(false, wait))
	}
	return ok
}
