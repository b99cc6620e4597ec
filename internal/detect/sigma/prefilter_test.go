package sigma_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/detect/sigma/sigmabench"
	"github.com/xsoc/xsoc/internal/event"
)

// TestPrefilterAgreesWithDirectEvaluation runs the SigmaHQ
// process-creation rules over generated events, a share of them built to
// match, and checks that the prefiltered Detect raises exactly the rules
// that evaluating every rule directly, leaf by leaf, finds: the gram index
// and the automata may skip work, never a match.
func TestPrefilterAgreesWithDirectEvaluation(t *testing.T) {
	pc := loadRules(t, "rules/windows/process_creation")
	rs, errs := sigma.Compile(pc, sigma.Options{})
	if len(errs) > 0 {
		t.Fatalf("compile: %v", errs[0])
	}
	events := sigmabench.Generate(sigmabench.Config{Events: 3000, Seed: 11, Positives: 0.2, Rules: pc})
	// Mixed case and non-ASCII variants of the same events exercise the
	// folding paths.
	for i, ev := range events[:500] {
		events = append(events, variant(ev, i))
	}
	matched := 0
	for i, ev := range events {
		var got []string
		for _, a := range rs.Detect(ev, nil) {
			got = append(got, a.RuleID)
		}
		want := rs.MatchDirect(ev)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("event %d: Detect raised %v, direct evaluation %v", i, got, want)
		}
		if len(want) > 0 {
			matched++
		}
	}
	if matched < len(events)/10 {
		t.Fatalf("only %d of %d events match a rule: the comparison proves little", matched, len(events))
	}
}

// variant copies ev with its process values upper-cased, or with a
// non-ASCII letter appended, alternately.
func variant(ev *event.Event, i int) *event.Event {
	out := &event.Event{}
	ev.Fields(func(k, v string) bool {
		switch {
		case !strings.HasPrefix(k, "process.") && !strings.HasPrefix(k, "winlog.event_data."):
		case i%2 == 0:
			v = upperASCII(v)
		default:
			v += " É"
		}
		out.Set(k, v)
		return true
	})
	return out
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
