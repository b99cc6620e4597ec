package misp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
	"github.com/xsoc/xsoc/internal/tlp"
)

// AttributePattern returns the STIX pattern for a MISP attribute type and
// value, or an error saying why the attribute has no pattern. Supported:
//
//	ip-src, ip-dst (address or CIDR)     [ipv4-addr:value = ...] / ipv6-addr
//	ip-src|port, ip-dst|port             network-traffic src/dst_ref.value AND src/dst_port
//	hostname|port                        network-traffic:dst_ref.value AND dst_port
//	domain, hostname                     [domain-name:value = ...]
//	domain|ip                            domain-name:value AND resolves_to_refs[*].value
//	url, uri                             [url:value = ...]
//	md5, sha1, sha224, sha256, sha384, sha512, ssdeep, tlsh    [file:hashes.'...' = ...]
//	filename|<hash>                      the hash alone (the name is descriptive)
//	filename                             [file:name = ...]
//	email, email-src, email-dst          [email-addr:value = ...]
//	email-subject                        [email-message:subject = ...]
//	regkey, regkey|value                 windows-registry-key:key (AND values[*].data)
//	mutex                                [mutex:name = ...]
//	user-agent                           network-traffic HTTP request User-Agent header
//	AS                                   [autonomous-system:number = ...]
//	mac-address                          [mac-addr:value = ...]
//	x509-fingerprint-md5/sha1/sha256     [x509-certificate:hashes.'...' = ...]
func AttributePattern(typ, value string) (string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return "", fmt.Errorf("empty value")
	}
	q := pattern.Quote
	switch typ {
	case "ip-src", "ip-dst":
		return ipPattern(value)
	case "ip-src|port", "ip-dst|port", "hostname|port":
		host, port, err := splitPort(value)
		if err != nil {
			return "", err
		}
		dir := "dst"
		if typ == "ip-src|port" {
			dir = "src"
		}
		if typ != "hostname|port" {
			if _, err := ipPattern(host); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("[network-traffic:%s_ref.value = %s AND network-traffic:%s_port = %d]", dir, q(host), dir, port), nil
	case "domain", "hostname":
		return "[domain-name:value = " + q(value) + "]", nil
	case "domain|ip":
		domain, ip, ok := strings.Cut(value, "|")
		if !ok {
			return "", fmt.Errorf("domain|ip value %q lacks '|'", value)
		}
		if _, err := netip.ParseAddr(ip); err != nil {
			return "", fmt.Errorf("%q is not an IP address", ip)
		}
		return fmt.Sprintf("[domain-name:value = %s AND domain-name:resolves_to_refs[*].value = %s]", q(domain), q(ip)), nil
	case "url", "uri":
		return "[url:value = " + q(value) + "]", nil
	case "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ssdeep", "tlsh":
		return hashPattern(typ, value)
	case "filename|md5", "filename|sha1", "filename|sha224", "filename|sha256", "filename|sha384", "filename|sha512", "filename|ssdeep", "filename|tlsh":
		_, hash, ok := strings.Cut(value, "|")
		if !ok {
			return "", fmt.Errorf("%s value %q lacks '|'", typ, value)
		}
		return hashPattern(strings.TrimPrefix(typ, "filename|"), hash)
	case "filename":
		return "[file:name = " + q(value) + "]", nil
	case "email", "email-src", "email-dst":
		if !strings.Contains(value, "@") {
			return "", fmt.Errorf("%q is not an e-mail address", value)
		}
		return "[email-addr:value = " + q(value) + "]", nil
	case "email-subject":
		return "[email-message:subject = " + q(value) + "]", nil
	case "regkey":
		return "[windows-registry-key:key = " + q(value) + "]", nil
	case "regkey|value":
		key, data, _ := strings.Cut(value, "|")
		return fmt.Sprintf("[windows-registry-key:key = %s AND windows-registry-key:values[*].data = %s]", q(key), q(data)), nil
	case "mutex":
		return "[mutex:name = " + q(value) + "]", nil
	case "user-agent":
		return "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = " + q(value) + "]", nil
	case "AS":
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(value), "AS"), 10, 32)
		if err != nil {
			return "", fmt.Errorf("%q is not an AS number", value)
		}
		return fmt.Sprintf("[autonomous-system:number = %d]", n), nil
	case "mac-address":
		return "[mac-addr:value = " + q(strings.ToLower(value)) + "]", nil
	case "x509-fingerprint-md5", "x509-fingerprint-sha1", "x509-fingerprint-sha256":
		algo := pattern.HashName(strings.TrimPrefix(typ, "x509-fingerprint-"))
		return fmt.Sprintf("[x509-certificate:hashes.%s = %s]", q(algo), q(strings.ToLower(value))), nil
	case "link":
		return "", fmt.Errorf("type link is a reference to a report, not an indicator: %w", errNoPattern)
	}
	return "", fmt.Errorf("type %s: %w", typ, errNoPattern)
}

