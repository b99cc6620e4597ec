package federation

import (
	"errors"
	"strings"
	"testing"
)

// FuzzReceivedCursor: any cursor a client sends is refused as a bad
// cursor or gives a condition with one argument per placeholder; the
// cursors a listing returns, and those of the earlier form, are taken.
func FuzzReceivedCursor(f *testing.F) {
	for _, c := range []string{"", "1000~indicator--0005", "1000~indicator--0005~a-node~s2", "x~y", "~", "1~a~b", "1~~n~s", "-5~id~~"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		cond, args, err := receivedAfter(ReceivedFilter{Cursor: cursor})
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("cursor %q: %v, want ErrBadCursor", cursor, err)
			}
			return
		}
		if n := strings.Count(cond, "?"); n != len(args) {
			t.Fatalf("cursor %q: %d placeholders, %d arguments", cursor, n, len(args))
		}
		parts := strings.Split(cursor, "~")
		if cursor != "" && len(parts) != 2 && len(parts) != 4 {
			t.Fatalf("cursor %q of %d parts taken", cursor, len(parts))
		}
	})
}
