package federation

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
	"github.com/xsoc/xsoc/internal/iocfeed"
	"github.com/xsoc/xsoc/internal/tlp"
)

// A warning is a batch: one signed message carries up to
// maxWarningIndicators indicators, so that the signatures, the hub's
// routing and seals, and the receiving node's store commit are paid once
// per batch. Each indicator is still checked, and refused, on its own: a
// hub leaves a refused indicator (and its sighting) out of what it
// forwards, naming in the warning's withheld list where it stood and the
// SHA-256 of its bytes, so that the origin's signature still verifies
// end to end without the refused object ever travelling further.
//
// What the origin signs (originDigest) is therefore not the body's bytes
// but: the warning's fields without its bundle and withheld list (as
// encoding/json writes them), and the SHA-256 of each object of its
// bundle in order.

// warningContextV2 is what an origin's signature of a warning covers
// besides the digests: not the subject, which changes when the hub
// forwards the warning.
const warningContextV2 = "xsoc-early-warning-v2"

// warningContextV1 is what origins signed before warnings were checked
// indicator by indicator: the whole body. Such warnings may still wait in
// a node's or a hub's queue across an upgrade, so they are still taken —
// but as a whole: leaving a refused object out would break a signature
// over the whole body, so one bad indicator refuses a v1 warning.
const warningContextV1 = "xsoc-early-warning-v1"

// Withheld is an object of a warning that a hub left out of its forward
// (it refused the indicator): its position among the origin's objects
// and the SHA-256 of its bytes, which the origin's signature covers.
type Withheld struct {
	At     int    `json:"at"`
	SHA256 string `json:"sha256"`
}

// wireObject is a STIX 2.1 object of a warning's bundle: an identity
// ("a <sector> member in <country>"), an indicator or a sighting. Only
// the properties a warning uses are read; others are ignored.
type wireObject struct {
	Type              string   `json:"type"`
	SpecVersion       string   `json:"spec_version"`
	ID                string   `json:"id"`
	Created           string   `json:"created,omitempty"`
	Modified          string   `json:"modified,omitempty"`
	Name              string   `json:"name,omitempty"`
	IdentityClass     string   `json:"identity_class,omitempty"`
	IndicatorTypes    []string `json:"indicator_types,omitempty"`
	Pattern           string   `json:"pattern,omitempty"`
	PatternType       string   `json:"pattern_type,omitempty"`
	ValidFrom         string   `json:"valid_from,omitempty"`
	ValidUntil        string   `json:"valid_until,omitempty"`
	Labels            []string `json:"labels,omitempty"`
	Confidence        *int     `json:"confidence,omitempty"`
	Revoked           bool     `json:"revoked,omitempty"`
	SightingOfRef     string   `json:"sighting_of_ref,omitempty"`
	Count             *int     `json:"count,omitempty"`
	FirstSeen         string   `json:"first_seen,omitempty"`
	LastSeen          string   `json:"last_seen,omitempty"`
	WhereSightedRefs  []string `json:"where_sighted_refs,omitempty"`
	ObjectMarkingRefs []string `json:"object_marking_refs,omitempty"`
}

// wireBundle is a warning's STIX bundle, its objects as they came.
type wireBundle struct {
	Type    string            `json:"type"`
	ID      string            `json:"id"`
	Objects []json.RawMessage `json:"objects"`
}

// encodeBundle writes a STIX bundle of already encoded objects.
func encodeBundle(objs [][]byte) json.RawMessage {
	n := 64
	for _, o := range objs {
		n += len(o) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"type":"bundle","id":"`...)
	b = append(b, stix.NewID("bundle")...)
	b = append(b, `","objects":[`...)
	for i, o := range objs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, o...)
	}
	return append(b, "]}"...)
}

// originDigest is what the origin node signs: the warning's fields
// without bundle and withheld list, and the SHA-256 of each object of
// the bundle, in order.
func originDigest(w *Warning, objects [][32]byte) ([]byte, error) {
	head := *w
	head.Bundle, head.Withheld = nil, nil
	hb, err := json.Marshal(&head)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(warningContextV2))
	h.Write([]byte{0})
	hs := sha256.Sum256(hb)
	h.Write(hs[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(objects)))
	h.Write(n[:])
	for i := range objects {
		h.Write(objects[i][:])
	}
	return h.Sum(nil), nil
}

