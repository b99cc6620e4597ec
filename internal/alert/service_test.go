package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// recorder is a Publisher that keeps what it was given and can be made to
// fail.
type recorder struct {
	mu   sync.Mutex
	msgs []published
	fail error
}

type published struct {
	subject, msgID string
	data           []byte
}

func (r *recorder) Publish(_ context.Context, subject string, _ nats.Header, data []byte, msgID string) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return 0, r.fail
	}
	r.msgs = append(r.msgs, published{subject, msgID, data})
	return uint64(len(r.msgs)), nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		out = append(out, m.msgID)
	}
	return out
}

// detection builds a detector's alert.
func detection(member, rule, host, eventID string, at time.Time) alert.Alert {
	return alert.Alert{
		Member: member, EventTime: at, Detector: "sigma", RuleID: rule, RuleTitle: "rule " + rule,
		Severity: alert.High, Techniques: []string{"t1059.001"}, TLP: tlp.Amber,
		Observables: []alert.Observable{{Type: "host", Value: host, Role: "host"}},
		EventIDs:    []string{eventID},
		Evidence:    []string{`{"event.id":"` + eventID + `","host.name":"` + host + `"}`},
	}
}

func newService(t *testing.T, db *store.DB, pub alert.Publisher, c *clock, reg *prometheus.Registry) *alert.Service {
	t.Helper()
	s, err := alert.NewService(db, pub, alert.Options{Now: c.Now, Registry: reg, MaxEvidence: 3, MaxEventIDs: 4})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func schemas() []store.Schema { return []store.Schema{alert.Schema()} }

func TestRaiseDeduplicates(t *testing.T) {
	tests := []struct {
		name      string
		batches   [][]alert.Alert
		wantCount []int // counts of the stored alerts, oldest first
	}{
		{"one detection", [][]alert.Alert{{detection("m1", "r1", "h1", "e1", t0)}}, []int{1}},
		{"repeat within window folds", [][]alert.Alert{{
			detection("m1", "r1", "h1", "e1", t0),
			detection("m1", "r1", "h1", "e2", t0.Add(10*time.Minute)),
			detection("m1", "r1", "h1", "e3", t0.Add(20*time.Minute)), // within 15 min of the previous
		}}, []int{3}},
		{"repeat across batches folds", [][]alert.Alert{
			{detection("m1", "r1", "h1", "e1", t0)},
			{detection("m1", "r1", "h1", "e2", t0.Add(5*time.Minute))},
		}, []int{2}},
		{"beyond window opens a new alert", [][]alert.Alert{{
			detection("m1", "r1", "h1", "e1", t0),
			detection("m1", "r1", "h1", "e2", t0.Add(16*time.Minute)),
		}}, []int{1, 1}},
		{"other host, rule or member is another alert", [][]alert.Alert{{
			detection("m1", "r1", "h1", "e1", t0),
			detection("m1", "r1", "h2", "e2", t0),
			detection("m1", "r2", "h1", "e3", t0),
			detection("m2", "r1", "h1", "e4", t0),
		}}, []int{1, 1, 1, 1}},
		{"replayed batch does not count twice", [][]alert.Alert{
			{detection("m1", "r1", "h1", "e1", t0), detection("m1", "r1", "h1", "e2", t0.Add(time.Minute))},
			{detection("m1", "r1", "h1", "e1", t0), detection("m1", "r1", "h1", "e2", t0.Add(time.Minute))},
		}, []int{2}},
		{"same event twice in one batch counts once", [][]alert.Alert{{
			detection("m1", "r1", "h1", "e1", t0), detection("m1", "r1", "h1", "e1", t0),
		}}, []int{1}},
		// The store is asked about 64 fingerprints and 64 event ids at a
		// time: replays must be recognised past those bounds.
		{"replay of more hosts than one lookup asks about", [][]alert.Alert{hosts(100), hosts(100)}, slices.Repeat([]int{1}, 100)},
		{"replay of more event ids than one lookup asks about", [][]alert.Alert{
			{manyEvents(0, 150)},
			{manyEvents(149, 1)},                    // the last event again: a replay
			{manyEvents(100, 60)},                   // 100-149 replayed, 150-159 new: folds
			{manyEvents(0, 70), manyEvents(65, 70)}, // all replayed
		}, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				c := &clock{now: t0.Add(time.Hour)}
				s := newService(t, db, nil, c, nil)
				for _, b := range tt.batches {
					if _, err := s.Raise(ctx, b); err != nil {
						t.Fatal(err)
					}
				}
				page, err := s.List(ctx, alert.Viewer{Operator: true}, alert.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				var got []int
				for _, a := range slices.Backward(page.Alerts) {
					got = append(got, a.Count)
				}
				slices.Sort(got)
				want := slices.Sorted(slices.Values(tt.wantCount))
				if !slices.Equal(got, want) {
					t.Fatalf("counts = %v, want %v", got, want)
				}
			})
		})
	}
}

