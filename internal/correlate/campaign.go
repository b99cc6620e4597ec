package correlate

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
)

// Cross-border campaigns, by the policy the package documentation gives:
// strong keys (shared public indicators) found and link campaigns; weak
// keys (a rule, a technique by a rule) join a campaign that already spans
// the members sighting them, and found one only when the alerts they
// group carry no indicator at all.

// campaignKeyPrefix marks, in incident_keys, the campaign keys a campaign
// incident is found by. Only defining keys are stored there: indicators,
// and a weak key the campaign was founded on for want of any indicator.
const campaignKeyPrefix = "campaign|"

// campaignTitlePrefix starts every title derived for a campaign.
const campaignTitlePrefix = "Cross-border campaign"

// openStatuses is the SQL list of statuses new alerts may join.
const openStatuses = `('new', 'triage', 'contained')`

// strongKey reports whether a campaign key is a shared public indicator
// (domain, address, URL, hash, e-mail...), evidence specific enough to tie
// attacks at different members together on its own. Rule and technique
// keys are weak: common tooling and common detections fire at unrelated
// victims.
func strongKey(key string) bool { return strings.HasPrefix(key, "obs|") }

// campaign records a's campaign keys as sightings and places a, with the
// sightings its keys tie it to, into cross-border campaign incidents.
func (p *placing) campaign(ctx context.Context, a *alert.Alert) error {
	keys := campaignKeys(a, p.c.opts.CampaignBy)
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	country := strings.ToUpper(p.c.opts.MemberCountry(a.Member))
	// The country each key was just sighted in, at a's event time.
	sighted := make(map[string]string, len(keys))
	for _, key := range keys {
		res, err := p.tx.Exec(ctx, `INSERT INTO campaign_sightings (entity, alert_id, member, country, event_time)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (entity, alert_id) DO NOTHING`,
			key, a.ID, a.Member, country, store.Nanos(a.EventTime))
		if err != nil {
			return fmt.Errorf("campaign sighting: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			sighted[key] = country
			p.sightedIn(key, country)
		}
	}
	crossing, err := p.crossing(ctx, keys, a.EventTime, sighted)
	if err != nil {
		return err
	}
	held, err := p.held(ctx, keys, a.EventTime)
	if err != nil {
		return err
	}
	// Defining keys are indicators that crossed the border or belong to a
	// campaign already, and weak keys a campaign was founded on; a's
	// sightings of them link at once. Weak keys that crossed the border
	// are weighed next.
	var defining, weak []string
	for _, k := range keys {
		switch {
		case strongKey(k) && (crossing[k] || len(held[k]) > 0):
			defining = append(defining, k)
		case crossing[k]:
			weak = append(weak, k)
		case len(held[k]) > 0:
			defining = append(defining, k)
		}
	}
	if len(defining) > 0 {
		if err := p.link(ctx, a, defining, crossing, held); err != nil {
			return err
		}
	}
	var founding []string
	for _, k := range weak {
		joined, err := p.joinByMembers(ctx, k, a.EventTime, held[k])
		if err != nil {
			return err
		}
		if joined {
			continue
		}
		bare := len(held[k]) > 0
		if !bare {
			if bare, err = p.withoutIndicators(ctx, k, a.EventTime); err != nil {
				return err
			}
		}
		if bare {
			founding = append(founding, k)
		}
	}
	if len(founding) > 0 {
		// Linking above may have merged campaigns: look them up again.
		return p.link(ctx, a, founding, crossing, nil)
	}
	return nil
}

// window returns the event-time bounds of the campaign window around t.
func (p *placing) window(t time.Time) (from, to int64) {
	w := p.c.opts.CampaignWindow
	return store.Nanos(t.Add(-w)), store.Nanos(t.Add(w))
}

// crossing reports which of keys were sighted in two or more countries
// within the campaign window around t; sighted holds the country some of
// them were just sighted in, at t.
//
// A key that fires often (a rule at many hosts) has as many sightings in
// the window as alerts, and counting their countries read them all for
// every new alert: placing an alert cost time in proportion to the alerts
// before it (20 ms each after 10,000). Instead, for each country the key
// was ever sighted in, in order — found with one index seek each, and
// there are few — one more seek says whether a sighting of it lies in the
// window, until two do.
func (p *placing) crossing(ctx context.Context, keys []string, t time.Time, sighted map[string]string) (map[string]bool, error) {
	from, to := p.window(t)
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		n, err := p.countriesWithin(ctx, k, from, to, 2, sighted[k])
		if err != nil {
			return nil, fmt.Errorf("campaign countries: %w", err)
		}
		out[k] = n >= 2
	}
	return out, nil
}

