package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/user"
)

func TestUserManagement(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, user.Options{})
		for _, tc := range []struct {
			name, login, method, path, body string
			want                            int
			has                             string
		}{
			{"an analyst may not add users", "ana@fr-soc", "POST", "/web/users", `{"name":"x@fr-soc","role":"viewer"}`, 403, "needs admin"},
			{"an admin adds a user of the member", "adm@fr-soc", "POST", "/web/users", `{"name":"new@fr-soc","role":"analyst"}`, 201, `"member": "fr-soc"`},
			{"the name is taken", "adm@fr-soc", "POST", "/web/users", `{"name":"new@fr-soc","role":"analyst"}`, 409, "exists"},
			{"an admin may not add to another member", "adm@fr-soc", "POST", "/web/users", `{"name":"y@nl-bank","member":"nl-bank","role":"viewer"}`, 403, "that member only"},
			{"an admin may not add a platform admin", "adm@fr-soc", "POST", "/web/users", `{"name":"root","role":"platform-admin"}`, 403, "platform admin"},
			{"unknown role", "adm@fr-soc", "POST", "/web/users", `{"name":"z@fr-soc","role":"god"}`, 400, "unknown role"},
			{"bad name", "adm@fr-soc", "POST", "/web/users", `{"name":"<b>x</b>","role":"viewer"}`, 400, "user name"},
			{"unknown member", "ops", "POST", "/web/users", `{"name":"q@xx","member":"xx","role":"viewer"}`, 400, "no such member"},
			{"a platform admin adds anyone", "ops", "POST", "/web/users", `{"name":"ana2@nl-bank","member":"nl-bank","role":"admin"}`, 201, `"password"`},
			{"another member's user is unknown to an admin", "adm@fr-soc", "POST", "/web/users/ana@nl-bank/disable", ``, 404, "no such user"},
			{"nobody disables themselves", "adm@fr-soc", "POST", "/web/users/adm@fr-soc/disable", ``, 400, "your own"},
			{"an admin resets a password", "adm@fr-soc", "POST", "/web/users/vic@fr-soc/password", ``, 200, `"password"`},
			{"an admin disables a user", "adm@fr-soc", "POST", "/web/users/new@fr-soc/disable", ``, 200, `"disabled"`},
			{"an admin lists the member's users only", "adm@fr-soc", "GET", "/web/users", ``, 200, `"new@fr-soc"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := newBrowser(t, f.srv.URL)
				if resp := b.login(tc.login, testPassword); resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("login %s: %s", tc.login, resp.Status)
				}
				code, out := b.call(tc.method, tc.path, tc.body)
				if code != tc.want || !strings.Contains(out, tc.has) {
					t.Fatalf("%s %s: %d %s, want %d with %q", tc.method, tc.path, code, out, tc.want, tc.has)
				}
				if tc.path == "/web/users" && tc.method == "GET" && strings.Contains(out, "nl-bank") {
					t.Fatalf("fr-soc's admin sees other members' accounts: %s", out)
				}
			})
		}
		// The disabled account may not log in; the reset password works
		// and the old one no longer does.
		b := newBrowser(t, f.srv.URL)
		if resp := b.login("new@fr-soc", "whatever it was"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("disabled account logs in: %s", resp.Status)
		}
		adm := newBrowser(t, f.srv.URL)
		adm.login("adm@fr-soc", testPassword)
		code, out := adm.call("POST", "/web/users/vic@fr-soc/password", "")
		var res struct{ Password string }
		if json.Unmarshal([]byte(out), &res); code != 200 || res.Password == "" {
			t.Fatalf("reset: %d %s", code, out)
		}
		if resp := newBrowser(t, f.srv.URL).login("vic@fr-soc", testPassword); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("old password after a reset: %s", resp.Status)
		}
		if resp := newBrowser(t, f.srv.URL).login("vic@fr-soc", res.Password); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("new password: %s", resp.Status)
		}
	})
}

// TestLoginRateLimitPerAddress: guessing across many accounts from one
// address is stopped too, even for an account with no failures.
func TestLoginRateLimitPerAddress(t *testing.T) {
	f := newFixture(t, sqlite(t), user.Options{})
	b := newBrowser(t, f.srv.URL)
	for i := 0; i < 20; i++ {
		name := "nobody" + string(rune('a'+i)) + "@fr-soc"
		if resp := b.login(name, "wrong password"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %s", i+1, resp.Status)
		}
	}
	resp := b.login("ana@fr-soc", testPassword)
	if body := read(resp); resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed logins") {
		t.Fatalf("after 20 failures from the address, the right password: %s", resp.Status)
	}
}

// TestBrowserUsersAndKeys: a platform admin rotates a member's API key
// and adds a member (each key shown once), adds a user and resets a
// password; a member's admin manages only its member's accounts and sees
// the refusal to add a platform admin as a message in the page.
func TestBrowserUsersAndKeys(t *testing.T) {
	ctx := chrome(t)
	dir := shots(t)
	f := newFixture(t, sqlite(t), user.Options{})
	loginAs(t, ctx, f.srv.URL, "ops")
	run(t, ctx, "members page", chromedp.Navigate(f.srv.URL+"/#/members"), waitText(`#members-table`, "nl-bank"))
	run(t, ctx, "rotate nl-bank's key: first click asks",
		clickJS(`#rotate-nl-bank`), waitText(`#rotate-nl-bank`, "confirm"),
		clickJS(`#rotate-nl-bank`), waitText(`#secret`, "New API key of nl-bank"), waitText(`#flash`, "revoked"))
	key := value[string](t, ctx, `document.getElementById("secret-value").textContent`)
	if _, err := f.members.Authenticate(t.Context(), key); err != nil {
		t.Fatalf("the key the page shows does not authenticate: %v", err)
	}
	screenshot(t, ctx, dir, "members-key")
	run(t, ctx, "add a member",
		chromedp.SetValue(chromedp.CSS(`#new-member-id`), "be-cert"),
		chromedp.SetValue(chromedp.CSS(`#new-member-name`), "CERT.be"),
		chromedp.SetValue(chromedp.CSS(`#new-member-country`), "be"),
		chromedp.SetValue(chromedp.CSS(`#new-member-sector`), "public-administration"),
		chromedp.Click(chromedp.CSS(`#add-member`)),
		waitText(`#flash`, "member be-cert added"), waitText(`#members-table`, "CERT.be"), waitText(`#secret`, "API key of be-cert"))

	run(t, ctx, "users page", chromedp.Navigate(f.srv.URL+"/#/users"), waitText(`#users-table`, "ana@nl-bank"))
	run(t, ctx, "add a user of be-cert",
		chromedp.SetValue(chromedp.CSS(`#new-user-name`), "eva@be-cert"),
		chromedp.SetValue(chromedp.CSS(`#f-new-user-role`), "admin"),
		chromedp.SetValue(chromedp.CSS(`#f-new-user-member`), "be-cert"),
		chromedp.Click(chromedp.CSS(`#add-user`)),
		waitText(`#flash`, "user eva@be-cert added"), waitText(`#users-table`, "eva@be-cert"), waitText(`#secret`, "Password of eva@be-cert"))
	pw := value[string](t, ctx, `document.getElementById("secret-value").textContent`)
	if resp := newBrowser(t, f.srv.URL).login("eva@be-cert", pw); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the password the page shows does not log in: %s", resp.Status)
	}
	screenshot(t, ctx, dir, "users")

	run(t, ctx, "log out", clickJS(`#logout`), chromedp.WaitVisible(chromedp.CSS(`#login-form`)))
	loginAs(t, ctx, f.srv.URL, "adm@fr-soc")
	run(t, ctx, "a member's admin sees its users",
		chromedp.Navigate(f.srv.URL+"/#/users"), waitText(`#users-table`, "vic@fr-soc"))
	if s := value[string](t, ctx, `document.getElementById("users-table").textContent`); strings.Contains(s, "nl-bank") || strings.Contains(s, "ops") {
		t.Fatalf("fr-soc's admin sees other accounts: %s", s)
	}
	if n := value[int](t, ctx, `document.querySelectorAll("#f-new-user-role option[value=platform-admin]").length`); n != 0 {
		t.Fatal("a member's admin is offered the platform-admin role")
	}
	run(t, ctx, "disable a user",
		clickJS(`#disable-vic\@fr-soc`), waitText(`#flash`, "vic@fr-soc disabled"), waitText(`#users-table`, "disabled since"),
		clickJS(`#enable-vic\@fr-soc`), waitText(`#flash`, "vic@fr-soc enabled"))
	run(t, ctx, "a refusal shows its message in the page",
		chromedp.SetValue(chromedp.CSS(`#new-user-name`), "<b>bad</b>"),
		chromedp.Click(chromedp.CSS(`#add-user`)),
		waitText(`#flash`, "400"), waitText(`#flash`, "user name"))
	screenshot(t, ctx, dir, "users-admin")
	run(t, ctx, "a member's admin may not open the members page",
		chromedp.Navigate(f.srv.URL+"/#/members"), waitText(`#flash`, "403"))
}
