package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Rule is one parsed Sigma document: a detection rule, a correlation rule
// (Correlation != nil) or a meta-filter (Filter != nil). Parsing checks the
// structure; Compile checks the meaning (modifiers, regular expressions,
// condition references).
type Rule struct {
	ID          string
	Name        string // unique human-readable name used by correlations
	Title       string
	Description string
	Status      string
	Level       string
	Author      string
	Date        string
	Modified    string
	Tags        []string
	// Techniques are the MITRE ATT&CK technique ids named by the tags,
	// upper case: attack.t1059.001 becomes "T1059.001".
	Techniques  []string
	Logsource   Logsource
	Detection   *Detection   // nil for correlation rules
	Correlation *Correlation // set for correlation rules
	Filter      *Filter      // set for meta-filters
	// Source names where the rule came from (a file path) and Line is the
	// line of its first key, for error messages.
	Source string
	Line   int
}

// Logsource says which events a rule applies to. Values are lower case.
type Logsource struct {
	Category   string `json:"category,omitempty"`
	Product    string `json:"product,omitempty"`
	Service    string `json:"service,omitempty"`
	Definition string `json:"definition,omitempty"`
}

// String renders the logsource as product/category/service, "-" for an
// absent part.
func (l Logsource) String() string {
	part := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return part(l.Product) + "/" + part(l.Category) + "/" + part(l.Service)
}

// Detection is a rule's detection section: named searches and the
// condition that combines them.
type Detection struct {
	// Searches by name, and their names in document order.
	Searches map[string]*Search
	Order    []string
	// Conditions are ORed (a condition given as a list).
	Conditions    []string
	ConditionLine int
}

// Search is one named search identifier. Alternatives are ORed; the field
// matches of one alternative are ANDed. A list of plain values (keywords)
// is one alternative holding a FieldMatch with an empty Field.
type Search struct {
	Name         string
	Line         int
	Alternatives [][]*FieldMatch
}

// FieldMatch is one "Field|mod1|mod2: values" entry.
type FieldMatch struct {
	Field     string // Sigma field name; "" searches every field (keywords)
	Modifiers []string
	Values    []Value
	Line      int
}

// Value is one YAML scalar of a detection, kept as its text.
type Value struct {
	Text string
	Null bool // YAML null (~, null, or no value)
	// Kind is the YAML type: "str", "int", "float" or "bool".
	Kind string
}

// Correlation is the correlation section of a Sigma v2 correlation rule.
type Correlation struct {
	Type     string   // event_count, value_count, temporal, ...
	Rules    []string // ids or names of the correlated rules
	GroupBy  []string
	Timespan string
	// Condition maps an operator (gt, gte, lt, lte, eq, neq) to its
	// threshold; Field is the field of value_* correlations.
	Condition map[string]float64
	Field     string
	// Aliases maps an alias to rule name to field.
	Aliases map[string]map[string]string
	// Generate says whether the correlated rules also raise their own
	// alerts.
	Generate bool
	Line     int
}

// Filter is a Sigma meta-filter: matching events are excluded from the
// named rules.
type Filter struct {
	Rules     []string // ids or names of the filtered rules
	Detection *Detection
	Line      int
}

// ParseError is a parse failure with the place it happened.
type ParseError struct {
	Source string
	Line   int
	Reason string
	// Unsupported marks input that is valid Sigma (or a legacy form of it)
	// that xsoc does not implement, rather than broken input.
	Unsupported bool
}

// Error renders the error as "source:line: reason".
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Source, e.Line, e.Reason)
	}
	return e.Source + ": " + e.Reason
}

func perr(source string, n *yaml.Node, format string, args ...any) *ParseError {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &ParseError{Source: source, Line: line, Reason: fmt.Sprintf(format, args...)}
}

func unsupported(source string, n *yaml.Node, format string, args ...any) *ParseError {
	e := perr(source, n, format, args...)
	e.Unsupported = true
	return e
}

// legacyCollection starts the reason given for Sigma 1 rule collections.
const legacyCollection = "legacy rule collection"

// maxRuleBytes bounds one rule file; real rules are a few kilobytes.
const maxRuleBytes = 4 << 20