// hosts returns n detections of rule r1, each on a host of its own.
func hosts(n int) []alert.Alert {
	out := make([]alert.Alert, n)
	for i := range out {
		out[i] = detection("m1", "r1", fmt.Sprintf("h%d", i), fmt.Sprintf("e%d", i), t0.Add(time.Duration(i)*time.Second))
	}
	return out
}

// manyEvents returns one detection of rule r1 on host h1 listing the n
// event ids from e<from> on.
func manyEvents(from, n int) alert.Alert {
	d := detection("m1", "r1", "h1", "", t0)
	d.EventIDs = nil
	for i := from; i < from+n; i++ {
		d.EventIDs = append(d.EventIDs, fmt.Sprintf("e%d", i))
	}
	return d
}

func TestRaiseFillsAndCaps(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := &clock{now: t0.Add(time.Minute)}
		s := newService(t, db, nil, c, nil)
		var batch []alert.Alert
		for i := range 6 {
			d := detection("m1", "r1", "h1", fmt.Sprintf("e%d", i), t0.Add(time.Duration(i)*time.Second))
			if i == 3 {
				d.Severity, d.TLP = alert.Critical, tlp.Red
			}
			batch = append(batch, d)
		}
		out, err := s.Raise(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 1 {
			t.Fatalf("got %d alerts, want 1", len(out))
		}
		a, err := s.Get(ctx, alert.Viewer{Member: "m1"}, out[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			what      string
			got, want any
		}{
			{"id valid", alert.ValidID(a.ID), true},
			{"detected", a.Detected, c.Now().UTC()},
			{"status", a.Status, alert.StatusNew},
			{"count", a.Count, 6},
			{"event time", a.EventTime, t0},
			{"last seen", a.LastSeen, t0.Add(5 * time.Second)},
			{"event ids capped", len(a.EventIDs), 4},
			{"evidence capped", len(a.Evidence), 3},
			{"severity takes the worst", a.Severity, alert.Critical},
			{"tlp takes the strictest", a.TLP, tlp.Red},
			{"techniques normalised", fmt.Sprint(a.Techniques), "[T1059.001]"},
			{"key defaults to host", a.Key, "h1"},
		}
		for _, ch := range checks {
			if fmt.Sprint(ch.got) != fmt.Sprint(ch.want) {
				t.Errorf("%s: got %v, want %v", ch.what, ch.got, ch.want)
			}
		}
	})
}

func TestRaiseSurvivesRestartAndReplay(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := &clock{now: t0.Add(time.Minute)}
		batch := []alert.Alert{detection("m1", "r1", "h1", "e1", t0), detection("m1", "r1", "h1", "e2", t0.Add(time.Second))}
		first, err := newService(t, db, nil, c, nil).Raise(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		// A new service over the same store: the dedup state is in the table.
		s := newService(t, db, nil, c, nil)
		var notified []alert.Alert
		s.OnAlert(func(a alert.Alert) { notified = append(notified, a) })
		replayed, err := s.Raise(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(replayed) != 1 || replayed[0].ID != first[0].ID || replayed[0].Count != 2 {
			t.Fatalf("replay returned %+v, want the unchanged alert %s with count 2", replayed, first[0].ID)
		}
		if len(notified) != 0 {
			t.Fatalf("replay notified %d alerts, want none", len(notified))
		}
		more, err := s.Raise(ctx, []alert.Alert{detection("m1", "r1", "h1", "e3", t0.Add(2*time.Second))})
		if err != nil {
			t.Fatal(err)
		}
		if len(more) != 1 || more[0].ID != first[0].ID || more[0].Count != 3 || len(notified) != 1 {
			t.Fatalf("after restart got %+v (notified %d), want alert %s with count 3, notified once", more, len(notified), first[0].ID)
		}
	})
}

