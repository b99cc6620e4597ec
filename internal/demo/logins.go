package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/xsoc/xsoc/internal/node"
	"github.com/xsoc/xsoc/internal/user"
)

// Login is a web console account the demo made.
type Login struct {
	User     string    `json:"user"`
	Password string    `json:"password"`
	Member   string    `json:"member,omitempty"`
	Role     user.Role `json:"role"`
}

// OperatorLogin is the demo's platform admin.
const OperatorLogin = "operator"

// setupLogins gives every demo member an analyst login
// ("analyst@<member>") and the platform an operator, each with a fresh
// random password, and writes them to demo-logins.json (mode 0600).
func setupLogins(ctx context.Context, n *node.Node, members []string) ([]Login, error) {
	var logins []Login
	for _, m := range slices.Sorted(slices.Values(members)) {
		logins = append(logins, Login{User: "analyst@" + m, Member: m, Role: user.Analyst})
	}
	logins = append(logins, Login{User: OperatorLogin, Role: user.PlatformAdmin})
	for i := range logins {
		l := &logins[i]
		l.Password = user.RandomPassword()
		_, err := n.Users.Add(ctx, user.User{Name: l.User, Member: l.Member, Role: l.Role}, l.Password)
		if errors.Is(err, user.ErrExists) {
			err = n.Users.SetPassword(ctx, l.User, l.Password)
		}
		if err != nil {
			return nil, fmt.Errorf("demo login %s: %w", l.User, err)
		}
	}
	data, _ := json.MarshalIndent(logins, "", "  ")
	return logins, os.WriteFile(filepath.Join(n.Config.DataDir, "demo-logins.json"), data, 0o600)
}

// printLogins tells where the web console is and how to log in.
func printLogins(out io.Writer, url string, logins []Login, file string) {
	fmt.Fprintf(out, "web console at %s/ — log in as (also in %s):\n", url, file)
	for _, l := range logins {
		fmt.Fprintf(out, "  %-22s %s  (%s)\n", l.User, l.Password, l.Role)
	}
}
