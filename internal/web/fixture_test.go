package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/archive"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/rulestore"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
	"github.com/xsoc/xsoc/internal/user"
)

// fixture is a console over a real store with the real API behind it:
// three members in three countries, a login of each role, and the
// console's HTTP server.
type fixture struct {
	db         *store.DB
	members    *member.Registry
	users      *user.Store
	alerts     *alert.Service
	correlator *correlate.Correlator
	console    *Console
	srv        *httptest.Server
	// mux is the API behind the console; tests register more of it.
	mux *http.ServeMux
}

// testPassword is every fixture login's password.
const testPassword = "a long test password"

// fixtureLogins are the fixture's accounts: name, member, role.
var fixtureLogins = []struct {
	name, member string
	role         user.Role
}{
	{"ana@fr-soc", "fr-soc", user.Analyst},
	{"vic@fr-soc", "fr-soc", user.Viewer},
	{"adm@fr-soc", "fr-soc", user.Admin},
	{"ana@nl-bank", "nl-bank", user.Analyst},
	{"vic@de-energie", "de-energie", user.Viewer},
	{"ops", "", user.PlatformAdmin},
}

func engines(t *testing.T, run func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { run(t, storetest.SQLite(t, schemas()...)) })
	t.Run("postgres", func(t *testing.T) { run(t, storetest.Postgres(t, schemas()...)) })
}

func schemas() []store.Schema {
	return []store.Schema{member.Schema(), alert.Schema(), correlate.Schema(), intel.Schema(), user.Schema(),
		rulestore.Schema(), archive.RetentionSchema()}
}

func newFixture(t testing.TB, db *store.DB, opts user.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: db, members: member.NewRegistry(db)}
	green, strict := tlp.Green, tlp.AmberStrict
	for _, m := range []member.Member{
		{ID: "fr-soc", Name: "Agence nationale", Country: "FR", Sector: "public-administration", Public: true, AlertTLP: &green},
		{ID: "nl-bank", Name: "Bank <b>NL</b>", Country: "NL", Sector: "banking", AlertTLP: &green},
		{ID: "de-energie", Name: "Energie AG", Country: "DE", Sector: "energy", AlertTLP: &strict},
	} {
		if _, _, err := f.members.Add(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if opts.Params == (user.Params{}) {
		opts.Params = user.Params{Memory: 64, Time: 1, Threads: 1}
	}
	var err error
	if f.users, err = user.NewStore(db, opts); err != nil {
		t.Fatal(err)
	}
	for _, l := range fixtureLogins {
		if _, err := f.users.Add(ctx, user.User{Name: l.name, Member: l.member, Role: l.role}, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	if f.alerts, err = alert.NewService(db, nil, alert.Options{Registry: reg}); err != nil {
		t.Fatal(err)
	}
	country := func(id string) string {
		m, _ := f.members.Get(ctx, id)
		return m.Country
	}
	if f.correlator, err = correlate.NewCorrelator(db, f.alerts, correlate.Options{MemberCountry: country}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	f.mux = mux
	(&api.Core{Members: f.members}).Register(mux)
	(&api.Cases{Alerts: f.alerts, Incidents: f.correlator}).Register(mux)
	f.console = New(Config{Users: f.users, Members: f.members, API: mux, Alerts: f.alerts, Metrics: reg})
	authed := api.Authenticate(f.members, f.console.cfg.Log, mux)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.console.Serves(r) {
			f.console.ServeHTTP(w, r)
			return
		}
		authed.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		f.console.Close()
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	return f
}

// raise stores alerts through the alert service and the correlator, as
// the pipeline does.
func (f *fixture) raise(t testing.TB, batch ...alert.Alert) []alert.Alert {
	t.Helper()
	ctx := context.Background()
	for i := range batch {
		m, err := f.members.Get(ctx, batch[i].Member)
		if err != nil {
			t.Fatal(err)
		}
		batch[i].TLP = max(batch[i].TLP, m.AlertLevel())
	}
	out, err := f.alerts.Raise(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.correlator.Process(ctx, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// campaign raises one alert at each of fr-soc and nl-bank sharing a public
// C2 address — a cross-border incident — and one at de-energie, which
// keeps its alerts in-house (TLP:AMBER+STRICT). title goes into the rule
// titles and evidence, to test that the page shows it as text.
func (f *fixture) campaign(t testing.TB, title string, at time.Time) []alert.Alert {
	mk := func(m, host, id string) alert.Alert {
		return alert.Alert{Member: m, EventTime: at, Detector: "sigma", RuleID: "r-" + m, RuleTitle: title,
			Severity: alert.Critical, Techniques: []string{"T1071.001"}, TLP: tlp.Clear,
			Observables: []alert.Observable{{Type: "ipv4-addr", Value: "198.51.100.77", Role: "destination"}, {Type: "host", Value: host, Role: "host"}},
			EventIDs:    []string{id},
			Evidence: []string{`{"@timestamp":"` + at.Format(time.RFC3339) + `","event.id":"` + id + `","host.name":"` + host +
				`","destination.ip":"198.51.100.77","process.command_line":` + jsonString(title) + `}`}}
	}
	return f.raise(t, mk("fr-soc", "ws-fr-1", "e-fr-1"), mk("nl-bank", "ws-nl-1", "e-nl-1"), mk("de-energie", "ws-de-1", "e-de-1"))
}