func TestRaiseRejectsInvalid(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db, nil, &clock{now: t0}, nil)
		bad := []func(*alert.Alert){
			func(a *alert.Alert) { a.Member = "" },
			func(a *alert.Alert) { a.Member = "a.b" },
			func(a *alert.Alert) { a.Detector = "" },
			func(a *alert.Alert) { a.RuleID = "" },
			func(a *alert.Alert) { a.EventTime = time.Time{} },
			func(a *alert.Alert) { a.Severity = 9 },
		}
		for i, mutate := range bad {
			d := detection("m1", "r1", "h1", fmt.Sprintf("bad%d", i), t0)
			mutate(&d)
			good := detection("m1", fmt.Sprintf("ok%d", i), "h1", "e1", t0)
			out, err := s.Raise(ctx, []alert.Alert{d, good})
			if !errors.Is(err, alert.ErrInvalid) {
				t.Errorf("case %d: err = %v, want ErrInvalid", i, err)
			}
			if len(out) != 1 || out[0].RuleID != good.RuleID {
				t.Errorf("case %d: raised %+v, want only the valid alert", i, out)
			}
		}
	})
}

func TestPublishAndRepublish(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		pub := &recorder{}
		s := newService(t, db, pub, &clock{now: t0.Add(time.Minute)}, nil)
		out, err := s.Raise(ctx, []alert.Alert{detection("m1", "r1", "h1", "e1", t0)})
		if err != nil {
			t.Fatal(err)
		}
		id := out[0].ID
		pub.fail = errors.New("bus down")
		if _, err := s.Raise(ctx, []alert.Alert{detection("m1", "r1", "h1", "e2", t0)}); err == nil {
			t.Fatal("Raise with a failing bus returned no error")
		}
		pub.fail = nil
		// Replaying the batch changes nothing but still publishes what
		// the outage held back.
		if _, err := s.Raise(ctx, []alert.Alert{detection("m1", "r1", "h1", "e2", t0)}); err != nil {
			t.Fatal(err)
		}
		want := []string{id + ".1", id + ".2"}
		if got := pub.ids(); !slices.Equal(got, want) {
			t.Fatalf("published %v, want %v", got, want)
		}
		if n, err := s.Republish(ctx); err != nil || n != 0 {
			t.Fatalf("Republish = %d, %v; want nothing left", n, err)
		}
		if pub.msgs[0].subject != alert.SubjectPrefix+".m1" {
			t.Fatalf("subject %q", pub.msgs[0].subject)
		}
		// The bus receives the alert Raise returned, as JSON.
		if want, err := json.Marshal(out[0]); err != nil || string(pub.msgs[0].data) != string(want) {
			t.Fatalf("published %s, want %s (%v)", pub.msgs[0].data, want, err)
		}
	})
}

