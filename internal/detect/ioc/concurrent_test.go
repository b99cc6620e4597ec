package ioc

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestUpdateWhileMatching commits additions and removals, with frequent
// compactions, while other goroutines match. Readers must always see a
// consistent snapshot: the stable indicator matches every time, and the
// indicator that each commit toggles is seen at most once per event.
func TestUpdateWhileMatching(t *testing.T) {
	x := newIndex(t, false, Options{CompactMin: 16},
		ind("stable", KindIP, "192.0.2.1"), ind("stable-net", KindIP, "198.51.100.0/24"))
	const rounds = 200
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := newEvent("source.ip", "192.0.2.1", "destination.ip", "198.51.100.5", "dns.question.name", "www.flip.example")
			for n := 0; !done.Load() || n < 100; n++ {
				out := x.Detect(ev, nil)
				stable, flips := 0, 0
				for _, a := range out {
					switch a.RuleID {
					case "stable", "stable-net":
						stable++
					case "flip":
						flips++
					}
				}
				if stable != 2 || flips > 1 {
					errs <- fmt.Errorf("event %d: %d stable alerts and %d flip alerts (%v)", n, stable, flips, ruleIDs(out))
					return
				}
			}
		}()
	}
	for i := 0; i < rounds; i++ {
		b := x.NewBatch()
		for j := 0; j < 10; j++ {
			if err := b.Add(ind(fmt.Sprintf("r%d-%d", i, j), KindIP, fmt.Sprintf("10.%d.%d.1", i, j))); err != nil {
				t.Fatal(err)
			}
		}
		if i > 0 {
			for j := 0; j < 10; j++ {
				if err := b.Remove(KindIP, fmt.Sprintf("10.%d.%d.1", i-1, j), fmt.Sprintf("r%d-%d", i-1, j)); err != nil {
					t.Fatal(err)
				}
			}
		}
		var err error
		if i%2 == 0 {
			err = b.Add(ind("flip", KindDomain, "flip.example"))
		} else {
			err = b.Remove(KindDomain, "flip.example", "flip")
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// After the last round: the two stable entries and round 199's ten
	// (the flip was removed on the odd round).
	if got := x.Len(); got != 12 {
		t.Errorf("Len = %d after all rounds, want 12", got)
	}
	if hits, _ := x.Lookup(KindIP, "10.199.3.1"); len(hits) != 1 {
		t.Errorf("last round's entry not found: %v", hits)
	}
	if hits, _ := x.Lookup(KindIP, "10.198.3.1"); len(hits) != 0 {
		t.Errorf("removed entry still found: %v", hits)
	}
}
