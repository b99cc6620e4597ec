package misp

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
	"github.com/xsoc/xsoc/internal/tlp"
)

// ExportOptions describe the feed ExportFeed writes.
type ExportOptions struct {
	// Org is the creator organisation written on every event.
	Org Org
	// Info prefixes each event's title.
	Info string
	// Now is the export time; zero means time.Now().
	Now time.Time
	// DefaultTLP marks indicators that carry no TLP marking.
	DefaultTLP tlp.Level
}

// observableTypes maps the simple observable types to MISP attribute types.
var observableTypes = map[string]string{
	pattern.TypeIPv4: "ip-dst", pattern.TypeIPv6: "ip-dst", pattern.TypeDomain: "domain",
	pattern.TypeURL: "url", pattern.TypeFileMD5: "md5", pattern.TypeFileSHA1: "sha1",
	pattern.TypeFileSHA256: "sha256", pattern.TypeEmail: "email-src",
}

// ExportFeed writes indicators as a MISP feed in dir (created if needed):
// manifest.json, one <uuid>.json per event and hashes.csv. Indicators are
// grouped into one event per creator (created_by_ref) and TLP level, so
// that each event's tlp tag holds for all its attributes; each attribute
// also carries its own tlp tag. Event uuids are derived from the creator,
// the level and opts.Info, so repeated exports update the same events.
//
// Only simple indicators (pattern.Simple: IPs, domains, URLs, hashes,
// e-mail addresses) have a MISP attribute form; the others are reported
// as skipped items. Indicators are exported as given: the caller decides,
// with tlp.MayReceive, which of them the feed's readers may see.
func ExportFeed(dir string, indicators []stix.Object, opts ExportOptions) (Result, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	var res Result
	events := map[string]*Event{}
	for _, ind := range indicators {
		exportIndicator(&res, events, ind, opts, now)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("misp: export: %w", err)
	}
	manifest := map[string]any{}
	var hashes []string
	for _, id := range slices.Sorted(mapKeys(events)) {
		ev := events[id]
		if err := writeJSON(filepath.Join(dir, id+".json"), wrappedEvent{Event: *ev}); err != nil {
			return res, err
		}
		manifest[id] = map[string]any{
			"Orgc": ev.Orgc, "Tag": ev.Tags, "info": ev.Info, "date": ev.Date,
			"analysis": ev.Analysis, "threat_level_id": ev.ThreatLevelID, "timestamp": ev.Timestamp,
		}
		for _, a := range ev.Attributes {
			sum := md5.Sum([]byte(a.Value))
			hashes = append(hashes, hex.EncodeToString(sum[:])+","+id)
		}
	}
	if err := writeJSON(filepath.Join(dir, "manifest.json"), manifest); err != nil {
		return res, err
	}
	data := strings.Join(hashes, "\n")
	if data != "" {
		data += "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "hashes.csv"), []byte(data), 0o644); err != nil {
		return res, fmt.Errorf("misp: export: %w", err)
	}
	return res, nil
}

// exportIndicator adds an indicator's observables to its event.
func exportIndicator(res *Result, events map[string]*Event, ind stix.Object, opts ExportOptions, now time.Time) {
	it := Item{Indicator: ind.ID()}
	view, err := ind.Indicator()
	if err != nil {
		res.skip(it, "%v", err)
		return
	}
	if view.PatternType != "stix" {
		res.skip(it, "pattern type %q has no MISP form", view.PatternType)
		return
	}
	p, err := pattern.Parse(view.Pattern)
	if err != nil {
		res.skip(it, "%v", err)
		return
	}
	obs, ok := pattern.Simple(p)
	if !ok {
		res.skip(it, "pattern %s is not a simple indicator", view.Pattern)
		return
	}
	level, marked := stix.TLPOf(ind)
	if !marked {
		level = opts.DefaultTLP
	}
	ev := eventFor(events, view.CreatedByRef, level, opts, now)
	_, uuid, _ := stix.SplitID(ind.ID())
	for i, o := range obs {
		a := Attribute{
			UUID:      uuid,
			Type:      observableTypes[o.Type],
			Category:  category(o.Type),
			Value:     o.Value,
			Comment:   view.Name,
			ToIDS:     true,
			Timestamp: Int(view.Modified.Unix()),
			Tags:      []Tag{{Name: tlpTag(level)}},
		}
		if len(obs) > 1 {
			a.UUID = nameUUID(fmt.Sprintf("%s#%d", ind.ID(), i))
		}
		if !view.ValidFrom.IsZero() {
			a.FirstSeen = view.ValidFrom.UTC().Format(time.RFC3339Nano)
		}
		if !view.ValidUntil.IsZero() {
			a.LastSeen = view.ValidUntil.UTC().Format(time.RFC3339Nano)
		}
		ev.Attributes = append(ev.Attributes, a)
	}
	it.Outcome = Exported
	res.Items = append(res.Items, it)
}

func category(typ string) string {
	switch typ {
	case pattern.TypeFileMD5, pattern.TypeFileSHA1, pattern.TypeFileSHA256:
		return "Payload delivery"
	case pattern.TypeEmail:
		return "Payload delivery"
	}
	return "Network activity"
}

// eventFor returns the event for a creator and level, creating it.
func eventFor(events map[string]*Event, creator string, level tlp.Level, opts ExportOptions, now time.Time) *Event {
	id := nameUUID("xsoc-misp-feed|" + opts.Info + "|" + creator + "|" + level.String())
	if ev, ok := events[id]; ok {
		return ev
	}
	dist := Int(tlpDistribution(level))
	info := strings.TrimSpace(opts.Info + " " + level.String())
	ev := &Event{
		UUID: id, Info: info, Date: now.Format("2006-01-02"), Timestamp: Int(now.Unix()),
		PublishTimestamp: Int(now.Unix()), Published: true, Distribution: &dist,
		ThreatLevelID: 2, Analysis: 2, Orgc: opts.Org, Tags: []Tag{{Name: tlpTag(level)}},
	}
	events[id] = ev
	return ev
}

// nameUUID is a deterministic UUIDv5 for name (see stix.NameID).
func nameUUID(name string) string {
	return strings.TrimPrefix(stix.NameID("x-misp", name), "x-misp--")
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("misp: export: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("misp: export: %w", err)
	}
	return nil
}

// ReadHashes reads a feed's hashes.csv: lines "<md5 of value>,<event
// uuid>". It returns the event uuids per value hash. Feeds publish it so
// that consumers can look values up without fetching every event.
func ReadHashes(r io.Reader) (map[string][]string, error) {
	out := map[string][]string{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		sum, event, ok := strings.Cut(text, ",")
		if _, err := hex.DecodeString(sum); !ok || err != nil || len(sum) != 32 || !validUUID(event) {
			return nil, fmt.Errorf("misp: hashes.csv line %d: want <md5>,<event uuid>, got %q", line, text)
		}
		out[sum] = append(out[sum], event)
	}
	return out, sc.Err()
}
