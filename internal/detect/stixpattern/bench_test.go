package stixpattern

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/tlp"
)

// benchDetector loads n complex patterns, half single-observation (a
// process name AND a command-line regular expression), half over two
// events (a process FOLLOWEDBY a connection, WITHIN ten minutes), at mixed
// TLP levels.
func benchDetector(b *testing.B, n int) *Detector {
	b.Helper()
	repo := newRepo(b)
	levels := []tlp.Level{tlp.Clear, tlp.Green, tlp.Amber}
	var raws []json.RawMessage
	for i := range n {
		pat := fmt.Sprintf(`[process:name = 'tool%d.exe' AND process:command_line MATCHES '(?i)-payload%d\\s']`, i, i)
		if i%2 == 1 {
			pat = fmt.Sprintf(`([process:name = 'stage%d.exe'] FOLLOWEDBY [network-traffic:dst_ref.value = '198.51.100.%d']) WITHIN 600 SECONDS`, i, i%250)
		}
		raws = append(raws, indicator(b, spec{name: fmt.Sprintf("bench-%d", i), pattern: pat, level: levels[i%len(levels)]}))
	}
	add(b, repo, frSOC, raws...)
	clientOf := []string{frSOC}
	return synced(b, repo, Options{Relations: func(string) []string { return clientOf }})
}

// benchEvent is a process event with a network destination, matching none
// of benchDetector's patterns.
func benchEvent() *event.Event {
	return ev("e", beClient, base.Add(time.Hour),
		"process.name", "svchost.exe", "process.command_line", `C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`,
		"process.pid", "1044", "destination.ip", "192.0.2.80", "host.name", "ws-042")
}

// BenchmarkDetectNoMatch measures the common path: an event that matches
// none of 200 complex patterns (100 single-observation, 100 FOLLOWEDBY).
func BenchmarkDetectNoMatch(b *testing.B) {
	d := benchDetector(b, 200)
	e := benchEvent()
	out := make([]alert.Alert, 0, 4)
	d.Detect(e, out)
	b.ReportAllocs()
	for b.Loop() {
		out = d.Detect(e, out[:0])
	}
	if len(out) != 0 {
		b.Fatalf("unexpected alerts %v", ruleIDs(out))
	}
}

// BenchmarkDetectNoMatchParallel is BenchmarkDetectNoMatch from several
// goroutines, as the pipeline calls Detect, one member per goroutine.
func BenchmarkDetectNoMatchParallel(b *testing.B) {
	d := benchDetector(b, 200)
	var members atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		e := benchEvent()
		e.Member = fmt.Sprintf("member-%d", members.Add(1))
		out := make([]alert.Alert, 0, 4)
		for pb.Next() {
			out = d.Detect(e, out[:0])
		}
	})
}

// BenchmarkSync measures loading 200 complex patterns from the repository.
func BenchmarkSync(b *testing.B) {
	repo := newRepo(b)
	var raws []json.RawMessage
	for i := range 200 {
		pat := fmt.Sprintf(`[process:name = 'tool%d.exe' AND process:command_line MATCHES '(?i)-payload%d\\s']`, i, i)
		raws = append(raws, indicator(b, spec{name: fmt.Sprintf("bench-%d", i), pattern: pat, level: tlp.Green}))
	}
	add(b, repo, frSOC, raws...)
	b.ReportAllocs()
	for b.Loop() {
		synced(b, repo, Options{})
	}
}