// countriesWithin counts, up to limit, the countries key k was sighted in
// with event times in [from, to]; sightings without a country do not
// count. For each country k was ever sighted in, in order (see
// countriesOf), one index seek in campaign_sightings_country (entity,
// country, event_time) says whether a sighting lies in [from, to] —
// however many sightings there are — and none is needed for country
// known, which k is known to have been sighted in within [from, to].
func (p *placing) countriesWithin(ctx context.Context, k string, from, to int64, limit int, known string) (int, error) {
	countries, err := p.countriesOf(ctx, k)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, country := range countries {
		if n >= limit {
			break
		}
		if country == known { // "" never is: only countries are listed
			n++
			continue
		}
		var one int
		err = p.tx.QueryRow(ctx, `SELECT 1 FROM campaign_sightings
			WHERE entity = ? AND country = ? AND event_time >= ? AND event_time <= ? LIMIT 1`, k, country, from, to).Scan(&one)
		switch {
		case err == nil:
			n++
		case !store.NotFound(err):
			return 0, err
		}
	}
	return n, nil
}

// countriesOf returns the countries key k was ever sighted in, in order.
// They are walked through the campaign_sightings_country index, one seek
// each, once per key and placing: the alerts of a batch mostly share
// their keys (one rule firing at many hosts), and sightedIn keeps the
// list up to date as the batch adds sightings.
func (p *placing) countriesOf(ctx context.Context, k string) ([]string, error) {
	if countries, ok := p.countries[k]; ok {
		return countries, nil
	}
	var countries []string
	for country := ""; ; {
		err := p.tx.QueryRow(ctx, `SELECT country FROM campaign_sightings
			WHERE entity = ? AND country > ? ORDER BY country LIMIT 1`, k, country).Scan(&country)
		if store.NotFound(err) {
			break
		}
		if err != nil {
			return nil, err
		}
		countries = append(countries, country)
	}
	if p.countries == nil {
		p.countries = map[string][]string{}
	}
	p.countries[k] = countries
	return countries, nil
}

// sightedIn records in the countries countriesOf read for key k that k
// was just sighted in country.
func (p *placing) sightedIn(k, country string) {
	countries, ok := p.countries[k]
	if !ok || country == "" {
		return // read from the store when asked
	}
	if i, found := slices.BinarySearch(countries, country); !found {
		p.countries[k] = slices.Insert(countries, i, country)
	}
}

// held returns, for each of keys, the open campaign incidents found by it
// whose span, widened by the campaign window, covers t.
//
// Most keys are filed under no incident at all (a rule firing at many
// hosts of one member): the placing remembers those (unheld), from the
// rows the query reads anyway, and asks about them no more.
func (p *placing) held(ctx context.Context, keys []string, t time.Time) (map[string][]string, error) {
	out := map[string][]string{}
	var entities []string
	for _, k := range keys {
		if !p.unheld[k] {
			entities = append(entities, campaignKeyPrefix+k)
		}
	}
	if len(entities) == 0 {
		return out, nil
	}
	from, to := p.window(t)
	args := append([]any{from, to}, anys(entities)...)
	rows, err := p.tx.Query(ctx, `SELECT k.entity, i.id FROM incident_keys k LEFT JOIN incidents i ON i.id = k.incident_id
			AND i.kind = 'campaign' AND i.merged_into = '' AND i.status IN `+openStatuses+`
			AND i.last_seen >= ? AND i.first_seen <= ?
		WHERE k.entity IN (`+placeholders(len(entities))+`)
		ORDER BY k.entity, i.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("campaign keys: %w", err)
	}
	defer rows.Close()
	filed := map[string]bool{}
	for rows.Next() {
		var entity string
		var id sql.NullString
		if err := rows.Scan(&entity, &id); err != nil {
			return nil, err
		}
		k := strings.TrimPrefix(entity, campaignKeyPrefix)
		filed[k] = true
		if id.Valid {
			out[k] = append(out[k], id.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, e := range entities {
		if k := strings.TrimPrefix(e, campaignKeyPrefix); !filed[k] {
			if p.unheld == nil {
				p.unheld = map[string]bool{}
			}
			p.unheld[k] = true
		}
	}
	return out, nil
}

// sighting is one campaign_sightings row.
type sighting struct {
	alertID, member, country string
}

// sightings returns the sightings of keys within the campaign window
// around t, in event-time order.
func (p *placing) sightings(ctx context.Context, keys []string, t time.Time) ([]sighting, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	from, to := p.window(t)
	args := append(anys(keys), from, to)
	rows, err := p.tx.Query(ctx, `SELECT alert_id, member, country FROM campaign_sightings
		WHERE entity IN (`+placeholders(len(keys))+`) AND event_time >= ? AND event_time <= ?
		ORDER BY event_time, alert_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("campaign sightings: %w", err)
	}
	defer rows.Close()
	var out []sighting
	seen := map[string]bool{}
	for rows.Next() {
		var s sighting
		if err := rows.Scan(&s.alertID, &s.member, &s.country); err != nil {
			return nil, err
		}
		if !seen[s.alertID] {
			seen[s.alertID] = true
			out = append(out, s)
		}
	}
	return out, rows.Err()
}

