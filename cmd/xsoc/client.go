package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// apiClient talks to a running node's REST API for the analyst commands
// (alerts, incidents, report).
type apiClient struct {
	base string
	key  string
	http *http.Client
}

// clientFlags registers --url and --key (defaults from XSOC_URL and
// XSOC_API_KEY) and returns a constructor.
func clientFlags(fs *flag.FlagSet) func() (*apiClient, error) {
	u := fs.String("url", envOr("XSOC_URL", "http://127.0.0.1:8080"), "node API URL (env XSOC_URL)")
	k := secretFlag(fs, "key", "XSOC_API_KEY", "API key; @file reads it from a file")
	return func() (*apiClient, error) {
		key := k()
		if path, ok := strings.CutPrefix(key, "@"); ok {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			key = strings.TrimSpace(string(b))
		}
		if key == "" {
			return nil, errors.New("no API key: pass --key or set XSOC_API_KEY")
		}
		base, err := nodeURL(*u)
		if err != nil {
			return nil, err
		}
		return &apiClient{base: base, key: key, http: &http.Client{Timeout: time.Minute}}, nil
	}
}

// nodeURL checks a node URL given with --url or XSOC_URL: http or https,
// with a host.
func nodeURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--url %q: want the node's URL with its scheme, such as http://127.0.0.1:8080 or https://xsoc.example.eu", s)
	}
	return strings.TrimRight(s, "/"), nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// do sends a request and decodes a JSON answer into out (if not nil). A
// non-2xx answer becomes an error carrying the server's message.
func (c *apiClient) do(method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	return json.Unmarshal(data, out)
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
