package user

import (
	"sync"
	"time"
)

// Limiter slows down password guessing: after too many failed logins
// within a window, further attempts for that account, or from that
// address, are refused until the window has passed — whether or not the
// password is right, so that guessing on cannot tell.
//
// It counts in memory: a restart forgets the counts, and several nodes
// behind one name count separately. Its memory is bounded; when the table
// is full of live entries (many addresses guessing at once) new keys are
// refused until old ones expire, which is what an attack of that size
// calls for anyway.
type Limiter struct {
	// PerAccount and PerAddress are the failures allowed per Window.
	PerAccount, PerAddress int
	Window                 time.Duration
	// MaxEntries bounds the table.
	MaxEntries int
	Now        func() time.Time

	mu      sync.Mutex
	entries map[string]*failures
}

type failures struct {
	count int
	start time.Time
}

// NewLimiter returns a limiter with xsoc's policy: 5 failures per account
// and 20 per address in 15 minutes.
func NewLimiter() *Limiter {
	return &Limiter{PerAccount: 5, PerAddress: 20, Window: 15 * time.Minute, MaxEntries: 1 << 16,
		Now: time.Now, entries: make(map[string]*failures)}
}

// Allow reports whether a login for account from addr may be tried now;
// when not, it says how long to wait.
func (l *Limiter) Allow(account, addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	wait := max(l.blocked("u:"+account, l.PerAccount, now), l.blocked("a:"+addr, l.PerAddress, now))
	if wait == 0 && len(l.entries) >= l.MaxEntries {
		l.sweep(now)
		if len(l.entries) >= l.MaxEntries {
			return false, l.Window
		}
	}
	return wait == 0, wait
}

func (l *Limiter) blocked(key string, limit int, now time.Time) time.Duration {
	f := l.entries[key]
	if f == nil || now.Sub(f.start) >= l.Window {
		return 0
	}
	if f.count < limit {
		return 0
	}
	return l.Window - now.Sub(f.start)
}

// Fail records a failed login.
func (l *Limiter) Fail(account, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	for _, key := range []string{"u:" + account, "a:" + addr} {
		f := l.entries[key]
		if f == nil || now.Sub(f.start) >= l.Window {
			if f == nil && len(l.entries) >= l.MaxEntries {
				l.sweep(now)
				if len(l.entries) >= l.MaxEntries {
					continue
				}
			}
			f = &failures{start: now}
			l.entries[key] = f
		}
		f.count++
	}
}

// Succeed forgets the account's failures (not the address's: one right
// password must not reset a spray across many accounts).
func (l *Limiter) Succeed(account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, "u:"+account)
}

func (l *Limiter) sweep(now time.Time) {
	for k, f := range l.entries {
		if now.Sub(f.start) >= l.Window {
			delete(l.entries, k)
		}
	}
}
