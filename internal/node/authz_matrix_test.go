package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/tlp"
	"github.com/xsoc/xsoc/internal/user"
)

// The authorisation matrix: every route of the node (the OpenAPI document
// and every ServeMux pattern in the sources) is called by every kind of
// caller on objects of every TLP level. Each route has a rule saying what
// each caller may get; a route without a rule fails the test. Besides the
// status, every response body is searched for the facts of objects the
// caller may not see, and incident views are checked to count, name and
// place (countries) only what they show.

// role is one kind of caller, described by how it stands to the member
// owning the fixture's objects (fr-own).
type role struct {
	name     string
	key      string
	member   string
	rel      tlp.Relation
	operator bool
	authed   bool
	// session and csrf: the role is a person logged in to the web
	// console (an admin of the member, or a platform admin), calling
	// the API through it.
	session, csrf, user string
}

// web reports whether r calls through a console session.
func (r role) web() bool { return r.session != "" }

// sees reports whether r may receive an object of fr-own marked l.
func (r role) sees(l tlp.Level) bool {
	return r.operator || (r.authed && tlp.MayReceive(l, r.rel))
}

// object is one fixture object of fr-own (or a campaign around one).
type object struct {
	kind  string // "alert", "incident", "campaign", "intel"
	level tlp.Level
	id    string
	// tokens are strings only a caller that sees the object may read.
	tokens []string
	// cases lists the members with a case of the incident (own alerts).
	cases []string
}

// visibleTo reports whether r may see o.
func (o *object) visibleTo(r role) bool { return r.sees(o.level) }

// hasCase reports whether r may work on incident o.
func (o *object) hasCase(r role) bool {
	return r.operator || (r.authed && o.visibleTo(r) && slices.Contains(o.cases, r.member))
}

// fixture is a node with members, keys, alerts, incidents, intel and
// events at every TLP level.
type fixture struct {
	n           *Node
	roles       []role
	objects     []*object
	ownerStatus string // a TAXII status resource of fr-own
	envelope    string // a TAXII envelope with one TLP:GREEN indicator
	// versions holds, per intel object, an envelope with a newer
	// version of it.
	versions          map[string]string
	events            map[string]string
	spare, clientOfID string
}

var matrixLevels = []tlp.Level{tlp.Clear, tlp.Green, tlp.Amber, tlp.AmberStrict, tlp.Red}

// levelWord is a level as it appears in fixture strings; no word is part
// of another.
func levelWord(l tlp.Level) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(l.String(), "TLP:")), "+", "")
}

