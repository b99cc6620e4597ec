package respond

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// benchPlaybooks returns n playbooks for other members, the usual case
// for an alert: most playbooks do not concern it.
func benchPlaybooks(n int) map[string]string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\nname: p%d\nwhen:\n  members: [m%d]\n  severity: medium\n  techniques: [T1059]\n"+
			"  fields: [{path: observables.role, equals: destination}]\nactions: [raise_to_hub]\n", i, i)
	}
	return map[string]string{"bench.yaml": b.String()}
}

// BenchmarkHandleAlertNoMatch is the common path: an alert no playbook
// wants. It must not touch the store or allocate.
func BenchmarkHandleAlertNoMatch(b *testing.B) {
	r := newResponder(b, storetest.SQLite(b, schemas...), Options{})
	mustLoad(b, r, writePlaybooks(b, benchPlaybooks(20)))
	a := testAlert("a1")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := r.HandleAlert(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandleAlertEnqueue measures a matching alert end to end on
// SQLite: firing record, a webhook and an e-mail in the outbox, a hub row
// and two blocklist entries, in one transaction.
func BenchmarkHandleAlertEnqueue(b *testing.B) {
	r := newResponder(b, storetest.SQLite(b, schemas...), Options{})
	mustLoad(b, r, writePlaybooks(b, map[string]string{"p.yaml": `name: p
secret: k
when: {severity: high}
actions:
  - webhook: {url: 'https://soar.example/hook'}
  - email: {host: smtp.example, from: x@soc.example, to: a@soc.example}
  - blocklist: {types: [ip, domain], ttl: 1h}
  - raise_to_hub
`}))
	a := testAlert("")
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		a.ID = fmt.Sprintf("a%d", i)
		if err := r.HandleAlert(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFeed renders a member's feed of 1,000 blocklist entries (a
// third each IPs, domains and URLs) in each format.
func BenchmarkFeed(b *testing.B) {
	r := newResponder(b, storetest.SQLite(b, schemas...), Options{})
	ctx := context.Background()
	exp := time.Now().Add(24 * time.Hour)
	for i := range 1000 {
		e := Entry{Member: "m", Reason: "bench", TLP: tlp.Green, Expires: exp}
		switch i % 3 {
		case 0:
			e.Type, e.Value = TypeIP, fmt.Sprintf("198.51.%d.%d", i/256, i%256)
		case 1:
			e.Type, e.Value = TypeDomain, fmt.Sprintf("host%d.evil.example", i)
		case 2:
			e.Type, e.Value = TypeURL, fmt.Sprintf("https://evil%d.example/path/%d?q=1", i, i)
		}
		if err := r.Blocklist().Add(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	for _, f := range []struct {
		format Format
		typ    string
	}{{FormatEDL, TypeDomain}, {FormatSuricata, ""}, {FormatRPZ, ""}, {FormatSTIX, ""}} {
		b.Run(string(f.format), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Feed(ctx, "m", f.format, f.typ); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
