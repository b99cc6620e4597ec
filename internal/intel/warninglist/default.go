package warninglist

// ipAttributes are the MISP attribute types a list of networks applies to.
var ipAttributes = []string{"ip-src", "ip-dst", "domain|ip", "ip-src|port", "ip-dst|port"}

// builtinLists are the networks that are never indicators of compromise on
// the Internet: private, loopback, link-local, multicast and documentation
// ranges, and the other special-purpose blocks of RFC 6890. They are never
// modified.
var builtinLists = []List{
	{Name: "Built-in: private networks (RFC 1918, RFC 4193)", Type: TypeCIDR, MatchingAttributes: ipAttributes,
		List: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}},
	{Name: "Built-in: loopback and unspecified addresses", Type: TypeCIDR, MatchingAttributes: ipAttributes,
		List: []string{"127.0.0.0/8", "0.0.0.0/8", "::1/128", "::/128"}},
	{Name: "Built-in: link-local addresses", Type: TypeCIDR, MatchingAttributes: ipAttributes,
		List: []string{"169.254.0.0/16", "fe80::/10"}},
	{Name: "Built-in: multicast and broadcast addresses", Type: TypeCIDR, MatchingAttributes: ipAttributes,
		List: []string{"224.0.0.0/4", "255.255.255.255/32", "ff00::/8"}},
	{Name: "Built-in: documentation ranges (RFC 5737, RFC 3849)", Type: TypeCIDR, MatchingAttributes: ipAttributes,
		List: []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"}},
	{Name: "Built-in: shared, benchmarking and reserved ranges (RFC 6598, RFC 2544, RFC 1112)", Type: TypeCIDR,
		MatchingAttributes: ipAttributes,
		List:               []string{"100.64.0.0/10", "198.18.0.0/15", "240.0.0.0/4"}},
}

// Default returns the built-in set: the special-purpose networks of
// builtinLists. It serves when no MISP warning-list folder is configured.
func Default() *Set {
	s, err := NewSet(builtinLists...)
	if err != nil {
		panic("warninglist: built-in lists do not compile: " + err.Error()) // cannot happen: fixed input, tested
	}
	return s
}
