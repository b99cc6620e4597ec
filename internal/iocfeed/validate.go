package iocfeed

import (
	"encoding/json"
	"fmt"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/warninglist"
)

// Validator returns the intel repository's check for incoming objects: a
// valid STIX 2.1 object, and, for an indicator whose pattern is a simple
// observable test, a value that is not on a warning list. Known-benign
// values (RFC 1918 ranges, public resolvers, top domains) would only raise
// false alarms; the error names the list, so the importer reports why the
// indicator was dropped.
func Validator(lists *warninglist.Set) intel.Validator {
	return func(raw json.RawMessage) error {
		_, obs, shape, err := Read(raw)
		if err != nil || shape != Simple || lists == nil {
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
