package member

import (
	"context"
	"errors"
	"testing"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// TestRevocationReachesOtherProcesses: a node's registry that cached a key
// refuses it on the very next request after another process — the CLI,
// with its own handle on the store — rotated it, and sees a sharing level
// set there; no time passes between the two.
func TestRevocationReachesOtherProcesses(t *testing.T) {
	storetest.EachTwice(t, []store.Schema{Schema()}, func(t *testing.T, a, b *store.DB) {
		ctx := context.Background()
		node, cli := NewRegistry(a), NewRegistry(b)
		_, oldKey, err := cli.Add(ctx, Member{ID: "de-energie", Name: "Energie AG", Country: "DE", Sector: "energy"})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second is served from the cache
			if _, err := node.Authenticate(ctx, oldKey); err != nil {
				t.Fatal(err)
			}
		}
		newKey, err := cli.RotateKey(ctx, "de-energie")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := node.Authenticate(ctx, oldKey); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("rotated key still accepted by the node: %v", err)
		}
		p, err := node.Authenticate(ctx, newKey)
		if err != nil || p.Member.AlertLevel() != tlp.Amber {
			t.Fatalf("new key: %+v, %v", p, err)
		}
		if err := cli.SetAlertTLP(ctx, "de-energie", tlp.Green); err != nil {
			t.Fatal(err)
		}
		if p, err := node.Authenticate(ctx, newKey); err != nil || p.Member.AlertLevel() != tlp.Green {
			t.Fatalf("sharing level set by the CLI not seen by the node: %v, %v", p.Member.AlertLevel(), err)
		}
	})
}
