package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/bus"
)

// sendUntil sends each sender's batches 0, 1, …, one every pause, until
// stop closes, then returns how many batches each sent (all accepted).
func sendUntil(senders []*sender, pause time.Duration, stop <-chan struct{}) []int {
	sent := make([]int, len(senders))
	var wg sync.WaitGroup
	for k, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if !s.send(i, stop) {
					return
				}
				sent[k] = i + 1
				select {
				case <-stop:
					return
				case <-time.After(pause):
				}
			}
		}()
	}
	wg.Wait()
	return sent
}

// TestKill9DetectionWorker kills one of two detection workers with -9
// while events stream in: its partitions and the batches it had taken go
// to the other, and every alert is raised exactly once.
func TestKill9DetectionWorker(t *testing.T) {
	c := newCluster(t, natsURL())
	api, detect, _ := startScaled(c, 2)
	d1, d2 := detect[0], detect[1]
	var senders []*sender
	for _, id := range membersAcross("kill", 4) {
		senders = append(senders, &sender{c: c, api: api, member: id, key: c.addMember(api, id, "DE"), n: 100})
	}
	stop := make(chan struct{})
	done := make(chan []int)
	go func() { done <- sendUntil(senders, 200*time.Millisecond, stop) }()
	waitFor(t, func() bool { return c.metric(d2, "xsoc_pipeline_events_total") >= 1000 }, "the second worker to detect 1,000 events")
	c.kill9("detect-2")
	waitFor(t, func() bool { return c.metric(d1, "xsoc_pipeline_partitions") == bus.Partitions }, "the surviving worker to take every partition")
	before := c.metric(d1, "xsoc_pipeline_events_total")
	waitFor(t, func() bool { return c.metric(d1, "xsoc_pipeline_events_total") >= before+2000 }, "2,000 more events detected after the takeover")
	close(stop)
	sent := <-done
	for k, s := range senders {
		c.checkExactlyOnce(s, sent[k])
	}
	waitFor(t, c.caughtUp, "detection and the archive to acknowledge every batch")
	for k, s := range senders {
		c.checkExactlyOnce(s, sent[k])
	}
	t.Logf("batches per member %v; worker 2 killed after detecting its share; worker 1 took its partitions; every alert once", sent)
}

// TestArchivePostgresRestart crashes and restarts the archive's
// PostgreSQL (a private server: the machine's shared one is left alone)
// while events stream in: alerts keep coming while the archive cannot
// write, ingest keeps accepting, and once the database is back the
// archive catches up with every event exactly once.
func TestArchivePostgresRestart(t *testing.T) {
	pg := privatePostgres(t)
	c := newCluster(t, natsURL())
	c.archive = pg.URL()
	api, detectors, arch := startScaled(c, 1)
	detect := detectors[0]
	var senders []*sender
	for _, id := range membersAcross("pgcrash", 2) {
		senders = append(senders, &sender{c: c, api: api, member: id, key: c.addMember(api, id, "NL"), n: 100})
	}
	stop := make(chan struct{})
	done := make(chan []int)
	go func() { done <- sendUntil(senders, 100*time.Millisecond, stop) }()
	waitFor(t, func() bool { return c.metric(arch, "xsoc_archive_events_total") >= 1000 }, "1,000 events archived")
	pg.crash()
	archived := c.metric(arch, "xsoc_archive_events_total")
	alerts := c.metric(detect, "xsoc_pipeline_alerts_total")
	accepted := senders[0].acceptedBatches()
	waitFor(t, func() bool { return c.metric(detect, "xsoc_pipeline_alerts_total") >= alerts+20 }, "20 more alerts while the archive's database is down")
	waitFor(t, func() bool { return senders[0].acceptedBatches() >= accepted+20 }, "20 more batches accepted while the archive's database is down")
	if now := c.metric(arch, "xsoc_archive_events_total"); now > archived+1000 {
		t.Fatalf("the archive stored %v events while its database was down", now-archived)
	}
	pg.start()
	waitFor(t, func() bool { return c.metric(arch, "xsoc_archive_events_total") >= archived+1000 }, "the archive to write again")
	close(stop)
	sent := <-done
	for k, s := range senders {
		c.checkExactlyOnce(s, sent[k])
	}
	waitFor(t, c.caughtUp, "detection and the archive to acknowledge every batch")
	t.Logf("batches per member %v; the archive's PostgreSQL crashed after %v events were archived and restarted; detection went on meanwhile; every event archived once, every alert once", sent, archived)
}

