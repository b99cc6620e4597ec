package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
)

// Bundle is a STIX bundle: a wrapper carrying objects in transit. Besides
// its id and objects it keeps any other property it arrived with, so it
// re-encodes faithfully too.
type Bundle struct {
	ID      string
	Objects []Object
	// Converted lists the ids of the objects DecodeBundle converted from
	// STIX 2.0 to 2.1 (see Upgrade20).
	Converted []string
	// extra holds properties other than type, id and objects.
	extra map[string]any
}

// NewBundle returns a bundle with a fresh id holding objs.
func NewBundle(objs ...Object) Bundle {
	return Bundle{ID: NewID("bundle"), Objects: objs}
}

// MarshalJSON encodes the bundle.
func (b Bundle) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(b.extra)+3)
	maps.Copy(m, b.extra)
	m["type"] = "bundle"
	if b.ID != "" {
		m["id"] = b.ID
	}
	if b.Objects != nil {
		m["objects"] = b.Objects
	}
	return marshal(m)
}

// UnmarshalJSON decodes a bundle without validating it or its objects;
// DecodeBundle validates.
func (b *Bundle) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := unmarshal(data, &m); err != nil {
		return err
	}
	out, err := bundleFromRaw(m, DefaultLimits(), false)
	if err != nil {
		return err
	}
	*b = out.bundle
	return nil
}

// ObjectError reports an object of a bundle that was dropped, and why.
type ObjectError struct {
	// Index is the object's position in the bundle's objects list, or -1
	// for a problem with the bundle itself.
	Index int
	// ID and Type are the object's, when it had readable ones.
	ID, Type string
	Err      error
}

func (e ObjectError) Error() string {
	switch {
	case e.Index < 0:
		return fmt.Sprintf("bundle: %v", e.Err)
	case e.ID != "":
		return fmt.Sprintf("object %d (%s): %v", e.Index, e.ID, e.Err)
	}
	return fmt.Sprintf("object %d: %v", e.Index, e.Err)
}

func (e ObjectError) Unwrap() error { return e.Err }

// Limits bound what DecodeBundle accepts, so that a hostile or broken
// feed costs bounded memory and time.
type Limits struct {
	// MaxBytes is the largest bundle accepted.
	MaxBytes int
	// MaxObjects is the most objects read from one bundle; the rest are
	// reported as dropped.
	MaxObjects int
	// MaxObjectBytes is the largest single object accepted.
	MaxObjectBytes int
}

// DefaultLimits returns limits that suit TAXII collections and feeds:
// 64 MiB bundles, 100,000 objects, 1 MiB per object.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 64 << 20, MaxObjects: 100_000, MaxObjectBytes: 1 << 20}
}

// DecodeBundle decodes a bundle with DefaultLimits and validates every
// object. Invalid objects are left out of the bundle and reported, one
// ObjectError each, so one bad object does not cost the rest. A problem
// with the bundle itself is reported with Index -1.
func DecodeBundle(data []byte) (Bundle, []ObjectError) {
	return DefaultLimits().DecodeBundle(data)
}

// DecodeBundle decodes and validates a bundle within the limits l. A lone
// STIX object (not a bundle) is accepted as a bundle of one with no id,
// since feeds often serve single objects.
func (l Limits) DecodeBundle(data []byte) (Bundle, []ObjectError) {
	if l.MaxBytes > 0 && len(data) > l.MaxBytes {
		return Bundle{}, []ObjectError{{Index: -1, Err: fmt.Errorf("%d bytes exceeds the limit of %d", len(data), l.MaxBytes)}}
	}
	var m map[string]json.RawMessage
	if err := unmarshal(data, &m); err != nil {
		return Bundle{}, []ObjectError{{Index: -1, Err: fmt.Errorf("not a JSON object: %w", err)}}
	}
	if m == nil {
		return Bundle{}, []ObjectError{{Index: -1, Err: errors.New("not a JSON object: null")}}
	}
	var typ string
	_ = json.Unmarshal(m["type"], &typ)
	if typ != "bundle" {
		return single(data, l)
	}
	out, err := bundleFromRaw(m, l, true)
	if err != nil {
		return Bundle{}, append(out.errs, ObjectError{Index: -1, Err: err})
	}
	return out.bundle, out.errs
}