// objectDigests returns the SHA-256 of every object the origin put in a
// warning: those present, and those a hub withheld, in their places.
func objectDigests(objs []json.RawMessage, withheld []Withheld) ([][32]byte, error) {
	total := len(objs) + len(withheld)
	out := make([][32]byte, total)
	next, w := 0, 0
	for i := range out {
		if w < len(withheld) && withheld[w].At == i {
			s, err := hex.DecodeString(withheld[w].SHA256)
			if err != nil || len(s) != 32 {
				return nil, refuse(reasonMalformed, "withheld object %d: bad digest", i)
			}
			copy(out[i][:], s)
			w++
			continue
		}
		if next >= len(objs) {
			return nil, refuse(reasonMalformed, "withheld objects out of order")
		}
		out[i] = sha256.Sum256(objs[next])
		next++
	}
	if w != len(withheld) || next != len(objs) {
		return nil, refuse(reasonMalformed, "withheld objects out of order")
	}
	return out, nil
}

// opened is a warning whose origin's signature verified: its indicators
// that passed every check, the refusals of those that did not (one per
// indicator), and the body to forward — the one that came, or, if some
// indicators were refused, one without them.
type opened struct {
	w       Warning
	items   []Item
	refused []error
	body    []byte
}

// openWarning decodes a warning, verifies its origin's signature (under
// a node certificate of the federation, of the node the body names) and
// checks each of its objects. A message that fails as a whole returns an
// error; so does one whose every indicator was refused (the first
// refusal; the others are in refused). Refused indicators are left out
// of items and of the body to forward.
func openWarning(v *verifier, hdr nats.Header, data []byte, now time.Time) (opened, error) {
	o := opened{body: data}
	w, b, err := decodeWarning(data, now)
	o.w = w
	if err != nil {
		return o, err
	}
	hashes, err := objectDigests(b.Objects, w.Withheld)
	if err != nil {
		return o, err
	}
	digest, err := originDigest(&w, hashes)
	if err != nil {
		return o, refuse(reasonMalformed, "%v", err)
	}
	node, err := v.openDigest(hdr, digest)
	wholeBody := false
	if err != nil && len(w.Withheld) == 0 {
		if n1, err1 := v.open(warningContextV1, hdr, data); err1 == nil {
			node, err, wholeBody = n1, nil, true
		}
	}
	if err != nil {
		return o, refuse(reasonSignature, "%v", err)
	}
	if w.Node != node {
		return o, refuse(reasonOrigin, "node %s signed a warning of node %s", node, w.Node)
	}
	if len(w.Bundle) == 0 {
		return o, nil
	}
	var keep []bool
	o.items, o.refused, keep = readObjects(b.Objects, w.TLP)
	if wholeBody && len(o.refused) > 0 {
		o.items = nil
	}
	if len(o.items) == 0 {
		if len(o.refused) == 0 {
			return o, refuse(reasonMalformed, "a bundle without indicators")
		}
		first := o.refused[0]
		o.refused = o.refused[1:]
		return o, first
	}
	if len(o.refused) > 0 {
		if o.body, err = withhold(w, b, keep); err != nil {
			return o, refuse(reasonMalformed, "%v", err)
		}
	}
	return o, nil
}