// TestRepublishAfterUpgrade: alerts a store of the previous schema holds
// unpublished are sent by Republish once the store is migrated to the
// current one, and published ones are not.
func TestRepublishAfterUpgrade(t *testing.T) {
	current := alert.Schema()
	previous := current
	previous.Migrations = previous.Migrations[:len(previous.Migrations)-1]
	storetest.Each(t, []store.Schema{previous}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		pub := &recorder{}
		s := newService(t, db, pub, &clock{now: t0.Add(time.Minute)}, nil)
		if _, err := s.Raise(ctx, []alert.Alert{detection("m1", "r1", "h1", "e1", t0)}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordPublished(ctx); err != nil {
			t.Fatal(err)
		}
		pub.fail = errors.New("bus down")
		out, err := s.Raise(ctx, []alert.Alert{detection("m1", "r2", "h1", "e2", t0), detection("m1", "r3", "h1", "e3", t0)})
		if err == nil {
			t.Fatal("Raise with a failing bus returned no error")
		}
		if err := db.Migrate(ctx, current); err != nil {
			t.Fatal(err)
		}
		pub.fail = nil
		s = newService(t, db, pub, &clock{now: t0.Add(time.Minute)}, nil) // a restarted node
		if n, err := s.Republish(ctx); err != nil || n != 2 {
			t.Fatalf("Republish = %d, %v; want the 2 unpublished alerts", n, err)
		}
		ids := pub.ids()
		want := []string{out[0].ID + ".1", out[1].ID + ".1"}
		slices.Sort(want)
		if got := ids[1:]; !slices.Equal(slices.Sorted(slices.Values(got)), want) {
			t.Fatalf("republished %v, want %v", got, want)
		}
	})
}

