package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"
)

// Object is one STIX object of any type: SDO, SCO, SRO or meta object,
// standard or custom. It holds the object's properties exactly as decoded
// (numbers keep their JSON text), so that re-encoding yields the same JSON
// up to property order, unknown and x_ properties included. Typed views
// (Indicator, Sighting, ...) are read from it with As or the typed
// accessors; Set and Update write to it.
//
// The zero Object has no properties. Objects are values holding a map:
// copies share properties; use Clone for an independent copy.
type Object struct {
	props map[string]any
}

// Type returns the "type" property.
func (o Object) Type() string { return o.String("type") }

// ID returns the "id" property.
func (o Object) ID() string { return o.String("id") }

// Has reports whether the property is present.
func (o Object) Has(name string) bool {
	_, ok := o.props[name]
	return ok
}

// Get returns a property in decoded JSON form: string, json.Number, bool,
// nil, []any or map[string]any.
func (o Object) Get(name string) (any, bool) {
	v, ok := o.props[name]
	return v, ok
}

// String returns a string property, or "" if absent or not a string.
func (o Object) String(name string) string {
	s, _ := o.props[name].(string)
	return s
}

// Strings returns a list-of-strings property; non-strings are skipped.
func (o Object) Strings(name string) []string {
	list, _ := o.props[name].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Time returns a timestamp property, and false if it is absent or not a
// valid STIX timestamp.
func (o Object) Time(name string) (time.Time, bool) {
	t, err := ParseTime(o.String(name))
	return t, err == nil
}

// Int returns an integer property, and false if absent or not an integer.
func (o Object) Int(name string) (int64, bool) {
	n, ok := o.props[name].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil
}

// Bool returns a boolean property, and false as its second result if it
// is absent or not a boolean.
func (o Object) Bool(name string) (value, ok bool) {
	value, ok = o.props[name].(bool)
	return value, ok
}

// Names returns the property names, in no particular order.
func (o Object) Names() []string {
	names := make([]string, 0, len(o.props))
	for k := range o.props {
		names = append(names, k)
	}
	return names
}

// Set stores a property. v may be any value encoding/json can marshal; it
// is stored in decoded JSON form (time.Time becomes a STIX timestamp).
// Setting nil deletes the property.
func (o *Object) Set(name string, v any) error {
	if v == nil {
		delete(o.props, name)
		return nil
	}
	jv, err := toJSONValue(v)
	if err != nil {
		return fmt.Errorf("stix: property %s: %w", name, err)
	}
	if o.props == nil {
		o.props = make(map[string]any)
	}
	o.props[name] = jv
	return nil
}

// Delete removes a property.
func (o *Object) Delete(name string) { delete(o.props, name) }

// Clone returns a deep copy of o.
func (o Object) Clone() Object {
	if o.props == nil {
		return Object{}
	}
	return Object{props: deepCopy(o.props).(map[string]any)}
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}

// As decodes the object into a typed view such as *Indicator. Properties
// the view does not name are ignored (they stay in the Object).
func (o Object) As(v any) error {
	data, err := o.MarshalJSON()
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// Update writes every property of a typed view (such as an Indicator) into
// the object, keeping the properties the view does not name. Zero-valued
// optional fields of the view are left out, so they do not erase
// properties already present.
func (o *Object) Update(v any) error {
	data, err := marshal(v)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := unmarshal(data, &m); err != nil {
		return err
	}
	if m == nil {
		return errors.New("stix: Update needs a struct or map")
	}
	if o.props == nil {
		o.props = make(map[string]any, len(m))
	}
	maps.Copy(o.props, m)
	return nil
}

// MarshalJSON encodes the object's properties (keys sorted, HTML
// characters not escaped).
func (o Object) MarshalJSON() ([]byte, error) {
	if o.props == nil {
		return []byte("{}"), nil
	}
	return marshal(o.props)
}

// UnmarshalJSON decodes any JSON object, keeping every property. It does
// not validate: use Decode or Validate for that.
func (o *Object) UnmarshalJSON(data []byte) error {
	var m map[string]any
	if err := unmarshal(data, &m); err != nil {
		return err
	}
	if m == nil {
		return errors.New("stix: object is null")
	}
	o.props = m
	return nil
}

// Decode decodes and validates one STIX object.
func Decode(data []byte) (Object, error) {
	var o Object
	if err := o.UnmarshalJSON(data); err != nil {
		return Object{}, fmt.Errorf("stix: %w", err)
	}
	return o, Validate(o)
}

// marshal encodes v as JSON without HTML escaping and without the
// trailing newline json.Encoder adds.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// unmarshal decodes JSON keeping numbers as json.Number and rejecting
// trailing data.
func unmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// toJSONValue converts v to decoded JSON form.
func toJSONValue(v any) (any, error) {
	switch v := v.(type) {
	case string, bool, json.Number:
		return v, nil
	case time.Time:
		return FormatTime(v), nil
	}
	data, err := marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	err = unmarshal(data, &out)
	return out, err
}
