package iocfeed

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/warninglist"
)

// Validator returns the intel repository's check for incoming objects: a
// valid STIX 2.1 object, and, for an indicator whose pattern is a simple
// observable test, a value that is not on a warning list. Known-benign
// values (RFC 1918 ranges, public resolvers, top domains) would only raise
// false alarms; the error names the list, so the importer reports why the
// indicator was dropped. With nil lists, only the first check is made.
func Validator(lists *warninglist.Set) intel.Validator {
	if lists == nil {
		return func(raw json.RawMessage) error {
			_, err := stix.Decode(raw)
			return err
		}
	}
	return func(raw json.RawMessage) error {
		msg, err := Listed(lists, raw)
		if err == nil && msg != "" {
			err = errors.New(msg)
		}
		return err
	}
}

// Overriding returns a check like Validator's that stores indicators of
// values on a warning list instead of refusing them, calling note with
// the indicator's id and the message that would have refused it, so that
// an operator who imports such data on purpose (a test feed, an exercise's
// private ranges) sees what each list would have dropped.
func Overriding(lists *warninglist.Set, note func(id, msg string)) intel.Validator {
	return func(raw json.RawMessage) error {
		msg, err := Listed(lists, raw)
		if err == nil && msg != "" {
			var named struct {
				ID string `json:"id"`
			}
			json.Unmarshal(raw, &named)
			note(named.ID, msg)
		}
		return err
	}
}

// Listed checks one incoming object: err says why it is no valid STIX
// 2.1, and msg, for an indicator whose pattern is a simple observable test
// with a value on one of lists, names the value and the list.
func Listed(lists *warninglist.Set, raw json.RawMessage) (msg string, err error) {
	_, obs, shape, err := Read(raw)
	if err != nil || shape != Simple || lists == nil {
		return "", err
	}
	for _, o := range obs {
		if name, hit := lists.Check(o.Type, o.Value); hit {
			return fmt.Sprintf("%s %s is on warning list %q (known benign): indicator dropped", o.Type, o.Value, name), nil
		}
	}
	return "", nil
}
