package federation

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/tlp"
)

// batchWarning is a warning of de-node carrying n indicators (public
// addresses 185.7.<i/250>.<i%250+1>), with edit applied to its bundle's
// text before the origin signs it.
func batchWarning(t testing.TB, n int, level tlp.Level, edit func(string) string) Warning {
	t.Helper()
	now := time.Now().UTC()
	var alerts []*alert.Alert
	for i := range n {
		alerts = append(alerts, &alert.Alert{ID: fmt.Sprintf("a%d", i), Count: 2, EventTime: now.Add(-time.Minute), Detected: now,
			LastSeen: now, Severity: alert.High, Observables: []alert.Observable{
				{Type: "ipv4-addr", Value: fmt.Sprintf("185.7.%d.%d", i/250, i%250+1), Role: "destination"}}})
	}
	b, count, err := buildBundle("de-node", "DE", "energy", level, alerts)
	if err != nil || count != n {
		t.Fatalf("bundle: %d indicators, %v", count, err)
	}
	if edit != nil {
		b = json.RawMessage(edit(string(b)))
	}
	return Warning{ID: fmt.Sprintf("de-node.w.batch%d", n), Node: "de-node", Sender: "mtest", Country: "DE", Sector: "energy",
		TLP: level, Created: now, Bundle: b}
}

// TestBatchWithOneBadIndicator: a warning of five indicators, one of them
// bad in each way an indicator can be, is taken with the four good ones:
// the bad one is refused with its reason (once, whether its indicator or
// its sighting is bad), and the hub's forward leaves it out, naming its
// digest, so that the receiving node still verifies the origin's
// signature and reads the four — and a forward whose withheld list lies
// is refused.
func TestBatchWithOneBadIndicator(t *testing.T) {
	p := newTestPKI(t)
	de, hub, fr := p.identity(t, "de-node"), p.identity(t, "hub"), p.identity(t, "fr-node")
	// third edits the third indicator (185.7.0.3) of a bundle, or with
	// sighting its sighting.
	thirdID := indicatorID("de-node", alert.Observable{Type: "ipv4-addr", Value: "185.7.0.3"})
	object := func(s string, sighting bool) (int, int) {
		i := strings.Index(s, `"id":"`+thirdID+`"`)
		if sighting {
			i = strings.Index(s, `"sighting_of_ref":"`+thirdID+`"`)
		}
		start := strings.LastIndex(s[:i], `{"type":`)
		return start, start + strings.Index(s[start:], "}")
	}
	edit := func(sighting bool, old, new string) func(string) string {
		return func(s string) string {
			start, end := object(s, sighting)
			return s[:start] + strings.Replace(s[start:end], old, new, 1) + s[end:]
		}
	}
	third := func(old, new string) func(string) string { return edit(false, old, new) }
	cases := []struct {
		name   string
		edit   func(string) string
		reason string
	}{
		{"private address", third("185.7.0.3'", "10.7.0.3'"), reasonPrivate},
		{"bad pattern", third("[ipv4-addr:value = '185.7.0.3']", "[ipv4-addr:value = "), reasonMalformed},
		{"two observables", third("[ipv4-addr:value = '185.7.0.3']", "[ipv4-addr:value = '185.7.0.3'] OR [ipv4-addr:value = '185.9.9.9']"), reasonMalformed},
		{"marked above the warning", third(stix.TLPGreenRef, stix.TLPRedRef), reasonTLP},
		{"sighting marked above the warning", edit(true, stix.TLPGreenRef, stix.TLPAmberRef), reasonTLP},
		{"bad sighting", edit(true, `"count":2`, `"count":-1`), reasonMalformed},
		{"no validity", third(`"valid_until":"`, `"valid_untel":"`), reasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := SealWarning(de, batchWarning(t, 5, tlp.Green, c.edit))
			o, err := openWarning(newVerifier(hub), msg.Header, msg.Data, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(o.items) != 4 || len(o.refused) != 1 || reasonOf(o.refused[0]) != c.reason {
				t.Fatalf("%d indicators taken, refused %v; want 4 and one %s", len(o.items), o.refused, c.reason)
			}
			for _, it := range o.items {
				if it.Value == "185.7.0.3" || it.Count != 2 || it.FirstSeen.IsZero() {
					t.Errorf("taken: %+v", it)
				}
			}
			if string(o.body) == string(msg.Data) || strings.Contains(string(o.body), "185.7.0.3'") {
				t.Fatalf("the forward carries the refused indicator")
			}
			// The receiving node reads the forward: the origin's
			// signature verifies, nothing more is refused.
			r, err := openWarning(newVerifier(fr), msg.Header, o.body, time.Now())
			if err != nil || len(r.items) != 4 || len(r.refused) != 0 || len(r.w.Withheld) == 0 {
				t.Fatalf("forward: %d indicators, refused %v, withheld %v: %v", len(r.items), r.refused, r.w.Withheld, err)
			}
			// A hub that withholds more than it says, or lies about a
			// digest, breaks the origin's signature.
			var fw Warning
			if err := json.Unmarshal(o.body, &fw); err != nil {
				t.Fatal(err)
			}
			fw.Withheld[0].SHA256 = strings.Repeat("0", 64)
			forged, _ := json.Marshal(&fw)
			if _, err := openWarning(newVerifier(fr), msg.Header, forged, time.Now()); reasonOf(err) != reasonSignature {
				t.Errorf("a forward with a false digest: %v", err)
			}
		})
	}
}

