// Package respond turns alerts into actions: it is xsoc's response
// automation.
//
// # Playbooks
//
// A playbook is a YAML document that says "when an alert matches these
// conditions, do these actions". Every *.yaml or *.yml file in the playbook
// directory holds one or more playbooks (YAML documents separated by
// "---"); they run in file-name order, then in order within a file:
//
//	name: block-c2-callbacks
//	description: Block command-and-control destinations seen by Sigma rules
//	secret_env: XSOC_HOOK_SECRET     # HMAC key for this playbook's webhooks
//	when:
//	  members: [be-ccb]              # any of
//	  detectors: [sigma, ioc]        # any of
//	  rules: ["proc_creation_*"]     # rule id globs (* and ?)
//	  severity: high                 # at least
//	  techniques: [T1071]            # ATT&CK prefix: T1071 matches T1071.001
//	  tlp: amber                     # at most
//	  observable_types: [ipv4-addr]  # the alert carries one of these
//	  fields:                        # any field of the alert's JSON form
//	    - {path: observables.role, equals: destination}
//	throttle: {max: 10, per: 1h, by: rule}
//	dry_run: false
//	stop: false                      # true: later playbooks are not tried
//	actions:
//	  - webhook:
//	      url: https://soar.example/hooks/xsoc
//	      headers: {X-Tenant: be-ccb}
//	      body: '{"rule": {{json .RuleTitle}}, "alert": {{json .}}}'
//	  - email:
//	      host: smtp.example
//	      port: 587
//	      from: xsoc@soc.example
//	      to: [oncall@soc.example]
//	      subject: "[xsoc] {{.Severity}} {{.RuleTitle}}"
//	  - blocklist: {types: [ip, domain], roles: [destination], ttl: 24h}
//	  - raise_to_hub
//
// Conditions test the alert model (see alert.Alert); "fields" reaches any
// field of its JSON form by a dotted path, fanning out over lists, so that
// flags other components add (cross_border, say) can be tested without
// changes here. Templates are Go text/template over the alert, with the
// functions json, join, upper and lower; they are tried on a sample alert
// at load time, so a misspelt field is a load error. The examples
// directory holds working playbooks.
//
// Load reads the directory and reports every problem as file:line and a
// reason. A file with any problem is rejected as a whole, and the playbooks
// it held before (if any) keep running, so a typo during a hot reload never
// switches response off.
//
// # Delivery
//
// HandleAlert never talks to the outside world. In one store transaction it
// records which playbooks fired (so the same alert is acted on once per
// playbook), counts throttles, adds blocklist entries, and writes every
// webhook and e-mail to the outbox table and every hub escalation to the hub
// outbox. The transaction is the promise: once HandleAlert returns nil,
// nothing is lost to a restart.
//
// Workers started by Start deliver the outbox with bounded concurrency. An
// attempt first claims its row with a lease (so a crashed process's
// deliveries resume once the lease ends, and two processes on one
// PostgreSQL never send the same row at once), then sends it: webhooks are
// signed with HMAC-SHA256 over "<timestamp>.<body>" (see Sign), e-mail goes
// over SMTP with STARTTLS whenever the server offers it. Failures are
// retried with exponential backoff and full jitter up to a cap; a
// Retry-After answer is honoured; after the last attempt, or on an answer
// that retrying cannot fix (a 4xx other than 408 and 429, an SMTP 5xx), the
// row is dead-lettered with its last error. Deliveries are at least once:
// receivers should use the X-Xsoc-Delivery header to drop duplicates.
//
// Secrets never enter the store: a queued webhook names its playbook, and
// the worker signs it with that playbook's current secret; SMTP passwords
// are read from the environment variable the action names.
//
// # Operating it
//
// Simulate shows which playbooks would fire on an alert and what each
// action would send, touching nothing. A playbook with dry_run: true runs
// for real up to the point of acting: it is matched, throttled and
// recorded (see Firings) and logged, but it queues and blocks nothing.
// Deliveries lists the outbox, Requeue sends a dead delivery again, and
// Purge trims delivered rows and old firing records. The counters
// xsoc_respond_deliveries_total{kind,result} (result ok, retried, dead)
// and xsoc_respond_playbook_firings_total{outcome} are registered on
// Options.Registry.
//
// # Blocklists and feeds
//
// Each member has a blocklist (IPs, CIDRs, domains, URLs, hashes) with
// expiry, filled by playbooks and by hand, to which an IndicatorSource adds
// the threat intelligence the member may use. Feeds render the unexpired
// union as a firewall external dynamic list, Suricata rules, a DNS RPZ zone
// or a STIX 2.1 bundle, served by FeedHandler with ETag validation.
package respond
