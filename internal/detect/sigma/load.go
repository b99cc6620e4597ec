package sigma

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadError reports a rule that could not be loaded, and why.
type LoadError struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	RuleID string `json:"rule_id,omitempty"`
	Title  string `json:"title,omitempty"`
	Reason string `json:"reason"`
	// Unsupported marks valid (or legacy) Sigma that xsoc does not
	// implement, as opposed to a broken rule.
	Unsupported bool `json:"unsupported,omitempty"`
}

// Error renders the error as "file:line: rule "title" (id): reason".
func (e LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	switch {
	case e.Title != "" && e.RuleID != "":
		fmt.Fprintf(&b, "rule %q (%s): ", e.Title, e.RuleID)
	case e.Title != "":
		fmt.Fprintf(&b, "rule %q: ", e.Title)
	}
	if e.Unsupported {
		b.WriteString("unsupported: ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// LoadDir reads every .yml and .yaml file under dir, parses it and checks
// that its rules compile with opts (placeholders, references between
// correlations, filters and rules). It returns the rules that are good and
// one LoadError per problem; a broken rule never stops the others.
func LoadDir(dir string, opts Options) ([]*Rule, []LoadError) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, []LoadError{{File: dir, Reason: err.Error()}}
	}
	sort.Strings(files)
	return LoadFiles(files, opts)
}

// LoadFiles is LoadDir over a list of files.
func LoadFiles(files []string, opts Options) ([]*Rule, []LoadError) {
	var rules []*Rule
	var errs []LoadError
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, LoadError{File: f, Reason: err.Error()})
			continue
		}
		rs, err := ParseRule(data, f)
		rules = append(rules, rs...)
		errs = append(errs, parseErrors(f, err)...)
	}
	_, cerrs, failed := compile(rules, opts)
	errs = append(errs, cerrs...)
	good := rules[:0]
	for _, r := range rules {
		if !failed[r] {
			good = append(good, r)
		}
	}
	return good, errs
}

// parseErrors flattens ParseRule's error into LoadErrors.
func parseErrors(file string, err error) []LoadError {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]LoadError, 0, len(list))
	for _, e := range list {
		var pe *ParseError
		if errors.As(e, &pe) {
			out = append(out, LoadError{File: file, Line: pe.Line, Reason: pe.Reason, Unsupported: pe.Unsupported})
			continue
		}
		out = append(out, LoadError{File: file, Reason: e.Error()})
	}
	return out
}

// Unsupported lists, from errs, the constructs xsoc does not implement,
// with how many rules use each (the reason up to its first colon names
// the construct).
func Unsupported(errs []LoadError) map[string]int {
	out := map[string]int{}
	for _, e := range errs {
		if !e.Unsupported {
			continue
		}
		reason := e.Reason
		if i := strings.Index(reason, ":"); i > 0 {
			reason = reason[:i]
		}
		out[reason]++
	}
	return out
}
