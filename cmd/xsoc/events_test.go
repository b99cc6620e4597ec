package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestEventsSearchEndToEnd ingests over HTTP into a running node and hunts
// with "xsoc events": filters, counts, top values, pages, a member seeing
// only its own events, and bad input refused with the reason.
func TestEventsSearchEndToEnd(t *testing.T) {
	n, keys := startNode(t, "de-energie", "fr-cert")

	now := time.Now().UTC()
	var body bytes.Buffer
	for i := range 300 {
		fmt.Fprintf(&body, `{"@timestamp":"%s","event":{"id":"e%d"},"host":{"name":"WS-%d"},"source":{"ip":"10.0.%d.%d"},"process":{"pid":%d,"command_line":"cmd.exe /c task%d"}}`+"\n",
			now.Add(-time.Duration(i)*time.Second).Format(time.RFC3339Nano), i, i%3, i%2, i%200, 100+i, i)
	}
	req, _ := http.NewRequest(http.MethodPost, n.URL()+"/api/v1/ingest", &body)
	req.Header.Set("Authorization", "Bearer "+keys["de-energie"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %v %v", resp, err)
	}
	resp.Body.Close()
	run := func(key string, args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := mainExit(append(append([]string{"events"}, args...), "--url", n.URL(), "--key", key), &out, &errOut)
		return out.String(), errOut.String(), code
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, _ := run(keys["de-energie"], "count")
		if strings.TrimSpace(out) == "300" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive holds %q events, want 300", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	counts := []struct {
		args []string
		want string
	}{
		{[]string{"count", "--last", "1h", "--where", "host.name=ws-1"}, "100"},
		{[]string{"count", "--last", "1h", "--where", "cidr.source.ip=10.0.1.0/24", "--where", "gte.process.pid=300"}, "50"},
		{[]string{"count", "--last", "1h", "--where", "contains.process.command_line=TASK29"}, "11"},
		{[]string{"count", "--last", "1h", "--text", "task7"}, "11"},
	}
	for _, c := range counts {
		if out, errOut, code := run(keys["de-energie"], c.args...); strings.TrimSpace(out) != c.want || code != 0 {
			t.Errorf("events %v = %q (exit %d, %s), want %s", c.args, out, code, errOut, c.want)
		}
	}
	out, _, _ := run(keys["de-energie"], "search", "--last", "1h", "--where", "host.name=WS-2", "--limit", "30", "--pages", "2")
	if !strings.Contains(out, "(60 events)") || !strings.Contains(out, "cmd.exe /c task2") {
		t.Errorf("search output:\n%s", out)
	}
	out, _, _ = run(keys["de-energie"], "top", "--last", "1h", "--field", "host.name", "--n", "2")
	if !strings.Contains(out, "100    WS-0") || strings.Count(out, "\n") != 3 {
		t.Errorf("top output:\n%s", out)
	}
	// Another member sees none of these events, nor their fields.
	if out, _, _ := run(keys["fr-cert"], "count"); strings.TrimSpace(out) != "0" {
		t.Errorf("fr-cert counts %q of de-energie's events", out)
	}
	bad := [][]string{
		{"count", "--where", "host.nam=WS-1"},
		{"count", "--where", "cidr.source.ip=10.0.0.0/40"},
		{"count", "--from", "2026-01-01T00:00:00Z", "--to", "2026-03-01T00:00:00Z"},
		{"count", "--where", "like.host.name=x"},
	}
	for _, args := range bad {
		if _, errOut, code := run(keys["de-energie"], args...); code != 1 || !strings.Contains(errOut, "400 Bad Request") {
			t.Errorf("events %v: exit %d, %q; want a 400 with the reason", args, code, errOut)
		}
	}
	if _, errOut, _ := run(keys["fr-cert"], "count", "--where", "host.name=WS-1"); !strings.Contains(errOut, `unknown field "host.name"`) {
		t.Errorf("fr-cert filtering on a field only de-energie has: %q", errOut)
	}
	// Retention: operators set it, members read their own.
	op, err := n.Members.CreateOperatorKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := run(op, "retention", "--member", "fr-cert", "--days", "90"); code != 0 || out != "fr-cert keeps its events: 90 days, no limit\n" {
		t.Errorf("set retention: %q %q", out, errOut)
	}
	if out, _, _ := run(keys["fr-cert"], "retention", "--member", "fr-cert"); !strings.Contains(out, "90 days") {
		t.Errorf("fr-cert reads its retention: %q", out)
	}
	if _, errOut, code := run(keys["fr-cert"], "retention", "--member", "fr-cert", "--days", "1"); code != 1 || !strings.Contains(errOut, "403") {
		t.Errorf("a member set its own retention: %q", errOut)
	}
	if _, errOut, code := run(keys["fr-cert"], "retention", "--member", "de-energie"); code != 1 || !strings.Contains(errOut, "403") {
		t.Errorf("a member read another's retention: %q", errOut)
	}
}
