package taxii

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/intel"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// APIRoot is the URL of the server's API root
	// ("https://xsoc.example.eu/taxii2/api/").
	APIRoot string
	// Username and Password authenticate with HTTP Basic.
	Username, Password string
	// Token authenticates with "Authorization: Bearer"; it may not be set
	// together with Username.
	Token string
	// TLS configures HTTPS (client certificates, private CAs). Ignored
	// when HTTPClient is set.
	TLS *tls.Config
	// HTTPClient replaces the client's own http.Client.
	HTTPClient *http.Client
	// Timeout bounds each request (default 60 s; ignored when HTTPClient
	// is set).
	Timeout time.Duration
	// PageSize is the limit sent when pulling (0: the server's default).
	PageSize int
	// MaxResponse caps the size of one response body (default 64 MiB).
	MaxResponse int64
}

// Client talks to one TAXII 2.1 API root. It is safe for concurrent use.
type Client struct {
	root *url.URL
	cfg  ClientConfig
	http *http.Client
}

// NewClient returns a client for the API root in cfg.
func NewClient(cfg ClientConfig) (*Client, error) {
	root, err := url.Parse(cfg.APIRoot)
	if err != nil || (root.Scheme != "http" && root.Scheme != "https") || root.Host == "" {
		return nil, fmt.Errorf("taxii: API root %q is not an http(s) URL", cfg.APIRoot)
	}
	if !strings.HasSuffix(root.Path, "/") {
		root.Path += "/"
	}
	if cfg.Token != "" && cfg.Username != "" {
		return nil, errors.New("taxii: set either a bearer token or a username, not both")
	}
	if cfg.MaxResponse <= 0 {
		cfg.MaxResponse = 64 << 20
	}
	hc := cfg.HTTPClient
	if hc == nil {
		if cfg.Timeout <= 0 {
			cfg.Timeout = 60 * time.Second
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg.TLS
		hc = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	}
	return &Client{root: root, cfg: cfg, http: hc}, nil
}

// Discover reads a server's discovery resource at url (such as
// "https://xsoc.example.eu/taxii2/"), with this client's credentials.
func (c *Client) Discover(ctx context.Context, url string) (Discovery, error) {
	var d Discovery
	_, err := c.do(ctx, http.MethodGet, url, nil, &d)
	return d, err
}

// APIRoot reads the API root's information.
func (c *Client) APIRoot(ctx context.Context) (APIRoot, error) {
	var a APIRoot
	_, err := c.do(ctx, http.MethodGet, c.url(""), nil, &a)
	return a, err
}

// Collections lists the collections the client may read or write.
func (c *Client) Collections(ctx context.Context) ([]Collection, error) {
	var cs collections
	_, err := c.do(ctx, http.MethodGet, c.url("collections/"), nil, &cs)
	return cs.Collections, err
}

// Collection reads one collection.
func (c *Client) Collection(ctx context.Context, id string) (Collection, error) {
	var col Collection
	_, err := c.do(ctx, http.MethodGet, c.url("collections/"+url.PathEscape(id)+"/"), nil, &col)
	return col, err
}

// Page is one page of objects, versions or manifest records.
type Page struct {
	// Objects holds the STIX objects of an objects page.
	Objects []json.RawMessage
	// Records holds the entries of a manifest page.
	Records []ManifestRecord
	// Versions holds the versions of a versions page.
	Versions []string
	More     bool
	Next     string
	// FirstAdded and LastAdded are the date_added of the first and last
	// entries, from the X-TAXII-Date-Added-* headers (zero if absent).
	FirstAdded, LastAdded time.Time
}

// GetObjects reads one page of a collection's objects.
func (c *Client) GetObjects(ctx context.Context, collection string, f intel.Filter) (Page, error) {
	return c.getPage(ctx, c.collectionURL(collection, "objects/", f), false)
}

// GetObject reads the versions of one object that f selects.
func (c *Client) GetObject(ctx context.Context, collection, id string, f intel.Filter) (Page, error) {
	return c.getPage(ctx, c.collectionURL(collection, "objects/"+url.PathEscape(id)+"/", f), false)
}

// Manifest reads one page of a collection's manifest.
func (c *Client) Manifest(ctx context.Context, collection string, f intel.Filter) (Page, error) {
	return c.getPage(ctx, c.collectionURL(collection, "manifest/", f), true)
}

// Versions reads one page of an object's versions.
func (c *Client) Versions(ctx context.Context, collection, id string, f intel.Filter) (Page, error) {
	return c.getPage(ctx, c.collectionURL(collection, "objects/"+url.PathEscape(id)+"/versions/", f), false)
}

// DeleteObject deletes the versions of an object that f selects.
func (c *Client) DeleteObject(ctx context.Context, collection, id string, f intel.Filter) error {
	_, err := c.do(ctx, http.MethodDelete, c.collectionURL(collection, "objects/"+url.PathEscape(id)+"/", f), nil, nil)
	return err
}

// AddObjects posts objects to a collection in one envelope and returns the
// status resource the server answered with.
func (c *Client) AddObjects(ctx context.Context, collection string, objects []json.RawMessage) (Status, error) {
	body, err := json.Marshal(envelope{Objects: objects})
	if err != nil {
		return Status{}, fmt.Errorf("taxii: encode envelope: %w", err)
	}
	var st Status
	_, err = c.do(ctx, http.MethodPost, c.collectionURL(collection, "objects/", intel.Filter{}), body, &st)
	return st, err
}

// Status reads the status of an add request.
func (c *Client) Status(ctx context.Context, id string) (Status, error) {
	var st Status
	_, err := c.do(ctx, http.MethodGet, c.url("status/"+url.PathEscape(id)+"/"), nil, &st)
	return st, err
}

// WaitStatus polls a status every interval until it is no longer pending.
func (c *Client) WaitStatus(ctx context.Context, id string, interval time.Duration) (Status, error) {
	for {
		st, err := c.Status(ctx, id)
		if err != nil || st.Status != StatusPending {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// PullPages reads every object of a collection added after since (and
// matching f's other filters), page by page, following more and next. It
// calls fn with each page's objects and the cursor to resume from once
// they are handled, and returns the final cursor. A server that sends no
// X-TAXII-Date-Added-Last header leaves the cursor where it was, so its
// objects are read again next time (adding them again is harmless).
func (c *Client) PullPages(ctx context.Context, collection string, since time.Time, f intel.Filter,
	fn func(objects []json.RawMessage, cursor time.Time) error) (time.Time, error) {
	f.AddedAfter, f.Next = since, ""
	if f.Limit == 0 {
		f.Limit = c.cfg.PageSize
	}
	cursor := since
	for {
		page, err := c.GetObjects(ctx, collection, f)
		if err != nil {
			return cursor, err
		}
		if page.LastAdded.After(cursor) {
			cursor = page.LastAdded
		}
		if err := fn(page.Objects, cursor); err != nil {
			return cursor, err
		}
		if !page.More {
			return cursor, nil
		}
		// Prefer the server's next token; fall back on added_after.
		switch {
		case page.Next != "" && page.Next != f.Next:
			f.Next = page.Next
		case page.Next == "" && cursor.After(f.AddedAfter):
			f.AddedAfter = cursor
		default:
			return cursor, errors.New("taxii: server says there is more but gives no way to continue")
		}
	}
}

// Pull reads every object of a collection added after since and returns
// them with the cursor to pass next time.
func (c *Client) Pull(ctx context.Context, collection string, since time.Time) ([]json.RawMessage, time.Time, error) {
	var all []json.RawMessage
	cursor, err := c.PullPages(ctx, collection, since, intel.Filter{}, func(objs []json.RawMessage, _ time.Time) error {
		all = append(all, objs...)
		return nil
	})
	return all, cursor, err
}

func (c *Client) url(rel string) string {
	return c.root.ResolveReference(&url.URL{Path: rel}).String()
}

func (c *Client) collectionURL(collection, rel string, f intel.Filter) string {
	u := c.url("collections/" + url.PathEscape(collection) + "/" + rel)
	if q := EncodeFilter(f).Encode(); q != "" {
		u += "?" + q
	}
	return u
}

// getPage reads an envelope, manifest or versions resource; manifest
// says how to read its "objects" list.
func (c *Client) getPage(ctx context.Context, url string, manifest bool) (Page, error) {
	var w struct {
		More     bool            `json:"more"`
		Next     string          `json:"next"`
		Objects  json.RawMessage `json:"objects"`
		Versions []string        `json:"versions"`
	}
	h, err := c.do(ctx, http.MethodGet, url, nil, &w)
	if err != nil {
		return Page{}, err
	}
	p := Page{More: w.More, Next: w.Next, Versions: w.Versions}
	// Objects pages and manifest pages share the "objects" name.
	if len(w.Objects) > 0 {
		if manifest {
			err = json.Unmarshal(w.Objects, &p.Records)
		} else {
			err = json.Unmarshal(w.Objects, &p.Objects)
		}
		if err != nil {
			return Page{}, fmt.Errorf("taxii: %s: objects: %w", url, err)
		}
	}
	p.FirstAdded, _ = parseHeaderTime(h.Get(HeaderDateAddedFirst))
	p.LastAdded, _ = parseHeaderTime(h.Get(HeaderDateAddedLast))
	return p, nil
}

func parseHeaderTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return intel.ParseTimestamp(s)
}

// do sends one request and decodes a TAXII resource (into out, if set) or
// a TAXII error.
func (c *Client) do(ctx context.Context, method, url string, body []byte, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("taxii: %w", err)
	}
	req.Header.Set("Accept", MediaTAXII)
	if body != nil {
		req.Header.Set("Content-Type", MediaTAXII)
	}
	switch {
	case c.cfg.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	case c.cfg.Username != "":
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("taxii: %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("taxii: %s %s: %w", method, url, err)
	}
	if int64(len(data)) > c.cfg.MaxResponse {
		return nil, fmt.Errorf("taxii: %s %s: response larger than %d bytes", method, url, c.cfg.MaxResponse)
	}
	if resp.StatusCode >= 300 {
		return nil, responseError(resp, data)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("taxii: %s %s: %w", method, url, err)
		}
	}
	return resp.Header, nil
}

// responseError turns an error response into an *Error, keeping the
// server's TAXII error message when it sent one.
func responseError(resp *http.Response, data []byte) error {
	e := &Error{}
	if json.Unmarshal(data, e) != nil || e.Title == "" {
		e = &Error{Title: http.StatusText(resp.StatusCode), Description: strings.TrimSpace(string(data))}
		if len(e.Description) > 200 {
			e.Description = e.Description[:200]
		}
	}
	e.HTTPStatus = strconv.Itoa(resp.StatusCode)
	return e
}
