package main

import (
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
	api, d1, d2 := startScaled(c)
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