// TestWithheldTwice: a second hub that refuses another indicator of a
// forward adds it to the withheld list in its place; the origin's
// signature still verifies.
func TestWithheldTwice(t *testing.T) {
	p := newTestPKI(t)
	de, fr := p.identity(t, "de-node"), p.identity(t, "fr-node")
	msg := SealWarning(de, batchWarning(t, 5, tlp.Green, func(s string) string {
		return strings.Replace(s, "185.7.0.2'", "10.7.0.2'", 1)
	}))
	o, err := openWarning(newVerifier(fr), msg.Header, msg.Data, time.Now())
	if err != nil || len(o.items) != 4 {
		t.Fatal(len(o.items), err)
	}
	w, b, err := decodeWarning(o.body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fourth := indicatorID("de-node", alert.Observable{Type: "ipv4-addr", Value: "185.7.0.4"})
	keep := make([]bool, len(b.Objects))
	for i := range keep {
		keep[i] = !strings.Contains(string(b.Objects[i]), fourth)
	}
	body, err := withhold(w, b, keep)
	if err != nil {
		t.Fatal(err)
	}
	r, err := openWarning(newVerifier(fr), msg.Header, body, time.Now())
	if err != nil || len(r.items) != 3 || len(r.w.Withheld) != 4 || len(r.refused) != 0 {
		t.Fatalf("%d indicators, withheld %v: %v", len(r.items), r.w.Withheld, err)
	}
}

// TestWarningRefusedAsAWhole: what is wrong with the message itself
// refuses all of it.
func TestWarningRefusedAsAWhole(t *testing.T) {
	p := newTestPKI(t)
	de, fr, hub := p.identity(t, "de-node"), p.identity(t, "fr-node"), p.identity(t, "hub")
	good := batchWarning(t, 3, tlp.Green, nil)
	edit := func(f func(*Warning)) Warning { w := good; f(&w); return w }
	cases := []struct {
		name   string
		msg    *nats.Msg
		reason string
	}{
		{"every indicator bad", SealWarning(de, batchWarning(t, 1, tlp.Green, func(s string) string {
			return strings.Replace(s, "185.7.0.1'", "10.7.0.1'", 1)
		})), reasonPrivate},
		{"signed by another node", SealWarning(fr, good), reasonOrigin},
		{"red", SealWarning(de, edit(func(w *Warning) { w.TLP = tlp.Red })), reasonTLP},
		{"stale", SealWarning(de, edit(func(w *Warning) { w.Created = time.Now().Add(-8 * 24 * time.Hour) })), reasonStale},
		{"not a bundle", SealWarning(de, edit(func(w *Warning) { w.Bundle = json.RawMessage(`{"type":"report","objects":[]}`) })), reasonMalformed},
		{"withheld out of order", SealWarning(de, edit(func(w *Warning) {
			w.Withheld = []Withheld{{At: 2, SHA256: strings.Repeat("a", 64)}, {At: 1, SHA256: strings.Repeat("b", 64)}}
		})), reasonMalformed},
		{"withheld beyond the bundle", SealWarning(de, edit(func(w *Warning) {
			w.Withheld = []Withheld{{At: 99, SHA256: strings.Repeat("a", 64)}}
		})), reasonMalformed},
	}
	tampered := SealWarning(de, good)
	tampered.Data = []byte(strings.Replace(string(tampered.Data), `"country":"DE"`, `"country":"FR"`, 1))
	cases = append(cases, struct {
		name   string
		msg    *nats.Msg
		reason string
	}{"fields changed after signing", tampered, reasonSignature})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := openWarning(newVerifier(hub), c.msg.Header, c.msg.Data, time.Now()); reasonOf(err) != c.reason || err == nil {
				t.Errorf("got %v, want %s", err, c.reason)
			}
		})
	}
}

// BenchmarkOpenWarning measures what the hub and each receiving node
// spend to verify and read a full batch (maxWarningIndicators
// indicators); ns/op divided by the batch size is the cost per indicator.
func BenchmarkOpenWarning(b *testing.B) {
	p := newTestPKI(b)
	de, hub := p.identity(b, "de-node"), p.identity(b, "hub")
	msg := SealWarning(de, batchWarning(b, maxWarningIndicators, tlp.Green, nil))
	v := newVerifier(hub)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if o, err := openWarning(v, msg.Header, msg.Data, now); err != nil || len(o.items) != maxWarningIndicators {
			b.Fatal(len(o.items), err)
		}
	}
}

