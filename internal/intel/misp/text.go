package misp

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"

	"github.com/xsoc/xsoc/internal/intel/stix"
)

// maxLine bounds one line of a text feed.
const maxLine = 64 << 10

// ImportFreetext imports a freetext feed: one indicator per line, its type
// sniffed (see SniffType). Blank lines and lines starting with '#' or
// "//" are ignored; on other lines the first token (up to white space, ','
// or ';') is the value, so "198.51.100.7 # scanner" works. Defanged values
// (hxxp://, example[.]com) are refanged. Every indicator gets
// Options.DefaultTLP and valid_from Options.Now.
func ImportFreetext(r io.Reader, opts Options) (Result, error) {
	var res Result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") || strings.HasPrefix(text, "//") {
			continue
		}
		value := text
		if i := strings.IndexAny(value, " \t,;"); i >= 0 {
			value = value[:i]
		}
		value = Refang(value)
		typ, ok := SniffType(value)
		if !ok {
			res.skip(Item{Line: line, Value: value}, "cannot tell what kind of indicator %q is", value)
			continue
		}
		textIndicator(&res, opts, line, typ, value)
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("misp: freetext line %d: %w", line+1, err)
	}
	return res, nil
}

// CSVSpec describes a CSV feed. Columns are numbered from 1, as MISP's
// feed settings number them.
type CSVSpec struct {
	// ValueColumn holds the indicator value; required.
	ValueColumn int
	// TypeColumn, if not 0, holds the MISP attribute type per row.
	TypeColumn int
	// Type is the MISP attribute type of every row when there is no type
	// column; empty means sniff each value.
	Type string
	// Delimiter defaults to ','.
	Delimiter rune
	// HeaderRows are skipped at the start.
	HeaderRows int
}

// ImportCSV imports a CSV feed described by spec. Rows starting with '#'
// are comments. Every indicator gets Options.DefaultTLP.
func ImportCSV(r io.Reader, spec CSVSpec, opts Options) (Result, error) {
	if spec.ValueColumn < 1 {
		return Result{}, errors.New("misp: CSV spec needs a value column (numbered from 1)")
	}
	cr := csv.NewReader(&lineLimiter{r: r})
	cr.Comma = ','
	if spec.Delimiter != 0 {
		cr.Comma = spec.Delimiter
	}
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	var res Result
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				res.skip(Item{Line: pe.Line}, "%v", pe.Err)
				continue
			}
			return res, fmt.Errorf("misp: CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if row <= spec.HeaderRows {
			continue
		}
		if spec.ValueColumn > len(rec) {
			res.skip(Item{Line: line}, "no column %d", spec.ValueColumn)
			continue
		}
		value := Refang(strings.TrimSpace(rec[spec.ValueColumn-1]))
		typ := spec.Type
		if spec.TypeColumn > 0 && spec.TypeColumn <= len(rec) {
			typ = strings.TrimSpace(rec[spec.TypeColumn-1])
		}
		if typ == "" {
			var ok bool
			if typ, ok = SniffType(value); !ok {
				res.skip(Item{Line: line, Value: value}, "cannot tell what kind of indicator %q is", value)
				continue
			}
		}
		textIndicator(&res, opts, line, typ, value)
	}
}

// lineLimiter fails reads once a single line exceeds maxLine, so that a
// feed without newlines cannot grow a record without bound.
type lineLimiter struct {
	r   io.Reader
	run int
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, c := range p[:n] {
		if c == '\n' {
			l.run = 0
			continue
		}
		l.run++
		if l.run > maxLine {
			return 0, fmt.Errorf("line longer than %d bytes", maxLine)
		}
	}
	return n, err
}

// textIndicator makes the indicator for one text-feed value.
func textIndicator(res *Result, opts Options, line int, typ, value string) {
	it := Item{Line: line, Type: typ, Value: value}
	pat, err := AttributePattern(typ, value)
	if err != nil {
		res.skip(it, "%v", err)
		return
	}
	now := opts.now()
	id := stix.NameID("indicator", "feed:"+opts.Source+"|"+typ+"|"+value)
	ind, err := stix.NewIndicator(stix.IndicatorSpec{
		ID:             id,
		Name:           typ + ": " + value,
		Pattern:        pat,
		ValidFrom:      now,
		IndicatorTypes: []string{"malicious-activity"},
		CreatedBy:      opts.CreatedBy,
		TLP:            opts.DefaultTLP,
		Created:        now,
	})
	if err != nil {
		res.skip(it, "%v", err)
		return
	}
	res.Indicators = append(res.Indicators, ind)
	it.Outcome, it.Indicator = Imported, id
	res.Items = append(res.Items, it)
}

// refanger replaces the defanged separators; a Replacer is immutable
// and safe for concurrent use.
var refanger = strings.NewReplacer("[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "[:]", ":", "[@]", "@", "[at]", "@")

// Refang undoes the usual defanging of indicators in reports:
// hxxp(s)://, [.], (.), {.}, [dot], [:], [@] and [at].
func Refang(s string) string {
	s = refanger.Replace(s)
	lower := strings.ToLower(s)
	for _, f := range [...]struct{ from, to string }{{"hxxps://", "https://"}, {"hxxp://", "http://"}, {"fxp://", "ftp://"}} {
		if strings.HasPrefix(lower, f.from) {
			return f.to + s[len(f.from):]
		}
	}
	return s
}

// SniffType guesses the MISP attribute type of a bare value: ip-dst for
// addresses and networks, url, email-src, md5/sha1/sha256/sha512 by hex
// length, domain for host names.
func SniffType(v string) (string, bool) {
	switch {
	case v == "":
		return "", false
	case isIP(v):
		return "ip-dst", true
	case strings.Contains(v, "://"):
		u, err := url.Parse(v)
		return "url", err == nil && u.Host != ""
	case strings.Contains(v, "@"):
		a, err := mail.ParseAddress(v)
		return "email-src", err == nil && a.Address == v
	}
	if algo, ok := hexDigest(v); ok {
		return algo, true
	}
	if isDomain(v) {
		return "domain", true
	}
	return "", false
}

func isIP(v string) bool {
	if _, err := netip.ParseAddr(v); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(v)
	return err == nil
}

func hexDigest(v string) (string, bool) {
	if strings.Trim(strings.ToLower(v), "0123456789abcdef") != "" {
		return "", false
	}
	switch len(v) {
	case 32:
		return "md5", true
	case 40:
		return "sha1", true
	case 64:
		return "sha256", true
	case 128:
		return "sha512", true
	}
	return "", false
}

// isDomain accepts host names with at least two labels and an alphabetic
// top-level label (so "1.2.3" is not a domain).
func isDomain(v string) bool {
	v = strings.TrimSuffix(v, ".")
	labels := strings.Split(v, ".")
	if len(v) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	for i := 0; i < len(tld); i++ {
		if tld[i] >= '0' && tld[i] <= '9' {
			return false
		}
	}
	return true
}