// TestPublicationsRecordedWithTheNextRaise: which states the bus holds is
// recorded in the next Raise's transaction, not in one of its own per
// batch; RecordPublished records the rest. Each batch's alerts are then
// published once, and none is left for Republish.
func TestPublicationsRecordedWithTheNextRaise(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		pub := &recorder{}
		s := newService(t, db, pub, &clock{now: t0.Add(time.Minute)}, nil)
		unrecorded := func() int {
			var n int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM alerts WHERE published < hits`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		tests := []struct {
			batch []alert.Alert
			left  int // alerts published but not recorded yet after the batch
		}{
			{[]alert.Alert{detection("m1", "r1", "h1", "e1", t0), detection("m1", "r2", "h1", "e2", t0)}, 2},
			{[]alert.Alert{detection("m1", "r3", "h1", "e3", t0)}, 1},
			{[]alert.Alert{detection("m1", "r1", "h1", "e4", t0)}, 1}, // folds into r1's alert
		}
		for i, tt := range tests {
			if _, err := s.Raise(ctx, tt.batch); err != nil {
				t.Fatal(err)
			}
			if n := unrecorded(); n != tt.left {
				t.Fatalf("batch %d: %d alerts not recorded as published, want %d", i, n, tt.left)
			}
		}
		if err := s.RecordPublished(ctx); err != nil {
			t.Fatal(err)
		}
		if n := unrecorded(); n != 0 {
			t.Fatalf("%d alerts not recorded as published after RecordPublished", n)
		}
		if n, err := s.Republish(ctx); err != nil || n != 0 || len(pub.ids()) != 4 {
			t.Fatalf("Republish = %d, %v after %d publications; want nothing left after 4", n, err, len(pub.ids()))
		}
	})
}

// TestBatchSubscribersAndManyPublications: a batch of many alerts is
// published whole (each state once, all marked published), the batch
// subscribers get its new and changed alerts in one call, and a replay
// calls them with nothing.
func TestBatchSubscribersAndManyPublications(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		pub := &recorder{}
		s := newService(t, db, pub, &clock{now: t0.Add(time.Minute)}, nil)
		var calls [][]alert.Alert
		s.OnAlerts(func(as []alert.Alert) { calls = append(calls, slices.Clone(as)) })
		var batch []alert.Alert
		for i := range 300 {
			batch = append(batch, detection("m1", "r1", fmt.Sprintf("h%d", i), fmt.Sprintf("e%d", i), t0))
		}
		batch = append(batch, detection("m1", "r1", "h0", "e-again", t0)) // folds into h0's alert
		out, err := s.Raise(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 300 || len(calls) != 1 || len(calls[0]) != 300 {
			t.Fatalf("raised %d alerts, batch subscriber called %d times (%v alerts); want 300 alerts in one call", len(out), len(calls), len(calls))
		}
		ids := pub.ids()
		slices.Sort(ids)
		if len(ids) != 300 || len(slices.Compact(ids)) != 300 {
			t.Fatalf("published %d states (%d distinct), want 300", len(ids), len(slices.Compact(ids)))
		}
		if n, err := s.Republish(ctx); err != nil || n != 0 {
			t.Fatalf("Republish = %d, %v; want every alert marked published", n, err)
		}
		if _, err := s.Raise(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if len(calls) != 1 || len(pub.ids()) != 300 {
			t.Fatalf("a replay called the batch subscriber (%d calls) or published again (%d)", len(calls), len(pub.ids()))
		}
	})
}

func TestVisibility(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db, nil, &clock{now: t0.Add(time.Minute)}, nil)
		var batch []alert.Alert
		for _, owner := range []string{"a", "b"} {
			for l := tlp.Clear; l <= tlp.Red; l++ {
				d := detection(owner, fmt.Sprintf("r-%s", l), "h", "e-"+owner+l.String(), t0)
				d.TLP = l
				batch = append(batch, d)
			}
		}
		if _, err := s.Raise(ctx, batch); err != nil {
			t.Fatal(err)
		}
		viewers := []alert.Viewer{
			{Operator: true}, {Member: "a"}, {Member: "b"}, {Member: "c"},
			{Member: "c", ClientOf: []string{"a"}}, {},
		}
		for _, v := range viewers {
			page, err := s.List(ctx, v, alert.Filter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			var want int
			for i := range batch {
				if v.MaySee(&batch[i]) {
					want++
				}
			}
			if len(page.Alerts) != want {
				t.Errorf("viewer %+v lists %d alerts, MaySee allows %d", v, len(page.Alerts), want)
			}
			for _, a := range page.Alerts {
				rel := tlp.Recipient{Member: v.Member, ClientOf: v.ClientOf}.RelationTo(a.Member, nil)
				if !v.Operator && !tlp.MayReceive(a.TLP, rel) {
					t.Errorf("viewer %+v sees %s's %v alert", v, a.Member, a.TLP)
				}
			}
		}
		// Spot checks of the rule itself.
		spot := []struct {
			v     alert.Viewer
			owner string
			level tlp.Level
			want  bool
		}{
			{alert.Viewer{Member: "b"}, "a", tlp.Green, true},
			{alert.Viewer{Member: "b"}, "a", tlp.Amber, false},
			{alert.Viewer{Member: "b", ClientOf: []string{"a"}}, "a", tlp.Amber, true},
			{alert.Viewer{Member: "b", ClientOf: []string{"a"}}, "a", tlp.AmberStrict, false},
			{alert.Viewer{Member: "a"}, "a", tlp.Red, true},
			{alert.Viewer{Operator: true}, "a", tlp.Red, true},
			{alert.Viewer{}, "a", tlp.Clear, false},
		}
		for _, sc := range spot {
			if got := sc.v.MaySee(&alert.Alert{Member: sc.owner, TLP: sc.level}); got != sc.want {
				t.Errorf("%+v.MaySee(%s, %v) = %v, want %v", sc.v, sc.owner, sc.level, got, sc.want)
			}
		}
	})
}

func TestListFiltersAndPages(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := &clock{now: t0}
		s := newService(t, db, nil, c, nil)
		// Ten alerts detected a minute apart, alternating members and
		// severities.
		for i := range 10 {
			c.Set(t0.Add(time.Duration(i) * time.Minute))
			d := detection([]string{"m1", "m2"}[i%2], fmt.Sprintf("r%d", i), "h", fmt.Sprintf("e%d", i), t0)
			d.Severity = alert.Severity(i % 5)
			d.Detector = []string{"sigma", "ioc"}[i%2]
			if i == 7 {
				d.Techniques = []string{"T1078"}
			}
			if _, err := s.Raise(ctx, []alert.Alert{d}); err != nil {
				t.Fatal(err)
			}
		}
		op := alert.Viewer{Operator: true}
		tests := []struct {
			name string
			f    alert.Filter
			want []string // rule ids, newest first
		}{
			{"time range", alert.Filter{From: t0.Add(2 * time.Minute), To: t0.Add(5 * time.Minute)}, []string{"r4", "r3", "r2"}},
			{"min severity", alert.Filter{Severity: alert.Critical}, []string{"r9", "r4"}},
			{"member", alert.Filter{Members: []string{"m2"}, Severity: alert.High}, []string{"r9", "r3"}},
			{"detector", alert.Filter{Detector: "ioc", Severity: alert.Critical}, []string{"r9"}},
			{"technique parent matches sub-technique", alert.Filter{Technique: "T1059", To: t0.Add(2 * time.Minute)}, []string{"r1", "r0"}},
			{"technique exact", alert.Filter{Technique: "t1078"}, []string{"r7"}},
			{"rule", alert.Filter{RuleID: "r5"}, []string{"r5"}},
		}
		for _, tt := range tests {
			page, err := s.List(ctx, op, tt.f)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var got []string
			for _, a := range page.Alerts {
				got = append(got, a.RuleID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
			}
		}
		// Pages of three walk all ten, newest first, without repeats.
		var walked []string
		f := alert.Filter{Limit: 3}
		for {
			page, err := s.List(ctx, op, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range page.Alerts {
				walked = append(walked, a.RuleID)
			}
			if page.Next == "" {
				break
			}
			f.Cursor = page.Next
		}
		if want := []string{"r9", "r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1", "r0"}; !slices.Equal(walked, want) {
			t.Fatalf("paging walked %v, want %v", walked, want)
		}
		for _, bad := range []alert.Filter{{Cursor: "nope"}, {Technique: "X1"}, {Severity: 7}} {
			if _, err := s.List(ctx, op, bad); !errors.Is(err, alert.ErrInvalid) {
				t.Errorf("List(%+v) err = %v, want ErrInvalid", bad, err)
			}
		}
	})
}

func TestAckAndClose(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := &clock{now: t0.Add(time.Minute)}
		s := newService(t, db, nil, c, nil)
		d := detection("a", "r1", "h", "e1", t0)
		d.TLP = tlp.Green
		out, err := s.Raise(ctx, []alert.Alert{d})
		if err != nil {
			t.Fatal(err)
		}
		id := out[0].ID
		if _, err := s.Ack(ctx, alert.Viewer{Member: "b"}, id, "bob"); !errors.Is(err, alert.ErrForbidden) {
			t.Fatalf("another member acked: %v", err)
		}
		if _, err := s.Ack(ctx, alert.Viewer{Member: "a"}, "00000000000000000000000000ff", "x"); !store.NotFound(err) {
			t.Fatalf("ack of unknown id: %v", err)
		}
		c.Set(t0.Add(3 * time.Minute))
		a, err := s.Ack(ctx, alert.Viewer{Member: "a"}, id, "alice")
		if err != nil || a.Status != alert.StatusAcknowledged || a.AcknowledgedBy != "alice" || !a.Acknowledged.Equal(c.Now()) {
			t.Fatalf("ack: %+v %v", a, err)
		}
		c.Set(t0.Add(10 * time.Minute))
		a, err = s.Close(ctx, alert.Viewer{Operator: true}, id, "olga")
		if err != nil || a.Status != alert.StatusClosed || !a.Acknowledged.Equal(t0.Add(3*time.Minute)) || !a.Resolved.Equal(c.Now()) {
			t.Fatalf("close: %+v %v", a, err)
		}
		if _, err := s.Ack(ctx, alert.Viewer{Member: "a"}, id, "alice"); !errors.Is(err, alert.ErrInvalid) {
			t.Fatalf("ack of a closed alert: %v", err)
		}
		// A closed alert does not absorb new detections.
		out, err = s.Raise(ctx, []alert.Alert{detection("a", "r1", "h", "e2", t0.Add(time.Minute))})
		if err != nil || len(out) != 1 || out[0].ID == id {
			t.Fatalf("detection after close folded into the closed alert: %+v %v", out, err)
		}
	})
}
