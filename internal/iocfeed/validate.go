package iocfeed

import (
	"encoding/json"
	"fmt"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
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
		obj, err := stix.Decode(raw)
		if err != nil {
			return err
		}
		if obj.Type() != "indicator" || lists == nil {
			return nil
		}
		ind, err := obj.Indicator()
		if err != nil || ind.PatternType != "stix" {
			return err
		}
		p, err := pattern.Parse(ind.Pattern)
		if err != nil {
			return fmt.Errorf("pattern: %w", err)
		}
		obs, ok := pattern.Simple(p)
		if !ok {
			return nil
		}
		for _, o := range obs {
			if name, hit := lists.Check(o.Type, o.Value); hit {
				return fmt.Errorf("%s %s is on warning list %q (known benign): indicator dropped", o.Type, o.Value, name)
			}
		}
		return nil
	}
}
