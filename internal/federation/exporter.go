package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/tlp"
)

// exportConsumer is the durable consumer of the node's alert stream that
// the exporter reads; its position survives restarts.
const exportConsumer = "xsoc-federation-export"

// NoticeDetector is the detector name of the alerts a member node raises
// for hub notices. They stay on the node: the hub made them.
const NoticeDetector = "federation"

// ExporterConfig configures an Exporter.
type ExporterConfig struct {
	// Bus is the member node's bus: its alert stream, and the connection
	// into the federation account that the leaf node link carries.
	Bus *bus.Bus
	// Identity signs what leaves; Pseudonyms hides the observables.
	Identity   *Identity
	Pseudonyms *Pseudonymiser
	// Member returns a member of this node (for its country and sector).
	Member func(id string) member.Member
	Log    *slog.Logger
	// Registry receives the exporter's counters; nil registers nothing.
	Registry *prometheus.Registry
}

// The exporter's pause after a failed send doubles from minRetry up to
// maxRetry: short enough that a hub back from a restart gets the waiting
// alerts within seconds, long enough not to spin while it is away.
const (
	minRetry = 250 * time.Millisecond
	maxRetry = 5 * time.Second
)

// Exporter sends the member node's alerts that TLP lets leave it to the
// hub. It reads the node's alert stream through a durable consumer and
// acknowledges an alert there only once the hub's stream stored it: while
// the hub is unreachable alerts wait, and after a crash on either side
// they are sent again, which the hub's duplicate detection absorbs.
type Exporter struct {
	cfg      ExporterConfig
	fed      jetstream.JetStream
	exported prometheus.Counter
	withheld prometheus.Counter
}

