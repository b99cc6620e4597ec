package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
	"github.com/xsoc/xsoc/internal/user"
)

const usersUsage = `usage: xsoc users add --name NAME --role ROLE [--member ID] [--password-stdin | --password-file FILE]
       xsoc users list [--member ID] [--json]
       xsoc users passwd NAME [--password-stdin | --password-file FILE]
       xsoc users disable NAME
       xsoc users enable NAME

People who log in to the web console. Roles: viewer (reads), analyst (also
works cases), admin (also the member's settings, intel and rules),
platform-admin (runs the platform; belongs to no member). Without a
password option a random password is generated and shown once. Works on
the node's store directly (the same --data-dir or --postgres-url as
"xsoc serve"; safe while the node runs).`

func runUsers(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usersUsage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("users "+sub, flag.ContinueOnError)
	load := configFlags(fs)
	var u user.User
	var role, pwFile string
	var pwStdin, asJSON bool
	switch sub {
	case "add":
		fs.StringVar(&u.Name, "name", "", "user name (login), e.g. alice@fr-soc")
		fs.StringVar(&role, "role", "", "viewer, analyst, admin or platform-admin")
		fs.StringVar(&u.Member, "member", "", "the member organisation the user works for (not for platform-admin)")
	case "list":
		fs.StringVar(&u.Member, "member", "", "only this member's users")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}
	if sub == "add" || sub == "passwd" {
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
		fs.StringVar(&pwFile, "password-file", "", "read the password from the first line of this file")
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	ctx := context.Background()
	db, err := node.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	users, err := user.NewStore(db, user.Options{})
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		return usersAdd(ctx, users, member.NewRegistry(db), u, role, pwStdin, pwFile, stdout)
	case "list":
		return usersList(ctx, users, u.Member, asJSON, stdout)
	case "passwd":
		if fs.NArg() != 1 {
			return errors.New("passwd takes one user name")
		}
		pw, generated, err := password(pwStdin, pwFile)
		if err != nil {
			return err
		}
		if err := users.SetPassword(ctx, fs.Arg(0), pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s changed; its sessions are ended\n", fs.Arg(0))
		showGenerated(stdout, generated, pw)
	case "disable", "enable":
		if fs.NArg() != 1 {
			return fmt.Errorf("%s takes one user name", sub)
		}
		if err := users.SetDisabled(ctx, fs.Arg(0), sub == "disable"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s %sd\n", fs.Arg(0), sub)
	default:
		fmt.Fprintln(stderr, usersUsage)
		return errUsage
	}
	return nil
}

func usersAdd(ctx context.Context, users *user.Store, members *member.Registry, u user.User, role string, pwStdin bool, pwFile string, stdout io.Writer) error {
	r, err := user.ParseRole(role)
	if err != nil {
		return err
	}
	u.Role = r
	if u.Member != "" {
		if _, err := members.Get(ctx, u.Member); err != nil {
			return err
		}
	}
	if err := u.Validate(); err != nil {
		return err
	}
	pw, generated, err := password(pwStdin, pwFile)
	if err != nil {
		return err
	}
	added, err := users.Add(ctx, u, pw)
	if err != nil {
		return err
	}
	of := "the platform"
	if added.Member != "" {
		of = "member " + added.Member
	}
	fmt.Fprintf(stdout, "user %s added: %s of %s\n", added.Name, added.Role, of)
	showGenerated(stdout, generated, pw)
	return nil
}

func usersList(ctx context.Context, users *user.Store, memberID string, asJSON bool, stdout io.Writer) error {
	us, err := users.List(ctx, memberID)
	if err != nil {
		return err
	}
	if asJSON {
		if us == nil {
			us = []user.User{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(us)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMEMBER\tROLE\tCREATED\tSTATE")
	for _, u := range us {
		state := "active"
		if !u.Active() {
			state = "disabled " + u.Disabled.Format("2006-01-02 15:04")
		}
		m := u.Member
		if m == "" {
			m = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, m, u.Role, u.Created.Format("2006-01-02 15:04"), state)
	}
	return tw.Flush()
}

// password reads the password as the flags say, or generates one.
func password(fromStdin bool, file string) (pw string, generated bool, err error) {
	var r io.Reader
	switch {
	case fromStdin && file != "":
		return "", false, errors.New("give --password-stdin or --password-file, not both")
	case fromStdin:
		r = os.Stdin
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return "", false, err
		}
		defer f.Close()
		r = f
	default:
		return user.RandomPassword(), true, nil
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, err
	}
	pw = strings.TrimRight(line, "\r\n")
	return pw, false, user.CheckPassword(pw)
}

func showGenerated(stdout io.Writer, generated bool, pw string) {
	if generated {
		fmt.Fprintf(stdout, "password (shown once, store it now): %s\n", pw)
	}
}
