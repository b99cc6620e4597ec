// Package correlate turns alerts into incidents: it groups a member's
// alerts that share hosts, users or observables, recognises one campaign
// hitting members in several countries, and carries each incident through
// the case workflow up to its NIS2 reports.
//
// # Local incidents
//
// Process is called with the alerts alert.Service.Raise returned. Each
// alert gets exactly one home incident (the one alert.Alert.Incident
// names): the open incident (new, triage or contained) of the same member
// that holds one of the alert's entity keys — host names, user names and
// observables from its observables and evidence — and whose event-time
// span, widened by the window (24 hours by default), covers the alert.
// Without one, the alert opens a new incident. Entity keys carry the
// member: "web01" at two members are two machines. Timelines list the
// alerts by event time with the earliest ATT&CK tactic of their
// techniques, so an incident reads in kill-chain order; Tactics lists the
// phases reached.
//
// # Cross-border campaigns
//
// Each alert's campaign keys are recorded as sightings with the member's
// country (Options.MemberCountry): public observables (domains, public
// addresses, URLs, hashes, e-mail addresses; not private addresses,
// hosts or users), technique plus rule, and the rule alone when it names
// no technique. A key sighted in two or more countries within the
// campaign window (72 hours by default) crosses the border. One campaign
// is one incident (CrossBorder, with its countries), however many keys it
// shares; campaign membership comes on top of the home incident. The
// policy:
//
//   - Indicators are strong evidence. An indicator that crosses the
//     border puts its sightings into the campaign that already holds the
//     indicator, or that reaches one of the sightings' local incidents or
//     hosts (what one member's local incident ties together is one
//     attack), or into a new campaign. Later sightings of an indicator a
//     campaign holds join it.
//   - Campaigns that become linked that way (an alert whose indicator one
//     holds, on a local incident or host the other reaches) are one:
//     the younger is merged into the older, which keeps its id, gains the
//     younger's alerts, keys, notes (and assignee and NIS2 state if it has
//     none), and records "merged automatically" in its audit trail; the
//     younger is closed with MergedInto set. Listings leave merged
//     incidents out unless Filter.Merged asks for them.
//   - Rules and techniques are weak evidence: unrelated attacks share
//     tooling and detections. A weak key that crosses the border joins the
//     open campaign founded on indicators that already involves the
//     members sighting it in two or more countries (the most countries
//     wins); only the sightings at that campaign's members join, so a weak
//     key never brings a new member into a campaign.
//   - A weak key founds a campaign only when none of the alerts sighted
//     under it within the window carries an indicator (detections such as
//     password spraying or exploitation attempts, which bring none);
//     attacks that bring their own indicators are told apart by them. Such
//     a campaign is found by its weak key like one founded on an
//     indicator, and is merged into a campaign founded on indicators once
//     its key is explained by that campaign's members and all its members
//     take part in it.
//
// Evidence is weighed as it arrives, so a weak key is judged on the
// campaigns standing when it crosses the border: processed out of event
// order, a detection without indicators may stay outside a campaign it
// would have joined. Indicators and local incidents link regardless of
// order. Replaying a batch changes nothing.
//
// A campaign is titled by its strongest evidence: "Cross-border
// campaign: 12 shared indicators (apiobsiynrj.xyz, …) at 3 members in FR,
// NL, SE", indicators seen in the most countries first; another incident
// by its earliest alert's rule and host. Titles are derived for each
// viewer from what it sees (below), so none is stored until an analyst
// gives one.
//
// # Visibility
//
// An incident is always shown as one viewer sees it: its timeline,
// entities, indicators, members, countries, techniques, severity, title
// and NIS2 draft are computed from the alerts that viewer may see
// (alert.Viewer.MaySee, the alert package's single TLP rule). Alerts
// withheld leave no trace — not counted, their members and countries not
// named — so a member sharing at TLP:AMBER+STRICT or RED is not revealed
// as hit, and a campaign that crosses no border in what a member sees is
// not shown to it (its alerts stay in its local incidents). Audit entries
// naming a withheld alert, an incident the viewer may not see, or made by
// a member it may not see in the incident are left out.
//
// Each member works its own case of a shared incident (a campaign, or an
// incident holding alerts of several members): status, assignee, title,
// notes, milestones and NIS2 clocks live in incident_cases and are shown
// to that member alone. Operators work the incident's own case, which is
// also the case of the member whose alerts alone an incident holds.
// Splits, merges and alerts added or removed are the incident's facts.
//
// # Case workflow
//
// Incidents move new → triage → contained → resolved → closed; containment
// may be skipped, a new or triaged incident may be closed as a false
// positive, and a closed incident may be reopened into triage (CanMove
// holds the table). Reaching triage, containment and resolution records
// the acknowledged, contained and resolved milestones on the acting
// member's alerts, which feed the alert package's response-time metrics.
// Analysts assign, comment, attach evidence (alert ids, text, links),
// merge two incidents and split alerts off into a new one; every change
// is written to the audit trail with who, when, what, old and new value.
//
// # NIS2
//
// MarkSignificant starts the three NIS2 clocks (article 23 of Directive
// (EU) 2022/2555): early warning within 24 hours, incident notification
// within 72 hours of awareness, final report within one month of the
// notification. SubmitReport stops a clock. NIS2Draft renders a
// notification draft from the incident's facts, classified with the MISP
// nis2 taxonomy (sectors, root cause, severity, outlook; values derived
// from detections are marked as suggestions), as JSON or Markdown.
package correlate
