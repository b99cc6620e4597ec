// Command testreport reads "go test -json" on standard input and prints
// what a person running the suite needs: each package's result, every
// skipped test with the reason it gave, and the whole output of failed
// tests; passing tests stay quiet. ./test runs the suite through it. It
// exits 1 when a test or a build failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// testEvent is one line of "go test -json" (see "go doc test2json").
type testEvent struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

func main() {
	failed, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// report prints the summary of the events on r to w and reports whether
// anything failed.
func report(r io.Reader, w io.Writer) (failed bool, err error) {
	output := map[string][]string{} // package/test → its output so far
	skips := map[string][]string{}  // package → its skip lines, printed with its result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev testEvent
		if json.Unmarshal(line, &ev) != nil {
			fmt.Fprintf(w, "%s\n", line) // build errors come as plain text
			continue
		}
		key := ev.Package + "\x00" + ev.Test
		switch ev.Action {
		case "output":
			output[key] = append(output[key], ev.Output)
			continue
		case "build-output":
			fmt.Fprint(w, ev.Output)
			continue
		case "build-fail":
			failed = true
			continue
		case "skip":
			if ev.Test != "" {
				skips[ev.Package] = append(skips[ev.Package], fmt.Sprintf("    skip %s: %s\n", ev.Test, reason(output[key])))
			}
		case "fail":
			failed = true
			if ev.Test != "" || len(output[key]) > 0 {
				fmt.Fprint(w, strings.Join(output[key], ""))
			}
		}
		if ev.Test == "" && (ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip") {
			status := map[string]string{"pass": "ok  ", "fail": "FAIL", "skip": "?   "}[ev.Action]
			if ev.Action == "skip" {
				fmt.Fprintf(w, "%s\t%s\t[no test files]\n", status, ev.Package)
			} else {
				fmt.Fprintf(w, "%s\t%s\t%.3fs\n", status, ev.Package, ev.Elapsed)
			}
			fmt.Fprint(w, strings.Join(skips[ev.Package], ""))
			delete(skips, ev.Package)
		}
		if ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip" {
			delete(output, key)
		}
	}
	return failed, sc.Err()
}

// reason is what a skipped test said: its output without the "=== RUN"
// and "--- SKIP" lines, on one line.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "no reason given"
	}
	return strings.Join(parts, " ")
}