// link puts a, and the sightings of those of keys that crossed the
// border just now, into one campaign incident: the one already found by
// one of keys, or reaching the local incident or a host of one of the
// sightings, or a new one. Several such campaigns are one campaign: they
// are merged into the oldest. held is what p.held returns for keys, nil
// to have link ask.
func (p *placing) link(ctx context.Context, a *alert.Alert, keys []string, crossing map[string]bool, held map[string][]string) error {
	if held == nil {
		var err error
		if held, err = p.held(ctx, keys, a.EventTime); err != nil {
			return err
		}
	}
	targets := map[string]bool{}
	var crossed []string
	for _, k := range keys {
		for _, id := range held[k] {
			targets[id] = true
		}
		// The sightings of a key a campaign holds joined it when the
		// campaign took the key (or left it by an analyst's split); only
		// a key crossing the border just now brings its sightings.
		if crossing[k] && len(held[k]) == 0 {
			crossed = append(crossed, k)
		}
	}
	sights, err := p.sightings(ctx, crossed, a.EventTime)
	if err != nil {
		return err
	}
	var ids []string
	for _, s := range sights {
		if s.alertID != a.ID {
			ids = append(ids, s.alertID)
		}
	}
	others, err := p.c.alerts.Fetch(ctx, p.tx, ids)
	if err != nil {
		return err
	}
	group := append([]alert.Alert{*a}, others...)
	var reach []string
	for i := range group {
		reach = append(reach, reachKeys(&group[i])...)
	}
	co, err := p.reaching(ctx, reach, a.EventTime)
	if err != nil {
		return err
	}
	for _, id := range co {
		targets[id] = true
	}
	var id string
	if len(targets) == 0 {
		if id, err = p.create(ctx, KindCampaign, a); err != nil {
			return err
		}
	} else if id, err = p.mergeAll(ctx, targets); err != nil {
		return err
	}
	if err := p.joinCampaign(ctx, id, group); err != nil {
		return err
	}
	var entities []string
	for _, k := range keys {
		if !slices.Contains(held[k], id) {
			entities = append(entities, campaignKeyPrefix+k)
		}
	}
	return p.addKeys(ctx, id, entities)
}

// The keys a campaign incident reaches: the local incidents, hosts and
// members of its alerts. They are stored with the campaign (incident_keys)
// so that linking finds campaigns by index, not by walking memberships.
const (
	reachIncident = "reach|incident|"
	reachHost     = "reach|"        // + a host key
	reachMember   = "reach|member|" // + a member id
)

// reachKeys returns the reach keys of alert x: its home incident, hosts
// and member.
func reachKeys(x *alert.Alert) []string {
	keys := []string{reachMember + x.Member}
	if x.Incident != "" {
		keys = append(keys, reachIncident+x.Incident)
	}
	for _, h := range entitiesOf(x).Hosts {
		keys = append(keys, reachHost+hostKey(x.Member, h))
	}
	return keys
}

