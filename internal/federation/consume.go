package federation

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// consume reads stream through the durable consumer cc, in batches of up
// to max messages, and hands each batch to handle until ctx ends. handle
// acknowledges what it took, or not, and pauses after a failure as suits
// it; a failed read is logged and tried again a second later. The
// consumer is created first, tried again until it stands (the stream's
// server may still be starting).
func consume(ctx context.Context, js jetstream.JetStream, stream string, cc jetstream.ConsumerConfig, max int,
	log *slog.Logger, handle func([]jetstream.Msg)) {
	cons, err := durable(ctx, js, stream, cc, log)
	if err != nil {
		return // only ctx ends it
	}
	for ctx.Err() == nil {
		msgs, err := nextBatch(cons, max)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("federation: reading a stream", "stream", stream, "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		if len(msgs) > 0 {
			handle(msgs)
		}
	}
}

// durable creates or opens a durable consumer, trying again until it
// stands or ctx ends.
func durable(ctx context.Context, js jetstream.JetStream, stream string, cc jetstream.ConsumerConfig, log *slog.Logger) (jetstream.Consumer, error) {
	for {
		cons, err := js.CreateOrUpdateConsumer(ctx, stream, cc)
		if err == nil {
			return cons, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		log.Warn("federation: consumer not ready; trying again", "stream", stream, "consumer", cc.Durable, "err", err)
		sleep(ctx, time.Second)
	}
}

// nextBatch returns the messages available now, up to max, or waits up to
// a second for the next one: a batch goes on as soon as it is there.
func nextBatch(cons jetstream.Consumer, max int) ([]jetstream.Msg, error) {
	var msgs []jetstream.Msg
	collect := func(b jetstream.MessageBatch) error {
		for m := range b.Messages() {
			msgs = append(msgs, m)
		}
		return b.Error()
	}
	b, err := cons.FetchNoWait(max)
	if err != nil {
		return nil, err
	}
	if err := collect(b); err != nil || len(msgs) > 0 {
		return msgs, err
	}
	if b, err = cons.Fetch(1, jetstream.FetchMaxWait(time.Second)); err != nil {
		return nil, err
	}
	if err := collect(b); err != nil || len(msgs) == 0 {
		return msgs, err
	}
	if b, err = cons.FetchNoWait(max - 1); err != nil {
		return msgs, nil
	}
	collect(b)
	return msgs, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
