package sigma

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/event"
)

func TestLeafCode(t *testing.T) {
	for _, tc := range []struct {
		l     int32
		maybe bool
	}{{0, false}, {7, true}, {1 << 20, false}, {1<<30 - 1, true}} {
		c := leafCode(tc.l, tc.maybe)
		if l, maybe := int32(c>>1), c&1 != 0; l != tc.l || maybe != tc.maybe {
			t.Errorf("leafCode(%d,%v) decodes to %d,%v", tc.l, tc.maybe, l, maybe)
		}
	}
}

// TestMemoSwitchesOff checks that a memo whose values never come back
// stops being consulted after a probing period, and is consulted again
// after its rest.
func TestMemoSwitchesOff(t *testing.T) {
	m := &memo{}
	used := 0
	for i := 0; i < memoProbe; i++ {
		if m.use() {
			used++
		}
	}
	if used != memoProbe || m.rest != memoRest {
		t.Fatalf("after a probe without hits: used %d of %d, rest %d; want all, rest %d", used, memoProbe, m.rest, memoRest)
	}
	for i := 0; i < memoRest; i++ {
		if m.use() {
			t.Fatalf("memo consulted during its rest, at lookup %d", i)
		}
	}
	if !m.use() {
		t.Fatal("memo not consulted again after its rest")
	}
	// A memo that finds what it looks for stays on.
	m = &memo{}
	for i := 0; i < 3*memoProbe; i++ {
		if !m.use() {
			t.Fatalf("memo with hits switched off at lookup %d", i)
		}
		m.found++
	}
}

// TestMemoOverflowAndCollisions checks detection through the memo when a
// value hits more needles than an entry holds, and when many distinct
// values share the table's entries: every answer must be what a fresh
// scan gives.
func TestMemoOverflowAndCollisions(t *testing.T) {
	// One rule per needle, so that a value holding them all hits more
	// patterns than an entry can remember.
	var src strings.Builder
	n := memoHits + 5
	for i := 0; i < n; i++ {
		fmt.Fprintf(&src, "title: r%d\nid: 00000000-0000-0000-0000-%012d\nlogsource: {product: windows, category: process_creation}\n", i, i)
		fmt.Fprintf(&src, "detection:\n  sel:\n    CommandLine|contains: 'tok%02dx'\n  condition: sel\n---\n", i)
	}
	rs := compileOne(t, src.String(), Options{})
	all := ""
	for i := 0; i < n; i++ {
		all += fmt.Sprintf(" tok%02dx", i)
	}
	values := []string{all, "tok03x only", "nothing here", all + " again"}
	// Many distinct values, most sharing entries with others.
	for i := 0; i < 4*memoSize; i++ {
		values = append(values, fmt.Sprintf("c:\\tmp\\job-%d tok%02dx", i, i%n))
	}
	for pass := 0; pass < 3; pass++ {
		for _, v := range values {
			ev := &event.Event{}
			ev.Set("event.category", "process")
			ev.Set("event.type", "start")
			ev.Set("host.os.type", "windows")
			ev.Set("process.command_line", v)
			want := 0
			for i := 0; i < n; i++ {
				if strings.Contains(v, fmt.Sprintf("tok%02dx", i)) {
					want++
				}
			}
			if got := len(rs.Detect(ev, nil)); got != want {
				t.Fatalf("pass %d, %q: %d alerts, want %d", pass, v, got, want)
			}
		}
	}
}

func TestLowerOnlyASCII(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"", true}, {"ASCII Upper", true}, {"Microsoft® Windows®", true}, {"ärger", true},
		{"Ärger", false}, {"\u212a", false}, {"bad \xff utf8", true}, {"ΣΙΓΜΑ", false}, {"σιγμα ©", true},
	} {
		if got := lowerOnlyASCII(tc.s); got != tc.want {
			t.Errorf("lowerOnlyASCII(%q) = %v, want %v", tc.s, got, tc.want)
		}
		// The property it promises: folding changes nothing but ASCII letters.
		if lowerOnlyASCII(tc.s) {
			lowered := []byte(tc.s)
			for i, c := range lowered {
				lowered[i] = lowerASCII[c]
			}
			if f := string(foldAppend(nil, tc.s)); f != string(lowered) {
				t.Errorf("%q: folded %q, ASCII-lowered %q", tc.s, f, lowered)
			}
		}
	}
}
