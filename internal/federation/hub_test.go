package federation

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/store"
)

// TestHubRefusesWhatItCannotTake: an alert of a member the hub cannot
// register (a country outside the EU) is refused, and does not hold up
// the alerts after it.
func TestHubRefusesWhatItCannotTake(t *testing.T) {
	p := newTestPKI(t)
	hubID, de := p.identity(t, "hub"), p.identity(t, "de-node")
	hubBus, _ := openHubBus(t, hubID)
	ctx, cancel := context.WithCancel(context.Background())
	db, err := store.OpenSQLite(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, member.Schema(), alert.Schema(), correlate.Schema(), Schema()); err != nil {
		t.Fatal(err)
	}
	alerts, _ := alert.NewService(db, hubBus, alert.Options{})
	corr, _ := correlate.NewCorrelator(db, alerts, correlate.Options{})
	members := member.NewRegistry(db)
	h, err := NewHub(ctx, HubConfig{Bus: hubBus, Identity: hubID, DB: db, Correlator: corr, Members: members})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; db.Close() })

	js, _ := jetstream.New(hubBus.Federation())
	for _, country := range []string{"US", "DE"} {
		msg := sealedAlert(t, de, func(a *Alert) {
			a.Country = country
			a.Member = "m-" + strings.ToLower(country)
			a.ID = alert.NewID(time.Now())
		})
		var a Alert
		json.Unmarshal(msg.Data, &a)
		msg.Subject = a.Subject()
		if err := de.seal(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: msg.Subject, Data: msg.Data, Header: msg.Header}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		page, err := alerts.List(ctx, alert.Viewer{Operator: true}, alert.Filter{})
		if err == nil && len(page.Alerts) > 0 {
			if len(page.Alerts) != 1 || page.Alerts[0].Member != "de-node--m-de" {
				t.Errorf("hub alerts %+v", page.Alerts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the valid alert never reached the hub")
		}
	}
	if _, err := members.Get(ctx, "de-node--m-us"); err == nil {
		t.Error("a member outside the EU was registered")
	}
}