// decodeWarning decodes a warning body and checks its fields, its age
// and the shape of its bundle.
func decodeWarning(data []byte, now time.Time) (Warning, wireBundle, error) {
	var w Warning
	var b wireBundle
	rest, bundle, err := cutBundle(data)
	if err == nil {
		err = json.Unmarshal(rest, &w)
	}
	w.Bundle = bundle
	if err != nil {
		if strings.Contains(err.Error(), "tlp: unknown level") {
			return Warning{}, b, refuse(reasonTLP, "%v", err)
		}
		return Warning{}, b, refuse(reasonMalformed, "decode: %v", err)
	}
	switch {
	case ValidNodeName(w.Node) != nil:
		return w, b, refuse(reasonMalformed, "bad node %q", w.Node)
	case w.ID == "" || len(w.ID) > 128 || strings.ContainsAny(w.ID, " \t\r\n*>"):
		return w, b, refuse(reasonMalformed, "bad warning id %q", w.ID)
	case w.Sender == "" || strings.ContainsAny(w.Sender, ". \t\r\n*>"):
		return w, b, refuse(reasonMalformed, "bad sender %q", w.Sender)
	case w.TLP > tlp.Red:
		return w, b, refuse(reasonTLP, "unknown TLP level %d", w.TLP)
	case w.TLP > tlp.Amber:
		return w, b, refuse(reasonTLP, "%v never leaves its node", w.TLP)
	case w.Created.IsZero() || now.Sub(w.Created) > maxWarningAge:
		return w, b, refuse(reasonStale, "created %s", w.Created.Format(time.RFC3339))
	case w.Created.Sub(now) > maxClockSkew:
		return w, b, refuse(reasonStale, "created %s, in the future", w.Created.Format(time.RFC3339))
	case len(w.Bundle) == 0 && len(w.Revoke) == 0 && len(w.Pseudonyms) == 0:
		return w, b, refuse(reasonMalformed, "neither indicators, revocations nor pseudonyms")
	case len(w.Revoke) > maxWarningIndicators:
		return w, b, refuse(reasonMalformed, "%d revocations", len(w.Revoke))
	case len(w.Bundle) > maxBundleBytes:
		return w, b, refuse(reasonMalformed, "a bundle of %d bytes", len(w.Bundle))
	case len(w.Withheld) > 0 && len(w.Bundle) == 0:
		return w, b, refuse(reasonMalformed, "withheld objects without a bundle")
	}
	for _, id := range w.Revoke {
		if typ, _, ok := stix.SplitID(id); !ok || typ != "indicator" {
			return w, b, refuse(reasonMalformed, "revocation of %q", id)
		}
	}
	if err := checkSighted(w.Pseudonyms); err != nil {
		return w, b, err
	}
	if len(w.Bundle) == 0 {
		return w, b, nil
	}
	b, err = splitBundle(w.Bundle)
	if err != nil {
		return w, b, refuse(reasonMalformed, "bundle: %v", err)
	}
	switch total := len(b.Objects) + len(w.Withheld); {
	case b.Type != "bundle":
		return w, b, refuse(reasonMalformed, "bundle of type %q", b.Type)
	case total == 0 || total > maxBundleObjects:
		return w, b, refuse(reasonMalformed, "a bundle of %d objects", total)
	}
	for i := 1; i < len(w.Withheld); i++ {
		if w.Withheld[i].At <= w.Withheld[i-1].At {
			return w, b, refuse(reasonMalformed, "withheld objects out of order")
		}
	}
	return w, b, nil
}

// Limits of a warning's bundle: its indicators, one sighting each, and
// the identity that sighted them.
const (
	maxBundleObjects = 2*maxWarningIndicators + 1
	maxBundleBytes   = 1 << 20
	maxObjectBytes   = 64 << 10
)

