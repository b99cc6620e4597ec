package respond

import "github.com/xsoc/xsoc/internal/store"

// Schema returns the tables this package owns. Migrate the store with it
// before New.
func Schema() store.Schema {
	return store.Schema{Owner: "respond", Migrations: []string{`
CREATE TABLE respond_outbox (
	id AUTOINCREMENT_PK,
	dedup_key TEXT NOT NULL UNIQUE,
	kind TEXT NOT NULL,
	playbook TEXT NOT NULL,
	alert_id TEXT NOT NULL,
	member TEXT NOT NULL,
	payload TEXT NOT NULL,
	state TEXT NOT NULL,
	attempts INTEGER NOT NULL,
	next_attempt BIGINT NOT NULL,
	last_error TEXT NOT NULL,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS respond_outbox_due ON respond_outbox (state, next_attempt);
CREATE TABLE respond_hub_outbox (
	id AUTOINCREMENT_PK,
	dedup_key TEXT NOT NULL UNIQUE,
	playbook TEXT NOT NULL,
	alert_id TEXT NOT NULL,
	member TEXT NOT NULL,
	alert TEXT NOT NULL,
	queued BIGINT NOT NULL
);
CREATE TABLE respond_blocklist (
	member TEXT NOT NULL,
	type TEXT NOT NULL,
	value TEXT NOT NULL,
	reason TEXT NOT NULL,
	source_alert TEXT NOT NULL,
	tlp INTEGER NOT NULL,
	added BIGINT NOT NULL,
	expires BIGINT NOT NULL,
	PRIMARY KEY (member, type, value)
);
CREATE INDEX IF NOT EXISTS respond_blocklist_expires ON respond_blocklist (expires);
CREATE TABLE respond_blocklist_changes (
	member TEXT PRIMARY KEY,
	changed BIGINT NOT NULL
);
CREATE TABLE respond_firings (
	member TEXT NOT NULL,
	alert_id TEXT NOT NULL,
	playbook TEXT NOT NULL,
	rule_id TEXT NOT NULL,
	outcome TEXT NOT NULL,
	plan TEXT NOT NULL,
	fired BIGINT NOT NULL,
	PRIMARY KEY (member, alert_id, playbook)
);
CREATE TABLE respond_throttle (
	bucket TEXT PRIMARY KEY,
	window_start BIGINT NOT NULL,
	hits INTEGER NOT NULL
);
`}}
}
