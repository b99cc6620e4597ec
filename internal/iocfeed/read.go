package iocfeed

import (
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
)

// Shape says what kind of object Read found.
type Shape uint8

// The shapes.
const (
	// Simple is an indicator whose STIX pattern only tests observables the
	// IOC index holds.
	Simple Shape = iota
	// NotIndicator is a valid object of another type.
	NotIndicator
	// Revoked is a revoked indicator.
	Revoked
	// Complex is an indicator with a complex STIX pattern or another
	// pattern language.
	Complex
)

// Read decodes and validates a STIX object (stix.Decode) and describes it
// with ReadObject. Invalid objects, patterns that do not parse included,
// are errors; everything else is described by the Shape.
func Read(raw []byte) (stix.Indicator, []pattern.Observable, Shape, error) {
	obj, err := stix.Decode(raw)
	if err != nil {
		return stix.Indicator{}, nil, 0, err
	}
	return ReadObject(obj)
}

// ReadObject describes a STIX object and, for an indicator with a simple
// pattern, returns the observables it tests. obj must be valid, as
// stix.Decode and the stix constructors leave it: it is not validated
// again, so that callers holding decoded objects do not pay for it twice.
// Validation has parsed a "stix" pattern; one that does not parse, in an
// object that skipped validation, is an error.
func ReadObject(obj stix.Object) (stix.Indicator, []pattern.Observable, Shape, error) {
	if obj.Type() != "indicator" {
		return stix.Indicator{}, nil, NotIndicator, nil
	}
	ind, err := obj.Indicator()
	if err != nil {
		return ind, nil, 0, err
	}
	if ind.Revoked {
		return ind, nil, Revoked, nil
	}
	if ind.PatternType != "stix" {
		return ind, nil, Complex, nil
	}
	p, err := pattern.Parse(ind.Pattern)
	if err != nil {
		return ind, nil, 0, err
	}
	obs, ok := pattern.Simple(p)
	if !ok {
		return ind, nil, Complex, nil
	}
	return ind, obs, Simple, nil
}

// KindOf maps a simple pattern's observable type to an IOC index kind.
func KindOf(t string) (ioc.Kind, bool) {
	switch t {
	case pattern.TypeIPv4, pattern.TypeIPv6:
		return ioc.KindIP, true
	case pattern.TypeDomain:
		return ioc.KindDomain, true
	case pattern.TypeURL:
		return ioc.KindURL, true
	case pattern.TypeEmail:
		return ioc.KindEmail, true
	case pattern.TypeFileMD5:
		return ioc.KindMD5, true
	case pattern.TypeFileSHA1:
		return ioc.KindSHA1, true
	case pattern.TypeFileSHA256:
		return ioc.KindSHA256, true
	}
	return 0, false
}