// joinCampaign adds alerts to campaign id with their reach keys, and
// recounts its countries when one is new to it.
func (p *placing) joinCampaign(ctx context.Context, id string, alerts []alert.Alert) error {
	var countries []string
	for i := range alerts {
		added, err := p.join(ctx, id, &alerts[i], false)
		if err != nil {
			return err
		}
		if !added {
			continue
		}
		if err := p.addKeys(ctx, id, reachKeys(&alerts[i])); err != nil {
			return err
		}
		if cc := strings.ToUpper(p.c.opts.MemberCountry(alerts[i].Member)); cc != "" && !slices.Contains(countries, cc) {
			countries = append(countries, cc)
		}
	}
	if len(countries) == 0 {
		return nil
	}
	var have string
	if err := p.tx.QueryRow(ctx, `SELECT countries FROM incidents WHERE id = ?`, id).Scan(&have); err != nil {
		return err
	}
	if !slices.ContainsFunc(countries, func(cc string) bool { return !slices.Contains(strings.Fields(have), cc) }) {
		return nil
	}
	return p.c.recountCountries(ctx, p.tx, id, p.now, p.touched)
}

// reaching returns the open campaigns, active within the campaign window
// around t, that hold one of the reach keys: what one member's local
// incident or host ties together is one attack, so the campaigns reaching
// it are one campaign.
func (p *placing) reaching(ctx context.Context, reach []string, t time.Time) ([]string, error) {
	slices.Sort(reach)
	reach = slices.DeleteFunc(slices.Compact(reach), func(k string) bool { return strings.HasPrefix(k, reachMember) })
	if len(reach) == 0 {
		return nil, nil
	}
	from, to := p.window(t)
	args := append(anys(reach), from, to)
	rows, err := p.tx.Query(ctx, `SELECT DISTINCT i.id FROM incident_keys k JOIN incidents i ON i.id = k.incident_id
		WHERE k.entity IN (`+placeholders(len(reach))+`) AND i.kind = 'campaign' AND i.merged_into = ''
			AND i.status IN `+openStatuses+` AND i.last_seen >= ? AND i.first_seen <= ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("campaigns of local incidents: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// joinByMembers puts the sightings of weak key k into the open campaign
// founded on indicators that already involves the members sighting k in
// the most countries, two at least: the campaign explains why the same
// detection fires at those members. Only sightings at the campaign's
// members join; a weak key does not bring a new member in. The campaigns
// founded on k alone (founded, from p.held) whose members all take part
// in that campaign are merged into it. It reports whether k joined a
// campaign.
func (p *placing) joinByMembers(ctx context.Context, k string, t time.Time, founded []string) (bool, error) {
	from, to := p.window(t)
	rows, err := p.tx.Query(ctx, `SELECT DISTINCT member, country FROM campaign_sightings
		WHERE entity = ? AND event_time >= ? AND event_time <= ?`, k, from, to)
	if err != nil {
		return false, fmt.Errorf("campaign sightings: %w", err)
	}
	var sights []sighting // one per member and country
	var members []string
	for rows.Next() {
		var s sighting
		if err := rows.Scan(&s.member, &s.country); err != nil {
			rows.Close()
			return false, err
		}
		sights = append(sights, s)
		if !slices.Contains(members, s.member) {
			members = append(members, s.member)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(members) < 2 {
		return false, err
	}
	involved, order, err := p.campaignMembers(ctx, members, t, true)
	if err != nil {
		return false, err
	}
	best, bestCountries := "", 1
	for _, id := range order {
		if n := len(countriesOf(sights, involved[id])); n > bestCountries {
			best, bestCountries = id, n
		}
	}
	if best == "" {
		return false, nil
	}
	ids, err := p.newSightings(ctx, k, t, best, involved[best])
	if err != nil {
		return false, err
	}
	alerts, err := p.c.alerts.Fetch(ctx, p.tx, ids)
	if err != nil {
		return false, err
	}
	if err := p.joinCampaign(ctx, best, alerts); err != nil {
		return false, err
	}
	return true, p.absorbFounded(ctx, best, founded)
}

// newSightings returns the alerts sighted under k within the campaign
// window around t at members that campaign id does not hold yet.
func (p *placing) newSightings(ctx context.Context, k string, t time.Time, id string, members []string) ([]string, error) {
	from, to := p.window(t)
	args := append([]any{k, from, to}, anys(members)...)
	rows, err := p.tx.Query(ctx, `SELECT s.alert_id FROM campaign_sightings s
		WHERE s.entity = ? AND s.event_time >= ? AND s.event_time <= ? AND s.member IN (`+placeholders(len(members))+`)
			AND NOT EXISTS (SELECT 1 FROM incident_alerts ia WHERE ia.incident_id = ? AND ia.alert_id = s.alert_id)
		ORDER BY s.event_time, s.alert_id`, append(args, id)...)
	if err != nil {
		return nil, fmt.Errorf("campaign sightings: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		ids = append(ids, a)
	}
	return ids, rows.Err()
}

// absorbFounded merges into campaign id those of the campaigns founded
// whose members all take part in id.
func (p *placing) absorbFounded(ctx context.Context, id string, founded []string) error {
	founded = slices.DeleteFunc(slices.Clone(founded), func(f string) bool { return f == id })
	if len(founded) == 0 {
		return nil
	}
	members, err := p.membersOf(ctx, id)
	if err != nil {
		return err
	}
	targets := map[string]bool{id: true}
	for _, other := range founded {
		theirs, err := p.membersOf(ctx, other)
		if err != nil {
			return err
		}
		if len(theirs) > 0 && !slices.ContainsFunc(theirs, func(m string) bool { return !slices.Contains(members, m) }) {
			targets[other] = true
		}
	}
	_, err = p.mergeAll(ctx, targets)
	return err
}

// membersOf returns the members campaign id reaches.
func (p *placing) membersOf(ctx context.Context, id string) ([]string, error) {
	rows, err := p.tx.Query(ctx, `SELECT entity FROM incident_keys WHERE incident_id = ? AND entity LIKE 'reach|member|%'`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, err
		}
		out = append(out, strings.TrimPrefix(e, reachMember))
	}
	return out, rows.Err()
}

// campaignMembers returns which of members the open campaigns active
// within the campaign window around t reach, by campaign, and those
// campaigns oldest first; with strong, only campaigns holding an
// indicator.
func (p *placing) campaignMembers(ctx context.Context, members []string, t time.Time, strong bool) (map[string][]string, []string, error) {
	entities := make([]string, len(members))
	for i, m := range members {
		entities[i] = reachMember + m
	}
	cond := ""
	if strong {
		cond = ` AND EXISTS (SELECT 1 FROM incident_keys ik WHERE ik.incident_id = i.id AND ik.entity LIKE 'campaign|obs|%')`
	}
	from, to := p.window(t)
	args := append(anys(entities), from, to)
	rows, err := p.tx.Query(ctx, `SELECT i.id, k.entity FROM incident_keys k JOIN incidents i ON i.id = k.incident_id
		WHERE k.entity IN (`+placeholders(len(entities))+`) AND i.kind = 'campaign' AND i.merged_into = ''
			AND i.status IN `+openStatuses+` AND i.last_seen >= ? AND i.first_seen <= ?`+cond+`
		ORDER BY i.created, i.id, k.entity`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("campaign members: %w", err)
	}
	defer rows.Close()
	var order []string
	involved := map[string][]string{}
	for rows.Next() {
		var id, entity string
		if err := rows.Scan(&id, &entity); err != nil {
			return nil, nil, err
		}
		if _, ok := involved[id]; !ok {
			order = append(order, id)
		}
		involved[id] = append(involved[id], strings.TrimPrefix(entity, reachMember))
	}
	return involved, order, rows.Err()
}

// countriesOf returns the countries of the sightings at members.
func countriesOf(sights []sighting, members []string) []string {
	var out []string
	for _, s := range sights {
		if s.country != "" && slices.Contains(members, s.member) && !slices.Contains(out, s.country) {
			out = append(out, s.country)
		}
	}
	return out
}

// withoutIndicators reports whether none of the alerts sighted under
// weak key k within the campaign window around t carries a public
// indicator. Only then may k found a campaign: attacks that bring their
// own indicators are told apart by them, not by the detections they have
// in common.
func (p *placing) withoutIndicators(ctx context.Context, k string, t time.Time) (bool, error) {
	from, to := p.window(t)
	var one int
	err := p.tx.QueryRow(ctx, `SELECT 1 FROM campaign_sightings s JOIN campaign_sightings o ON o.alert_id = s.alert_id
		WHERE s.entity = ? AND s.event_time >= ? AND s.event_time <= ? AND o.entity LIKE 'obs|%'
		LIMIT 1`, k, from, to).Scan(&one)
	switch {
	case store.NotFound(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("campaign indicators: %w", err)
	}
	return false, nil
}

// mergeAll merges the campaigns ids into the oldest of them and returns
// its id.
func (p *placing) mergeAll(ctx context.Context, ids map[string]bool) (string, error) {
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	if len(list) == 1 {
		return list[0], nil
	}
	rows, err := p.tx.Query(ctx, `SELECT id FROM incidents WHERE id IN (`+placeholders(len(list))+`)
		AND merged_into = '' ORDER BY created, id`, anys(list)...)
	if err != nil {
		return "", fmt.Errorf("campaigns to merge: %w", err)
	}
	var ordered []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return "", err
		}
		ordered = append(ordered, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(ordered) == 0 {
		return "", fmt.Errorf("campaigns %v: %w", list, store.ErrNotFound)
	}
	for _, from := range ordered[1:] {
		if err := p.absorb(ctx, ordered[0], from); err != nil {
			return "", err
		}
	}
	return ordered[0], nil
}

// absorb merges campaign from into campaign into, as an analyst's merge
// does but recorded as the correlator's own ("merged automatically"):
// alerts, keys, comments and evidence move; from is closed and points at
// into. into keeps its workflow state, and takes from's assignee and NIS2
// reporting state if it has none of its own, so no deadline is lost.
func (p *placing) absorb(ctx context.Context, into, from string) error {
	status, err := p.inherit(ctx, into, from)
	if err != nil {
		return err
	}
	moved, err := take(ctx, p.tx, from, nil)
	if err != nil {
		return err
	}
	var homes []string
	for _, m := range moved {
		res, err := p.tx.Exec(ctx, `INSERT INTO incident_alerts (incident_id, alert_id, member, tlp, home)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (incident_id, alert_id) DO NOTHING`,
			into, m.alertID, m.member, m.tlp, m.home)
		if err != nil {
			return fmt.Errorf("merge alert %s: %w", m.alertID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if err := audit(ctx, p.tx, into, p.now, system, "alert added", "", m.alertID); err != nil {
				return err
			}
		}
		if m.home == 1 {
			// An analyst may have merged a local incident into from.
			if _, err := p.tx.Exec(ctx, `UPDATE incident_alerts SET home = 1 WHERE incident_id = ? AND alert_id = ?`,
				into, m.alertID); err != nil {
				return err
			}
			homes = append(homes, m.alertID)
		}
	}
	if err := p.c.alerts.SetIncident(ctx, p.tx, into, homes...); err != nil {
		return err
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO incident_keys (entity, incident_id) SELECT entity, ? FROM incident_keys WHERE incident_id = ?
			ON CONFLICT (entity, incident_id) DO NOTHING`, []any{into, from}},
		{`DELETE FROM incident_keys WHERE incident_id = ?`, []any{from}},
		{`UPDATE incident_notes SET incident_id = ? WHERE incident_id = ?`, []any{into, from}},
		{moveCasesSQL, []any{into, from}},
		{`DELETE FROM incident_cases WHERE incident_id = ?`, []any{from}},
		{`UPDATE incidents SET status = ?, closed = ?, merged_into = ?, updated = ? WHERE id = ?`,
			[]any{string(StatusClosed), store.Nanos(p.now), into, store.Nanos(p.now), from}},
	} {
		if _, err := p.tx.Exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("merge %s into %s: %w", from, into, err)
		}
	}
	for _, e := range []struct{ id, what, old, new string }{
		{into, "merged automatically", "", from},
		{from, "merged into", "", into},
		{from, "status", status, string(StatusClosed)},
	} {
		if err := audit(ctx, p.tx, e.id, p.now, system, e.what, e.old, e.new); err != nil {
			return err
		}
	}
	p.touched[into], p.touched[from] = true, true
	p.cells.restate(into, from)
	return p.c.recompute(ctx, p.tx, into, p.now)
}

