package format

import (
	"fmt"

	"github.com/xsoc/xsoc/internal/event"
)

// parseECS maps a generic JSON object: every leaf becomes the field named
// by its dotted path, as event.Event.SetObject does. @timestamp fills the
// event's time and event.id its ID. The fields the caller owns
// (observer.organization.id, event.ingested) are dropped so that a sender
// cannot claim another member's events, and so is event.original, which the
// raw line (kept as the event's original) already contains.
func (p *Parser) parseECS(line []byte) error {
	if err := p.decodeJSON(line); err != nil {
		return err
	}
	return p.mapECS()
}

// mapECS maps the decoded leaves of an ECS record.
func (p *Parser) mapECS() error {
	b := &p.b
	for _, l := range p.leaves {
		path := p.paths[l.path.lo:l.path.hi]
		switch string(path) {
		case "":
			continue
		case event.FieldTimestamp:
			t, err := parseTimestamp(b.bytes(l.val))
			if err != nil {
				return fmt.Errorf("ecs: %s: %w", event.FieldTimestamp, err)
			}
			b.time = t
		case event.FieldID:
			b.id, b.hasID = l.val, !l.val.empty()
		case event.FieldMember, event.FieldIngested, event.FieldOriginal:
		default:
			b.dynamic(p.leafName("", nil, l), l.val)
		}
	}
	return nil
}