// readObjects checks each object of a warning's bundle and reads its
// indicators. An indicator that is not one external observable, is
// marked above level, or whose sighting is bad is refused on its own
// (and its sightings with it); so is an object a warning does not carry.
// keep tells which objects a forward keeps.
func readObjects(raw []json.RawMessage, level tlp.Level) (items []Item, refused []error, keep []bool) {
	objs := make([]wireObject, len(raw))
	bad := make([]error, len(raw))
	read := make([]Item, len(raw))
	byID := make(map[string]int, len(raw)/2+1)
	for i, r := range raw {
		if len(r) > maxObjectBytes {
			bad[i] = refuse(reasonMalformed, "object %d: %d bytes", i, len(r))
			continue
		}
		o := &objs[i]
		if err := decodeObject(r, o); err != nil {
			bad[i] = refuse(reasonMalformed, "object %d: %v", i, err)
			continue
		}
		read[i], bad[i] = checkObject(o, level)
		if o.Type == "indicator" {
			if _, dup := byID[o.ID]; dup {
				bad[i] = refuse(reasonMalformed, "%s twice", o.ID)
				continue
			}
			byID[o.ID] = i
		}
	}
	// A sighting goes with its indicator: a bad sighting refuses it, a
	// refused indicator takes its sightings along; either is counted
	// once, as the indicator's refusal.
	sightingOf := make([]int, len(raw))
	for i := range objs {
		sightingOf[i] = -1
		if objs[i].Type != "sighting" || objs[i].ID == "" {
			continue
		}
		ind, ok := byID[objs[i].SightingOfRef]
		if !ok {
			if bad[i] == nil {
				bad[i] = refuse(reasonMalformed, "%s sights %s, not in the warning", objs[i].ID, objs[i].SightingOfRef)
			}
			continue
		}
		sightingOf[i] = ind
		if bad[i] != nil {
			if bad[ind] == nil {
				bad[ind] = bad[i]
			}
			bad[i] = nil
		}
	}
	keep = make([]bool, len(raw))
	at := make(map[int]int, len(byID))
	for i := range objs {
		switch {
		case bad[i] != nil:
			refused = append(refused, bad[i])
		case sightingOf[i] >= 0 && bad[sightingOf[i]] != nil:
			// refused with its indicator
		default:
			keep[i] = true
			if objs[i].Type == "indicator" {
				at[i] = len(items)
				items = append(items, read[i])
			}
		}
	}
	for i := range objs {
		if !keep[i] || sightingOf[i] < 0 {
			continue
		}
		s, it := &objs[i], &items[at[sightingOf[i]]]
		it.Count = *s.Count
		it.FirstSeen, _ = stix.ParseTime(s.FirstSeen)
		it.LastSeen, _ = stix.ParseTime(s.LastSeen)
	}
	if len(items) > maxWarningIndicators {
		return nil, []error{refuse(reasonMalformed, "%d indicators", len(items))}, nil
	}
	return items, refused, keep
}

// checkObject checks one object of a warning: its common properties, its
// marking, and what its type requires. It returns an indicator's item.
func checkObject(o *wireObject, level tlp.Level) (Item, error) {
	typ, _, ok := stix.SplitID(o.ID)
	if !ok || typ != o.Type {
		return Item{}, refuse(reasonMalformed, "object %q of type %q", o.ID, o.Type)
	}
	if o.SpecVersion != "2.1" {
		return Item{}, refuse(reasonMalformed, "%s: spec_version %q", o.ID, o.SpecVersion)
	}
	created, err1 := stix.ParseTime(o.Created)
	modified, err2 := stix.ParseTime(o.Modified)
	if err1 != nil || err2 != nil || modified.Before(created) {
		return Item{}, refuse(reasonMalformed, "%s: created %q, modified %q", o.ID, o.Created, o.Modified)
	}
	for _, ref := range o.ObjectMarkingRefs {
		if l, ok := stix.TLPOfRef(ref); ok && l > level {
			return Item{}, refuse(reasonTLP, "%s is marked %v in a %v warning", o.ID, l, level)
		}
	}
	switch o.Type {
	case "identity":
		return Item{}, nil
	case "sighting":
		if o.Count == nil || *o.Count < 0 || *o.Count > 999999999 {
			return Item{}, refuse(reasonMalformed, "%s: no valid count", o.ID)
		}
		for _, t := range []string{o.FirstSeen, o.LastSeen} {
			if _, err := stix.ParseTime(t); t != "" && err != nil {
				return Item{}, refuse(reasonMalformed, "%s: %v", o.ID, err)
			}
		}
		return Item{}, nil
	case "indicator":
		return indicatorItem(o)
	}
	return Item{}, refuse(reasonMalformed, "%s: a warning carries no %s", o.ID, o.Type)
}

