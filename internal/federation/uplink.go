package federation

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/store"
)

// runUplink forwards to the upstream hub, until ctx ends, what may go
// beyond this hub — its member nodes' directories and warnings (from the
// warning stream), its member hubs' relays (from the relay stream) —
// each stream through a consumer of its own, so that an unreachable
// upstream holds up nothing below; and announces this hub to the
// upstream. Without an upstream it returns at once.
func (r *relay) runUplink(ctx context.Context) {
	if r.upstream == "" {
		return
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		r.announce(ctx)
	}()
	for _, s := range []struct{ stream, durable string }{{WarningStream, hubUpConsumer}, {RelayStream, hubRelayUpConsumer}} {
		go func() {
			defer wg.Done()
			r.consumeUp(ctx, s.stream, s.durable)
		}()
	}
	wg.Wait()
}

// announce sends the upstream this hub's own directory — a member node
// of the upstream without members — at start and every hour, so that
// the upstream forwards to it.
func (r *relay) announce(ctx context.Context) {
	id := r.h.cfg.Identity
	for ctx.Err() == nil {
		err := func() error {
			d := Directory{Node: id.Name, Sent: time.Now().UTC()}
			data, err := json.Marshal(&d)
			if err != nil {
				return err
			}
			msg := &nats.Msg{Subject: d.Subject(), Data: data}
			if err := id.seal(msg); err != nil {
				return err
			}
			msg.Subject = RelaySubject + "." + id.Name + "." + r.upstream
			msg.Header.Set(hdrRelayPath, id.Name)
			msg.Header.Set(hdrRelayKind, kindDirectory)
			if err := sealHop(id, msg); err != nil {
				return err
			}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_, err = r.h.relayJS.PublishMsg(pctx, msg)
			return err
		}()
		if err != nil {
			if ctx.Err() == nil {
				r.h.cfg.Log.Info("federation: upstream hub not reached; announcing this hub again", "upstream", r.upstream, "err", err)
			}
			sleep(ctx, 2*time.Second)
			continue
		}
		r.h.cfg.Log.Info("federation: this hub announced to its upstream hub", "upstream", r.upstream)
		sleep(ctx, upstreamAnnounceGap)
	}
}

// consumeUp forwards a stream's messages to the upstream; while it is
// unreachable they wait.
func (r *relay) consumeUp(ctx context.Context, stream, durable string) {
	consume(ctx, r.h.fed, stream, jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   "the hub's relays to its upstream hub",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 8192,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}, 256, r.h.cfg.Log, retrying(ctx, r.h.cfg.Log, "federation: upstream hub not reached; relays wait",
		func(msgs []jetstream.Msg) error { return r.sendUp(ctx, msgs) }))
}

// retrying returns a batch handler that sends a batch with send and
// acknowledges it, or, if send fails, has it come again after a pause
// that grows with each failure in a row (minRetry to maxRetry).
func retrying(ctx context.Context, log *slog.Logger, what string, send func([]jetstream.Msg) error) func([]jetstream.Msg) {
	retry := minRetry
	return func(msgs []jetstream.Msg) {
		if err := send(msgs); err != nil {
			if ctx.Err() == nil {
				log.Info(what, "err", err, "retry", retry)
			}
			// Handed back at once, they come first again after the pause,
			// in order: delayed, each batch would wait out its own delay
			// once the hub is back.
			for _, m := range msgs {
				m.Nak()
			}
			sleep(ctx, retry)
			retry = min(2*retry, maxRetry)
			return
		}
		for _, m := range msgs {
			m.Ack()
		}
		retry = minRetry
	}
}

// upward is one message on its way to the upstream: the forward, its
// message id, and for a warning what the audit records.
type upward struct {
	msg    *nats.Msg
	id     string
	p      *pending
	reason string
}

// sendUp forwards a batch to the upstream, returning once the upstream's
// relay stream stored every message, and records the warnings forwarded.
func (r *relay) sendUp(ctx context.Context, msgs []jetstream.Msg) error {
	var outs []upward
	for _, m := range msgs {
		u, ok, err := r.upMessage(ctx, m)
		if err != nil {
			return err
		}
		if ok {
			outs = append(outs, u)
		}
	}
	futures := make([]jetstream.PubAckFuture, 0, len(outs))
	for _, u := range outs {
		f, err := r.h.relayJS.PublishMsgAsync(u.msg, jetstream.WithMsgID(u.id))
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	now := store.Nanos(time.Now())
	return r.h.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		for _, u := range outs {
			if u.p == nil {
				continue
			}
			r.h.metrics.forwarded.Inc()
			if err := r.audit(ctx, tx, u.p, target{node: r.upstream, reason: u.reason}, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// upMessage builds the upstream's forward of a message, if it goes up:
// a member node's directory or warning, a member hub's relay. What the
// relay refuses (and counts) does not go up, nor does TLP:AMBER that
// names nobody beyond this hub. Directories are stored here too, so that
// a warning right behind its sender's directory finds it whichever of
// the hub's consumers reads it first.
func (r *relay) upMessage(ctx context.Context, m jetstream.Msg) (upward, bool, error) {
	self := r.h.cfg.Identity.Name
	subject := RelaySubject + "." + self + "." + r.upstream
	var path []string
	switch {
	case strings.HasPrefix(m.Subject(), DirectorySubject+"."):
		if err := r.takeDirectory(ctx, m); err != nil {
			return upward{}, false, notRefusal(err)
		}
		return r.upDirectory(m, subject, nil)
	case strings.HasPrefix(m.Subject(), RelaySubject+"."):
		from, err := r.openHop(m)
		if err != nil {
			return upward{}, false, nil
		}
		if m.Headers().Get(hdrRelayKind) == kindDirectory {
			if err := r.takeFarDirectory(ctx, m, from); err != nil {
				return upward{}, false, notRefusal(err)
			}
			return r.upDirectory(m, subject, from.path)
		}
		path = from.path
	case !strings.HasPrefix(m.Subject(), WarningSubject+"."):
		return upward{}, false, nil
	}
	// The relay's own consumer of the same message counts its refusals.
	o, err := openWarning(r.verify, m.Headers(), m.Data(), time.Now())
	w := o.w
	if err != nil || (path == nil && m.Subject() != w.Subject()) {
		return upward{}, false, nil
	}
	up, reason := r.goesUp(&w)
	if !up {
		return upward{}, false, nil
	}
	msg, err := r.hopMessage(m.Headers(), o.body, subject, path, nil, "")
	if err != nil {
		return upward{}, false, err
	}
	p := &pending{w: w, indicators: len(o.items)}
	if len(w.Bundle) == 0 {
		p.indicators = len(w.Revoke)
	}
	return upward{msg: msg, id: w.ID, p: p, reason: "to the upstream hub " + r.upstream + ": " + reason}, true, nil
}

// upDirectory builds the upstream's forward of a directory.
func (r *relay) upDirectory(m jetstream.Msg, subject string, path []string) (upward, bool, error) {
	d, err := r.openDirectory(m.Headers(), m.Data())
	if err != nil {
		return upward{}, false, nil
	}
	msg, err := r.hopMessage(m.Headers(), m.Data(), subject, path, nil, kindDirectory)
	return upward{msg: msg, id: "dir." + d.Node + "." + strconv.FormatInt(d.Sent.UnixNano(), 10)}, err == nil, err
}

// notRefusal passes on an error that is no refusal (a store failure: the
// batch comes again); a refusal, which the relay counts, leaves the
// message out.
func notRefusal(err error) error {
	if isRefusal(err) {
		return nil
	}
	return err
}
