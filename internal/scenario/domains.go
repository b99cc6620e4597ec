package scenario

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// popularDomains is the built-in head of the benign domain distribution,
// most visited first, as seen from a European corporate network. Ranks
// matter: the browser picks names with a Zipf law over this order.
var popularDomains = []string{
	"www.google.com", "outlook.office365.com", "login.microsoftonline.com", "teams.microsoft.com",
	"www.bing.com", "www.gstatic.com", "fonts.googleapis.com", "graph.microsoft.com",
	"clients4.google.com", "update.googleapis.com", "www.youtube.com", "i.ytimg.com",
	"accounts.google.com", "settings-win.data.microsoft.com", "v10.events.data.microsoft.com", "edge.microsoft.com",
	"config.edge.skype.com", "ecs.office.com", "officeclient.microsoft.com", "www.linkedin.com",
	"static.licdn.com", "en.wikipedia.org", "upload.wikimedia.org", "github.com",
	"avatars.githubusercontent.com", "stackoverflow.com", "cdn.jsdelivr.net", "cdnjs.cloudflare.com",
	"ajax.googleapis.com", "www.googletagmanager.com", "www.google-analytics.com", "connect.facebook.net",
	"www.facebook.com", "zoom.us", "web.whatsapp.com", "docs.google.com",
	"drive.google.com", "www.dropbox.com", "www.adobe.com", "acroipm2.adobe.com",
	"www.bbc.com", "www.amazon.de", "s3.eu-central-1.amazonaws.com", "d2c8v52ll5s99u.cloudfront.net",
	"rr3---sn-4g5e6nsz.googlevideo.com", "www.ecb.europa.eu", "europa.eu", "www.enisa.europa.eu",
	"x.com", "abs.twimg.com", "www.reddit.com", "www.booking.com",
	"slack.com", "app.slack.com", "www.salesforce.com", "login.salesforce.com",
	"www.deepl.com", "api.deepl.com", "translate.google.com", "maps.googleapis.com",
	"www.office.com", "res.cdn.office.net", "aadcdn.msftauth.net", "statics.teams.cdn.office.net",
	"www.msn.com", "assets.msn.com", "c.bing.com", "th.bing.com",
	"www.apple.com", "www.instagram.com", "www.weather.com", "www.xing.com",
	"www.wetransfer.com", "www.atlassian.com", "id.atlassian.com", "www.zendesk.com",
}

// localDomains are national sites each locale's staff visit.
var localDomains = map[string][]string{
	"de": {"www.spiegel.de", "www.tagesschau.de", "www.heise.de", "www.faz.net", "www.bundesnetzagentur.de", "www.bsi.bund.de", "www.dwd.de", "www.bahn.de"},
	"fr": {"www.lemonde.fr", "www.lefigaro.fr", "www.service-public.fr", "www.cert.ssi.gouv.fr", "www.legifrance.gouv.fr", "www.sncf-connect.com", "www.francetvinfo.fr", "www.meteofrance.com"},
	"sv": {"www.svt.se", "www.dn.se", "www.aftonbladet.se", "www.1177.se", "www.fass.se", "www.smhi.se", "www.msb.se", "www.sj.se"},
	"nl": {"nos.nl", "www.nu.nl", "www.rijksoverheid.nl", "www.dnb.nl", "www.ncsc.nl", "www.ns.nl", "www.knmi.nl", "www.telegraaf.nl"},
	"en": {"www.bbc.co.uk", "www.theguardian.com", "www.gov.uk", "www.ncsc.gov.uk", "www.nhs.uk", "www.ft.com", "www.metoffice.gov.uk", "www.nationalrail.co.uk"},
}