// indicatorItem reads an indicator of a warning: a STIX pattern testing
// one external observable, with a validity.
func indicatorItem(o *wireObject) (Item, error) {
	if o.Revoked || o.PatternType != "stix" {
		return Item{}, refuse(reasonMalformed, "%s: not a test of one observable", o.ID)
	}
	p, err := pattern.Parse(o.Pattern)
	if err != nil {
		return Item{}, refuse(reasonMalformed, "%s: %v", o.ID, err)
	}
	obs, ok := pattern.Simple(p)
	if !ok || len(obs) != 1 {
		return Item{}, refuse(reasonMalformed, "%s: not a test of one observable", o.ID)
	}
	k, ok := iocfeed.KindOf(obs[0].Type)
	if !ok {
		return Item{}, refuse(reasonMalformed, "%s: observable type %s", o.ID, obs[0].Type)
	}
	typ := obs[0].Type
	if strings.HasPrefix(typ, "file-") {
		typ = map[ioc.Kind]string{ioc.KindMD5: "file:hashes.MD5", ioc.KindSHA1: "file:hashes.'SHA-1'", ioc.KindSHA256: "file:hashes.'SHA-256'"}[k]
	}
	if !External(alert.Observable{Type: typ, Value: obs[0].Value, Role: "destination"}) {
		reason := reasonMalformed
		if k == ioc.KindIP {
			reason = reasonPrivate
		}
		return Item{}, refuse(reason, "%s: %s %s is not an external observable", o.ID, typ, obs[0].Value)
	}
	from, err1 := stix.ParseTime(o.ValidFrom)
	until, err2 := stix.ParseTime(o.ValidUntil)
	if err1 != nil || err2 != nil || !until.After(from) {
		return Item{}, refuse(reasonMalformed, "%s: no validity", o.ID)
	}
	conf := 50
	if o.Confidence != nil {
		conf = *o.Confidence
	}
	if conf < 0 || conf > 100 {
		return Item{}, refuse(reasonMalformed, "%s: confidence %d", o.ID, conf)
	}
	return Item{ID: o.ID, Kind: k, Value: obs[0].Value, Confidence: conf, Detected: from, ValidUntil: until}, nil
}

// withhold writes the body a hub forwards for a warning some of whose
// objects it refused: the same fields, the bundle without them, and
// their places and digests added to the withheld list. The objects kept
// are copied byte for byte, so that their digests still match.
func withhold(w Warning, b wireBundle, keep []bool) ([]byte, error) {
	var kept [][]byte
	withheld := slices.Clone(w.Withheld)
	pos, wi := 0, 0
	for i, raw := range b.Objects {
		// The origin's position of b.Objects[i]: past those withheld
		// before it.
		for wi < len(w.Withheld) && w.Withheld[wi].At == pos {
			wi++
			pos++
		}
		if keep[i] {
			kept = append(kept, raw)
		} else {
			sum := sha256.Sum256(raw)
			withheld = append(withheld, Withheld{At: pos, SHA256: hex.EncodeToString(sum[:])})
		}
		pos++
	}
	slices.SortFunc(withheld, func(a, b Withheld) int { return a.At - b.At })
	head := w
	head.Withheld = withheld
	var bundle bytes.Buffer
	bundle.WriteString(`{"type":"bundle","id":`)
	id, _ := json.Marshal(b.ID)
	bundle.Write(id)
	bundle.WriteString(`,"objects":[`)
	for i, k := range kept {
		if i > 0 {
			bundle.WriteByte(',')
		}
		bundle.Write(k)
	}
	bundle.WriteString("]}")
	return encodeWarning(&head, bundle.Bytes())
}

// encodeWarning writes a warning with bundle as its bundle, byte for
// byte: json.Marshal would check and compact a json.RawMessage again —
// the cost of a scan of every object — and compacting could change the
// bytes the objects' digests cover.
func encodeWarning(w *Warning, bundle []byte) ([]byte, error) {
	head := *w
	head.Bundle = nil
	data, err := json.Marshal(&head)
	if err != nil {
		return nil, err
	}
	if len(bundle) == 0 {
		return data, nil
	}
	if len(data) < 2 || data[len(data)-1] != '}' {
		return nil, fmt.Errorf("warning encodes as %q", data)
	}
	out := make([]byte, 0, len(data)+len(bundle)+16)
	out = append(out, data[:len(data)-1]...)
	out = append(out, `,"bundle":`...)
	out = append(out, bundle...)
	return append(out, '}'), nil
}
