package taxii

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// replayFile is a recorded conversation with a TAXII 2.1 server.
type replayFile struct {
	Exchanges []struct {
		Name    string `json:"name"`
		Request struct {
			Method  string            `json:"method"`
			Path    string            `json:"path"`
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"request"`
		Response struct {
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"response"`
		// Capture names values of the response ("body.<prop>" or
		// "header.<Name>") for later exchanges' {{$name}}.
		Capture map[string]string `json:"capture"`
	} `json:"exchanges"`
}

// TestReplaySpecExchanges replays the recorded exchanges in
// testdata/replay against a fresh server and checks every status code,
// header and body.
func TestReplaySpecExchanges(t *testing.T) {
	files, err := filepath.Glob("testdata/replay/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no replay files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var rf replayFile
			if err := json.Unmarshal(data, &rf); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, storetest.SQLite(t, intel.Schema(), Schema()), 0, 100)
			vars := map[string]string{"host": e.srv.URL}
			for i, x := range rf.Exchanges {
				var body io.Reader
				if len(x.Request.Body) > 0 {
					body = bytes.NewReader(x.Request.Body)
				}
				req, err := http.NewRequest(x.Request.Method, e.srv.URL+expand(x.Request.Path, vars), body)
				if err != nil {
					t.Fatalf("#%d %s: %v", i, x.Name, err)
				}
				for k, v := range x.Request.Headers {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("#%d %s: %v", i, x.Name, err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != x.Response.Status {
					t.Fatalf("#%d %s: status %d, want %d: %s", i, x.Name, resp.StatusCode, x.Response.Status, got)
				}
				for k, want := range x.Response.Headers {
					values := resp.Header.Values(k)
					if want == "{{absent}}" {
						if len(values) > 0 {
							t.Errorf("#%d %s: header %s = %q, want none", i, x.Name, k, values)
						}
						continue
					}
					if len(values) == 0 || !matchString(want, values[0], vars) {
						t.Errorf("#%d %s: header %s = %q, want %q", i, x.Name, k, values, want)
					}
				}
				if err := matchBody(x.Response.Body, got, vars); err != nil {
					t.Fatalf("#%d %s: body %s\n%v", i, x.Name, got, err)
				}
				for name, from := range x.Capture {
					vars["$"+name] = capture(t, from, got, resp.Header)
				}
			}
		})
	}
}

// expand replaces {{name}} with captured values.
func expand(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	return s
}

func capture(t *testing.T, from string, body []byte, h http.Header) string {
	if name, ok := strings.CutPrefix(from, "header."); ok {
		return h.Get(name)
	}
	var m map[string]any
	json.Unmarshal(body, &m)
	v, _ := m[strings.TrimPrefix(from, "body.")].(string)
	if v == "" {
		t.Fatalf("nothing to capture at %s in %s", from, body)
	}
	return v
}

var (
	uuidPattern      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	timestampPattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`)
)

// matchString compares a value against an expected one with placeholders.
func matchString(want, got string, vars map[string]string) bool {
	switch want {
	case "{{any}}":
		return true
	case "{{uuid}}":
		return uuidPattern.MatchString(got)
	case "{{timestamp}}":
		return timestampPattern.MatchString(got)
	}
	return expand(want, vars) == got
}

// matchBody compares JSON bodies structurally: same keys, same values, with
// placeholders in expected strings. An absent expected body means an empty
// one.
func matchBody(want json.RawMessage, got []byte, vars map[string]string) error {
	if len(want) == 0 {
		if len(bytes.TrimSpace(got)) != 0 {
			return fmt.Errorf("want an empty body")
		}
		return nil
	}
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		return err
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Errorf("response is not JSON: %v", err)
	}
	return matchValue("$", w, g, vars)
}

func matchValue(path string, want, got any, vars map[string]string) error {
	switch w := want.(type) {
	case string:
		if g, ok := got.(string); !ok || !matchString(w, g, vars) {
			return fmt.Errorf("%s = %v, want %q", path, got, w)
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s = %v, want an object", path, got)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				return fmt.Errorf("%s has unexpected property %q", path, k)
			}
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s lacks property %q", path, k)
			}
			if err := matchValue(path+"."+k, wv, gv, vars); err != nil {
				return err
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s = %v, want %d entries", path, got, len(w))
		}
		for i := range w {
			if err := matchValue(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], vars); err != nil {
				return err
			}
		}
	default:
		if want != got {
			return fmt.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	return nil
}
