package iocfeed

import (
	"encoding/json"
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
		_, obs, shape, err := Read(raw)
		if err != nil || shape != Simple {
			return err
		}
		for _, o := range obs {
			if name, hit := lists.Check(o.Type, o.Value); hit {
				return fmt.Errorf("%s %s is on warning list %q (known benign): indicator dropped", o.Type, o.Value, name)
			}
		}
		return nil
	}
}