// BenchmarkBuildWarning measures what the origin spends to write and sign
// a full batch.
func BenchmarkBuildWarning(b *testing.B) {
	de := newTestPKI(b).identity(b, "de-node")
	w := batchWarning(b, maxWarningIndicators, tlp.Green, nil)
	var alerts []*alert.Alert
	now := time.Now()
	for i := range maxWarningIndicators {
		alerts = append(alerts, &alert.Alert{ID: fmt.Sprintf("a%d", i), Count: 1, EventTime: now, Detected: now, LastSeen: now,
			Severity: alert.High, Observables: []alert.Observable{{Type: "ipv4-addr", Value: fmt.Sprintf("185.7.%d.%d", i/250, i%250+1), Role: "destination"}}})
	}
	b.ReportAllocs()
	for b.Loop() {
		bundle, _, err := buildBundle("de-node", "DE", "energy", tlp.Green, alerts)
		if err != nil {
			b.Fatal(err)
		}
		w.Bundle = bundle
		if _, err := sealWarning(de, w); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzOpenWarning: no body, whatever it holds, panics the decoder, and
// whatever it takes is consistent: as many items as kept indicators, a
// forward body that decodes again.
func FuzzOpenWarning(f *testing.F) {
	p := newTestPKI(f)
	de, hub := p.identity(f, "de-node"), p.identity(f, "hub")
	w := batchWarning(f, 3, tlp.Green, nil)
	good := SealWarning(de, w)
	f.Add(good.Data)
	bad := SealWarning(de, batchWarning(f, 3, tlp.Green, func(s string) string { return strings.Replace(s, "185.7.0.2'", "10.7.0.2'", 1) }))
	f.Add(bad.Data)
	f.Add([]byte(`{"id":"x","node":"de-node","sender":"m","tlp":"TLP:GREEN","created":"2026-01-01T00:00:00Z","bundle":{"type":"bundle","objects":[{}]},"withheld":[{"at":0,"sha256":"00"}]}`))
	v := newVerifier(hub)
	now := time.Now()
	f.Fuzz(func(t *testing.T, data []byte) {
		w, b, err := decodeWarning(data, now)
		if err == nil && len(b.Objects) > 0 {
			items, refused, keep := readObjects(b.Objects, w.TLP)
			if keep != nil && len(keep) != len(b.Objects) {
				t.Fatalf("keep %d of %d objects", len(keep), len(b.Objects))
			}
			if len(refused) > 0 && len(items) > 0 {
				body, err := withhold(w, b, keep)
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := decodeWarning(body, now); err != nil {
					t.Fatalf("the forward does not decode: %v", err)
				}
			}
		}
		// Signed by the origin or not, opening never panics.
		openWarning(v, good.Header, data, now)
	})
}

// TestWarningSignedOverTheWholeBody: a warning its origin signed the way
// origins did before indicator-by-indicator checks (over the whole body,
// as it may still wait in a queue across an upgrade) is taken; one bad
// indicator refuses it as a whole, since leaving the indicator out would
// break the signature; and its signature does not cover another body.
func TestWarningSignedOverTheWholeBody(t *testing.T) {
	p := newTestPKI(t)
	de, fr := p.identity(t, "de-node"), p.identity(t, "fr-node")
	sealV1 := func(w Warning) *nats.Msg {
		data, err := json.Marshal(&w)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := de.sign(signedDigest(warningContextV1, data))
		if err != nil {
			t.Fatal(err)
		}
		msg := &nats.Msg{Subject: w.Subject(), Data: data, Header: nats.Header{}}
		msg.Header.Set(hdrCert, de.certHeader)
		msg.Header.Set(hdrSignature, base64.StdEncoding.EncodeToString(sig))
		return msg
	}
	good := sealV1(batchWarning(t, 3, tlp.Green, nil))
	o, err := openWarning(newVerifier(fr), good.Header, good.Data, time.Now())
	if err != nil || len(o.items) != 3 || len(o.refused) != 0 || string(o.body) != string(good.Data) {
		t.Fatalf("a v1 warning: %d indicators, refused %v: %v", len(o.items), o.refused, err)
	}
	bad := sealV1(batchWarning(t, 3, tlp.Green, func(s string) string {
		return strings.Replace(s, "185.7.0.2'", "10.7.0.2'", 1)
	}))
	if o, err := openWarning(newVerifier(fr), bad.Header, bad.Data, time.Now()); reasonOf(err) != reasonPrivate || len(o.items) != 0 {
		t.Fatalf("a v1 warning with a private address: %d indicators taken, %v; want it refused as a whole (%s)", len(o.items), err, reasonPrivate)
	}
	other := sealV1(batchWarning(t, 2, tlp.Green, nil))
	if _, err := openWarning(newVerifier(fr), good.Header, other.Data, time.Now()); reasonOf(err) != reasonSignature {
		t.Fatalf("a v1 signature over another body: %v", err)
	}
}
