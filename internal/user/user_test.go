package user

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// cheap keeps the tests fast; the format and checks are the same.
var cheap = Params{Memory: 64, Time: 1, Threads: 1}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func engines(t *testing.T, run func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { run(t, storetest.SQLite(t, Schema())) })
	t.Run("postgres", func(t *testing.T) { run(t, storetest.Postgres(t, Schema())) })
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q: not a PHC argon2id string with the default parameters", h)
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse battery", true}, {"correct horse batterY", false}, {"", false}} {
		ok, err := VerifyPassword(tc.pw, h)
		if err != nil || ok != tc.want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	h2, _ := HashPassword("correct horse battery", DefaultParams)
	if h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaA"} {
		if _, err := VerifyPassword("x", bad); err == nil {
			t.Errorf("VerifyPassword accepted the hash %q", bad)
		}
	}
}

func FuzzVerifyPassword(f *testing.F) {
	h, _ := HashPassword("password1234", cheap)
	f.Add(h)
	f.Add("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Fuzz(func(t *testing.T, s string) { VerifyPassword("password1234", s) })
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		u  User
		ok bool
	}{
		{User{Name: "alice", Member: "fr-soc", Role: Analyst}, true},
		{User{Name: "ops", Role: PlatformAdmin}, true},
		{User{Name: "ops", Member: "fr-soc", Role: PlatformAdmin}, false},
		{User{Name: "bob", Role: Viewer}, false},
		{User{Name: "Bob", Member: "fr-soc", Role: Viewer}, false},
		{User{Name: "bob", Member: "fr-soc", Role: "root"}, false},
	} {
		if err := tc.u.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", tc.u, err, tc.ok)
		}
	}
	if !Admin.AtLeast(Analyst) || Viewer.AtLeast(Analyst) || Role("x").AtLeast(Viewer) || !PlatformAdmin.AtLeast(Admin) {
		t.Error("role order is wrong")
	}
}

func TestAccountsAndSessions(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := &clock{time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
		s, err := NewStore(db, Options{Idle: 10 * time.Minute, Absolute: time.Hour, Params: cheap, Now: c.now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Add(ctx, User{Name: "alice", Member: "fr-soc", Role: Analyst}, "short"); err == nil {
			t.Fatal("a 5-character password was accepted")
		}
		if _, err := s.Add(ctx, User{Name: "alice", Member: "fr-soc", Role: Analyst}, "alice's long password"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Add(ctx, User{Name: "alice", Member: "de-energie", Role: Viewer}, "another long password"); !errors.Is(err, ErrExists) {
			t.Fatalf("second alice: %v, want ErrExists", err)
		}
		for _, tc := range []struct{ name, pw string }{{"alice", "wrong password!!"}, {"nobody", "alice's long password"}} {
			if _, _, err := s.Login(ctx, tc.name, tc.pw); !errors.Is(err, ErrBadLogin) {
				t.Errorf("login %s/%s: %v, want ErrBadLogin", tc.name, tc.pw, err)
			}
		}
		token, sess, err := s.Login(ctx, "alice", "alice's long password")
		if err != nil {
			t.Fatal(err)
		}
		if sess.User.Member != "fr-soc" || sess.User.Role != Analyst || sess.CSRF == "" {
			t.Fatalf("session %+v", sess)
		}
		var stored int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE id = ?`, token).Scan(&stored)
		if stored != 0 {
			t.Fatal("the session token is stored in the clear")
		}
		// Used every 9 minutes, the session outlives its 10-minute idle
		// time, but not its absolute hour.
		for i := 0; i < 6; i++ {
			c.t = c.t.Add(9 * time.Minute)
			if _, err := s.Session(ctx, token); err != nil {
				t.Fatalf("after %d×9 min: %v", i+1, err)
			}
		}
		c.t = c.t.Add(7 * time.Minute) // 61 minutes after login
		if _, err := s.Session(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Fatalf("past the absolute timeout: %v", err)
		}
		token, _, _ = s.Login(ctx, "alice", "alice's long password")
		c.t = c.t.Add(11 * time.Minute)
		if _, err := s.Session(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Fatalf("past the idle timeout: %v", err)
		}
		token, _, _ = s.Login(ctx, "alice", "alice's long password")
		if err := s.SetPassword(ctx, "alice", "alice's new long password"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Fatalf("session survived a password change: %v", err)
		}
		token, _, err = s.Login(ctx, "alice", "alice's new long password")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetDisabled(ctx, "alice", true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Fatalf("session survived disabling: %v", err)
		}
		if _, _, err := s.Login(ctx, "alice", "alice's new long password"); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("disabled account logged in: %v", err)
		}
		if err := s.SetDisabled(ctx, "bob", true); !errors.Is(err, ErrNotFound) {
			t.Fatalf("disable unknown: %v", err)
		}
		us, err := s.List(ctx, "fr-soc")
		if err != nil || len(us) != 1 || us[0].Active() {
			t.Fatalf("List = %+v, %v", us, err)
		}
		if err := s.Logout(ctx, token); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLimiter(t *testing.T) {
	c := &clock{time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	l := NewLimiter()
	l.Now = c.now
	for i := 0; i < 5; i++ {
		if ok, _ := l.Allow("alice", "10.0.0.1"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
		l.Fail("alice", "10.0.0.1")
	}
	if ok, wait := l.Allow("alice", "10.0.0.2"); ok || wait <= 0 {
		t.Fatal("a sixth guess at alice, from another address, was allowed")
	}
	if ok, _ := l.Allow("bob", "10.0.0.1"); !ok {
		t.Fatal("bob refused after five failures at alice")
	}
	for i := 0; i < 15; i++ {
		l.Fail("user"+string(rune('a'+i)), "10.0.0.1")
	}
	if ok, _ := l.Allow("carol", "10.0.0.1"); ok {
		t.Fatal("an address spraying 20 accounts may go on")
	}
	c.t = c.t.Add(15 * time.Minute)
	if ok, _ := l.Allow("alice", "10.0.0.1"); !ok {
		t.Fatal("still refused after the window")
	}
	l.MaxEntries = 2
	l.entries = map[string]*failures{}
	l.Fail("a", "1")
	if ok, _ := l.Allow("b", "2"); ok {
		t.Fatal("a full table admitted a new key")
	}
}