// errNoPattern says an attribute type has no STIX pattern: the importer
// keeps such attributes as context.
var errNoPattern = errors.New("no STIX pattern mapping")

func ipPattern(value string) (string, error) {
	addr := value
	if p, err := netip.ParsePrefix(value); err == nil {
		addr = p.Addr().String()
	} else if _, err := netip.ParseAddr(value); err != nil {
		return "", fmt.Errorf("%q is not an IP address or network", value)
	}
	a, _ := netip.ParseAddr(addr)
	typ := "ipv4-addr"
	if a.Unmap().Is6() {
		typ = "ipv6-addr"
	}
	return "[" + typ + ":value = " + pattern.Quote(value) + "]", nil
}

// splitPort splits "host|port" (MISP's separator; the host may be IPv6).
func splitPort(value string) (string, int, error) {
	i := strings.LastIndexByte(value, '|')
	if i < 0 {
		return "", 0, fmt.Errorf("%q lacks '|port'", value)
	}
	port, err := strconv.Atoi(value[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q is not a port", value[i+1:])
	}
	return value[:i], port, nil
}

// hashLengths are the hex lengths of the fixed-size digests.
var hashLengths = map[string]int{"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}

func hashPattern(algo, value string) (string, error) {
	value = strings.TrimSpace(value)
	if n, fixed := hashLengths[algo]; fixed {
		if len(value) != n || strings.Trim(strings.ToLower(value), "0123456789abcdef") != "" {
			return "", fmt.Errorf("%q is not a %s digest", value, algo)
		}
		value = strings.ToLower(value)
	}
	return "[file:hashes." + pattern.Quote(pattern.HashName(algo)) + " = " + pattern.Quote(value) + "]", nil
}

// TagTLP returns the TLP level a MISP tag stands for: "tlp:clear",
// "tlp:white" (TLP 1.0 WHITE = CLEAR), "tlp:green", "tlp:amber",
// "tlp:amber+strict", "tlp:red", in any case. Other tags of the tlp
// taxonomy (tlp:ex:chr, tlp:unclear) are not levels.
func TagTLP(tag string) (tlp.Level, bool) {
	name, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(tag)), "tlp:")
	if !ok || strings.Contains(name, ":") || name == "unclear" {
		return 0, false
	}
	l, err := tlp.Parse(name)
	return l, err == nil
}

// tagsTLP returns the most restrictive TLP level among tags.
func tagsTLP(tags []Tag) (level tlp.Level, ok bool) {
	for _, t := range tags {
		if l, found := TagTLP(t.Name); found {
			if !ok || l > level {
				level = l
			}
			ok = true
		}
	}
	return level, ok
}

// The MISP distribution levels.
const (
	DistOrganisation = 0 // your organisation only
	DistCommunity    = 1 // this community only
	DistConnected    = 2 // connected communities
	DistAll          = 3 // all communities
	DistSharingGroup = 4 // a named sharing group
	DistInherit      = 5 // inherit the event's (attributes and objects)
)

// DistributionTLP maps a MISP distribution level to the TLP level xsoc
// treats it as, when no TLP tag says otherwise:
//
//	0 your organisation only   AMBER+STRICT  stays within the receiving member
//	1 this community only      AMBER         the sender's MISP community is not
//	                                         xsoc's community: the member and its
//	                                         clients only
//	2 connected communities    GREEN         meant to travel between communities
//	3 all communities          GREEN         still MISP communities, not the public;
//	                                         only an explicit tlp:clear makes it CLEAR
//	4 sharing group            AMBER         named recipients xsoc cannot map onto
//	                                         its members
//
// 5 (inherit) and unknown values have no level of their own.
func DistributionTLP(d int) (tlp.Level, bool) {
	switch d {
	case DistOrganisation:
		return tlp.AmberStrict, true
	case DistCommunity, DistSharingGroup:
		return tlp.Amber, true
	case DistConnected, DistAll:
		return tlp.Green, true
	}
	return 0, false
}

// tlpDistribution is the reverse mapping used on export.
func tlpDistribution(l tlp.Level) int {
	switch l {
	case tlp.Clear:
		return DistAll
	case tlp.Green:
		return DistConnected
	case tlp.Amber:
		return DistCommunity
	}
	return DistOrganisation
}

// tlpTag is the MISP tag for a level.
func tlpTag(l tlp.Level) string {
	return "tlp:" + strings.ToLower(strings.TrimPrefix(l.String(), "TLP:"))
}
