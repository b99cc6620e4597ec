package iocfeed

import (
	"context"
	"fmt"
	"time"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
	"github.com/xsoc/xsoc/internal/respond"
)

// Source lists the active simple indicators a member may use, for the
// blocklist feeds. Visibility is the intel repository's: the member sees
// what its rights and TLP allow.
type Source struct {
	Repo *intel.Repo
	// Relations returns the members a member is a client of.
	Relations func(member string) []string
	Now       func() time.Time
}

// maxFeedIndicators bounds a feed; firewalls choke on larger lists anyway.
const maxFeedIndicators = 200_000

// ActiveIndicators implements respond.IndicatorSource.
func (s Source) ActiveIndicators(ctx context.Context, member string) ([]respond.Indicator, error) {
	v := intel.Viewer{Member: member}
	if s.Relations != nil {
		v.ClientOf = s.Relations(member)
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	colls, err := s.Repo.Collections(ctx, v)
	if err != nil {
		return nil, err
	}
	var out []respond.Indicator
	for _, c := range colls {
		if !c.CanRead {
			continue
		}
		f := intel.Filter{Types: []string{"indicator"}, Versions: []string{"last"}, Limit: s.Repo.MaxPageSize()}
		for {
			page, err := s.Repo.Objects(ctx, v, c.ID, f)
			if err != nil {
				return nil, fmt.Errorf("collection %s: %w", c.ID, err)
			}
			for _, o := range page.Objects {
				out = appendActive(out, o, now)
			}
			if !page.More || len(out) >= maxFeedIndicators {
				break
			}
			f.Next = page.Next
		}
	}
	return out, nil
}

// appendActive appends the observables of a simple, valid, unrevoked
// indicator.
func appendActive(out []respond.Indicator, o intel.Object, now time.Time) []respond.Indicator {
	ind, obs, shape, err := Read(o.Raw)
	if err != nil || shape != Simple {
		return out
	}
	if !ind.ValidUntil.IsZero() && !ind.ValidUntil.After(now) || ind.ValidFrom.After(now) {
		return out
	}
	for _, ob := range obs {
		typ := blockType(ob.Type)
		if typ == "" {
			continue // e-mail addresses have no firewall or resolver form
		}
		out = append(out, respond.Indicator{
			Type: typ, Value: ob.Value, Expires: ind.ValidUntil.Time, TLP: o.TLP,
			Source: o.Collection, ID: o.ID, Created: ind.Created.Time,
		})
	}
	return out
}

// blockType maps a simple pattern's observable type to a blocklist type.
func blockType(t string) string {
	switch t {
	case pattern.TypeIPv4, pattern.TypeIPv6:
		return respond.TypeIP
	case pattern.TypeDomain:
		return respond.TypeDomain
	case pattern.TypeURL:
		return respond.TypeURL
	case pattern.TypeFileMD5, pattern.TypeFileSHA1, pattern.TypeFileSHA256:
		return respond.TypeHash
	}
	return ""
}
