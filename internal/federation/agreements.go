package federation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/store"
)

// Partner is one side of an information-sharing agreement: the members
// that may receive a member's TLP:AMBER material. Kind is "member" (a
// member of any node, as the hub names it: "<node>--<member>"),
// "country" (ISO 3166-1 alpha-2) or "sector" (NIS2 sector).
type Partner struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// String renders a partner as "country SE".
func (p Partner) String() string { return p.Kind + " " + p.Value }

// Agreement is an information-sharing agreement of a member of this
// node: its TLP:AMBER warnings reach the members Partner names.
type Agreement struct {
	Member  string    `json:"member"`
	Partner Partner   `json:"partner"`
	Created time.Time `json:"created"`
}

// ErrBadAgreement: an agreement that cannot be recorded.
var ErrBadAgreement = errors.New("federation: agreement not valid")

// ErrNoAgreement: removing an agreement that is not recorded.
var ErrNoAgreement = errors.New("federation: no such agreement")

// ParsePartner reads "member:<node>--<member>", "country:SE" or
// "sector:health".
func ParsePartner(s string) (Partner, error) {
	kind, value, ok := strings.Cut(strings.TrimSpace(s), ":")
	p := Partner{Kind: strings.ToLower(kind), Value: strings.TrimSpace(value)}
	if !ok {
		return p, fmt.Errorf("%w: partner %q: want member:NODE--MEMBER, country:CC or sector:SECTOR", ErrBadAgreement, s)
	}
	return p, p.check()
}

func (p *Partner) check() error {
	switch p.Kind {
	case "member":
		node, m, ok := strings.Cut(p.Value, "--")
		if !ok || ValidNodeName(node) != nil || m == "" || strings.ContainsAny(m, ". \t*>") {
			return fmt.Errorf("%w: partner member %q: want <node>--<member>", ErrBadAgreement, p.Value)
		}
	case "country":
		p.Value = strings.ToUpper(p.Value)
		if !slices.Contains(member.EUCountries, p.Value) {
			return fmt.Errorf("%w: %q is no EU member state", ErrBadAgreement, p.Value)
		}
	case "sector":
		p.Value = strings.ToLower(p.Value)
		if !slices.Contains(member.Sectors, p.Value) {
			return fmt.Errorf("%w: %q is no NIS2 sector (%s)", ErrBadAgreement, p.Value, strings.Join(member.Sectors, ", "))
		}
	default:
		return fmt.Errorf("%w: partner kind %q: want member, country or sector", ErrBadAgreement, p.Kind)
	}
	return nil
}

// names reports whether p names member m of node.
func (p Partner) names(node string, m DirMember) bool {
	switch p.Kind {
	case "member":
		return p.Value == RemoteMemberID(node, m.ID)
	case "country":
		return p.Value == m.Country
	case "sector":
		return p.Value == m.Sector
	}
	return false
}

// Agreements keeps a member node's information-sharing agreements in its
// store.
type Agreements struct {
	DB *store.DB
	// Members checks that the member exists on this node.
	Members *member.Registry
}

// Add records an agreement; recording it again changes nothing.
func (s *Agreements) Add(ctx context.Context, memberID string, p Partner) (Agreement, error) {
	if err := p.check(); err != nil {
		return Agreement{}, err
	}
	if _, err := s.Members.Get(ctx, memberID); err != nil {
		return Agreement{}, fmt.Errorf("%w: member %s: %v", ErrBadAgreement, memberID, err)
	}
	a := Agreement{Member: memberID, Partner: p, Created: time.Now().UTC()}
	_, err := s.DB.Exec(ctx, `INSERT INTO federation_agreements (member, kind, partner, created) VALUES (?, ?, ?, ?)
		ON CONFLICT (member, kind, partner) DO NOTHING`, a.Member, p.Kind, p.Value, store.Nanos(a.Created))
	return a, err
}

// Remove deletes an agreement.
func (s *Agreements) Remove(ctx context.Context, memberID string, p Partner) error {
	if err := p.check(); err != nil {
		return err
	}
	res, err := s.DB.Exec(ctx, `DELETE FROM federation_agreements WHERE member = ? AND kind = ? AND partner = ?`, memberID, p.Kind, p.Value)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoAgreement
	}
	return nil
}

// List returns the agreements, of one member or (memberID "") all.
func (s *Agreements) List(ctx context.Context, memberID string) ([]Agreement, error) {
	rows, err := s.DB.Query(ctx, `SELECT member, kind, partner, created FROM federation_agreements
		WHERE ? = '' OR member = ? ORDER BY member, kind, partner`, memberID, memberID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Agreement{}
	for rows.Next() {
		var a Agreement
		var created int64
		if err := rows.Scan(&a.Member, &a.Partner.Kind, &a.Partner.Value, &created); err != nil {
			return nil, err
		}
		a.Created = store.Time(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Directory is what a member node tells the hub about itself: its
// members with their handles, countries and sectors, and their
// agreements. The hub resolves agreements against the directories of
// all nodes. It is sent to the hub only; warnings carry handles.
type Directory struct {
	Node       string      `json:"node"`
	Sent       time.Time   `json:"sent"`
	Members    []DirMember `json:"members"`
	Agreements []Agreement `json:"agreements,omitempty"`
}

// DirMember is a member in a Directory.
type DirMember struct {
	ID      string `json:"id"`
	Handle  string `json:"handle"`
	Country string `json:"country"`
	Sector  string `json:"sector,omitempty"`
}

// Subject is the subject a directory is published on.
func (d *Directory) Subject() string { return DirectorySubject + "." + d.Node }

// same reports whether two directories say the same (Sent aside).
func (d *Directory) same(o *Directory) bool {
	if d.Node != o.Node || !slices.Equal(d.Members, o.Members) || len(d.Agreements) != len(o.Agreements) {
		return false
	}
	for i := range d.Agreements {
		if d.Agreements[i].Member != o.Agreements[i].Member || d.Agreements[i].Partner != o.Agreements[i].Partner {
			return false
		}
	}
	return true
}
