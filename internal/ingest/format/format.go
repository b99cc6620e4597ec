package format

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// Format names an input format.
type Format string

// The input formats. Their values are what the ?format= query parameter
// and configuration files use.
const (
	// Auto decides per record by content; see Sniff.
	Auto Format = "auto"
	// ECS is any JSON object, nested or with dotted keys, taken as ECS.
	ECS Format = "ecs"
	// Syslog is RFC 5424 or RFC 3164 syslog, with CEF inside if the message
	// starts with "CEF:".
	Syslog Format = "syslog"
	// CEF is ArcSight Common Event Format, bare or after a syslog header.
	CEF Format = "cef"
	// Suricata is Suricata's EVE JSON.
	Suricata Format = "suricata"
	// Zeek is Zeek's JSON logs (conn, dns, http, ssl, files, notice, x509
	// and others generically).
	Zeek Format = "zeek"
	// Windows is Windows event log JSON: winlogbeat / Elastic Agent,
	// EvtxECmd, evtx_dump, XML-to-JSON conversions, nxlog and Get-WinEvent.
	Windows Format = "windows"
)

// MaxRecord is the largest record, in bytes, that Parse accepts and that
// ScanSyslog frames: 1 MiB.
const MaxRecord = 1 << 20

// ErrTooLong is returned (wrapped) by Parse for records over MaxRecord and
// by ScanSyslog for frames over it.
var ErrTooLong = errors.New("record longer than 1 MiB")

// ParseFormat parses the name of a format, as given in ?format=. The empty
// string means Auto. Names are case-insensitive; "json" is accepted for
// ECS, "eve" for Suricata, and "winlog", "evtx" and "sysmon" for Windows.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return Auto, nil
	case "ecs", "json":
		return ECS, nil
	case "syslog":
		return Syslog, nil
	case "cef":
		return CEF, nil
	case "suricata", "eve":
		return Suricata, nil
	case "zeek":
		return Zeek, nil
	case "windows", "winlog", "evtx", "sysmon":
		return Windows, nil
	}
	return "", fmt.Errorf("unknown format %q: want auto, ecs, syslog, cef, suricata, zeek or windows", s)
}

// Parser parses records into events, reusing its buffers from one record to
// the next: a record then costs about two allocations (its strings and, when
// the event's capacity is exceeded, its fields). A Parser is not safe for
// concurrent use; give each goroutine its own. The zero value is ready.
type Parser struct {
	// Now returns the current time. RFC 3164 syslog timestamps carry no
	// year and take the one that does not put them in the future. Nil means
	// time.Now.
	Now func() time.Time

	b      builder
	leaves []leaf // flattened JSON record
	paths  []byte // leaf paths
	stack  []byte // path of the JSON value being decoded
	objs   int32  // JSON objects numbered so far
	// pathGen changes whenever stack does; leafGen is its value when the
	// last leaf's path was copied, so array elements share one copy.
	pathGen, leafGen uint64
	// lastPath and lastName cache the field name made for the previous
	// leaf: the elements of an array share it.
	lastPath, lastName span
	pairs              []pair    // CEF extension
	items              []winItem // Windows event data
	norm               []byte    // a normalised path, for the Windows format
	prefix             []byte    // zeek.<log>. for logs without a fixed prefix
	// shape is what the last decodeJSON saw of the names Sniff decides
	// by, for Auto.
	shape jsonShape
}

// pair is a name and a value taken from a CEF extension. The name is in
// the original record or in the builder's buffer; the value is always a
// span of the buffer.
type pair struct {
	name []byte
	val  span
}

// Parse parses one record of format f into ev, which the caller has Reset.
// With Auto the format is chosen by Sniff. On success ev holds the mapped
// fields, ev.Time the record's own timestamp (zero if it has none) and
// ev.Original a copy of line; ev.ID is set only from an ECS record's
// event.id, and ev.Member never. On error ev is left as it was, and the
// error names the reason.
func (p *Parser) Parse(f Format, line []byte, ev *event.Event) error {
	if len(line) > MaxRecord {
		return fmt.Errorf("%w: %d bytes", ErrTooLong, len(line))
	}
	p.b.reset(len(line))
	p.lastPath, p.lastName = span{-1, -1}, span{}
	if err := p.parseAs(f, line); err != nil {
		return err
	}
	p.b.flush(ev)
	ev.Original = append(ev.Original[:0], line...)
	return nil
}

// parseAs parses line as format f into the builder.
func (p *Parser) parseAs(f Format, line []byte) error {
	var err error
	switch f {
	case Auto:
		err = p.parseAuto(line)
	case ECS:
		err = p.parseECS(line)
	case Syslog:
		err = p.parseSyslog(line)
	case CEF:
		err = p.parseCEF(line)
	case Suricata:
		err = p.parseSuricata(line)
	case Zeek:
		err = p.parseZeek(line)
	case Windows:
		err = p.parseWindows(line)
	default:
		err = fmt.Errorf("unknown format %q", string(f))
	}
	return err
}

// parseAuto parses a record whose format Sniff decides. A JSON object is
// decoded once, the decoder noting the top-level names Sniff looks at on
// the way, instead of being scanned by Sniff and then decoded: the scan
// cost a third as much as the decode. A record that is not valid JSON
// fails the same way whichever JSON format Sniff would choose (each
// returns the decoder's error), so the choice does not matter then.
func (p *Parser) parseAuto(line []byte) error {
	if s := trimLeft(line); len(s) == 0 || s[0] != '{' {
		return p.parseAs(Sniff(line), line)
	}
	if err := p.decodeJSON(line); err != nil {
		return err
	}
	switch {
	case p.shape&shapeSuricata != 0:
		return p.mapSuricata()
	case p.shape&shapeZeek != 0:
		return p.mapZeek()
	case p.shape&shapeWindows != 0:
		return p.mapWindows()
	}
	return p.mapECS()
}

// Parse parses one record with a fresh Parser. Code that parses many
// records should keep a Parser per goroutine instead, which saves the
// buffers' allocations.
func Parse(f Format, line []byte, ev *event.Event) error {
	var p Parser
	return p.Parse(f, line, ev)
}

func (p *Parser) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}
