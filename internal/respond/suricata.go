package respond

import (
	"fmt"
	"hash/fnv"
	"net/url"
	"strings"
	"time"
)

// Suricata rule ids come from a stable hash of what a rule matches, so a
// rule keeps its sid from one download to the next and alerts can be
// followed across feed updates. They lie in
// [sidBase, sidBase+sidSpace), clear of the ranges public rule sets use.
const (
	sidBase  = 1_000_000_000
	sidSpace = 100_000_000
)

// sidAllocator hands out sids, moving past a hash collision to the next
// free id; items are rendered in sorted order, so the outcome is stable.
type sidAllocator map[uint32]bool

func (s sidAllocator) sid(key string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	off := h.Sum32() % sidSpace
	for s[sidBase+off] {
		off = (off + 1) % sidSpace
	}
	s[sidBase+off] = true
	return sidBase + off
}

func renderSuricata(member string, items []feedItem, now time.Time) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# xsoc blocklist for %s, %d entries, generated %s\n", metaValue(member), len(items),
		now.UTC().Format(time.RFC3339))
	sids := make(sidAllocator, len(items))
	for _, it := range items {
		switch it.Type {
		case TypeIP, TypeCIDR:
			rule(&b, sids, it, "ip", "", fmt.Sprintf("alert ip any any <> %s any", it.Value), "")
		case TypeDomain:
			c := contentOf("." + it.Value)
			rule(&b, sids, it, "dns", "DNS query", "alert dns any any -> any any",
				"dns.query; dotprefix; content:\""+c+"\"; nocase; endswith;")
			rule(&b, sids, it, "tls", "TLS SNI", "alert tls any any -> any any",
				"tls.sni; dotprefix; content:\""+c+"\"; nocase; endswith;")
		case TypeURL:
			u, err := url.Parse(it.Value)
			if err != nil {
				continue // normalised values always parse
			}
			// http.host is normalised to lower case and holds no port.
			opts := "flow:established,to_server; http.host; dotprefix; content:\"" +
				contentOf("."+u.Hostname()) + "\"; endswith;"
			if uri := u.RequestURI(); uri != "/" {
				opts += " http.uri; content:\"" + contentOf(uri) + "\"; startswith;"
			}
			rule(&b, sids, it, "http", "HTTP", "alert http any any -> any any", opts)
		}
	}
	return []byte(b.String())
}

// rule writes one rule: header, message, the matching options, then sid,
// rev and metadata.
func rule(b *strings.Builder, sids sidAllocator, it feedItem, proto, what, header, opts string) {
	msg := "xsoc blocklist " + it.Type + " " + it.Value
	if what != "" {
		msg += " (" + what + ")"
	}
	b.WriteString(header)
	b.WriteString(" (msg:\"")
	b.WriteString(escapeMsg(msg))
	b.WriteString("\"; ")
	if opts != "" {
		b.WriteString(opts)
		b.WriteByte(' ')
	}
	fmt.Fprintf(b, "sid:%d; rev:1; metadata:xsoc_type %s, xsoc_source %s", sids.sid(proto+"|"+it.Type+"|"+it.Value),
		it.Type, metaValue(it.source))
	if !it.Expires.IsZero() {
		fmt.Fprintf(b, ", expires %s", it.Expires.UTC().Format("2006_01_02"))
	}
	b.WriteString(";)\n")
}

// escapeMsg escapes the characters Suricata gives meaning to inside msg.
func escapeMsg(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', ';', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			if c >= ' ' && c < 0x7f {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// contentOf writes s as a content string: plain for characters that are
// safe there, |hex| for everything else (quotes, semicolons, backslashes,
// pipes, spaces and non-ASCII bytes).
func contentOf(s string) string {
	var b strings.Builder
	inHex := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		plain := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("._-/~?=&%+@!*,()$#'[]", c) >= 0
		switch {
		case plain && inHex:
			b.WriteByte('|')
			inHex = false
		case !plain && inHex:
			b.WriteByte(' ')
		case !plain:
			b.WriteByte('|')
			inHex = true
		}
		if plain {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%02X", c)
		}
	}
	if inHex {
		b.WriteByte('|')
	}
	return b.String()
}

// metaValue keeps a metadata value to characters that cannot end the
// key-value pair or the option.
func metaValue(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