// TestNATSRestart kills the NATS server (a private one) with -9 while
// events stream in and starts it again: every process reconnects and
// resumes, the senders' retries are stored once, and nothing is lost.
func TestNATSRestart(t *testing.T) {
	ns := privateNATS(t)
	c := newCluster(t, ns.URL())
	api, detectors, arch := startScaled(c, 1)
	var beforeKill, afterStart string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("archived %v events; NATS before the kill:\n%s\nafter the restart:\n%s\nat the end:\n%s", c.metric(arch, "xsoc_archive_events_total"), beforeKill, afterStart, ns.describe())
		}
	})
	detect := detectors[0]
	var senders []*sender
	for _, id := range membersAcross("natscrash", 2) {
		senders = append(senders, &sender{c: c, api: api, member: id, key: c.addMember(api, id, "SE"), n: 100})
	}
	stop := make(chan struct{})
	done := make(chan []int)
	go func() { done <- sendUntil(senders, 100*time.Millisecond, stop) }()
	waitFor(t, func() bool { return c.metric(arch, "xsoc_archive_events_total") >= 1000 }, "1,000 events archived")
	beforeKill = ns.describe()
	ns.kill9()
	accepted := senders[0].acceptedBatches()
	waitFor(t, func() bool { return len(senders[0].refusals()) > 0 }, "ingest to refuse a batch while NATS is down")
	if !senders[0].retryAfterOK() {
		t.Fatalf("a refusal without Retry-After while NATS was down: %v", senders[0].refusals())
	}
	ns.start()
	afterStart = ns.describe()
	waitFor(t, func() bool { return senders[0].acceptedBatches() >= accepted+20 }, "20 more batches accepted after NATS came back")
	detected := c.metric(detect, "xsoc_pipeline_events_total")
	waitFor(t, func() bool { return c.metric(detect, "xsoc_pipeline_events_total") >= detected+1000 }, "detection to resume")
	close(stop)
	sent := <-done
	for k, s := range senders {
		c.checkExactlyOnce(s, sent[k])
	}
	waitFor(t, c.caughtUp, "detection and the archive to acknowledge every batch")
	t.Logf("batches per member %v; NATS killed and restarted; ingest answered %v meanwhile; every event archived once, every alert once", sent, senders[0].refusals())
}

// TestArchiveDiskFull runs a node whose embedded archive hits a real file
// size limit (RLIMIT_FSIZE, set with the shell's ulimit; the store is
// PostgreSQL and the bus an external NATS, so the archive's files are the
// only ones the process grows). The archive's writes fail, its batches
// stay on the ingest stream until that is full, and ingest then answers
// 503 with Retry-After, while every accepted batch's alert is raised.
func TestArchiveDiskFull(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("needs bash to set the file size limit")
	}
	c := newCluster(t, natsURL())
	c.archive = "embedded"
	c.wrap = []string{bash, "-c", `ulimit -f 256 && exec "$0" "$@"`} // 256 KiB per file
	c.env = []string{"XSOC_INGEST_MAX_BYTES=4000000"}
	node := c.start("api", "all")
	s := &sender{c: c, api: node, member: "full-1", key: c.addMember(node, "full-1", "DE"), n: 400}
	stop := make(chan struct{})
	done := make(chan []int)
	go func() { done <- sendUntil([]*sender{s}, 100*time.Millisecond, stop) }()
	waitFor(t, func() bool { return slices.Contains(s.refusals(), http.StatusServiceUnavailable) }, "ingest to answer 503 once the stream is full")
	close(stop)
	sent := (<-done)[0]
	if !s.retryAfterOK() {
		t.Fatalf("a 503 came without Retry-After: %v", s.refusals())
	}
	if !strings.Contains(node.log.String(), "archiver: write failed") {
		t.Fatalf("the archive never failed to write:\n%s", tail(node.log.String(), 3000))
	}
	byHost := map[string]map[string]int{}
	waitFor(t, func() bool {
		byHost = c.alertsByHost(s.member, s.key)
		return len(byHost) >= sent
	}, fmt.Sprintf("alerts on all %d accepted batches' victims", sent))
	for host, rules := range byHost {
		for rule, n := range rules {
			if n != 1 {
				t.Fatalf("%s alerted %d times by %s", host, n, rule)
			}
		}
	}
	archived := eventCount(t, node.addr, s.key)
	for _, line := range strings.Split(node.log.String(), "\n") {
		if strings.Contains(line, "archiver: write failed") {
			t.Log(line)
			break
		}
	}
	t.Logf("%d batches accepted (%d events), %d archived before the file size limit; ingest then answered %v; all %d victims alerted once",
		sent, sent*(s.n+1), archived, s.refusals()[:1], len(byHost))
}