// inherit gives campaign into the assignee and NIS2 reporting state of
// campaign from where into has none, and returns from's status before
// the merge closed it.
func (p *placing) inherit(ctx context.Context, into, from string) (string, error) {
	const cols = `status, assignee, significant, significant_by, early_warning, notification, final_report`
	type state struct {
		status, assignee, significantBy         string
		significant, early, notification, final int64
	}
	read := func(id string) (state, error) {
		var s state
		err := p.tx.QueryRow(ctx, `SELECT `+cols+` FROM incidents WHERE id = ?`, id).Scan(&s.status, &s.assignee,
			&s.significant, &s.significantBy, &s.early, &s.notification, &s.final)
		return s, err
	}
	to, err := read(into)
	if err != nil {
		return "", err
	}
	src, err := read(from)
	if err != nil {
		return "", err
	}
	if to.assignee == "" && src.assignee != "" {
		if _, err := p.tx.Exec(ctx, `UPDATE incidents SET assignee = ? WHERE id = ?`, src.assignee, into); err != nil {
			return "", err
		}
		if err := audit(ctx, p.tx, into, p.now, system, "assignee", "", src.assignee); err != nil {
			return "", err
		}
	}
	if to.significant == 0 && src.significant != 0 {
		if _, err := p.tx.Exec(ctx, `UPDATE incidents SET significant = ?, significant_by = ?, early_warning = ?,
			notification = ?, final_report = ? WHERE id = ?`,
			src.significant, src.significantBy, src.early, src.notification, src.final, into); err != nil {
			return "", err
		}
		if err := audit(ctx, p.tx, into, p.now, system, "nis2 significant", "", stamp(store.Time(src.significant))); err != nil {
			return "", err
		}
	}
	return src.status, nil
}