// ParseRule parses one YAML file holding one or more Sigma documents
// (rules, correlations, filters, separated by ---). source names the input
// in errors. It returns the documents that parsed and, if any failed, an
// error (a *ParseError, or several joined) naming source, line and reason.
func ParseRule(data []byte, source string) ([]*Rule, error) {
	if len(data) > maxRuleBytes {
		return nil, &ParseError{Source: source, Reason: fmt.Sprintf("file is %d bytes, over the %d byte limit", len(data), maxRuleBytes)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var rules []*Rule
	var errs []error
	for {
		var doc yaml.Node
		err := decodeSafely(dec, &doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, yamlError(source, err))
			break // the decoder cannot resynchronise after a syntax error
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // empty document
		}
		r, err := parseDocument(root, source)
		if err != nil {
			errs = append(errs, err)
			if pe, ok := err.(*ParseError); ok && pe.Unsupported && strings.HasPrefix(pe.Reason, legacyCollection) {
				break // the other documents only make sense with this one
			}
			continue
		}
		rules = append(rules, r)
	}
	return rules, errors.Join(errs...)
}

// decodeSafely decodes one YAML document; yaml.v3 panics on a few
// pathological inputs, which must never take the caller down.
func decodeSafely(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlError turns a yaml.v3 error into a ParseError, lifting its line.
func yamlError(source string, err error) *ParseError {
	msg := err.Error()
	e := &ParseError{Source: source, Reason: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		fmt.Sscan(m[1], &e.Line)
	}
	return e
}

// resolve follows YAML aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// mapping iterates the key/value pairs of a mapping node.
func mapping(n *yaml.Node, fn func(k, v *yaml.Node) error) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if err := fn(resolve(n.Content[i]), resolve(n.Content[i+1])); err != nil {
			return err
		}
	}
	return nil
}

