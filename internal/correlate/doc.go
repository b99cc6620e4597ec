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
// Each alert's campaign keys — public observables (not private
// addresses, hosts or users), technique plus rule, or the rule alone
// when it names no technique — are recorded as sightings with the
// member's country (Options.MemberCountry). When a key has been sighted in
// two or more countries within the campaign window (72 hours by default),
// the sightings join a campaign incident (CrossBorder, with the list of
// countries). Campaign membership comes on top of the home incident.
//
// # Visibility
//
// An incident is always shown as one viewer sees it: its timeline,
// entities, indicators, members, techniques and severity are computed
// from the alerts that viewer may see (alert.Viewer.MaySee, the alert
// package's single TLP rule). The alerts withheld are counted, not
// described; the countries involved stay visible, as the reason a
// cross-border warning exists. Audit entries and evidence naming a
// withheld alert are left out.
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
