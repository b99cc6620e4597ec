package respond

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// renderRPZ writes a response policy zone. Owner names are relative, so
// the zone loads under whatever name the DNS server gives it. Each domain
// gets two records, for itself and its subdomains; "CNAME ." is the RPZ
// action NXDOMAIN. Addresses and networks become rpz-ip triggers, which
// rewrite any answer that contains them. The serial is the generation time
// in Unix seconds, so it only grows.
func renderRPZ(member string, items []feedItem, now time.Time) []byte {
	var b strings.Builder
	b.WriteString("$TTL 300\n")
	fmt.Fprintf(&b, "@ IN SOA localhost. hostmaster.localhost. ( %d 3600 600 86400 300 )\n", uint32(now.Unix()))
	b.WriteString("@ IN NS localhost.\n")
	fmt.Fprintf(&b, "; xsoc blocklist for %s, %d entries\n", metaValue(member), len(items))
	for _, it := range items {
		switch it.Type {
		case TypeDomain:
			fmt.Fprintf(&b, "%s CNAME .\n*.%s CNAME .\n", it.Value, it.Value)
		case TypeIP, TypeCIDR:
			if name, ok := rpzIPName(it.Value); ok {
				fmt.Fprintf(&b, "%s CNAME .\n", name)
			}
		}
	}
	return []byte(b.String())
}

// rpzIPName writes an address or network as an rpz-ip owner name: the
// prefix length, then the address's parts in reverse (IPv4 octets, IPv6
// 16-bit groups with "zz" for the longest run of zero groups).
func rpzIPName(v string) (string, bool) {
	var p netip.Prefix
	var err error
	if strings.Contains(v, "/") {
		p, err = netip.ParsePrefix(v)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(v)
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if err != nil || !p.IsValid() {
		return "", false
	}
	a := p.Addr()
	var labels []string
	if a.Is4() {
		for _, o := range a.As4() {
			labels = append(labels, strconv.Itoa(int(o)))
		}
	} else {
		labels = ipv6Groups(a.As16())
	}
	slices.Reverse(labels)
	return strconv.Itoa(p.Bits()) + "." + strings.Join(labels, ".") + ".rpz-ip", true
}

func ipv6Groups(b [16]byte) []string {
	var g [8]uint16
	for i := range g {
		g[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	// The longest run of two or more zero groups (the first on a tie)
	// becomes "zz", as "::" does in text form.
	bestAt, bestLen := -1, 1
	for i := 0; i < 8; {
		if g[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && g[j] == 0 {
			j++
		}
		if j-i > bestLen {
			bestAt, bestLen = i, j-i
		}
		i = j
	}
	var out []string
	for i := 0; i < 8; i++ {
		if i == bestAt {
			out = append(out, "zz")
			i += bestLen - 1
			continue
		}
		out = append(out, strconv.FormatUint(uint64(g[i]), 16))
	}
	return out
}
