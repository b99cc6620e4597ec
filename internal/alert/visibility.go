package alert

import (
	"strings"

	"github.com/xsoc/xsoc/internal/tlp"
)

// Viewer is who is asking: a member organisation (with the members it is a
// client of) or a platform operator.
type Viewer struct {
	// Member is the viewer's member id.
	Member string
	// ClientOf lists the members the viewer is a client (constituent) of;
	// they may share TLP:AMBER with it.
	ClientOf []string
	// Operator marks a platform operator, who sees every alert.
	Operator bool
}

// MaySee reports whether v may see a. It is the one visibility rule for
// alerts; everything else (SQL listings, incidents, metrics) derives from
// it.
func (v Viewer) MaySee(a *Alert) bool { return v.mayReceive(a.Member, a.TLP) }

// MayReceive reports whether v may see an object owned by owner and marked
// l, by the same rule as MaySee.
func (v Viewer) MayReceive(owner string, l tlp.Level) bool { return v.mayReceive(owner, l) }

func (v Viewer) mayReceive(owner string, l tlp.Level) bool {
	if v.Operator {
		return true
	}
	if v.Member == "" {
		// An anonymous viewer is no member at all: it sees nothing here.
		return false
	}
	rel := tlp.Recipient{Member: v.Member, ClientOf: v.ClientOf}.RelationTo(owner, nil)
	return tlp.MayReceive(l, rel)
}

// Owns reports whether v may act on (acknowledge, close) objects of owner:
// operators on all, members on their own.
func (v Viewer) Owns(owner string) bool {
	return v.Operator || (v.Member != "" && v.Member == owner)
}

// Where renders MayReceive as an SQL condition over a member column and a
// TLP level column (stored as its integer value), with its arguments. The
// levels each relation may receive are read from tlp.MayReceive, so the
// condition cannot drift from the rule.
func (v Viewer) Where(memberCol, tlpCol string) (string, []any) {
	if v.Operator {
		return "1 = 1", nil
	}
	if v.Member == "" {
		return "1 = 0", nil
	}
	var b strings.Builder
	args := []any{v.Member}
	b.WriteString("(" + memberCol + " = ?")
	if clients := otherThan(v.ClientOf, v.Member); len(clients) > 0 {
		if levels := levelsFor(tlp.Client); len(levels) > 0 {
			b.WriteString(" OR (" + memberCol + " IN (" + placeholders(len(clients)) + ") AND " +
				tlpCol + " IN (" + placeholders(len(levels)) + "))")
			for _, c := range clients {
				args = append(args, c)
			}
			args = append(args, levels...)
		}
	}
	if levels := levelsFor(tlp.Community); len(levels) > 0 {
		b.WriteString(" OR " + tlpCol + " IN (" + placeholders(len(levels)) + ")")
		args = append(args, levels...)
	}
	b.WriteString(")")
	return b.String(), args
}

// levelsFor lists, as SQL arguments, the TLP levels relation r may receive.
func levelsFor(r tlp.Relation) []any {
	var out []any
	for l := tlp.Clear; l <= tlp.Red; l++ {
		if tlp.MayReceive(l, r) {
			out = append(out, int64(l))
		}
	}
	return out
}

func otherThan(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s && x != "" {
			out = append(out, x)
		}
	}
	return out
}

// placeholders returns "?, ?, ?" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// tlpLevel converts a stored level, clamping unknown values to the most
// restrictive so that a damaged row is shown to fewer, not more.
func tlpLevel(n int64) tlp.Level {
	if n < int64(tlp.Clear) || n > int64(tlp.Red) {
		return tlp.Red
	}
	return tlp.Level(n)
}
