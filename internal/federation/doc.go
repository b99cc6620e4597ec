// Package federation links xsoc nodes: member nodes, each serving its own
// member organisations, share what TLP lets them share with a hub, which
// correlates it into cross-border incidents.
//
// # The link
//
// Nodes talk over NATS leaf node connections secured with mutual TLS. The
// federation has its own certificate authority (NewCA; "xsoc federation
// ca"); every node holds a certificate it issued (CA.Issue; "xsoc
// federation cert"): ECDSA P-256, the node name as common name and DNS
// name, and the URI NodeURI. The hub's leaf node listener requires a
// client certificate signed by the federation CA and carrying NodeURI;
// any other is refused, during the TLS handshake (another CA) or at
// authorisation (no NodeURI). A member node trusts only the federation CA
// and only a certificate naming the configured hub, whatever address it
// dials.
//
// Each admitted node is a user of its own at the hub, with permissions
// that confine it to subjects naming it (NodePermissions): it publishes
// only as itself and receives only what is addressed to it. The hub's
// server enforces them and sends them to the node's server, which holds
// back what it may not send.
//
// On each node the federation lives in its own NATS account
// (bus.FederationAccount); the node's ingest and alert streams stay in
// the global account, which the link does not join. Each node's
// embedded server has its own JetStream domain (its node name), so
// JetStream does not merge across the link; the hub's streams are
// reached from member nodes through the hub's domain.
//
// # What leaves a member node
//
// The Exporter reads the node's alert stream (XSOC_ALERTS) through a
// durable consumer. For each alert, TLP decides (MayLeave, with
// tlp.MayReceive for the community, which is what the hub and the other
// members are): TLP:CLEAR and TLP:GREEN alerts leave, TLP:AMBER,
// AMBER+STRICT and RED stay. An alert's TLP level is at least its
// member's sharing level and the level of the intelligence that raised
// it, so a member that keeps its alerts at AMBER shares nothing.
//
// What leaves for an alert is Alert, and only that:
//
//   - node, the alert's id on it and its count (how many detections it
//     folds so far);
//   - member id, the member's country and NIS2 sector;
//   - event time, last seen, detection time;
//   - detector, rule id and rule title (for Sigma the rule's name; for
//     detectors whose titles quote the matched value, "<detector> rule
//     <rule id>" instead), severity, ATT&CK techniques, TLP level;
//   - each observable (addresses, domains, URLs, hashes, e-mail
//     addresses, users, hosts…) as its STIX type, its role, a pseudonym,
//     and whether it names the same thing everywhere (public addresses,
//     domains, hashes) or only at the member (hosts, users, private
//     addresses); and the host and user names of the alert's evidence,
//     pseudonymised the same way.
//
// The raw events (evidence), event ids, the alert's deduplication key,
// any observable value, and triage state do not leave.
//
// A pseudonym is HMAC-SHA256, under a secret the member nodes share and
// the hub does not hold ("xsoc federation secret"), of the observable's
// type and canonical value (addresses in shortest form, everything else
// in lower case), truncated to 128 bits (Pseudonymiser). Equal values
// give equal pseudonyms on every member node, so the hub correlates them;
// without the secret the hub can neither reverse a pseudonym nor test a
// guess. Member nodes hold the secret and could test guesses against
// pseudonyms they receive, which is why only alerts they may receive
// under TLP (CLEAR, GREEN) are sent at all.
//
// The key may rotate on a Schedule kept in the secret file: epoch n's key
// is an HMAC of n under the secret, so all member nodes switch at once;
// during the overlap after a switch each observable leaves with the
// previous epoch's pseudonym too, so the hub links alerts across it.
//
// Each message is signed with the sending node's key and carries its
// certificate; the hub checks the signature, that the federation CA
// issued the certificate, and that the certificate, the subject
// (xsoc.fed.alert.<node>.<member>) and the body name the same node, so a
// node cannot speak for another.
//
// # Delivery
//
// The exporter acknowledges an alert on its node only after the hub's
// stream (XSOC_FED_ALERTS, in the hub's federation account) stored it.
// While the hub is unreachable alerts wait in the node's stream and are
// sent once it is back. Each state of an alert is sent with the message
// id "<node>.<alert id>.<count>", so a state sent twice (a crash of the
// member node after sending, before acknowledging) is stored once. The
// first time a node runs its exporter, it sends the alerts its stream
// still holds (seven days).
//
// # The hub
//
// The Hub reads XSOC_FED_ALERTS through a durable consumer. It registers
// each remote member in its member registry as "<node>--<member>"
// (RemoteMemberID) with its country and sector — node names never
// contain "--", so ids of different nodes cannot collide — and raises
// each remote alert as one alert of the hub, updated by every later
// state, then runs the node's correlator over it: incidents, campaigns
// and cross-border incidents form at the hub as on any node and are
// served by its REST API. Public addresses reach the correlator typed
// "public-ipv4-addr" / "public-ipv6-addr" (the correlator cannot tell a
// pseudonym's address class). The hub records, for each remote alert,
// up to which state its hub alert was raised and up to which it was
// correlated: a state delivered again (a crash of the hub before
// acknowledging) changes nothing, and after a failure between raising
// and correlating the state that comes again — or a later one in its
// place — adds only what was not raised yet, and is correlated.
//
// # Notices
//
// When a member node's alert joins a cross-border incident at the hub
// (or the incident reaches another country), the hub sends that node a
// Notice — the incident's id, title, countries, number of members,
// severity, span and techniques, and which of the node's alerts it
// holds; other members are counted, not named. The hub publishes it,
// signed, into the node's notice stream (XSOC_FED_NOTICES, in the node's
// federation account) and keeps it queued until the node's stream
// stored it; after a restart it sends the notices of the standing
// cross-border incidents again, which the node recognises. The node
// raises an alert for each notice (Notices): detector "federation", rule
// "cross-border-incident", on its member, with the observables of its
// alert, at TLP:AMBER, so that it joins the alert's local incident,
// reaches the node's playbooks, and never goes back to the hub.
//
// # Early warning
//
// Besides the pseudonymised alerts, a member node pushes the external
// observables of its alerts — public addresses, domains outside private
// name spaces, URLs, file hashes, e-mail senders (External) — to the
// other members as cross-border warnings (Warner): STIX 2.1 indicators,
// each with a sighting by "a <sector> member in <country>", at the
// alert's TLP level. A warning is a batch of up to 200 indicators, so
// that signatures, routing and store commits are paid once per batch;
// the origin signs the warning's fields and the SHA-256 of each object
// of its bundle, not the subject, so that its signature survives
// forwarding. The sender is named by a handle only
// its node can link to the member. TLP:CLEAR and GREEN go to every other
// member node; TLP:AMBER only under the member's information-sharing
// agreements (Agreements), which the node sends the hub in its
// Directory with its members' countries and sectors; AMBER+STRICT and
// RED never leave. Alerts raised by a received warning are not pushed
// again.
//
// The hub checks each warning as a receiving node would, decides its
// recipients — every node for the community, for AMBER the members that
// both the warning and the hub's copy of the agreements name — and
// publishes it into each recipient node's inbox stream (XSOC_FED_INBOX)
// with its own seal over subject, recipients and body, recording every
// forward (table federation_forwards). Each indicator is checked on its
// own: the hub refuses a bad one (and its sighting), counts it, and
// forwards the rest, naming in the warning's withheld list the place and
// digest of what it left out, so that the origin's signature still
// verifies and the refused object travels no further. The Inbox takes
// only what the configured hub sealed for its own inbox and the named
// origin signed, refuses replays, stale, over-TLP, malformed and
// private-address warnings with a counted reason, and makes the
// indicators active in
// the node's IOC index in one commit per batch, owned by the remote
// sender (so TLP decides which local members may use them) and marked
// with the origin country, so that a match says where and how long ago
// the threat was detected. A value several origins (members of other
// nodes) pushed is one indicator at the receiving node (ReceivedID) with
// one index entry per origin: an event raises one alert for it that
// names the origins its member may use, and each origin's TLP level,
// expiry and revocation apply to its entry alone. Received indicators
// are kept in the store (federation_warnings, one row per origin) and
// made active again after a restart; expired ones are not applied; an
// origin may revoke what it pushed.
//
// The hub holds what it accepted (federation_held) until it expires, at
// most maxWarningAge, and whenever a node's directory arrives sends the
// node, in order, the held warnings it may receive now and was not sent
// before (catchup.go): a node that joins late, a member added, a member
// hub announcing itself or relaying a new node's directory. A TLP:AMBER
// warning a node was sent for fewer of its members than an agreement
// names now is sent again, sealed as a widening, naming them all; that
// is the only warning an Inbox takes twice.
//
// # Corroborated release
//
// A member may share in corroborated mode (Sharing): its node then sends
// the hub only the pseudonyms of its external observables and keeps the
// values. The hub (corroborator) counts the members that reported each
// pseudonym — immediate warnings carry their values' pseudonyms too —
// and once at least k members in at least two countries did, sends each
// node withholding it a ReleaseRequest, sealed like a forward, in its
// inbox; the node releases the value as an ordinary warning if the
// member's TLP level and agreements still let it leave.
//
// # Hub hierarchy
//
// A hub may be a member of a higher hub, its upstream (HubConfig.Upstream):
// national hubs under a cross-border hub under a European one. It
// announces itself to the upstream with a directory of its own and
// relays up (xsoc.fed.relay.<hub>.<upstream>, the upstream's stream
// XSOC_FED_RELAYS) its member nodes' directories, and of their warnings
// those that may go beyond it: TLP:CLEAR, GREEN and revocations, and
// TLP:AMBER whose agreed partners may lie beyond it. The upstream keeps
// the directories of the nodes below its member hubs, each with the
// member hub it is reached through, decides recipients over all of them
// and forwards down into the inbox of each member node or member hub
// concerned; a hub forwards what its upstream sent it to its own nodes,
// TLP:AMBER to the members the upstream's seal names. Every hop keeps
// the origin's signature and seals subject, recipients, relay path and
// kind; a message whose path holds the hub already, or is maxRelayHops
// long, is refused as a loop. Up and down are read by separate durable
// consumers, so an unreachable upstream holds up nothing below.
package federation
