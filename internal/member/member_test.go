package member

import (
	"context"
	"errors"
	"testing"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		m    Member
		ok   bool
	}{
		{"good", Member{ID: "de-energie", Name: "Energie AG", Country: "de", Sector: "Energy"}, true},
		{"greece as EL", Member{ID: "gr-soc", Name: "GR SOC", Country: "EL", Sector: "public-administration", Public: true}, true},
		{"bad id", Member{ID: "DE Energie", Name: "x", Country: "DE", Sector: "energy"}, false},
		{"no name", Member{ID: "x1", Country: "DE", Sector: "energy"}, false},
		{"not EU", Member{ID: "us-corp", Name: "x", Country: "US", Sector: "energy"}, false},
		{"bad sector", Member{ID: "x1", Name: "x", Country: "DE", Sector: "gaming"}, false},
		{"client of itself", Member{ID: "x1", Name: "x", Country: "DE", Sector: "energy", ClientOf: []string{"x1"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := NewRegistry(db)
		m, key, err := r.Add(ctx, Member{ID: "fr-anssi", Name: "French national SOC", Country: "FR", Sector: "public-administration", Public: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Add(ctx, m); !errors.Is(err, ErrExists) {
			t.Fatalf("second Add: %v, want ErrExists", err)
		}
		p, err := r.Authenticate(ctx, key)
		if err != nil || p.Member.ID != "fr-anssi" || p.Operator() {
			t.Fatalf("Authenticate = %+v, %v", p, err)
		}
		// The same key with its last character changed (to one it is not).
		changed := key[:len(key)-1] + "A"
		if key[len(key)-1] == 'A' {
			changed = key[:len(key)-1] + "B"
		}
		for _, bad := range []string{"", "xsoc_", key + "x", changed, "Bearer " + key} {
			if _, err := r.Authenticate(ctx, bad); !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("Authenticate(%q) = %v, want ErrUnauthenticated", bad, err)
			}
		}
		key2, err := r.RotateKey(ctx, "fr-anssi")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Authenticate(ctx, key); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("old key still works after rotation: %v", err)
		}
		if _, err := r.Authenticate(ctx, key2); err != nil {
			t.Errorf("new key: %v", err)
		}
		if _, err := r.RotateKey(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Errorf("RotateKey(nobody) = %v", err)
		}
		op, err := r.CreateOperatorKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := r.Authenticate(ctx, op); err != nil || !p.Operator() {
			t.Errorf("operator key: %+v %v", p, err)
		}
		list, err := r.List(ctx)
		if err != nil || len(list) != 1 || list[0].Country != "FR" || !list[0].Public || list[0].AlertLevel() != tlp.Amber {
			t.Errorf("List = %+v, %v (alerts must default to TLP:AMBER)", list, err)
		}
		if err := r.SetAlertTLP(ctx, "fr-anssi", tlp.Green); err != nil {
			t.Fatal(err)
		}
		if m, _ := r.Get(ctx, "fr-anssi"); m.AlertLevel() != tlp.Green {
			t.Errorf("alert TLP after SetAlertTLP: %v", m.AlertLevel())
		}
	})
}