// provider address blocks, by the suffix of the names they serve.
var providerBlocks = []struct {
	suffixes []string
	block    netip.Prefix
}{
	{[]string{"google.com", "googleapis.com", "gstatic.com", "youtube.com", "ytimg.com", "googlevideo.com", "googletagmanager.com", "google-analytics.com"}, netip.MustParsePrefix("142.250.0.0/15")},
	{[]string{"microsoft.com", "office365.com", "office.com", "microsoftonline.com", "bing.com", "skype.com", "live.com", "office.net", "msftauth.net", "sharepoint.com", "msn.com", "windowsupdate.com", "onedrive.com"}, netip.MustParsePrefix("13.107.0.0/16")},
	{[]string{"cloudfront.net", "amazonaws.com", "amazon.de"}, netip.MustParsePrefix("18.160.0.0/15")},
	{[]string{"facebook.com", "facebook.net", "instagram.com", "whatsapp.com"}, netip.MustParsePrefix("157.240.0.0/16")},
	{[]string{"apple.com"}, netip.MustParsePrefix("17.253.0.0/16")},
	{[]string{"wikipedia.org", "wikimedia.org"}, netip.MustParsePrefix("185.15.58.0/23")},
	{[]string{"github.com", "githubusercontent.com"}, netip.MustParsePrefix("140.82.112.0/20")},
}

// genericBlocks host every other name: CDNs and clouds.
var genericBlocks = []netip.Prefix{
	netip.MustParsePrefix("104.16.0.0/13"),  // Cloudflare
	netip.MustParsePrefix("151.101.0.0/16"), // Fastly
	netip.MustParsePrefix("23.32.0.0/11"),   // Akamai
	netip.MustParsePrefix("34.64.0.0/10"),   // Google Cloud
	netip.MustParsePrefix("52.0.0.0/11"),    // AWS
	netip.MustParsePrefix("20.33.0.0/16"),   // Azure
}

// domainAddr returns the stable public address a name resolves to.
func domainAddr(name string) netip.Addr {
	h := strHash(name)
	for _, p := range providerBlocks {
		for _, s := range p.suffixes {
			if name == s || strings.HasSuffix(name, "."+s) {
				return addrIn(p.block, h)
			}
		}
	}
	return addrIn(genericBlocks[h%uint64(len(genericBlocks))], h>>8)
}

// domainAnswers returns one or two A records for a benign name.
func domainAnswers(name string) []netip.Addr {
	a := domainAddr(name)
	if strHash(name)%3 == 0 {
		return []netip.Addr{a, a.Next()}
	}
	return []netip.Addr{a}
}

// LoadWarninglist reads the host names of a MISP warning list (for
// example misp-warninglists' tranco10k or cisco_top20k list.json) for use
// as Config.BenignDomains. Entries that are not plain host names (empty,
// wildcards, leading dots or dashes) are skipped.
func LoadWarninglist(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: reading warning list: %w", err)
	}
	out, err := ParseWarninglist(data)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return out, nil
}