func newFixture(t *testing.T, n *Node) *fixture {
	t.Helper()
	ctx := context.Background()
	fx := &fixture{n: n, events: map[string]string{}, versions: map[string]string{}, spare: "se-spare", clientOfID: "de-client"}
	add := func(m member.Member) string {
		_, key, err := n.Members.Add(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	revoked := add(member.Member{ID: "fr-own", Name: "Owner", Country: "FR", Sector: "energy"})
	owner, err := n.Members.RotateKey(ctx, "fr-own")
	if err != nil {
		t.Fatal(err)
	}
	client := add(member.Member{ID: "de-client", Name: "Client", Country: "DE", Sector: "health", ClientOf: []string{"fr-own"}})
	other := add(member.Member{ID: "nl-other", Name: "Other", Country: "NL", Sector: "banking"})
	add(member.Member{ID: fx.spare, Name: "Spare", Country: "SE", Sector: "research"})
	if err := n.GrantSharedWrite(ctx); err != nil {
		t.Fatal(err)
	}
	op, err := n.Members.CreateOperatorKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fx.roles = []role{
		{name: "no key"},
		{name: "revoked key", key: revoked},
		{name: "other member", key: other, member: "nl-other", rel: tlp.Community, authed: true},
		{name: "client of the owner", key: client, member: "de-client", rel: tlp.Client, authed: true},
		{name: "operator", key: op, operator: true, authed: true},
		{name: "owner", key: owner, member: "fr-own", rel: tlp.Self, authed: true},
	}
	for _, r := range slices.Clone(fx.roles) {
		if !r.authed {
			continue
		}
		u := user.User{Name: "web-" + strings.ReplaceAll(r.name, " ", "-"), Member: r.member, Role: user.Admin}
		if r.operator {
			u.Role = user.PlatformAdmin
		}
		if _, err := n.Users.Add(ctx, u, matrixPassword); err != nil {
			t.Fatal(err)
		}
		r.name, r.key, r.user = r.name+" (web session)", "", u.Name
		fx.roles = append(fx.roles, r)
		fx.login(t, len(fx.roles)-1)
	}
	fx.addAlerts(t)
	fx.addIntel(t)
	fx.addEvents(t)
	return fx
}

const matrixPassword = "correct horse battery staple matrix"

// login opens a fresh console session for the web role fx.roles[i].
func (fx *fixture) login(t *testing.T, i int) {
	t.Helper()
	token, s, err := fx.n.Users.Login(context.Background(), fx.roles[i].user, matrixPassword)
	if err != nil {
		t.Fatal(err)
	}
	fx.roles[i].session, fx.roles[i].csrf = token, s.CSRF
}

// addAlerts raises, per level, an alert of fr-own (its local incident)
// sharing a domain with a TLP:GREEN alert of nl-other (a campaign across
// FR and NL).
func (fx *fixture) addAlerts(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Add(-time.Hour)
	for i, l := range matrixLevels {
		w := levelWord(l)
		camp := alert.Observable{Type: "domain-name", Value: w + "-camp.example"}
		raised, err := fx.n.Alerts.Raise(ctx, []alert.Alert{
			{Member: "fr-own", EventTime: now.Add(time.Duration(i) * time.Minute), Detector: "sigma", RuleID: w + "-rule",
				RuleTitle: "Rule " + w + " secret", Severity: alert.Medium, TLP: l, EventIDs: []string{w + "-fr-event"},
				Observables: []alert.Observable{camp, {Type: "host", Value: w + "-host-fr"}, {Type: "domain-name", Value: w + "-secret.example"}}},
			{Member: "nl-other", EventTime: now.Add(time.Duration(i)*time.Minute + time.Second), Detector: "sigma", RuleID: "beacon",
				RuleTitle: "Beacon", Severity: alert.Low, TLP: tlp.Green, EventIDs: []string{w + "-nl-event"},
				Observables: []alert.Observable{camp, {Type: "host", Value: w + "-host-nl"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := fx.n.Correlator.Process(ctx, raised); err != nil {
			t.Fatal(err)
		}
		a, err := fx.n.Alerts.Get(ctx, alert.Viewer{Operator: true}, raised[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		fx.objects = append(fx.objects,
			&object{kind: "alert", level: l, id: a.ID, tokens: []string{a.ID, w + "-secret.example", w + "-host-fr", "Rule " + w + " secret"}},
			&object{kind: "incident", level: l, id: a.Incident, tokens: []string{a.Incident}, cases: []string{"fr-own"}})
	}
	campaigns, err := fx.n.Correlator.Incidents(ctx, alert.Viewer{Operator: true},
		correlate.Filter{Kind: correlate.KindCampaign, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range campaigns.Incidents {
		var level tlp.Level
		found := false
		for _, e := range in.Timeline {
			for _, o := range fx.objects {
				if o.kind == "alert" && o.id == e.AlertID {
					level, found = o.level, true
				}
			}
		}
		if !found || len(in.Countries) != 2 {
			t.Fatalf("fixture campaign %s: %v %v", in.ID, in.Countries, in.Members)
		}
		fx.objects = append(fx.objects, &object{kind: "campaign", level: level, id: in.ID, tokens: []string{in.ID},
			cases: []string{"fr-own", "nl-other"}})
	}
	if n := len(fx.of("campaign")); n != len(matrixLevels) {
		t.Fatalf("fixture has %d campaigns, want %d", n, len(matrixLevels))
	}
}

// addIntel publishes one indicator of fr-own per level to the shared
// collection.
func (fx *fixture) addIntel(t *testing.T) {
	ctx := context.Background()
	for _, l := range matrixLevels {
		w := levelWord(l)
		ind, err := stix.NewIndicator(stix.IndicatorSpec{Name: "Intel " + w + " secret",
			Pattern: "[domain-name:value = '" + w + "-intel.example']", ValidFrom: time.Now().Add(-time.Hour), TLP: l})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(ind)
		st, err := fx.n.Intel.AddObjects(ctx, intel.Viewer{Member: "fr-own"}, SharedCollection, []json.RawMessage{raw})
		if err != nil || len(st.Successes) != 1 {
			t.Fatalf("intel %s: %+v %v", w, st, err)
		}
		fx.ownerStatus = st.ID
		if l == tlp.Green {
			post, err := stix.NewIndicator(stix.IndicatorSpec{Name: "posted", Pattern: "[domain-name:value = 'posted.example']",
				ValidFrom: time.Now().Add(-time.Hour), TLP: l})
			if err != nil {
				t.Fatal(err)
			}
			env, _ := json.Marshal(map[string]any{"objects": []any{post}})
			fx.envelope = string(env)
		}
		newer, err := stix.NewIndicator(stix.IndicatorSpec{ID: ind.ID(), Name: "Intel " + w + " secret",
			Pattern: "[domain-name:value = '" + w + "-intel.example']", ValidFrom: time.Now().Add(-time.Hour), TLP: l})
		if err != nil {
			t.Fatal(err)
		}
		env, _ := json.Marshal(map[string]any{"objects": []any{newer}})
		fx.versions[ind.ID()] = string(env)
		fx.objects = append(fx.objects, &object{kind: "intel", level: l, id: ind.ID(),
			tokens: []string{ind.ID(), "Intel " + w + " secret", w + "-intel.example"}})
	}
}

// addEvents ingests one event per member, each naming a string only that
// member may read back.
func (fx *fixture) addEvents(t *testing.T) {
	ctx := context.Background()
	for _, r := range fx.roles {
		if !r.authed || r.operator {
			continue
		}
		secret := "event-secret-of-" + r.member
		fx.events[r.member] = secret
		body := `{"@timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `","message":"` + secret + `"}` + "\n"
		if st, _ := fx.call(t, r, http.MethodPost, "/api/v1/ingest", body); st != http.StatusOK {
			t.Fatalf("ingest for %s: %d", r.member, st)
		}
	}
	waitFor(t, "the events stored", func() bool {
		for m := range fx.events {
			n, err := fx.n.Archive.Total(ctx, m)
			if err != nil || n == 0 {
				return false
			}
		}
		return true
	})
}

// of returns the fixture objects of kind.
func (fx *fixture) of(kind string) []*object {
	var out []*object
	for _, o := range fx.objects {
		if o.kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// call makes one request as r.
func (fx *fixture) call(t *testing.T, r role, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, fx.n.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if r.key != "" {
		req.Header.Set("Authorization", "Bearer "+r.key)
	}
	if r.web() {
		req.AddCookie(&http.Cookie{Name: "xsoc_session", Value: r.session})
		req.Header.Set("X-CSRF-Token", r.csrf)
		req.Header.Set("Origin", fx.n.URL())
	}
	switch {
	case strings.HasPrefix(path, "/taxii2/"):
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		if body != "" {
			req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
		}
	case body != "" && path == "/api/v1/ingest":
		req.Header.Set("Content-Type", "application/x-ndjson")
	case body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	if path == "/web/stream" {
		// A stream does not end: read what it sends at once.
		ctx, cancel := context.WithTimeout(req.Context(), 300*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// target is one request of a rule, with the statuses each role may get.
type target struct {
	path, body string
	// obj is the object the request is about, if any.
	obj *object
	// want returns the statuses role r may get; an unauthenticated role
	// gets 401, and a console session 401 outside the console and the
	// API, unless open is set: then want (nil: 200) holds for every role.
	want func(r role) []int
	open bool
	// check, if set, inspects a successful body further.
	check func(t *testing.T, fx *fixture, r role, body []byte)
	// holds, if set, says whether r holds an object of its own under
	// obj's id (posted earlier in the matrix: objects are owned per
	// member), so that comparing with an id naming nothing proves nothing.
	holds func(r role) bool
}

// rule builds the targets of one route.
type rule func(fx *fixture) []target

func codes(c ...int) []int { return c }

// anyKey: every authenticated caller gets ok.
func anyKey(ok ...int) func(role) []int { return func(role) []int { return ok } }

// operatorOnly: operators get ok, members 403.
func operatorOnly(ok ...int) func(role) []int {
	return func(r role) []int {
		if r.operator {
			return ok
		}
		return codes(http.StatusForbidden)
	}
}

// memberOnly: members get ok, operators (who have no data of their own) 403.
func memberOnly(ok ...int) func(role) []int {
	return func(r role) []int {
		if r.operator {
			return codes(http.StatusForbidden)
		}
		return ok
	}
}

// reading: a caller that may see o gets 200, any other 404 (never 403,
// which would confirm that o exists).
func reading(o *object) func(role) []int {
	return func(r role) []int {
		if o.visibleTo(r) {
			return codes(http.StatusOK)
		}
		return codes(http.StatusNotFound)
	}
}

// acting: the owner and operators get ok; a caller that sees o but may
// not act on it 403; one that may not see it 404.
func acting(o *object, ok ...int) func(role) []int {
	return func(r role) []int {
		switch {
		case r.operator || r.member == "fr-own":
			return ok
		case o.visibleTo(r):
			return codes(http.StatusForbidden)
		}
		return codes(http.StatusNotFound)
	}
}

// working: a caller with a case of incident o (own alerts in it, or an
// operator) gets ok; one that sees o without a case 403; else 404.
func working(o *object, ok ...int) func(role) []int {
	return func(r role) []int {
		switch {
		case o.hasCase(r):
			return ok
		case o.visibleTo(r):
			return codes(http.StatusForbidden)
		}
		return codes(http.StatusNotFound)
	}
}

// each makes one target per object of the kinds, path formatted with the
// object's id.
func each(fx *fixture, kinds []string, path, body string, want func(*object) func(role) []int,
	check func(t *testing.T, fx *fixture, r role, body []byte)) []target {
	var out []target
	for _, k := range kinds {
		for _, o := range fx.of(k) {
			out = append(out, target{path: fmt.Sprintf(path, o.id), body: body, obj: o, want: want(o), check: check})
		}
	}
	return out
}

func one(path, body string, want func(role) []int, check func(t *testing.T, fx *fixture, r role, body []byte)) rule {
	return func(*fixture) []target { return []target{{path: path, body: body, want: want, check: check}} }
}

// open is a route every caller reaches, with want (nil: 200).
func open(path, body string, want func(role) []int) rule {
	return func(*fixture) []target { return []target{{path: path, body: body, want: want, open: true}} }
}

// console: a console session gets ok, API keys 401.
func console(ok ...int) func(role) []int {
	return func(r role) []int {
		if r.web() {
			return ok
		}
		return codes(http.StatusUnauthorized)
	}
}

// manageUser is the rule for managing nl-other's console account:
// platform admins may (200), nl-other's own admin gets self, other
// members' admins 404.
func manageUser(self int) func(role) []int {
	return func(r role) []int {
		switch {
		case !r.web():
			return codes(http.StatusUnauthorized)
		case r.operator:
			return codes(http.StatusOK)
		case r.member == "nl-other":
			return codes(self)
		}
		return codes(http.StatusNotFound)
	}
}

// reenable enables the account again after a disable succeeded and gives
// its role a new session, so the matrix goes on.
func reenable(name string) func(t *testing.T, fx *fixture, r role, body []byte) {
	return func(t *testing.T, fx *fixture, _ role, _ []byte) {
		if err := fx.n.Users.SetDisabled(context.Background(), name, false); err != nil {
			t.Fatal(err)
		}
		for i := range fx.roles {
			if fx.roles[i].user == name {
				fx.login(t, i)
			}
		}
	}
}

var incidentKinds = []string{"incident", "campaign"}

const taxiiShared = "/taxii2/api/collections/" + SharedCollection

// matrixRules holds the rule of every route, by "METHOD /path" as the
// OpenAPI document spells it.
var matrixRules = map[string]rule{
	"GET /healthz": open("/healthz", "", nil),
	"GET /static/": open("/static/style.css", "", nil),
	"GET /login":   open("/login", "", nil),
	"POST /login":  open("/login", "", anyKey(http.StatusForbidden)),
	"GET /": open("/", "", func(r role) []int {
		if r.web() {
			return codes(200)
		}
		return codes(http.StatusSeeOther)
	}),
	"GET /web/session": one("/web/session", "", console(200), nil),
	"GET /web/stream":  one("/web/stream", "", console(200), nil),
	"GET /web/summary": one("/web/summary", "", console(200), checkTally),
	"GET /web/users":   one("/web/users", "", console(200), nil),
	"GET /web/intel":   one("/web/intel", "", console(200), nil),
	// An empty rule is refused as such.
	"POST /web/rules/test": one("/web/rules/test", `{}`, console(400), nil),
	// An empty upload is refused as such (400); a platform admin has no
	// member to own imported intelligence (403).
	"POST /web/intel/import": one("/web/intel/import?collection="+SharedCollection, `{}`, func(r role) []int {
		switch {
		case !r.web():
			return codes(http.StatusUnauthorized)
		case r.operator:
			return codes(http.StatusForbidden)
		}
		return codes(http.StatusBadRequest)
	}, nil),
	// An empty request names no role (400). Platform admins manage every
	// account; a member's admin only its member's, and another member's
	// accounts answer as unknown (404); nobody disables themselves (400).
	"POST /web/users": one("/web/users", `{}`, console(400), nil),
	"POST /web/users/{name}/disable": one("/web/users/web-other-member/disable", "",
		manageUser(http.StatusBadRequest), reenable("web-other-member")),
	"POST /web/users/{name}/enable": one("/web/users/web-other-member/enable", "", manageUser(http.StatusOK), nil),
	// (A reset ends the account's sessions: a name that is no account's
	// shows the route's authorisation without doing so.)
	"POST /web/users/{name}/password": one("/web/users/nobody-here/password", "", console(http.StatusNotFound), nil),
	"POST /logout": func(fx *fixture) []target {
		return []target{{path: "/logout", want: console(200), check: func(t *testing.T, fx *fixture, r role, _ []byte) {
			for i := range fx.roles {
				if fx.roles[i].name == r.name {
					fx.login(t, i) // the matrix goes on with a new session
				}
			}
		}}}
	},
	"GET /metrics":               one("/metrics", "", operatorOnly(200), nil),
	"GET /api/v1/me":             one("/api/v1/me", "", anyKey(200), nil),
	"GET /api/v1/openapi.json":   one("/api/v1/openapi.json", "", anyKey(200), nil),
	"GET /api/v1/members":        one("/api/v1/members", "", operatorOnly(200), nil),
	"POST /api/v1/members":       one("/api/v1/members", `{}`, operatorOnly(400), nil),
	"GET /api/v1/members/{id}":   one("/api/v1/members/de-client", "", anyKey(200), checkMemberProfile),
	"GET /api/v1/events":         one("/api/v1/events?q=event", "", memberOnly(200), nil),
	"GET /api/v1/events/count":   one("/api/v1/events/count", "", memberOnly(200), nil),
	"GET /api/v1/events/top":     one("/api/v1/events/top?field=message", "", memberOnly(200), nil),
	"GET /api/v1/ingest/rejects": one("/api/v1/ingest/rejects", "", memberOnly(200), nil),
	"POST /api/v1/ingest": one("/api/v1/ingest", `{"@timestamp":"2026-01-01T00:00:00Z","message":"matrix"}`+"\n",
		memberOnly(200), nil),
	"POST /api/v1/members/{id}/rotate-key": func(fx *fixture) []target {
		return []target{{path: "/api/v1/members/" + fx.spare + "/rotate-key", want: operatorOnly(200)}}
	},
	"POST /api/v1/members/{id}/alert-tlp": one("/api/v1/members/fr-own/alert-tlp", `{"tlp":"TLP:AMBER"}`,
		func(r role) []int {
			if r.operator || r.member == "fr-own" {
				return codes(200)
			}
			return codes(http.StatusForbidden)
		}, nil),
	"GET /api/v1/members/{id}/retention": one("/api/v1/members/fr-own/retention", "",
		func(r role) []int {
			if r.operator || r.member == "fr-own" {
				return codes(200)
			}
			return codes(http.StatusForbidden)
		}, nil),
	// Members list the collections they may use with their own rights
	// only; operators every collection with every member's rights.
	"GET /api/v1/collections":  one("/api/v1/collections", "", anyKey(200), checkCollections),
	"POST /api/v1/collections": one("/api/v1/collections", `{}`, operatorOnly(400), nil),
	"PUT /api/v1/collections/{id}/rights/{member}": one("/api/v1/collections/"+SharedCollection+"/rights/fr-own",
		`{"read":true,"write":true}`, operatorOnly(200), nil),
	"PUT /api/v1/members/{id}/retention": one("/api/v1/members/fr-own/retention", `{"days":30}`, operatorOnly(200), nil),
	"GET /api/v1/alerts": func(fx *fixture) []target {
		out := []target{{path: "/api/v1/alerts?limit=1000", want: anyKey(200), check: checkAlertList}}
		for _, c := range fx.of("campaign") {
			out = append(out, target{path: "/api/v1/alerts?incident=" + c.id, obj: c, want: reading(c), check: checkCampaignAlerts(c)})
		}
		return out
	},
	"GET /api/v1/alerts/metrics": one("/api/v1/alerts/metrics", "", anyKey(200), checkMetrics),
	"GET /api/v1/alerts/{id}": func(fx *fixture) []target {
		return each(fx, []string{"alert"}, "/api/v1/alerts/%s", "", reading, nil)
	},
	"POST /api/v1/alerts/{id}/ack": func(fx *fixture) []target {
		return each(fx, []string{"alert"}, "/api/v1/alerts/%s/ack", "", func(o *object) func(role) []int {
			return acting(o, 200, 400)
		}, nil)
	},
	"POST /api/v1/alerts/{id}/close": func(fx *fixture) []target {
		return each(fx, []string{"alert"}, "/api/v1/alerts/%s/close", "", func(o *object) func(role) []int {
			return acting(o, 200, 400)
		}, nil)
	},
	"GET /api/v1/incidents": one("/api/v1/incidents?limit=500", "", anyKey(200), checkIncidentList),
	"GET /api/v1/incidents/{id}": func(fx *fixture) []target {
		return each(fx, incidentKinds, "/api/v1/incidents/%s", "", reading, checkIncident)
	},
	"GET /api/v1/incidents/{id}/audit": func(fx *fixture) []target {
		return each(fx, incidentKinds, "/api/v1/incidents/%s/audit", "", reading, nil)
	},
	"GET /api/v1/incidents/{id}/nis2/draft": func(fx *fixture) []target {
		return each(fx, incidentKinds, "/api/v1/incidents/%s/nis2/draft", "", reading, checkDraft)
	},
	"PATCH /api/v1/incidents/{id}": func(fx *fixture) []target {
		return each(fx, incidentKinds, "/api/v1/incidents/%s", `{"comment":"matrix note"}`,
			func(o *object) func(role) []int { return working(o, 200) }, checkIncident)
	},
	"POST /api/v1/incidents/{id}/merge": func(fx *fixture) []target {
		// Merging from an incident that does not exist changes nothing:
		// who may work on the target gets 404 for the source.
		return each(fx, incidentKinds, "/api/v1/incidents/%s/merge", `{"from":"019df2005000aaaaaaaaaaaaaaaa"}`,
			func(o *object) func(role) []int { return working(o, 404) }, nil)
	},
	"POST /api/v1/incidents/{id}/split": func(fx *fixture) []target {
		return each(fx, incidentKinds, "/api/v1/incidents/%s/split", `{"alerts":["019df2005000aaaaaaaaaaaaaaaa"]}`,
			func(o *object) func(role) []int { return working(o, 400) }, nil)
	},
	"POST /api/v1/incidents/{id}/nis2/significant": func(fx *fixture) []target {
		return each(fx, incidentKinds, "/api/v1/incidents/%s/nis2/significant", "",
			func(o *object) func(role) []int { return working(o, 200, 400) }, checkIncident)
	},
	"POST /api/v1/incidents/{id}/nis2/reports": func(fx *fixture) []target {
		return each(fx, incidentKinds, "/api/v1/incidents/%s/nis2/reports", `{"report":"early-warning"}`,
			func(o *object) func(role) []int { return working(o, 200, 400) }, checkIncident)
	},
	"GET /api/v1/rules":               one("/api/v1/rules", "", anyKey(200), nil),
	"POST /api/v1/rules":              one("/api/v1/rules", "not: [a rule", operatorOnly(400), nil),
	"POST /api/v1/rules/{id}/enable":  one("/api/v1/rules/no-such-rule/enable", "", operatorOnly(404), nil),
	"POST /api/v1/rules/{id}/disable": one("/api/v1/rules/no-such-rule/disable", "", operatorOnly(404), nil),
	"GET /api/v1/playbooks":           one("/api/v1/playbooks", "", operatorOnly(200), nil),
	"POST /api/v1/playbooks/simulate": one("/api/v1/playbooks/simulate", `{}`, operatorOnly(200, 400), nil),
	"GET /api/v1/deliveries":          one("/api/v1/deliveries", "", operatorOnly(200), nil),
	"GET /api/v1/audit":               one("/api/v1/audit", "", operatorOnly(200), nil),
	// The federation's routes but its status are served by federated
	// nodes only (hub or member; their roles are tested in
	// internal/federation): a node on its own answers 404 to everyone who
	// authenticates.
	"GET /api/v1/federation/status":              one("/api/v1/federation/status", "", operatorOnly(200), nil),
	"GET /api/v1/federation/forwards":            one("/api/v1/federation/forwards", "", anyKey(404), nil),
	"GET /api/v1/federation/agreements":          one("/api/v1/federation/agreements", "", anyKey(404), nil),
	"POST /api/v1/federation/agreements":         one("/api/v1/federation/agreements", `{}`, anyKey(404), nil),
	"DELETE /api/v1/federation/agreements":       one("/api/v1/federation/agreements", `{}`, anyKey(404), nil),
	"GET /api/v1/federation/warnings":            one("/api/v1/federation/warnings", "", anyKey(404), nil),
	"POST /api/v1/federation/revoke":             one("/api/v1/federation/revoke", `{}`, anyKey(404), nil),
	"GET /api/v1/federation/sharing":             one("/api/v1/federation/sharing", "", anyKey(404), nil),
	"PUT /api/v1/federation/sharing":             one("/api/v1/federation/sharing", `{}`, anyKey(404), nil),
	"GET /api/v1/blocklists/{format}":            one("/api/v1/blocklists/stix", "", memberOnly(200), nil),
	"GET /taxii2/":                               one("/taxii2/", "", anyKey(200), nil),
	"GET /taxii2/api/":                           one("/taxii2/api/", "", anyKey(200), nil),
	"GET /taxii2/api/collections/":               one("/taxii2/api/collections/", "", anyKey(200), nil),
	"GET /taxii2/api/collections/{id}/":          one(taxiiShared+"/", "", anyKey(200), nil),
	"GET /taxii2/api/collections/{id}/objects/":  one(taxiiShared+"/objects/", "", anyKey(200), nil),
	"GET /taxii2/api/collections/{id}/manifest/": one(taxiiShared+"/manifest/", "", anyKey(200), nil),
	"POST /taxii2/api/collections/{id}/objects/": func(fx *fixture) []target {
		// A new object, and a new version of each of the owner's.
		out := []target{{path: taxiiShared + "/objects/", body: fx.envelope, want: memberOnly(202)}}
		// A member that may not see the object is answered as for an id
		// nobody holds (it adds its own object under the id); one that
		// sees it is refused.
		for _, o := range fx.of("intel") {
			out = append(out, target{path: taxiiShared + "/objects/", body: fx.versions[o.id], obj: o, want: memberOnly(202),
				check: func(t *testing.T, fx *fixture, r role, body []byte) {
					var st struct {
						Successes []struct{ ID string } `json:"successes"`
						Failures  []struct{ ID, Message string }
					}
					json.Unmarshal(body, &st)
					refused := r.member != "fr-own" && o.visibleTo(r)
					if refused != (len(st.Failures) == 1) || !refused && len(st.Successes) != 1 {
						t.Errorf("a version of the %s intel posted as %s: %s, want refused %v", o.level, r.name, body, refused)
					}
				}})
		}
		return out
	},
	"GET /taxii2/api/collections/{id}/objects/{object_id}/": func(fx *fixture) []target {
		return each(fx, []string{"intel"}, taxiiShared+"/objects/%s/", "", reading, nil)
	},
	"GET /taxii2/api/collections/{id}/objects/{object_id}/versions/": func(fx *fixture) []target {
		return each(fx, []string{"intel"}, taxiiShared+"/objects/%s/versions/", "", reading, nil)
	},
	"DELETE /taxii2/api/collections/{id}/objects/{object_id}/": func(fx *fixture) []target {
		// Deletes run last, the operator's before the owner's: the
		// owner then finds its object gone. A member that could not see
		// the object posted its own under the id (above) and deletes
		// that.
		holds := func(o *object) func(r role) bool {
			return func(r role) bool { return r.key != "" && !r.operator && r.member != "fr-own" && !o.visibleTo(r) }
		}
		out := each(fx, []string{"intel"}, taxiiShared+"/objects/%s/", "", func(o *object) func(role) []int {
			return func(r role) []int {
				switch {
				case r.member == "fr-own":
					return codes(http.StatusNotFound)
				case holds(o)(r):
					return codes(200)
				}
				return acting(o, 200)(r)
			}
		}, nil)
		for i := range out {
			out[i].holds = holds(out[i].obj)
		}
		return out
	},
	"GET /taxii2/api/status/{status_id}/": func(fx *fixture) []target {
		return []target{{path: "/taxii2/api/status/" + fx.ownerStatus + "/", want: func(r role) []int {
			if r.operator || r.member == "fr-own" {
				return codes(200)
			}
			return codes(http.StatusNotFound)
		}}}
	},
}

// routeInSource finds ServeMux patterns in Go source.
var routeInSource = regexp.MustCompile(`"(GET|POST|PUT|PATCH|DELETE) (/[^"]*)"`)

// matrixRoutes returns every route of the node: each operation of the
// OpenAPI document, and each ServeMux pattern registered anywhere under
// internal/ (so a route the document forgot is not missed).
func matrixRoutes(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			switch m {
			case "get", "post", "put", "patch", "delete", "head":
				set[strings.ToUpper(m)+" "+p] = true
			}
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	rest := regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\.\.\.\}`)
	err = filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range routeInSource.FindAllStringSubmatch(string(src), -1) {
			p := rest.ReplaceAllString(strings.ReplaceAll(m[2], "{$}", ""), "{$1}")
			set[m[1]+" "+p] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	routes := make([]string, 0, len(set))
	for r := range set {
		routes = append(routes, r)
	}
	// Reads first, then changes, deletes last: a delete removes what
	// the other routes look at.
	order := map[string]int{"GET": 0, "HEAD": 0, "POST": 1, "PATCH": 1, "PUT": 1, "DELETE": 2}
	slices.SortFunc(routes, func(a, b string) int {
		ma, _, _ := strings.Cut(a, " ")
		mb, _, _ := strings.Cut(b, " ")
		if order[ma] != order[mb] {
			return order[ma] - order[mb]
		}
		return strings.Compare(a, b)
	})
	return routes
}

func TestAuthorisationMatrix(t *testing.T) {
	n := startNode(t, nodeConfig(t))
	fx := newFixture(t, n)
	routes := matrixRoutes(t)
	if len(routes) < 40 {
		t.Fatalf("found only %d routes; the route scan is broken", len(routes))
	}
	for r := range matrixRules {
		if !slices.Contains(routes, r) {
			t.Errorf("matrixRules has a rule for %s, which is no route", r)
		}
	}
	calls := 0
	for _, route := range routes {
		r, ok := matrixRules[route]
		if !ok {
			t.Errorf("route %s has no authorisation rule: add one to matrixRules", route)
			continue
		}
		method, _, _ := strings.Cut(route, " ")
		for _, tg := range r(fx) {
			for _, who := range fx.roles {
				want := codes(http.StatusUnauthorized)
				served := !who.web() || strings.HasPrefix(tg.path, "/api/") || strings.HasPrefix(tg.path, "/web/") ||
					tg.path == "/logout"
				switch {
				case tg.open && tg.want == nil:
					want = codes(http.StatusOK)
				case tg.open:
					want = tg.want(who)
				case who.authed && served:
					want = tg.want(who)
				}
				status, body := fx.call(t, who, method, tg.path, tg.body)
				calls++
				if !slices.Contains(want, status) {
					t.Errorf("%s %s as %s: status %d, want %v\n%.300s", method, tg.path, who.name, status, want, body)
				}
				fx.checkNoLeak(t, who, method+" "+tg.path, tg.path+" "+tg.body, body)
				// (Posting an object under an id that names nothing
				// creates it, so that comparison is not made.)
				if tg.obj != nil && who.authed && !tg.obj.visibleTo(who) && !strings.Contains(tg.body, tg.obj.id) &&
					(tg.holds == nil || !tg.holds(who)) {
					fx.checkNoOracle(t, who, method, tg, status, body)
				}
				if status/100 == 2 && tg.check != nil {
					tg.check(t, fx, who, body)
				}
			}
		}
	}
	t.Logf("%d routes, %d roles, %d levels: %d calls", len(routes), len(fx.roles), len(matrixLevels), calls)
}

// checkNoLeak fails if body carries a fact of an object r may not see, or
// another member's event. What the caller sent (request) it knows: an
// error may repeat it.
func (fx *fixture) checkNoLeak(t *testing.T, r role, what, request string, body []byte) {
	t.Helper()
	text := string(body)
	for _, o := range fx.objects {
		if o.visibleTo(r) {
			continue
		}
		for _, tok := range o.tokens {
			if strings.Contains(text, tok) && !strings.Contains(request, tok) {
				t.Errorf("%s as %s: the answer carries %q of a %s %s it may not see:\n%.400s", what, r.name, tok, o.level, o.kind, text)
			}
		}
	}
	for m, secret := range fx.events {
		if m != r.member && strings.Contains(text, secret) {
			t.Errorf("%s as %s: the answer carries %s's event", what, r.name, m)
		}
	}
}

// ghostID is an id of the same shape as id that names nothing.
func ghostID(id string) string {
	if kind, _, ok := strings.Cut(id, "--"); ok {
		return kind + "--00000000-0000-4000-8000-000000000000"
	}
	return id[:len(id)-8] + "00000000"
}

// checkNoOracle: what a caller gets for an object it may not see is what
// it gets for one that does not exist, so no answer confirms that an
// object exists.
func (fx *fixture) checkNoOracle(t *testing.T, r role, method string, tg target, status int, body []byte) {
	t.Helper()
	ghost := ghostID(tg.obj.id)
	gStatus, gBody := fx.call(t, r, method, strings.ReplaceAll(tg.path, tg.obj.id, ghost), strings.ReplaceAll(tg.body, tg.obj.id, ghost))
	if gStatus != status || strings.ReplaceAll(string(gBody), ghost, tg.obj.id) != string(body) {
		t.Errorf("%s %s as %s tells a %s %s from one that does not exist: %d %.200s; nothing there: %d %.200s",
			method, tg.path, r.name, tg.obj.level, tg.obj.kind, status, body, gStatus, gBody)
	}
}

// checkMemberProfile: another member's profile hides whose client it is.
func checkCollections(t *testing.T, fx *fixture, r role, body []byte) {
	var out struct {
		Collections []map[string]json.RawMessage `json:"collections"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	shared := false
	for _, c := range out.Collections {
		_, rights := c["rights"]
		if rights != r.operator {
			t.Errorf("%s: collection %s lists members' rights: %v", r.name, c["id"], rights)
		}
		shared = shared || string(c["id"]) == `"`+SharedCollection+`"`
	}
	if !shared {
		t.Errorf("%s does not see the shared collection", r.name)
	}
}

func checkMemberProfile(t *testing.T, fx *fixture, r role, body []byte) {
	var m member.Member
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.ClientOf) > 0 && !r.operator && r.member != m.ID {
		t.Errorf("%s reads whose client %s is: %v", r.name, m.ID, m.ClientOf)
	}
}

// expectListed checks that a listing (ids) holds exactly the fixture
// objects of kinds r may see.
func (fx *fixture) expectListed(t *testing.T, r role, kinds []string, ids []string, what string) {
	t.Helper()
	for _, k := range kinds {
		for _, o := range fx.of(k) {
			if got := slices.Contains(ids, o.id); got != o.visibleTo(r) {
				t.Errorf("%s as %s: %s %s (%s) listed %v, want %v", what, r.name, o.kind, o.id, o.level, got, o.visibleTo(r))
			}
		}
	}
}

func checkAlertList(t *testing.T, fx *fixture, r role, body []byte) {
	var page alert.Page
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range page.Alerts {
		ids = append(ids, a.ID)
	}
	fx.expectListed(t, r, []string{"alert"}, ids, "alert list")
}

// checkCampaignAlerts: listing a campaign's alerts finds the caller's
// visible share of them, the owner's alert included when visible.
func checkCampaignAlerts(c *object) func(t *testing.T, fx *fixture, r role, body []byte) {
	return func(t *testing.T, fx *fixture, r role, body []byte) {
		var page alert.Page
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Alerts) != 2 {
			t.Errorf("alerts of campaign %s (%s) as %s: %d, want 2", c.id, c.level, r.name, len(page.Alerts))
		}
	}
}

// incidentView is what the checks read of an incident.
type incidentView struct {
	ID        string    `json:"id"`
	Countries []string  `json:"countries"`
	Members   []string  `json:"members"`
	Title     string    `json:"title"`
	Created   time.Time `json:"created"`
	Timeline  []struct {
		AlertID  string    `json:"alert_id"`
		Member   string    `json:"member"`
		Country  string    `json:"country"`
		Detected time.Time `json:"detected"`
	} `json:"timeline"`
	Cases []json.RawMessage `json:"cases"`
}

// consistent checks that an incident's members and countries are exactly
// those of the alerts it shows (which checkNoLeak holds to the visible).
func (in *incidentView) consistent(t *testing.T, r role) {
	t.Helper()
	var members, countries []string
	var first time.Time
	for _, e := range in.Timeline {
		if first.IsZero() || e.Detected.Before(first) {
			first = e.Detected
		}
		if !slices.Contains(members, e.Member) {
			members = append(members, e.Member)
		}
		if e.Country != "" && !slices.Contains(countries, e.Country) {
			countries = append(countries, e.Country)
		}
	}
	slices.Sort(members)
	slices.Sort(countries)
	if !slices.Equal(members, in.Members) || !slices.Equal(countries, in.Countries) {
		t.Errorf("incident %s as %s: members %v countries %v, but its visible alerts are of %v in %v",
			in.ID, r.name, in.Members, in.Countries, members, countries)
	}
	if in.Title != "" && len(countries) > 0 && strings.Contains(in.Title, " in ") &&
		!strings.HasSuffix(in.Title, " in "+strings.Join(countries, ", ")) {
		t.Errorf("incident %s as %s: title %q names other countries than %v", in.ID, r.name, in.Title, countries)
	}
	if !r.operator && (in.Created.Before(first) || len(in.Cases) > 0) {
		t.Errorf("incident %s as %s: created %v before its first visible alert (%v), or other members' cases shown (%d)",
			in.ID, r.name, in.Created, first, len(in.Cases))
	}
	if want := fmt.Sprintf("at %d member", len(members)); strings.Contains(in.Title, " member") && !strings.Contains(in.Title, want) {
		t.Errorf("incident %s as %s: title %q counts members it does not show (%d)", in.ID, r.name, in.Title, len(members))
	}
}

func checkIncident(t *testing.T, fx *fixture, r role, body []byte) {
	var in incidentView
	if err := json.Unmarshal(body, &in); err != nil {
		t.Fatal(err)
	}
	in.consistent(t, r)
}

func checkIncidentList(t *testing.T, fx *fixture, r role, body []byte) {
	var page struct {
		Incidents []incidentView `json:"incidents"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range page.Incidents {
		ids = append(ids, in.ID)
		in.consistent(t, r)
	}
	fx.expectListed(t, r, incidentKinds, ids, "incident list")
}

// checkDraft: a NIS2 draft names the countries and entities of the
// incident as the caller sees it, no more.
func checkDraft(t *testing.T, fx *fixture, r role, body []byte) {
	var d struct {
		Incident  string   `json:"incident"`
		Countries []string `json:"countries"`
		Alerts    int      `json:"alerts"`
		Entities  []struct {
			Member string `json:"member"`
		} `json:"entities"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	status, raw := fx.call(t, r, http.MethodGet, "/api/v1/incidents/"+d.Incident, "")
	var in incidentView
	if status != 200 || json.Unmarshal(raw, &in) != nil {
		t.Fatalf("incident %s as %s: %d", d.Incident, r.name, status)
	}
	if !slices.Equal(d.Countries, in.Countries) || d.Alerts != len(in.Timeline) || len(d.Entities) != len(in.Members) {
		t.Errorf("NIS2 draft of %s as %s: countries %v, %d alerts, %d entities; the incident shows %v, %d, %d",
			d.Incident, r.name, d.Countries, d.Alerts, len(d.Entities), in.Countries, len(in.Timeline), len(in.Members))
	}
}

// checkTally: the console's dashboard counts only the owner's alerts the
// caller may see.
func checkTally(t *testing.T, fx *fixture, r role, body []byte) {
	var tally alert.Tally
	if err := json.Unmarshal(body, &tally); err != nil {
		t.Fatal(err)
	}
	want, got := 0, 0
	for _, o := range fx.of("alert") {
		if o.visibleTo(r) {
			want++
		}
	}
	for _, g := range tally.Groups {
		if g.Member == "fr-own" {
			got += g.Count
		}
	}
	if got != want {
		t.Errorf("dashboard as %s counts %d of fr-own's alerts, want %d", r.name, got, want)
	}
}

// checkMetrics: response-time metrics count only the owner's alerts the
// caller may see.
func checkMetrics(t *testing.T, fx *fixture, r role, body []byte) {
	var rep alert.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, o := range fx.of("alert") {
		if o.visibleTo(r) {
			want++
		}
	}
	g, _ := rep.Group("fr-own", "")
	if g.Alerts != want {
		t.Errorf("metrics as %s count %d of fr-own's alerts, want %d", r.name, g.Alerts, want)
	}
}
