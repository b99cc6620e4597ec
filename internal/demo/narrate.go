package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/node"
)

// correlator is the node a demonstration narrates from, the one that
// forms incidents: the single node, asked in process, or the hub, asked
// over its API.
type correlator interface {
	// crossBorder returns the latest cross-border incident, nil if none.
	crossBorder(ctx context.Context) (*correlate.Incident, error)
	// alertCount counts the alerts.
	alertCount(ctx context.Context) (int, error)
	// incidents returns the latest incidents (up to 500).
	incidents(ctx context.Context) ([]correlate.Incident, error)
}

// local is the single-node demonstration's node, asked in process.
type local struct{ n *node.Node }

var operator = alert.Viewer{Operator: true}

func (l local) crossBorder(ctx context.Context) (*correlate.Incident, error) {
	page, err := l.n.Correlator.Incidents(ctx, operator, correlate.Filter{CrossBorder: true, Limit: 1})
	if err != nil || len(page.Incidents) == 0 {
		return nil, err
	}
	return &page.Incidents[0], nil
}

func (l local) alertCount(ctx context.Context) (int, error) {
	return countPaged(func(cursor string) (int, string, error) {
		page, err := l.n.Alerts.List(ctx, operator, alert.Filter{Limit: 1000, Cursor: cursor})
		return len(page.Alerts), page.Next, err
	})
}

func (l local) incidents(ctx context.Context) ([]correlate.Incident, error) {
	page, err := l.n.Correlator.Incidents(ctx, operator, correlate.Filter{Limit: 500})
	return page.Incidents, err
}

// watcher narrates a demonstration while the scenario replays: it
// announces the first cross-border incident and reports progress every
// five seconds.
type watcher struct {
	from  correlator
	every time.Duration // how often it looks
	// where says where the incident stands, for announce.
	where string
	// progress formats the progress line from the seconds since the start,
	// the events sent and the alerts.
	progress string
	// then, if set, runs at every look once the incident stands.
	then func(ctx context.Context, started time.Time, out io.Writer)
}

// run watches until ctx ends, recording the incident in res; res is the
// watcher's to write until run returns (Sent only is read, atomically).
func (w watcher) run(ctx context.Context, started time.Time, res *Result, out io.Writer) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	lastReport := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if res.CrossBorder == nil {
			if inc, err := w.from.crossBorder(ctx); err == nil && inc != nil {
				res.CrossBorder, res.After = inc, time.Since(started)
				announce(out, *inc, res.After, w.where)
			}
		} else if w.then != nil {
			w.then(ctx, started, out)
		}
		if time.Since(lastReport) >= 5*time.Second {
			lastReport = time.Now()
			if n, err := w.from.alertCount(ctx); err == nil {
				fmt.Fprintf(out, w.progress, time.Since(started).Seconds(), atomic.LoadInt64(&res.Sent), n)
			}
		}
	}
}

// tally takes stock once the replay is done: it sets res.Alerts (and
// res.CrossBorder, if no watcher saw one, to the latest cross-border
// incident) and counts the incidents and the cross-border ones.
func tally(ctx context.Context, from correlator, res *Result) (incidents, cross int, err error) {
	if n, err := from.alertCount(ctx); err == nil {
		res.Alerts = n
	}
	incs, err := from.incidents(ctx)
	if err != nil {
		return 0, 0, err
	}
	for i := range incs {
		if !incs[i].CrossBorder {
			continue
		}
		cross++
		if res.CrossBorder == nil {
			res.CrossBorder = &incs[i]
		}
	}
	return len(incs), cross, nil
}

// errPollTimeout is poll's answer when its time is up.
var errPollTimeout = errors.New("demo: timed out")

// poll calls check every interval until it reports done or fails, ctx ends
// (ctx's error) or timeout has passed (errPollTimeout).
func poll(ctx context.Context, timeout, every time.Duration, check func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := check()
		if done || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errPollTimeout
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// countPaged counts what a listing holds, a page at a time: page returns
// the count of the page at cursor ("": the first) and the next page's
// cursor, "" after the last.
func countPaged(page func(cursor string) (int, string, error)) (int, error) {
	total, cursor := 0, ""
	for {
		n, next, err := page(cursor)
		if err != nil {
			return 0, err
		}
		total += n
		if next == "" {
			return total, nil
		}
		cursor = next
	}
}
