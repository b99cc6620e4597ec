package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/store"
)

// natsURL is the NATS JetStream server the scale tests share with the
// rest of the suite (each in a namespace of its own).
func natsURL() string { return cmp.Or(os.Getenv("XSOC_TEST_NATS_URL"), "nats://127.0.0.1:4222") }

// membersAcross returns n member ids whose batches fall into n different
// partitions, half in the lower half of the partitions and half in the
// upper: a worker started first keeps the lower half when a second one
// joins, so both workers get members.
func membersAcross(prefix string, n int) []string {
	var low, high []string
	used := map[int]bool{}
	for i := 0; len(low)+len(high) < n; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		p := bus.PartitionOf(id, bus.Partitions)
		if used[p] {
			continue
		}
		if p < bus.Partitions/2 && len(low) < n/2 {
			low = append(low, id)
			used[p] = true
		} else if p >= bus.Partitions/2 && len(high) < n-n/2 {
			high = append(high, id)
			used[p] = true
		}
	}
	return append(low, high...)
}

// startScaled starts an API process, detectors detection workers (one
// after the other, waiting until they share the partitions evenly) and
// one archive worker.
func startScaled(c *cluster, detectors int) (api *proc, detect []*proc, arch *proc) {
	c.t.Helper()
	api = c.start("api", "api")
	for i := range detectors {
		detect = append(detect, c.start(fmt.Sprintf("detect-%d", i+1), "detect"))
		waitFor(c.t, func() bool {
			for _, d := range detect {
				if c.metric(d, "xsoc_pipeline_partitions") != float64(bus.Partitions/len(detect)) {
					return false
				}
			}
			return true
		}, fmt.Sprintf("%d detection workers to share the partitions", len(detect)))
	}
	arch = c.start("archive-1", "archive")
	return api, detect, arch
}

// TestScaleOutExactlyOnce runs a scaled-out node as four processes on the
// machine's NATS and PostgreSQL — an API process, two detection workers
// and an archive worker — sends a fixed set of events for six members
// through the API, and checks that every expected alert is raised exactly
// once and every event archived once, that both detection workers did
// part of the work, and that a worker built for another store schema
// refuses to start.
func TestScaleOutExactlyOnce(t *testing.T) {
	c := newCluster(t, natsURL())
	api, detect, _ := startScaled(c, 2)
	d1, d2 := detect[0], detect[1]
	const batches, perBatch = 20, 200
	var senders []*sender
	for i, id := range membersAcross("scale", 6) {
		senders = append(senders, &sender{c: c, api: api, member: id, key: c.addMember(api, id, []string{"DE", "FR", "NL"}[i%3]), n: perBatch})
	}
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range batches {
				s.send(i, nil)
			}
		}()
	}
	wg.Wait()
	for _, s := range senders {
		c.checkExactlyOnce(s, batches)
	}
	waitFor(t, c.caughtUp, "detection and the archive to acknowledge every batch")
	for _, s := range senders { // nothing more came in meanwhile
		c.checkExactlyOnce(s, batches)
	}
	e1, e2 := c.metric(d1, "xsoc_pipeline_events_total"), c.metric(d2, "xsoc_pipeline_events_total")
	if e1 <= 0 || e2 <= 0 || int(e1+e2) != len(senders)*batches*(perBatch+1) {
		t.Fatalf("detection workers handled %v and %v events; want both > 0 and %d in all", e1, e2, len(senders)*batches*(perBatch+1))
	}
	t.Logf("%d members × %d batches × %d events: worker 1 detected %v events, worker 2 %v; every alert once, every event archived once",
		len(senders), batches, perBatch+1, e1, e2)

	// A store upgraded by a newer xsoc: a worker of this version refuses
	// to start, saying why.
	ctx := context.Background()
	db, err := store.OpenPostgres(ctx, c.pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `INSERT INTO xsoc_migrations (owner, version) VALUES ('alert', 999)`); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(c.bin, "serve", "--role", "detect", "--nats-url", c.natsURL, "--nats-namespace", c.namespace,
		"--postgres-url", c.pgURL, "--data-dir", filepath.Join(t.TempDir(), "data"), "--listen", freePort(t)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "alert tables are at version 999") || !strings.Contains(string(out), "upgrade this worker") {
		t.Fatalf("detection worker on a newer schema: err %v, output:\n%s", err, out)
	}
	t.Logf("detection worker on a newer schema: %s", strings.TrimSpace(string(out)))
}