func parseDocument(root *yaml.Node, source string) (*Rule, error) {
	root = resolve(root)
	if root.Kind != yaml.MappingNode {
		return nil, perr(source, root, "a Sigma document must be a YAML mapping")
	}
	r := &Rule{Source: source, Line: root.Line}
	var detection, correlation, filter *yaml.Node
	seen := map[string]bool{}
	err := mapping(root, func(k, v *yaml.Node) error {
		if seen[k.Value] {
			return perr(source, k, "duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "title":
			r.Title, err = scalar(source, v, "title")
		case "id":
			r.ID, err = scalar(source, v, "id")
		case "name":
			r.Name, err = scalar(source, v, "name")
		case "description":
			r.Description, err = scalar(source, v, "description")
		case "status":
			r.Status, err = scalar(source, v, "status")
		case "level":
			r.Level, err = scalar(source, v, "level")
			r.Level = strings.ToLower(r.Level)
		case "author":
			r.Author, err = scalar(source, v, "author")
		case "date":
			r.Date, err = scalar(source, v, "date")
		case "modified":
			r.Modified, err = scalar(source, v, "modified")
		case "tags":
			r.Tags, err = stringList(source, v, "tags")
		case "logsource":
			r.Logsource, err = parseLogsource(source, v)
		case "detection":
			detection = v
		case "correlation":
			correlation = v
		case "filter":
			filter = v
		case "action":
			if v.Value == "global" || v.Value == "reset" || v.Value == "repeat" {
				return unsupported(source, k, "%s: 'action: %s' documents; split them into separate rules or a Sigma v2 correlation", legacyCollection, v.Value)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if r.Title == "" {
		return nil, perr(source, root, "missing title")
	}
	r.Techniques = techniques(r.Tags)
	if r.Level != "" && !validLevel(r.Level) {
		return nil, perr(source, root, "rule %q: unknown level %q (want informational, low, medium, high or critical)", r.Title, r.Level)
	}
	switch {
	case correlation != nil:
		r.Correlation, err = parseCorrelation(source, correlation)
		if err == nil && len(seen) > 0 && seen["generate"] {
			// generate may also stand at top level in older drafts.
			r.Correlation.Generate = topBool(root, "generate")
		}
	case filter != nil:
		r.Filter, err = parseFilter(source, filter)
	case detection != nil:
		r.Detection, err = parseDetection(source, detection, "detection")
	default:
		return nil, perr(source, root, "rule %q has no detection, correlation or filter section", r.Title)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func validLevel(l string) bool {
	switch l {
	case "informational", "low", "medium", "high", "critical":
		return true
	}
	return false
}

func topBool(root *yaml.Node, key string) bool {
	var out bool
	mapping(root, func(k, v *yaml.Node) error {
		if k.Value == key {
			out = v.Value == "true"
		}
		return nil
	})
	return out
}

func scalar(source string, v *yaml.Node, what string) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", perr(source, v, "%s must be a single value", what)
	}
	if v.Tag == "!!null" {
		return "", nil
	}
	return v.Value, nil
}

// stringList reads a list of scalars, or a single scalar as a list of one.
func stringList(source string, v *yaml.Node, what string) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, nil
		}
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for _, c := range v.Content {
			c = resolve(c)
			if c.Kind != yaml.ScalarNode {
				return nil, perr(source, c, "%s must be a list of values", what)
			}
			out = append(out, c.Value)
		}
		return out, nil
	}
	return nil, perr(source, v, "%s must be a list of values", what)
}

func parseLogsource(source string, v *yaml.Node) (Logsource, error) {
	var ls Logsource
	if v.Kind != yaml.MappingNode {
		return ls, perr(source, v, "logsource must be a mapping")
	}
	err := mapping(v, func(k, val *yaml.Node) error {
		s, err := scalar(source, val, "logsource."+k.Value)
		if err != nil {
			return err
		}
		switch k.Value {
		case "category":
			ls.Category = strings.ToLower(s)
		case "product":
			ls.Product = strings.ToLower(s)
		case "service":
			ls.Service = strings.ToLower(s)
		case "definition":
			ls.Definition = s
		}
		return nil
	})
	return ls, err
}

// techniqueTag matches ATT&CK technique tags: attack.t1059 or attack.t1059.001.
var techniqueTag = regexp.MustCompile(`^attack\.t(\d{4})(\.\d{3})?$`)

// techniques lifts ATT&CK technique ids out of tags.
func techniques(tags []string) []string {
	var out []string
	for _, t := range tags {
		if m := techniqueTag.FindStringSubmatch(strings.ToLower(strings.TrimSpace(t))); m != nil {
			out = append(out, "T"+m[1]+m[2])
		}
	}
	return out
}

// parseDetection reads a detection section (or the selection part of a
// meta-filter, where the key "rules" has already been removed).
func parseDetection(source string, v *yaml.Node, what string) (*Detection, error) {
	if v.Kind != yaml.MappingNode {
		return nil, perr(source, v, "%s must be a mapping", what)
	}
	d := &Detection{Searches: map[string]*Search{}}
	err := mapping(v, func(k, val *yaml.Node) error {
		name := k.Value
		switch name {
		case "condition":
			conds, err := stringList(source, val, "condition")
			if err != nil {
				return err
			}
			d.Conditions = conds
			d.ConditionLine = val.Line
			return nil
		case "timeframe":
			return unsupported(source, k, "legacy timeframe aggregation: rewrite as a Sigma v2 correlation rule")
		case "rules":
			if what == "filter" {
				return nil
			}
		}
		if _, dup := d.Searches[name]; dup {
			return perr(source, k, "duplicate search identifier %q", name)
		}
		s, err := parseSearch(source, name, val)
		if err != nil {
			return err
		}
		d.Searches[name] = s
		d.Order = append(d.Order, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(d.Conditions) == 0 {
		return nil, perr(source, v, "%s has no condition", what)
	}
	for _, c := range d.Conditions {
		if strings.Contains(c, "|") {
			return nil, unsupported(source, v, "legacy aggregation in condition (count, sum, near): %q; rewrite as a Sigma v2 correlation rule", c)
		}
	}
	return d, nil
}

func parseSearch(source, name string, v *yaml.Node) (*Search, error) {
	s := &Search{Name: name, Line: v.Line}
	switch v.Kind {
	case yaml.MappingNode:
		alt, err := parseMap(source, v)
		if err != nil {
			return nil, err
		}
		s.Alternatives = append(s.Alternatives, alt)
	case yaml.SequenceNode:
		var keywords *FieldMatch
		for _, c := range v.Content {
			c = resolve(c)
			switch c.Kind {
			case yaml.MappingNode:
				alt, err := parseMap(source, c)
				if err != nil {
					return nil, err
				}
				s.Alternatives = append(s.Alternatives, alt)
			case yaml.ScalarNode:
				if keywords == nil {
					keywords = &FieldMatch{Line: c.Line}
					s.Alternatives = append(s.Alternatives, []*FieldMatch{keywords})
				}
				keywords.Values = append(keywords.Values, scalarValue(c))
			default:
				return nil, perr(source, c, "search %q: a list may hold values or maps, not nested lists", name)
			}
		}
		if len(s.Alternatives) == 0 {
			return nil, perr(source, v, "search %q is an empty list", name)
		}
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, perr(source, v, "search %q is empty", name)
		}
		s.Alternatives = [][]*FieldMatch{{{Values: []Value{scalarValue(v)}, Line: v.Line}}}
	default:
		return nil, perr(source, v, "search %q must be a map or a list", name)
	}
	return s, nil
}

func scalarValue(n *yaml.Node) Value {
	switch n.Tag {
	case "!!null":
		return Value{Null: true}
	case "!!int":
		return Value{Text: n.Value, Kind: "int"}
	case "!!float":
		return Value{Text: n.Value, Kind: "float"}
	case "!!bool":
		return Value{Text: n.Value, Kind: "bool"}
	}
	return Value{Text: n.Value, Kind: "str"}
}

// parseMap reads one map of field matches (ANDed).
func parseMap(source string, v *yaml.Node) ([]*FieldMatch, error) {
	var out []*FieldMatch
	seen := map[string]bool{}
	err := mapping(v, func(k, val *yaml.Node) error {
		if seen[k.Value] {
			return perr(source, k, "duplicate field %q in one map (YAML keeps only one; use a second selection)", k.Value)
		}
		seen[k.Value] = true
		parts := strings.Split(k.Value, "|")
		fm := &FieldMatch{Field: parts[0], Line: k.Line}
		for _, m := range parts[1:] {
			fm.Modifiers = append(fm.Modifiers, strings.TrimSpace(m))
		}
		switch val.Kind {
		case yaml.ScalarNode:
			fm.Values = []Value{scalarValue(val)}
		case yaml.SequenceNode:
			if len(val.Content) == 0 {
				return perr(source, val, "field %q has an empty list of values", k.Value)
			}
			for _, c := range val.Content {
				c = resolve(c)
				if c.Kind != yaml.ScalarNode {
					return perr(source, c, "field %q: values must be plain values", k.Value)
				}
				fm.Values = append(fm.Values, scalarValue(c))
			}
		default:
			return perr(source, val, "field %q: value must be a value or a list of values", k.Value)
		}
		out = append(out, fm)
		return nil
	})
	return out, err
}

func parseCorrelation(source string, v *yaml.Node) (*Correlation, error) {
	if v.Kind != yaml.MappingNode {
		return nil, perr(source, v, "correlation must be a mapping")
	}
	c := &Correlation{Line: v.Line}
	err := mapping(v, func(k, val *yaml.Node) error {
		var err error
		switch k.Value {
		case "type":
			c.Type, err = scalar(source, val, "correlation.type")
		case "rules":
			c.Rules, err = stringList(source, val, "correlation.rules")
		case "group-by":
			c.GroupBy, err = stringList(source, val, "correlation.group-by")
		case "timespan", "timeframe":
			c.Timespan, err = scalar(source, val, "correlation.timespan")
		case "generate":
			c.Generate = val.Value == "true"
		case "condition":
			err = parseCorrCondition(source, val, c)
		case "aliases":
			err = parseAliases(source, val, c)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if c.Type == "" {
		return nil, perr(source, v, "correlation has no type")
	}
	if len(c.Rules) == 0 {
		return nil, perr(source, v, "correlation names no rules")
	}
	if c.Timespan == "" {
		return nil, perr(source, v, "correlation has no timespan")
	}
	return c, nil
}

func parseCorrCondition(source string, v *yaml.Node, c *Correlation) error {
	if v.Kind != yaml.MappingNode {
		return perr(source, v, "correlation condition must be a mapping such as {gte: 10}")
	}
	c.Condition = map[string]float64{}
	return mapping(v, func(k, val *yaml.Node) error {
		switch k.Value {
		case "field":
			fs, err := stringList(source, val, "correlation condition field")
			if err != nil {
				return err
			}
			c.Field = strings.Join(fs, ",")
			return nil
		case "gt", "gte", "lt", "lte", "eq", "neq":
			var f float64
			if _, err := fmt.Sscan(val.Value, &f); err != nil {
				return perr(source, val, "correlation condition %s: %q is not a number", k.Value, val.Value)
			}
			c.Condition[k.Value] = f
			return nil
		}
		return perr(source, k, "correlation condition: unknown operator %q", k.Value)
	})
}

func parseAliases(source string, v *yaml.Node, c *Correlation) error {
	if v.Kind != yaml.MappingNode {
		return perr(source, v, "correlation aliases must be a mapping")
	}
	c.Aliases = map[string]map[string]string{}
	return mapping(v, func(alias, m *yaml.Node) error {
		if m.Kind != yaml.MappingNode {
			return perr(source, m, "alias %q must map rule names to fields", alias.Value)
		}
		per := map[string]string{}
		err := mapping(m, func(rule, field *yaml.Node) error {
			per[rule.Value] = field.Value
			return nil
		})
		c.Aliases[alias.Value] = per
		return err
	})
}

func parseFilter(source string, v *yaml.Node) (*Filter, error) {
	if v.Kind != yaml.MappingNode {
		return nil, perr(source, v, "filter must be a mapping")
	}
	f := &Filter{Line: v.Line}
	err := mapping(v, func(k, val *yaml.Node) error {
		if k.Value != "rules" {
			return nil
		}
		var err error
		f.Rules, err = stringList(source, val, "filter.rules")
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(f.Rules) == 0 {
		return nil, perr(source, v, "filter names no rules")
	}
	f.Detection, err = parseDetection(source, v, "filter")
	if err != nil {
		return nil, err
	}
	return f, nil
}
