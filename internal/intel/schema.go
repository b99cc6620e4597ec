package intel

import "github.com/xsoc/xsoc/internal/store"

// Schema returns the tables the repository owns. Migrate them before
// calling NewRepo.
func Schema() store.Schema {
	return store.Schema{Owner: "intel", Migrations: []string{
		// Collections and the per-member rights on them. default_tlp is -1
		// when the collection has none (objects then default to AMBER).
		`CREATE TABLE intel_collections (
			id TEXT PRIMARY KEY,
			title TEXT NOT NULL,
			description TEXT NOT NULL DEFAULT '',
			alias TEXT NOT NULL DEFAULT '',
			media_types TEXT NOT NULL DEFAULT '',
			default_tlp INTEGER NOT NULL DEFAULT -1,
			community_read INTEGER NOT NULL DEFAULT 0,
			created BIGINT NOT NULL
		);
		CREATE TABLE intel_collection_rights (
			collection_id TEXT NOT NULL,
			member TEXT NOT NULL,
			can_read INTEGER NOT NULL,
			can_write INTEGER NOT NULL,
			PRIMARY KEY (collection_id, member)
		);
		CREATE INDEX IF NOT EXISTS intel_collection_rights_member ON intel_collection_rights (member)`,

		// One row per object version. date_added comes from intel_clock and
		// is unique across the repository.
		objectsTable("intel_objects", "collection_id, object_id, version") + `;
		CREATE INDEX IF NOT EXISTS intel_objects_added ON intel_objects (collection_id, date_added);
		CREATE INDEX IF NOT EXISTS intel_objects_type ON intel_objects (type, date_added)`,

		// Deleted object versions, for the change feed.
		`CREATE TABLE intel_deleted (
			seq BIGINT PRIMARY KEY,
			collection_id TEXT NOT NULL,
			object_id TEXT NOT NULL,
			version BIGINT NOT NULL,
			type TEXT NOT NULL
		)`,

		// The single clock row every writer takes first.
		`CREATE TABLE intel_clock (id INTEGER PRIMARY KEY, last BIGINT NOT NULL);
		INSERT INTO intel_clock (id, last) VALUES (1, 0)`,

		// Status resources of add requests (TAXII "status").
		`CREATE TABLE intel_statuses (
			id TEXT PRIMARY KEY,
			member TEXT NOT NULL,
			collection_id TEXT NOT NULL,
			requested BIGINT NOT NULL,
			body TEXT NOT NULL
		);
		CREATE INDEX IF NOT EXISTS intel_statuses_requested ON intel_statuses (requested)`,

		// The secret the ids of the identities xsoc makes are derived
		// from (see MemberIdentity); one row, made on first use.
		`CREATE TABLE intel_secret (id INTEGER PRIMARY KEY, value TEXT NOT NULL)`,

		// Objects are owned per member: a member that adds an object id
		// another member holds, in versions it may not see, adds its own
		// object rather than learning that the id is taken (STIX
		// cyber-observables have ids derived from their values, so a
		// refusal would tell whether another member holds, say, an
		// address). The owner joins the key; deletions name theirs.
		objectsTable("intel_objects_owned", "collection_id, object_id, owner, version") + `;
		INSERT INTO intel_objects_owned (collection_id, object_id, version, type, spec_version, date_added, owner, tlp, named, body)
			SELECT collection_id, object_id, version, type, spec_version, date_added, owner, tlp, named, body FROM intel_objects;
		DROP TABLE intel_objects;
		ALTER TABLE intel_objects_owned RENAME TO intel_objects;
		CREATE INDEX IF NOT EXISTS intel_objects_added ON intel_objects (collection_id, date_added);
		CREATE INDEX IF NOT EXISTS intel_objects_type ON intel_objects (type, date_added);
		ALTER TABLE intel_deleted ADD COLUMN owner TEXT NOT NULL DEFAULT ''`,

		// The STIX 2.0 form a member gave a version in, kept beside the
		// STIX 2.1 form it was converted to ('' when it came as 2.1), so
		// that TAXII match[spec_version]=2.0 returns what the member sent.
		`ALTER TABLE intel_objects ADD COLUMN body20 TEXT NOT NULL DEFAULT ''`,
	}}
}

// objectsTable is the DDL of the object versions table under name with
// the given primary key: one row per version, date_added from intel_clock
// and unique across the repository.
func objectsTable(name, key string) string {
	return `CREATE TABLE ` + name + ` (
			collection_id TEXT NOT NULL,
			object_id TEXT NOT NULL,
			version BIGINT NOT NULL,
			type TEXT NOT NULL,
			spec_version TEXT NOT NULL,
			date_added BIGINT NOT NULL UNIQUE,
			owner TEXT NOT NULL,
			tlp INTEGER NOT NULL,
			named TEXT NOT NULL DEFAULT '',
			body TEXT NOT NULL,
			PRIMARY KEY (` + key + `)
		)`
}
