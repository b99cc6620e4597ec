package web

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/archive"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/rulestore"
)

// withRules gives the fixture the rules API over a real rule store and
// Sigma engine, reloaded from the store as the node does.
func (f *fixture) withRules(t testing.TB, files map[string]string) *sigma.Engine {
	t.Helper()
	ctx := context.Background()
	rs := rulestore.New(f.db)
	for name, yaml := range files {
		if err := rs.Put(ctx, name, []byte(yaml)); err != nil {
			t.Fatal(err)
		}
	}
	eng := sigma.NewEngine(sigma.Options{})
	reload := func(ctx context.Context) error {
		fs, err := rs.Files(ctx)
		if err != nil {
			return err
		}
		var rules []*sigma.Rule
		for _, fl := range fs {
			r, _ := sigma.ParseRule(fl.YAML, fl.Name)
			rules = append(rules, r...)
		}
		eng.Load(rules)
		off, err := rs.Disabled(ctx)
		for _, id := range off {
			eng.SetEnabled(id, false)
		}
		return err
	}
	if err := reload(ctx); err != nil {
		t.Fatal(err)
	}
	(&api.Rules{Engine: eng, Store: rs, Reload: reload}).Register(f.mux)
	return eng
}

// withArchive gives the fixture the hunting API over an embedded event
// archive holding events, each an ECS JSON document of member's.
func (f *fixture) withArchive(t testing.TB, member string, events ...string) {
	t.Helper()
	ctx := context.Background()
	eng, err := archive.OpenEmbedded(ctx, filepath.Join(t.TempDir(), "archive"), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	arch, err := archive.New(ctx, eng)
	if err != nil {
		t.Fatal(err)
	}
	b := archive.Batch{Stream: 1, Seq: 1, Member: member}
	for _, doc := range events {
		ev := &event.Event{}
		if err := ev.ParseJSON([]byte(doc)); err != nil {
			t.Fatalf("event %s: %v", doc, err)
		}
		ev.Member, ev.Ingested, ev.Original = member, time.Now(), []byte(doc)
		b.Events = append(b.Events, ev)
	}
	if err := arch.Write(ctx, []archive.Batch{b}); err != nil {
		t.Fatal(err)
	}
	(&api.Hunt{Archive: arch, Policies: archive.NewPolicies(f.db)}).Register(f.mux)
}