// keyEvidence is one defining key of a campaign with where a viewer sees
// it: in how many countries and at how many members, first when.
type keyEvidence struct {
	key                string
	countries, members int
	first              int64
}

// titleNames is how many pieces of evidence a campaign title names.
const titleNames = 2

// campaignTitle names a campaign after its strongest evidence: its shared
// indicators if it has any, else its shared detections; the strongest
// first (seen in the most countries, then at the most members, network
// indicators before file hashes, then the earliest seen). The evidence,
// members and countries are those one viewer sees.
func campaignTitle(ev []keyEvidence, members int, countries []string) string {
	if slices.ContainsFunc(ev, func(e keyEvidence) bool { return strongKey(e.key) }) {
		ev = slices.DeleteFunc(slices.Clone(ev), func(e keyEvidence) bool { return !strongKey(e.key) })
	}
	slices.SortFunc(ev, func(a, b keyEvidence) int {
		return cmp.Or(cmp.Compare(b.countries, a.countries), cmp.Compare(b.members, a.members),
			cmp.Compare(keyRank(a.key), keyRank(b.key)), cmp.Compare(a.first, b.first), strings.Compare(a.key, b.key))
	})
	var b strings.Builder
	b.WriteString(campaignTitlePrefix)
	if len(ev) > 0 {
		noun := "detection"
		if strongKey(ev[0].key) {
			noun = "indicator"
		}
		b.WriteString(": " + plural(len(ev), "shared "+noun))
		var names []string
		for _, e := range ev[:min(len(ev), titleNames)] {
			names = append(names, shortKey(e.key))
		}
		if len(names) > 0 {
			if len(names) < len(ev) {
				names = append(names, "…")
			}
			b.WriteString(" (" + strings.Join(names, ", ") + ")")
		}
	}
	if members > 0 {
		b.WriteString(" at " + plural(members, "member"))
	}
	if len(countries) > 0 {
		b.WriteString(" in " + strings.Join(countries, ", "))
	}
	return b.String()
}

// keyRank orders indicators of equal spread for a title: the ones an
// analyst recognises (domains, URLs, addresses, e-mail) before hashes,
// then detections.
func keyRank(key string) int {
	parts := strings.SplitN(key, "|", 3)
	if parts[0] != "obs" || len(parts) < 3 {
		return 9
	}
	switch parts[1] {
	case "domain-name":
		return 0
	case "url":
		return 1
	case "ipv4-addr", "ipv6-addr":
		return 2
	case "email-addr":
		return 3
	}
	return 4
}

// shortKey renders a campaign key for a title: an indicator's value, or
// the description of a detection.
func shortKey(key string) string {
	if parts := strings.SplitN(key, "|", 3); parts[0] == "obs" && len(parts) == 3 {
		return parts[2]
	}
	return describeKey(key)
}

// plural renders "1 thing" or "n things".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