// ParseWarninglist extracts the host names of a MISP warning list
// document; see LoadWarninglist.
func ParseWarninglist(data []byte) ([]string, error) {
	var wl struct {
		Name string   `json:"name"`
		Type string   `json:"type"`
		List []string `json:"list"`
	}
	if err := json.Unmarshal(data, &wl); err != nil {
		return nil, fmt.Errorf("scenario: warning list: %w", err)
	}
	out := make([]string, 0, len(wl.List))
	for _, d := range wl.List {
		if isHostName(d) {
			out = append(out, strings.ToLower(d))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("scenario: warning list holds no host names")
	}
	return out, nil
}

// isHostName accepts names made of LDH labels with at least one dot.
func isHostName(s string) bool {
	if len(s) < 4 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// domainPool is the popularity-ranked list of benign names with a Zipf
// sampler over it.
type domainPool struct {
	names []string
}

// newDomainPool puts the built-in head first and the caller's list, in a
// seeded shuffle (ranking files are often alphabetical), behind it.
func newDomainPool(seed uint64, extra []string) *domainPool {
	names := append([]string(nil), popularDomains...)
	if len(extra) > 0 {
		tail := append([]string(nil), extra...)
		r := newRand(seed, strHash("domains"))
		r.Shuffle(len(tail), func(i, j int) { tail[i], tail[j] = tail[j], tail[i] })
		names = append(names, tail...)
	}
	return &domainPool{names: names}
}

// pick draws a name with probability ~ 1/rank^1.1.
func (p *domainPool) pick(r *rand.Rand) string {
	// A fresh Zipf per call is cheap: it only precomputes a few floats.
	z := rand.NewZipf(r, 1.1, 2, uint64(len(p.names)-1))
	return p.names[z.Uint64()]
}

// tlsProfile is a TLS client as its JA3 fingerprint shows it.
type tlsProfile struct {
	name    string
	ja3Str  string
	shuffle bool // Chrome and Edge permute their extensions per connection
}

var (
	chromiumTLS = tlsProfile{"chromium",
		"771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,0-23-65281-10-11-35-16-5-13-18-51-45-43-27-17513-21,29-23-24,0", true}
	schannelTLS = tlsProfile{"schannel",
		"771,49196-49195-49200-49199-49188-49187-49192-49191-49162-49161-49172-49171-157-156-61-60-53-47-10,0-10-11-13-35-23-65281,29-23-24,0", false}
	goTLS = tlsProfile{"go",
		"771,49195-49199-49196-49200-52393-52392-49161-49171-49162-49172-156-157-47-53-49170-10-4865-4866-4867,0-5-10-11-13-65281-23-16-18-43-51,29-23-24-25,0", false}
	rcloneTLS = tlsProfile{"rclone",
		"771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49161-49171-49162-49172-156-157-47-53,0-5-10-11-13-65281-23-16-18-43-51,29-23-24-25,0", false}
)

// ja3 returns the JA3 string and its MD5 for one connection.
func (p tlsProfile) ja3(r *rand.Rand) (str, hash string) {
	str = p.ja3Str
	if p.shuffle {
		parts := strings.Split(str, ",")
		ext := strings.Split(parts[2], "-")
		r.Shuffle(len(ext), func(i, j int) { ext[i], ext[j] = ext[j], ext[i] })
		parts[2] = strings.Join(ext, "-")
		str = strings.Join(parts, ",")
	}
	sum := md5.Sum([]byte(str))
	return str, hex.EncodeToString(sum[:])
}

// ja3Hash is the fixed JA3 hash of a non-shuffling profile.
func (p tlsProfile) ja3Hash() string {
	sum := md5.Sum([]byte(p.ja3Str))
	return hex.EncodeToString(sum[:])
}

// newTLS describes a TLS session of profile p to name.
func newTLS(r *rand.Rand, p tlsProfile, name string, v13 bool) *tlsInfo {
	s := &tlsInfo{version: "TLSv12", cipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", subject: "CN=" + name, issuer: issuerFor(name)}
	if v13 {
		s.version, s.cipher = "TLSv13", "TLS_AES_128_GCM_SHA256"
	}
	s.ja3Str, s.ja3 = p.ja3(r)
	sum := md5.Sum([]byte(ja3sString(s)))
	s.ja3s = hex.EncodeToString(sum[:])
	return s
}

// issuerFor picks a realistic certificate issuer for a name.
func issuerFor(name string) string {
	switch a := domainAddr(name); {
	case netip.MustParsePrefix("13.107.0.0/16").Contains(a):
		return "C=US, O=Microsoft Corporation, CN=Microsoft Azure RSA TLS Issuing CA 03"
	case netip.MustParsePrefix("142.250.0.0/15").Contains(a):
		return "C=US, O=Google Trust Services, CN=WR2"
	}
	switch strHash(name) % 4 {
	case 0:
		return "C=US, O=DigiCert Inc, CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1"
	case 1:
		return "C=US, O=Google Trust Services, CN=WR2"
	case 2:
		return "C=US, O=Let's Encrypt, CN=R11"
	}
	return "C=US, O=Microsoft Corporation, CN=Microsoft Azure RSA TLS Issuing CA 03"
}

// ephemeralPort returns a Windows dynamic client port.
func ephemeralPort(r *rand.Rand) uint16 {
	return uint16(49152 + r.IntN(16383))
}

// itoa is strconv.Itoa for brevity in command-line templates.
func itoa(n int) string { return strconv.Itoa(n) }
