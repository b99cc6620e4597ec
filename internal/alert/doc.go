// Package alert defines the one model every detector's output takes (Sigma,
// IOC, ML, federation warnings) and owns alerts once raised: deduplication,
// persistence, publication, triage and response-time metrics.
//
// # Raising
//
// The pipeline hands detector output to Service.Raise in batches. Raise
// assigns each new alert a time-ordered id (see NewID), stamps Detected and
// folds repeats: a detection with the same member, detector, rule and key as
// an open alert whose event times lie within the deduplication window
// (15 minutes by default) increments that alert's Count and LastSeen and
// appends its event ids and evidence (up to a cap) instead of opening a new
// alert. The whole batch is written in one transaction.
//
// Deduplication state lives in the store, not in memory, so it survives a
// restart. Every event id folded into an alert is recorded (table
// alert_events); a detection whose event ids were all folded before is
// recognised as a replay and changes nothing. The pipeline may therefore
// replay a batch after a crash without inflating counts.
//
// After the commit, new and updated alerts are published on the bus
// (subject xsoc.alert.<member>, message id "<alert id>.<count>", so that
// re-publishing the same state is absorbed by JetStream's duplicate window)
// and handed to the OnAlert subscribers. That the bus holds a state is
// recorded in the alert's row by the next Raise's transaction (or by
// RecordPublished), not by a commit of its own; an alert whose
// publication failed, or was not recorded before a crash, is sent again
// by the next Raise or by Republish at start-up. RaiseThen lets the
// caller write more (the incidents the alerts join) in the same
// transaction.
//
// # Visibility
//
// Viewer.MaySee is the single rule for who sees an alert: operators see all;
// a member sees its own alerts, and another member's alert only when that
// alert's TLP level may go to it (tlp.MayReceive with the member's relation
// to the owner: client or community). Viewer.Where renders the same rule as
// an SQL condition, derived from tlp.MayReceive, so that listings page
// correctly without a second filter.
//
// # Metrics
//
// Four response times are measured from the milestones on each alert:
// time to detect (Detected - EventTime), to acknowledge, to contain and to
// resolve (each milestone - Detected). Service.Metrics computes count, mean
// and percentiles per member and severity from the store; the same
// durations are observed into Prometheus histograms labelled member and
// severity on the registry given in Options. Containment and resolution are
// incident decisions: the incident correlator records them on the incident's
// alerts through Service.Record.
package alert
