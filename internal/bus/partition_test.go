package bus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestPartitionedSubjects(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		external  bool
		in, want  string
	}{
		{"embedded keeps subjects", "", false, "xsoc.ingest.de-energie", "xsoc.ingest.de-energie"},
		{"external partitions ingest", "", true, "xsoc.ingest.de-energie", fmt.Sprintf("xsoc.ingest.p%02d.de-energie", PartitionOf("de-energie", Partitions))},
		{"namespace prefixes", "t1", true, "xsoc.alert.de-energie", "t1.xsoc.alert.de-energie"},
		{"member with dots stays whole", "t1", true, "xsoc.ingest.a.b", fmt.Sprintf("t1.xsoc.ingest.p%02d.a.b", PartitionOf("a.b", Partitions))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newNames(tt.namespace, tt.external).wire(tt.in); got != tt.want {
				t.Fatalf("wire(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestPartitionConsumersSeeTheirMembersOnly: on an external server a
// member's batch reaches its partition's consumer and the archive's, no
// other partition's.
func TestPartitionConsumersSeeTheirMembersOnly(t *testing.T) {
	if os.Getenv("XSOC_TEST_NATS") == "skip" {
		t.Skip("XSOC_TEST_NATS=skip")
	}
	ctx := context.Background()
	b := openExternal(t, Config{}, testNamespace())
	if !b.Partitioned() || len(b.DetectConsumers()) != Partitions {
		t.Fatalf("external bus: partitioned %v with %d detection consumers", b.Partitioned(), len(b.DetectConsumers()))
	}
	if _, err := b.Publish(ctx, IngestSubject+".de-energie", nil, []byte("x\n"), ""); err != nil {
		t.Fatal(err)
	}
	want := PartitionConsumer(PartitionOf("de-energie", Partitions))
	for _, name := range b.IngestConsumers() {
		c, err := b.JetStream().Consumer(ctx, b.IngestStream(), name)
		if err != nil {
			t.Fatal(err)
		}
		n := c.CachedInfo().NumPending
		if expect := name == want || name == ArchiveConsumer; (n == 1) != expect || n > 1 {
			t.Errorf("consumer %s has %d pending; want %v", name, n, expect)
		}
	}
}

// TestLeasesSplitAndMove: two workers split the partitions evenly; when
// one stops, the other takes them all.
func TestLeasesSplitAndMove(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for lease rounds")
	}
	if os.Getenv("XSOC_TEST_NATS") == "skip" {
		t.Skip("XSOC_TEST_NATS=skip")
	}
	ns := testNamespace()
	a := openExternal(t, Config{}, ns)
	b := openExternal(t, Config{}, ns)
	var mu sync.Mutex
	held := map[string][]int{}
	run := func(bus *Bus, worker string) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			bus.Assign(ctx, worker, func(owned []int) {
				mu.Lock()
				held[worker] = owned
				mu.Unlock()
			}, func(err error) { t.Log(err) })
		}()
		return func() { cancel(); <-done }
	}
	stopA := run(a, "host-1.example:8080")
	defer stopA()
	stopB := run(b, "b")
	split := func() bool {
		mu.Lock()
		defer mu.Unlock()
		all := append(slices.Clone(held["host-1.example:8080"]), held["b"]...)
		slices.Sort(all)
		return len(held["host-1.example:8080"]) == Partitions/2 && len(held["b"]) == Partitions/2 && len(slices.Compact(all)) == Partitions
	}
	eventually(t, "two workers to hold half the partitions each", split)
	stopB()
	eventually(t, "the remaining worker to hold every partition", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(held["host-1.example:8080"]) == Partitions && len(held["b"]) == 0
	})
	kv, err := a.JetStream().KeyValue(context.Background(), a.names.leases)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(context.Background(), workerKey+"b"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("stopped worker still listed: %v", err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