// NewExporter returns an exporter; Run starts it.
func NewExporter(cfg ExporterConfig) (*Exporter, error) {
	if cfg.Bus == nil || cfg.Bus.Federation() == nil || cfg.Identity == nil || cfg.Pseudonyms == nil || cfg.Member == nil {
		return nil, errors.New("federation: exporter needs a federation bus, an identity, pseudonyms and members")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	fed, err := jetstream.New(cfg.Bus.Federation(), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return nil, err
	}
	e := &Exporter{
		cfg: cfg, fed: fed,
		exported: prometheus.NewCounter(prometheus.CounterOpts{Name: "xsoc_federation_alerts_exported_total",
			Help: "Alert states the hub stored."}),
		withheld: prometheus.NewCounter(prometheus.CounterOpts{Name: "xsoc_federation_alerts_withheld_total",
			Help: "Alert states kept on the node because their TLP level does not let them leave."}),
	}
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{e.exported, e.withheld} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

// MayLeave reports whether an alert may go to the hub: the hub and,
// through it, the federation's other members are the community, so
// TLP:CLEAR and GREEN leave; AMBER, AMBER+STRICT and RED stay. Notices
// the hub sent stay too.
func MayLeave(a *alert.Alert) bool {
	return a.Detector != NoticeDetector && tlp.MayReceive(a.TLP, tlp.Community)
}

// Run exports until ctx ends.
func (e *Exporter) Run(ctx context.Context) error {
	retry := minRetry
	consume(ctx, e.cfg.Bus.JetStream(), bus.AlertStream, jetstream.ConsumerConfig{
		Durable:       exportConsumer,
		Description:   "alerts on their way to the federation hub",
		FilterSubject: bus.AlertSubject + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 4096,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}, 256, e.cfg.Log, func(msgs []jetstream.Msg) {
		e.yieldToWarnings(ctx)
		if err := e.forward(ctx, msgs); err != nil {
			// The hub is down or the link is: wait, then try again with
			// what was not acknowledged.
			e.cfg.Log.Info("federation: hub not reached; alerts wait", "err", err, "retry", retry)
			sleep(ctx, retry)
			retry = min(2*retry, maxRetry)
			return
		}
		retry = minRetry
	})
	return nil
}

// Early warnings go first. After an outage of the hub, a member node has
// both its alerts and their early warnings waiting, and the two cross the
// same cores — the node's, the hub's (which correlates the alerts) and
// the receiving nodes'. Before each batch the exporter waits while more
// than yieldAbove alert states wait for the warning sender and their
// number keeps going down: the warnings then cross first, and the alerts
// follow. Live, the warning sender keeps up and the exporter never waits.
// A warning sender that does not move (its consumer left behind, the hub
// refusing it) holds the exporter back for at most yieldStall polls; a
// batch waits at most yieldMax polls (20 s), well within its
// acknowledgement wait.
const (
	yieldAbove = 1024
	yieldPoll  = 100 * time.Millisecond
	yieldStall = 10
	yieldMax   = 200
)

// yieldToWarnings waits while the warning sender works through a
// backlog.
func (e *Exporter) yieldToWarnings(ctx context.Context) {
	yieldWhile(ctx, func() (uint64, bool) { return e.warningsWaiting(ctx) }, yieldPoll)
}

// yieldWhile asks waiting every poll how many alert states wait for the
// warning sender, until they are yieldAbove or fewer, none is known, no
// new low came for yieldStall polls, or yieldMax polls passed. It returns
// how many times it asked.
func yieldWhile(ctx context.Context, waiting func() (uint64, bool), poll time.Duration) int {
	least, sinceLeast := uint64(0), 0
	for asked := 1; ; asked++ {
		n, ok := waiting()
		if !ok || n <= yieldAbove || asked > yieldMax || ctx.Err() != nil {
			return asked
		}
		if least == 0 || n < least {
			least, sinceLeast = n, 0
		} else if sinceLeast++; sinceLeast >= yieldStall {
			return asked
		}
		sleep(ctx, poll)
	}
}

// warningsWaiting returns how many alert states wait for the warning
// sender (delivered or not); false if the node has none.
func (e *Exporter) warningsWaiting(ctx context.Context) (uint64, bool) {
	// Looking the consumer up reads its state.
	c, err := e.cfg.Bus.JetStream().Consumer(ctx, bus.AlertStream, warnConsumer)
	if err != nil {
		return 0, false
	}
	info := c.CachedInfo()
	return info.NumPending + uint64(info.NumAckPending), true
}

// forward sends a batch to the hub, acknowledging each message locally
// once the hub acknowledged it (or once it is known to stay home). It
// returns an error if any message could not be sent; those are
// negatively acknowledged and come again.
func (e *Exporter) forward(ctx context.Context, msgs []jetstream.Msg) error {
	type sent struct {
		msg jetstream.Msg
		ack jetstream.PubAckFuture
	}
	var pending []sent
	var failed sendFailures
	for _, m := range msgs {
		var a alert.Alert
		if err := json.Unmarshal(m.Data(), &a); err != nil {
			// Sending it again cannot help; the node's alert store keeps
			// the alert regardless.
			e.cfg.Log.Warn("federation: undecodable alert message left out", "subject", m.Subject(), "err", err)
			m.Term()
			continue
		}
		if !MayLeave(&a) {
			e.withheld.Inc()
			m.Ack()
			continue
		}
		out, msgID, err := e.prepare(&a)
		if err != nil {
			failed.add(err)
			m.NakWithDelay(5 * time.Second)
			continue
		}
		f, err := e.fed.PublishMsgAsync(out, jetstream.WithMsgID(msgID))
		if err != nil {
			failed.add(err)
			m.NakWithDelay(minRetry)
			continue
		}
		pending = append(pending, sent{m, f})
	}
	for _, p := range pending {
		select {
		case <-p.ack.Ok():
			e.exported.Inc()
			p.msg.Ack()
		case err := <-p.ack.Err():
			failed.add(err)
			p.msg.NakWithDelay(minRetry)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return failed.err()
}

// sendFailures sums up the failures of one batch: how many, and the first.
type sendFailures struct {
	n     int
	first error
}

func (f *sendFailures) add(err error) {
	if f.n == 0 {
		f.first = err
	}
	f.n++
}

func (f *sendFailures) err() error {
	if f.n == 0 {
		return nil
	}
	return fmt.Errorf("%d alert states not sent, the first because: %w", f.n, f.first)
}

// prepare builds the signed message to the hub for a local alert, and
// its message id.
func (e *Exporter) prepare(a *alert.Alert) (*nats.Msg, string, error) {
	mem := e.cfg.Member(a.Member)
	if mem.Country == "" {
		return nil, "", fmt.Errorf("federation: alert %s: member %s unknown on this node", a.ID, a.Member)
	}
	out := Describe(e.cfg.Identity.Name, a, mem.Country, mem.Sector, e.cfg.Pseudonyms)
	data, err := json.Marshal(&out)
	if err != nil {
		return nil, "", err
	}
	msg := &nats.Msg{Subject: out.Subject(), Data: data}
	if err := e.cfg.Identity.seal(msg); err != nil {
		return nil, "", err
	}
	return msg, out.MsgID(), nil
}
