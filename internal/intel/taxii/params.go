package taxii

import (
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"

	"github.com/xsoc/xsoc/internal/intel"
)

// Filter parameters, as TAXII 2.1 names them in query strings.
const (
	paramAddedAfter  = "added_after"
	paramLimit       = "limit"
	paramNext        = "next"
	paramID          = "match[id]"
	paramType        = "match[type]"
	paramVersion     = "match[version]"
	paramSpecVersion = "match[spec_version]"
)

// Which filters each endpoint takes.
var (
	objectsParams  = []string{paramAddedAfter, paramLimit, paramNext, paramID, paramType, paramVersion, paramSpecVersion}
	objectParams   = []string{paramAddedAfter, paramLimit, paramNext, paramVersion, paramSpecVersion}
	versionsParams = []string{paramAddedAfter, paramLimit, paramNext, paramSpecVersion}
	deleteParams   = []string{paramVersion, paramSpecVersion}
)

// ParseFilter reads the TAXII filter parameters of a query string,
// refusing any filter the endpoint does not take (allowed lists their
// parameter names; nil allows all of them) and malformed values. Other
// parameters are ignored.
func ParseFilter(q url.Values, allowed []string) (intel.Filter, error) {
	if allowed == nil {
		allowed = objectsParams
	}
	var f intel.Filter
	for name, vals := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || a == name
		}
		if !ok {
			if strings.HasPrefix(name, "match[") || isKnownParam(name) {
				return intel.Filter{}, fmt.Errorf("filter %q is not supported here", name)
			}
			continue
		}
		if err := setParam(&f, name, vals); err != nil {
			return intel.Filter{}, err
		}
	}
	return f, nil
}

func isKnownParam(name string) bool {
	return name == paramAddedAfter || name == paramLimit || name == paramNext
}

func setParam(f *intel.Filter, name string, vals []string) error {
	switch name {
	case paramAddedAfter, paramLimit, paramNext:
		if len(vals) != 1 {
			return fmt.Errorf("%s given %d times", name, len(vals))
		}
	}
	var err error
	switch name {
	case paramAddedAfter:
		f.AddedAfter, err = intel.ParseTimestamp(vals[0])
		if err != nil {
			return fmt.Errorf("added_after: %v", err)
		}
	case paramLimit:
		n, err := strconv.Atoi(vals[0])
		if err != nil || n <= 0 {
			return fmt.Errorf("limit %q is not a positive number", vals[0])
		}
		f.Limit = n
	case paramNext:
		if vals[0] == "" {
			return fmt.Errorf("next is empty")
		}
		f.Next = vals[0]
	case paramID:
		f.IDs, err = list(name, vals)
	case paramType:
		f.Types, err = list(name, vals)
	case paramVersion:
		f.Versions, err = list(name, vals)
	case paramSpecVersion:
		f.SpecVersions, err = list(name, vals)
		for _, v := range f.SpecVersions {
			if err == nil && !intel.SpecVersionSyntax(v) {
				// A version that reads right but that nothing is held in
				// ("2.2") selects nothing; one that cannot be a version
				// is the client's error.
				err = fmt.Errorf("%s %q is not a STIX version such as 2.1", name, v)
			}
		}
	}
	return err
}

// list splits comma-separated values (TAXII's "or" within one filter).
func list(name string, vals []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				return nil, fmt.Errorf("%s has an empty value", name)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// EncodeFilter writes a filter as TAXII query parameters.
func EncodeFilter(f intel.Filter) url.Values {
	q := url.Values{}
	if !f.AddedAfter.IsZero() {
		q.Set(paramAddedAfter, intel.FormatTimestamp(f.AddedAfter))
	}
	if f.Limit > 0 {
		q.Set(paramLimit, strconv.Itoa(f.Limit))
	}
	if f.Next != "" {
		q.Set(paramNext, f.Next)
	}
	for name, l := range map[string][]string{paramID: f.IDs, paramType: f.Types, paramVersion: f.Versions, paramSpecVersion: f.SpecVersions} {
		if len(l) > 0 {
			q.Set(name, strings.Join(l, ","))
		}
	}
	return q
}

// acceptable reports whether an Accept header admits TAXII 2.1 JSON. An
// absent header admits anything.
func acceptable(header string) bool {
	if strings.TrimSpace(header) == "" {
		return true
	}
	for _, part := range strings.Split(header, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || refused(params) {
			continue
		}
		switch mt {
		case "*/*", "application/*":
			return true
		case "application/taxii+json":
			if v, ok := params["version"]; !ok || v == "2.1" {
				return true
			}
		}
	}
	return false
}

// refused reports whether a media range's quality is zero (or unreadable).
func refused(params map[string]string) bool {
	q, ok := params["q"]
	if !ok {
		return false
	}
	v, err := strconv.ParseFloat(q, 64)
	return err != nil || v <= 0
}

// postable reports whether a Content-Type names a body the server reads:
// a TAXII 2.1 envelope, or a STIX 2.1 or 2.0 bundle (2.0 objects are
// converted as they are added).
func postable(header string) bool {
	mt, params, err := mime.ParseMediaType(header)
	if err != nil {
		return false
	}
	v, hasVersion := params["version"]
	switch mt {
	case "application/taxii+json":
		return !hasVersion || v == "2.1"
	case "application/stix+json":
		return !hasVersion || v == "2.1" || v == "2.0"
	}
	return false
}
