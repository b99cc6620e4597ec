// Package rulestore keeps a node's Sigma rules: their YAML text as
// imported, and whether each is enabled. The node loads them into the
// Sigma engine at start and again whenever they change, so an import from
// the CLI or the API reaches detection without a restart.
package rulestore

import (
	"context"
	"fmt"
	"time"

	"github.com/xsoc/xsoc/internal/store"
)

// Schema is the package's table.
func Schema() store.Schema {
	return store.Schema{Owner: "rulestore", Migrations: []string{`
CREATE TABLE sigma_rules (
	file TEXT PRIMARY KEY,
	yaml TEXT NOT NULL,
	enabled INTEGER NOT NULL DEFAULT 1,
	updated BIGINT NOT NULL
);
CREATE TABLE sigma_rule_state (
	rule_id TEXT PRIMARY KEY,
	enabled INTEGER NOT NULL,
	updated BIGINT NOT NULL
)`}}
}

// File is one stored rule file (it may hold several YAML documents: a
// correlation and the rules it uses).
type File struct {
	Name    string
	YAML    []byte
	Updated time.Time
}

// Store is the rule table.
type Store struct {
	db *store.DB
}

// New returns a Store over db, whose schema must be migrated.
func New(db *store.DB) *Store { return &Store{db: db} }

// Put stores or replaces a rule file under name (its path relative to the
// imported directory, or a name the API chose).
func (s *Store) Put(ctx context.Context, name string, yaml []byte) error {
	_, err := s.db.Exec(ctx, `INSERT INTO sigma_rules (file, yaml, updated) VALUES (?, ?, ?)
		ON CONFLICT (file) DO UPDATE SET yaml = excluded.yaml, updated = excluded.updated`,
		name, string(yaml), time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("rulestore: put %s: %w", name, err)
	}
	return nil
}

// Delete removes a rule file.
func (s *Store) Delete(ctx context.Context, name string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM sigma_rules WHERE file = ?`, name)
	return err
}

// Files returns every stored rule file, by name.
func (s *Store) Files(ctx context.Context) ([]File, error) {
	rows, err := s.db.Query(ctx, `SELECT file, yaml, updated FROM sigma_rules ORDER BY file`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []File
	for rows.Next() {
		var f File
		var y string
		var u int64
		if err := rows.Scan(&f.Name, &y, &u); err != nil {
			return nil, err
		}
		f.YAML, f.Updated = []byte(y), store.Time(u)
		out = append(out, f)
	}
	return out, rows.Err()
}

// SetEnabled records that rule id is enabled or disabled; the choice
// survives restarts and re-imports.
func (s *Store) SetEnabled(ctx context.Context, id string, on bool) error {
	v := 0
	if on {
		v = 1
	}
	_, err := s.db.Exec(ctx, `INSERT INTO sigma_rule_state (rule_id, enabled, updated) VALUES (?, ?, ?)
		ON CONFLICT (rule_id) DO UPDATE SET enabled = excluded.enabled, updated = excluded.updated`,
		id, v, time.Now().UnixNano())
	return err
}

// Disabled returns the ids of disabled rules.
func (s *Store) Disabled(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT rule_id FROM sigma_rule_state WHERE enabled = 0`)
	if err != nil {
		return nil, err
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

// Version changes whenever a rule file or a rule's state changes; the node
// polls it to notice imports made by other processes.
func (s *Store) Version(ctx context.Context) (string, error) {
	var n1, n2 int
	var u1, u2 int64
	err := s.db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(updated), 0) FROM sigma_rules`).Scan(&n1, &u1)
	if err != nil {
		return "", err
	}
	err = s.db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(updated), 0) FROM sigma_rule_state`).Scan(&n2, &u2)
	return fmt.Sprintf("%d/%d/%d/%d", n1, u1, n2, u2), err
}
