package intel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Collection is a named set of STIX objects shared under common rights.
type Collection struct {
	// ID is a UUID; CreateCollection makes one when it is empty.
	ID          string
	Title       string
	Description string
	// Alias is an optional human-friendly name, unique in practice.
	Alias string
	// MediaTypes lists the media types of the objects (default
	// MediaType).
	MediaTypes []string
	// DefaultTLP is the level of objects that carry no TLP marking; nil
	// means TLP:AMBER.
	DefaultTLP *tlp.Level
	// CommunityRead lets every member read the collection, subject to
	// each object's TLP level.
	CommunityRead bool
}

// UnmarkedLevel returns the TLP level given to objects without a TLP
// marking.
func (c Collection) UnmarkedLevel() tlp.Level {
	if c.DefaultTLP != nil {
		return *c.DefaultTLP
	}
	return tlp.Amber
}

// Rights are a member's rights on a collection.
type Rights struct {
	Read  bool
	Write bool
}

// Access is a collection as one viewer sees it.
type Access struct {
	Collection
	CanRead  bool
	CanWrite bool
}

// CreateCollection stores a new collection and returns it with its id.
func (r *Repo) CreateCollection(ctx context.Context, c Collection) (Collection, error) {
	if c.ID == "" {
		c.ID = NewUUID()
	}
	if !ValidUUID(c.ID) {
		return Collection{}, fmt.Errorf("intel: collection id %q is not a UUID: %w", c.ID, ErrInvalid)
	}
	if strings.TrimSpace(c.Title) == "" {
		return Collection{}, fmt.Errorf("intel: collection title missing: %w", ErrInvalid)
	}
	if len(c.MediaTypes) == 0 {
		c.MediaTypes = []string{MediaType}
	}
	def := -1
	if c.DefaultTLP != nil {
		if *c.DefaultTLP > tlp.Red {
			return Collection{}, fmt.Errorf("intel: default TLP %v unknown: %w", *c.DefaultTLP, ErrInvalid)
		}
		def = int(*c.DefaultTLP)
	}
	_, err := r.db.Exec(ctx, `INSERT INTO intel_collections
		(id, title, description, alias, media_types, default_tlp, community_read, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Title, c.Description, c.Alias, strings.Join(c.MediaTypes, ","), def,
		boolInt(c.CommunityRead), store.Nanos(r.opts.Now()))
	if err != nil {
		return Collection{}, fmt.Errorf("intel: create collection: %w", err)
	}
	return c, nil
}

// SetRights gives member the rights on a collection; no rights at all
// removes the member's entry.
func (r *Repo) SetRights(ctx context.Context, collection, member string, rights Rights) error {
	if member == "" {
		return fmt.Errorf("intel: rights need a member: %w", ErrInvalid)
	}
	if _, err := r.collection(ctx, collection); err != nil {
		return err
	}
	var err error
	if !rights.Read && !rights.Write {
		_, err = r.db.Exec(ctx, `DELETE FROM intel_collection_rights WHERE collection_id = ? AND member = ?`,
			collection, member)
	} else {
		_, err = r.db.Exec(ctx, `INSERT INTO intel_collection_rights (collection_id, member, can_read, can_write)
			VALUES (?, ?, ?, ?) ON CONFLICT (collection_id, member)
			DO UPDATE SET can_read = excluded.can_read, can_write = excluded.can_write`,
			collection, member, boolInt(rights.Read), boolInt(rights.Write))
	}
	if err != nil {
		return fmt.Errorf("intel: set rights: %w", err)
	}
	return nil
}

// MemberRights returns the members given rights on a collection, by
// member id. Members that read a collection only because it is open to
// the community (CommunityRead) are not listed.
func (r *Repo) MemberRights(ctx context.Context, collection string) (map[string]Rights, error) {
	if _, err := r.collection(ctx, collection); err != nil {
		return nil, err
	}
	rows, err := r.db.Query(ctx, `SELECT member, can_read, can_write FROM intel_collection_rights
		WHERE collection_id = ? ORDER BY member`, collection)
	if err != nil {
		return nil, fmt.Errorf("intel: rights: %w", err)
	}
	defer rows.Close()
	out := map[string]Rights{}
	for rows.Next() {
		var m string
		var rd, w int
		if err := rows.Scan(&m, &rd, &w); err != nil {
			return nil, fmt.Errorf("intel: rights: %w", err)
		}
		out[m] = Rights{Read: rd != 0, Write: w != 0}
	}
	return out, rows.Err()
}

const collectionColumns = `c.id, c.title, c.description, c.alias, c.media_types, c.default_tlp, c.community_read`

// Collections lists the collections v may read or write, in creation
// order.
func (r *Repo) Collections(ctx context.Context, v Viewer) ([]Access, error) {
	rows, err := r.db.Query(ctx, `SELECT `+collectionColumns+`, COALESCE(g.can_read, 0), COALESCE(g.can_write, 0)
		FROM intel_collections c
		LEFT JOIN intel_collection_rights g ON g.collection_id = c.id AND g.member = ?
		ORDER BY c.created, c.id`, v.Member)
	if err != nil {
		return nil, fmt.Errorf("intel: collections: %w", err)
	}
	defer rows.Close()
	var out []Access
	for rows.Next() {
		a, err := scanAccess(rows, v)
		if err != nil {
			return nil, err
		}
		if a.CanRead || a.CanWrite {
			out = append(out, a)
		}
	}
	return out, rows.Err()
}

// Collection returns one collection as v sees it: ErrNotFound if it does
// not exist, ErrForbidden if v may neither read nor write it.
func (r *Repo) Collection(ctx context.Context, v Viewer, id string) (Access, error) {
	row := r.db.QueryRow(ctx, `SELECT `+collectionColumns+`, COALESCE(g.can_read, 0), COALESCE(g.can_write, 0)
		FROM intel_collections c
		LEFT JOIN intel_collection_rights g ON g.collection_id = c.id AND g.member = ?
		WHERE c.id = ?`, v.Member, id)
	a, err := scanAccess(row, v)
	if err != nil {
		return Access{}, err
	}
	if !a.CanRead && !a.CanWrite {
		return Access{}, fmt.Errorf("intel: collection %s: %w", id, ErrForbidden)
	}
	return a, nil
}

// collection returns a collection regardless of who asks.
func (r *Repo) collection(ctx context.Context, id string) (Collection, error) {
	a, err := r.Collection(ctx, Viewer{Operator: true}, id)
	return a.Collection, err
}

// readable returns the collection if v may read it.
func (r *Repo) readable(ctx context.Context, v Viewer, id string) (Collection, error) {
	a, err := r.Collection(ctx, v, id)
	if err != nil {
		return Collection{}, err
	}
	if !a.CanRead {
		return Collection{}, fmt.Errorf("intel: collection %s is not readable by %q: %w", id, v.Member, ErrForbidden)
	}
	return a.Collection, nil
}

// writable returns the collection if v may write it.
func (r *Repo) writable(ctx context.Context, v Viewer, id string) (Collection, error) {
	a, err := r.Collection(ctx, v, id)
	if err != nil {
		return Collection{}, err
	}
	if !a.CanWrite {
		return Collection{}, fmt.Errorf("intel: collection %s is not writable by %q: %w", id, v.Member, ErrForbidden)
	}
	return a.Collection, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanAccess(s scanner, v Viewer) (Access, error) {
	var (
		a                     Access
		media                 string
		def, community, rd, w int
	)
	err := s.Scan(&a.ID, &a.Title, &a.Description, &a.Alias, &media, &def, &community, &rd, &w)
	if errors.Is(err, sql.ErrNoRows) {
		return Access{}, fmt.Errorf("intel: collection: %w", ErrNotFound)
	}
	if err != nil {
		return Access{}, fmt.Errorf("intel: collection: %w", err)
	}
	if media != "" {
		a.MediaTypes = strings.Split(media, ",")
	}
	if def >= 0 {
		l := tlp.Level(def)
		a.DefaultTLP = &l
	}
	a.CommunityRead = community != 0
	switch {
	case v.Operator:
		a.CanRead, a.CanWrite = true, true
	case v.Member != "":
		a.CanRead = rd != 0 || a.CommunityRead
		a.CanWrite = w != 0
	}
	return a, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