// single wraps a lone object as a bundle of one.
func single(data []byte, l Limits) (Bundle, []ObjectError) {
	if l.MaxObjectBytes > 0 && len(data) > l.MaxObjectBytes {
		return Bundle{}, []ObjectError{{Index: 0, Err: fmt.Errorf("%d bytes exceeds the per-object limit of %d", len(data), l.MaxObjectBytes)}}
	}
	o, err := Decode(data)
	if err != nil {
		return Bundle{}, []ObjectError{{Index: 0, ID: o.ID(), Type: o.Type(), Err: err}}
	}
	return Bundle{Objects: []Object{o}}, nil
}

type decoded struct {
	bundle Bundle
	errs   []ObjectError
}

// bundleFromRaw builds a bundle from its top-level members; validate
// checks the bundle and every object.
func bundleFromRaw(m map[string]json.RawMessage, l Limits, validate bool) (decoded, error) {
	var out decoded
	b := &out.bundle
	if raw, ok := m["id"]; ok {
		if err := json.Unmarshal(raw, &b.ID); err != nil {
			return out, errors.New("id is not a string")
		}
	}
	if validate {
		if typ, _, ok := SplitID(b.ID); !ok || typ != "bundle" {
			return out, fmt.Errorf("id %q is not bundle--<UUID>", b.ID)
		}
	}
	for k, raw := range m {
		if k == "type" || k == "id" || k == "objects" {
			continue
		}
		var v any
		if err := unmarshal(raw, &v); err != nil {
			return out, fmt.Errorf("property %s: %w", k, err)
		}
		if b.extra == nil {
			b.extra = map[string]any{}
		}
		b.extra[k] = v
	}
	rawObjects, has := m["objects"]
	if !has {
		return out, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(rawObjects, &list); err != nil {
		return out, errors.New("objects is not a list")
	}
	b.Objects = make([]Object, 0, min(len(list), max(l.MaxObjects, 0)))
	for i, raw := range list {
		if l.MaxObjects > 0 && i >= l.MaxObjects {
			out.errs = append(out.errs, ObjectError{Index: i, Err: fmt.Errorf("beyond the limit of %d objects", l.MaxObjects)})
			continue
		}
		if l.MaxObjectBytes > 0 && len(raw) > l.MaxObjectBytes {
			out.errs = append(out.errs, ObjectError{Index: i, Err: fmt.Errorf("%d bytes exceeds the per-object limit of %d", len(raw), l.MaxObjectBytes)})
			continue
		}
		converted := false
		if validate {
			up, ok, err := Upgrade20(raw)
			if err != nil {
				out.errs = append(out.errs, ObjectError{Index: i, Err: err})
				continue
			}
			raw, converted = up, ok
		}
		var o Object
		if err := o.UnmarshalJSON(raw); err != nil {
			if !validate {
				return out, fmt.Errorf("object %d: %w", i, err)
			}
			out.errs = append(out.errs, ObjectError{Index: i, Err: err})
			continue
		}
		if validate {
			if err := Validate(o); err != nil {
				out.errs = append(out.errs, ObjectError{Index: i, ID: o.ID(), Type: o.Type(), Err: err})
				continue
			}
		}
		b.Objects = append(b.Objects, o)
		if converted {
			b.Converted = append(b.Converted, o.ID())
		}
	}
	if validate && b.extra["spec_version"] == "2.0" {
		// A STIX 2.0 bundle; 2.1 bundles carry no spec_version.
		delete(b.extra, "spec_version")
	}
	return out, nil
}
