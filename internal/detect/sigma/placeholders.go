package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Placeholders (%name% in a value with the expand modifier) stand for
// lists of values an operator gives per site: administrators, domain
// controllers, approved ranges. They come from a placeholders file, the
// node's configuration and the command line (see PlaceholderValues).

// maxPlaceholderBytes bounds a placeholders file.
const maxPlaceholderBytes = 4 << 20

// ParsePlaceholders reads a placeholders file: a YAML mapping from each
// placeholder's name to its values, a list or a single value
//
//	Admins: [adm_*, root]
//	DomainControllers: dc01
//
// or a pySigma processing pipeline whose vars hold that mapping (the other
// keys of a pipeline are ignored). source names the input in errors.
func ParsePlaceholders(data []byte, source string) (map[string][]string, error) {
	if len(data) > maxPlaceholderBytes {
		return nil, &ParseError{Source: source, Reason: fmt.Sprintf("file is %d bytes, over the %d byte limit", len(data), maxPlaceholderBytes)}
	}
	var doc yaml.Node
	if err := decodeSafely(yaml.NewDecoder(bytes.NewReader(data)), &doc); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string][]string{}, nil // an empty file
		}
		return nil, yamlError(source, err)
	}
	if len(doc.Content) == 0 {
		return map[string][]string{}, nil
	}
	root := resolve(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return map[string][]string{}, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, perr(source, root, "placeholders: want a mapping from each name to its values")
	}
	if vars := pipelineVars(root); vars != nil {
		root = vars
	}
	out := map[string][]string{}
	err := mapping(root, func(k, v *yaml.Node) error {
		if k.Kind != yaml.ScalarNode || k.Value == "" || strings.ContainsAny(k.Value, "% ") {
			return perr(source, k, "placeholder name %q: want a name without %% or spaces", k.Value)
		}
		if _, dup := out[k.Value]; dup {
			return perr(source, k, "placeholder %q is given twice", k.Value)
		}
		vals, err := stringList(source, v, "placeholder "+k.Value)
		if err != nil {
			return err
		}
		if len(vals) == 0 {
			return perr(source, v, "placeholder %q has no values", k.Value)
		}
		out[k.Value] = vals
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pipelineVars returns the vars mapping of a pySigma processing pipeline
// (a document with a vars mapping, or with transformations and no vars),
// or nil if root is not one.
func pipelineVars(root *yaml.Node) *yaml.Node {
	var vars *yaml.Node
	pipeline := false
	mapping(root, func(k, v *yaml.Node) error {
		switch {
		case k.Value == "vars" && v.Kind == yaml.MappingNode:
			vars = v
		case k.Value == "transformations" && v.Kind == yaml.SequenceNode:
			pipeline = true
		}
		return nil
	})
	if vars == nil && pipeline {
		return &yaml.Node{Kind: yaml.MappingNode}
	}
	return vars
}

// PlaceholderValues gathers placeholder values: those of the file (if
// file is not empty), then each of over in turn, a name given there
// replacing the values given before for it.
func PlaceholderValues(file string, over ...map[string][]string) (map[string][]string, error) {
	out := map[string][]string{}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("placeholders: %w", err)
		}
		if out, err = ParsePlaceholders(data, file); err != nil {
			return nil, err
		}
	}
	for _, m := range over {
		for name, vals := range m {
			out[name] = vals
		}
	}
	return out, nil
}
