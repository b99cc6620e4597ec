package node

import (
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
	n.console = web.New(web.Config{Users: n.Users, Members: n.Members, API: n.guarded, Alerts: n.Alerts,
		Intel: n.Intel, Metrics: n.Metrics, Secure: n.Config.TLSCert != "", Log: n.Log})
	return nil
}
