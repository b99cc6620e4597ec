package tlp

// Relation says how a would-be recipient stands to the originator of a
// marked object. It is all MayReceive needs to know, so the one rule of who
// sees what lives here and every other package asks it.
type Relation uint8

// The relations, from closest to farthest.
const (
	// Self: the recipient is the originating organisation itself.
	Self Relation = iota
	// Named: the originator listed the recipient explicitly (TLP:RED
	// sharing, or a named-recipient list on any level).
	Named
	// Client: the recipient is a client (constituent) of the originator,
	// such as a company served by a national SOC.
	Client
	// Community: the recipient is another member of this platform.
	Community
	// Public: the recipient is outside the platform (a public feed, an
	// anonymous TAXII reader).
	Public
)

var relationNames = [...]string{"self", "named", "client", "community", "public"}

// String returns the lower-case relation name.
func (r Relation) String() string {
	if int(r) < len(relationNames) {
		return relationNames[r]
	}
	return "unknown"
}

// MayReceive reports whether a recipient standing in relation r to the
// originator may receive an object marked l:
//
//	CLEAR         anyone
//	GREEN         the platform's community (and closer), not the public
//	AMBER         the originator, its clients (need-to-know) and named recipients
//	AMBER+STRICT  the originator's own organisation and named recipients
//	RED           the originator and named recipients only
//
// A recipient the originator named explicitly may receive any level: naming
// is the originator's own decision to share, and TLP then binds what the
// recipient may do further.
func MayReceive(l Level, r Relation) bool {
	switch r {
	case Self, Named:
		return true
	case Client:
		return l <= Amber
	case Community:
		return l <= Green
	case Public:
		return l == Clear
	}
	return false
}

// Recipient describes a member asking to see an object owned by another.
type Recipient struct {
	// Member is the recipient's member id.
	Member string
	// ClientOf lists the members the recipient is a client of.
	ClientOf []string
}

// RelationTo returns how rec stands to the object's owner, given the
// object's named recipients. Members are all in the platform's community;
// callers serving outsiders use Public directly.
func (rec Recipient) RelationTo(owner string, named []string) Relation {
	switch {
	case rec.Member == owner:
		return Self
	case contains(named, rec.Member):
		return Named
	case contains(rec.ClientOf, owner):
		return Client
	}
	return Community
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
