package misp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Event is a MISP event as found in feeds and the MISP API. Only what the
// importer uses is modelled; MISP writes most numbers as strings, and the
// flexible types below accept either.
type Event struct {
	UUID             string      `json:"uuid"`
	Info             string      `json:"info"`
	Date             string      `json:"date,omitempty"`
	Timestamp        Int         `json:"timestamp,omitempty"`
	PublishTimestamp Int         `json:"publish_timestamp,omitempty"`
	Published        Bool        `json:"published"`
	Distribution     *Int        `json:"distribution,omitempty"`
	ThreatLevelID    Int         `json:"threat_level_id,omitempty"`
	Analysis         Int         `json:"analysis,omitempty"`
	Orgc             Org         `json:"Orgc"`
	Tags             []Tag       `json:"Tag,omitempty"`
	Attributes       []Attribute `json:"Attribute,omitempty"`
	Objects          []Object    `json:"Object,omitempty"`
}

// Org is a MISP organisation.
type Org struct {
	UUID string `json:"uuid,omitempty"`
	Name string `json:"name,omitempty"`
}

// Tag is a MISP tag ("tlp:amber", "misp-galaxy:threat-actor=\"Sofacy\"").
type Tag struct {
	Name string `json:"name"`
}

// Attribute is one MISP attribute.
type Attribute struct {
	UUID           string `json:"uuid,omitempty"`
	Type           string `json:"type"`
	Category       string `json:"category,omitempty"`
	Value          string `json:"value"`
	Comment        string `json:"comment,omitempty"`
	ToIDS          Bool   `json:"to_ids"`
	Deleted        Bool   `json:"deleted,omitempty"`
	Distribution   *Int   `json:"distribution,omitempty"`
	Timestamp      Int    `json:"timestamp,omitempty"`
	FirstSeen      string `json:"first_seen,omitempty"`
	LastSeen       string `json:"last_seen,omitempty"`
	ObjectRelation string `json:"object_relation,omitempty"`
	Tags           []Tag  `json:"Tag,omitempty"`
}

// Object is a MISP object: a template instance grouping attributes (a
// "file" object with its name and hashes, say).
type Object struct {
	UUID         string      `json:"uuid,omitempty"`
	Name         string      `json:"name"`
	MetaCategory string      `json:"meta-category,omitempty"`
	Distribution *Int        `json:"distribution,omitempty"`
	Deleted      Bool        `json:"deleted,omitempty"`
	FirstSeen    string      `json:"first_seen,omitempty"`
	LastSeen     string      `json:"last_seen,omitempty"`
	Attributes   []Attribute `json:"Attribute,omitempty"`
}

// Int is an integer that MISP may write as a JSON number or string; null
// and "" read as 0. It encodes as a string, as MISP does.
type Int int64

// UnmarshalJSON accepts 5, "5", null and "".
func (n *Int) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("misp: %s is not an integer", b)
	}
	*n = Int(v)
	return nil
}

// MarshalJSON writes the integer as a string.
func (n Int) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(n), 10) + `"`), nil
}

// Bool is a boolean that MISP may write as true, "1", 1 or "true".
type Bool bool

// UnmarshalJSON accepts JSON booleans, 0/1 and their string forms.
func (v *Bool) UnmarshalJSON(b []byte) error {
	switch strings.ToLower(strings.Trim(string(bytes.TrimSpace(b)), `"`)) {
	case "true", "1":
		*v = true
	case "false", "0", "", "null":
		*v = false
	default:
		return fmt.Errorf("misp: %s is not a boolean", b)
	}
	return nil
}

// ParseEvent reads one MISP event in either form MISP writes: wrapped
// {"Event": {...}} or bare.
func ParseEvent(data []byte) (Event, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return Event{}, notAnEvent(data, err)
	}
	body := data
	if wrapped, ok := top["Event"]; ok {
		body = wrapped
	} else if err := eventKeys(top); err != nil {
		return Event{}, err
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, fmt.Errorf("misp: event: %w", err)
	}
	return ev, nil
}

// notAnEvent explains why data, which is no JSON object, is not a MISP
// event, naming what it is when it is a known MISP file.
func notAnEvent(data []byte, err error) error {
	var list []map[string]json.RawMessage
	if json.Unmarshal(data, &list) != nil {
		return fmt.Errorf("misp: not a MISP event: %w", err)
	}
	kind := "JSON objects"
	if len(list) > 0 {
		switch {
		case has(list[0], "SharingGroup"):
			kind = "MISP sharing groups (who may see events; they hold no indicators)"
		case has(list[0], "Event"):
			kind = "MISP events: import them as a feed directory (manifest.json and one file per event) or one file each"
		case has(list[0], "Attribute"):
			kind = "MISP attributes without their event"
		}
	}
	return fmt.Errorf("misp: not a MISP event: the file is a list of %d %s", len(list), kind)
}

// eventKeys checks that an unwrapped object looks like an event, naming
// what it is when it is another MISP file.
func eventKeys(top map[string]json.RawMessage) error {
	switch {
	case has(top, "info") || has(top, "Attribute") || has(top, "Object") || has(top, "uuid") && has(top, "date"):
		return nil
	case has(top, "SharingGroup"):
		return errors.New("misp: not a MISP event: the file is a MISP sharing group (who may see events; it holds no indicators)")
	case has(top, "requiredOneOf") || has(top, "meta-category") || has(top, "attributes") && has(top, "required"):
		return errors.New("misp: not a MISP event: the file is a MISP object template (it defines an object's attributes; it holds no indicators)")
	case has(top, "Galaxy") || has(top, "GalaxyCluster"):
		return errors.New("misp: not a MISP event: the file is a MISP galaxy (threat-actor or tool knowledge, no indicators)")
	case has(top, "Tag") && len(top) == 1:
		return errors.New("misp: not a MISP event: the file is a MISP tag list")
	}
	if len(top) == 0 {
		return errors.New("misp: not a MISP event: the file is an empty JSON object")
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return fmt.Errorf("misp: not a MISP event: no Event, info or Attribute; the file's keys are %s", strings.Join(keys, ", "))
}

func has(m map[string]json.RawMessage, key string) bool {
	_, ok := m[key]
	return ok
}

// MarshalJSON-ready wrapper for feed files.
type wrappedEvent struct {
	Event Event `json:"Event"`
}
