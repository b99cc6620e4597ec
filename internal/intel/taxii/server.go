package taxii

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/xsoc/xsoc/internal/intel"
)

// ErrUnauthenticated is what an Authenticate function returns (wrapped or
// not) when a request carries no credentials or wrong ones; the server
// answers 401. Any other error is answered 500.
var ErrUnauthenticated = errors.New("unauthenticated")

// Config configures a Server.
type Config struct {
	// Repo is the repository served.
	Repo *intel.Repo
	// Authenticate maps a request's credentials to a viewer. It must
	// return an error wrapping ErrUnauthenticated for missing or wrong
	// credentials.
	Authenticate func(r *http.Request) (intel.Viewer, error)
	// Prefix is the path under which the server is mounted, with the
	// discovery resource at Prefix itself (default "/taxii2/").
	Prefix string
	// APIRoot is the name of the one API root, below Prefix (default
	// "api"): the API root is Prefix + APIRoot + "/".
	APIRoot string
	// PublicURL is the scheme and host clients reach the server at
	// ("https://xsoc.example.eu"), used in the discovery resource. When
	// empty the request's own host is used.
	PublicURL string
	// Title, Description and Contact describe the server in discovery.
	Title, Description, Contact string
	// MaxContentLength caps a POST body in bytes (default 10 MiB);
	// larger bodies are refused with 413.
	MaxContentLength int64
	// Log receives server-side failures (default slog.Default()).
	Log *slog.Logger
	// Read, when set, is told of every successful read of objects,
	// manifests and versions: who read (the viewer) which object
	// versions, for the audit log.
	Read func(r *http.Request, v intel.Viewer, read []intel.Object)
}

// Server serves the repository as a TAXII 2.1 server. Mount it at
// Config.Prefix.
type Server struct {
	cfg Config
}

// NewServer checks the configuration and returns a Server.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Repo == nil || cfg.Authenticate == nil {
		return nil, errors.New("taxii: server needs a repository and an authenticate function")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/taxii2/"
	}
	if !strings.HasPrefix(cfg.Prefix, "/") || !strings.HasSuffix(cfg.Prefix, "/") {
		return nil, fmt.Errorf("taxii: prefix %q must start and end with /", cfg.Prefix)
	}
	if cfg.APIRoot == "" {
		cfg.APIRoot = "api"
	}
	if strings.Contains(cfg.APIRoot, "/") {
		return nil, fmt.Errorf("taxii: API root %q must be one path segment", cfg.APIRoot)
	}
	if cfg.Title == "" {
		cfg.Title = "xsoc TAXII server"
	}
	if cfg.MaxContentLength <= 0 {
		cfg.MaxContentLength = 10 << 20
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	return &Server{cfg: cfg}, nil
}

// request is one request after routing and authentication.
type request struct {
	*http.Request
	viewer     intel.Viewer
	collection string
	object     string
}

// route names an endpoint and the methods it answers.
type route struct {
	methods []string
	handle  func(s *Server, w http.ResponseWriter, r *request)
}

// ServeHTTP routes a request to its endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	rt, req, ok := s.route(hr)
	if !ok {
		s.fail(w, http.StatusNotFound, "Not found", "no TAXII resource at "+hr.URL.Path)
		return
	}
	viewer, err := s.cfg.Authenticate(hr)
	if err != nil {
		if !errors.Is(err, ErrUnauthenticated) {
			s.cfg.Log.Error("taxii: authentication failed", "err", err)
			s.fail(w, http.StatusInternalServerError, "Internal error", "authentication could not be checked")
			return
		}
		w.Header().Add("WWW-Authenticate", `Basic realm="xsoc TAXII", charset="UTF-8"`)
		w.Header().Add("WWW-Authenticate", `Bearer realm="xsoc TAXII"`)
		s.fail(w, http.StatusUnauthorized, "Authentication required", "send HTTP Basic member:apikey or a Bearer API key")
		return
	}
	req.viewer = viewer
	allowed := false
	for _, m := range rt.methods {
		allowed = allowed || m == hr.Method
	}
	if !allowed {
		w.Header().Set("Allow", strings.Join(rt.methods, ", "))
		s.fail(w, http.StatusMethodNotAllowed, "Method not allowed", hr.Method+" is not supported on this resource")
		return
	}
	if !acceptable(hr.Header.Get("Accept")) {
		s.fail(w, http.StatusNotAcceptable, "Not acceptable", "this server answers only "+MediaTAXII)
		return
	}
	rt.handle(s, w, req)
}

// route matches the path below the prefix to an endpoint.
func (s *Server) route(hr *http.Request) (route, *request, bool) {
	rest, ok := strings.CutPrefix(hr.URL.Path, s.cfg.Prefix)
	if !ok {
		if hr.URL.Path+"/" == s.cfg.Prefix {
			rest, ok = "", true
		} else {
			return route{}, nil, false
		}
	}
	req := &request{Request: hr}
	get := []string{http.MethodGet, http.MethodHead}
	seg := strings.Split(strings.Trim(rest, "/"), "/")
	if rest == "" || rest == "/" {
		return route{get, (*Server).discovery}, req, true
	}
	if seg[0] != s.cfg.APIRoot {
		return route{}, nil, false
	}
	seg = seg[1:]
	switch {
	case len(seg) == 0:
		return route{get, (*Server).apiRoot}, req, true
	case len(seg) == 2 && seg[0] == "status":
		req.object = seg[1]
		return route{get, (*Server).status}, req, true
	case seg[0] != "collections":
		return route{}, nil, false
	case len(seg) == 1:
		return route{get, (*Server).collections}, req, true
	}
	req.collection = seg[1]
	switch {
	case len(seg) == 2:
		return route{get, (*Server).collection}, req, true
	case len(seg) == 3 && seg[2] == "objects":
		return route{[]string{http.MethodGet, http.MethodHead, http.MethodPost}, (*Server).objects}, req, true
	case len(seg) == 3 && seg[2] == "manifest":
		return route{get, (*Server).manifest}, req, true
	case len(seg) >= 4 && seg[2] == "objects":
		req.object = seg[3]
		if len(seg) == 4 {
			return route{[]string{http.MethodGet, http.MethodHead, http.MethodDelete}, (*Server).object}, req, true
		}
		if len(seg) == 5 && seg[4] == "versions" {
			return route{get, (*Server).versions}, req, true
		}
	}
	return route{}, nil, false
}

// apiRootURL is the absolute URL of the API root.
func (s *Server) apiRootURL(r *http.Request) string {
	base := s.cfg.PublicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + s.cfg.Prefix + s.cfg.APIRoot + "/"
}

func (s *Server) discovery(w http.ResponseWriter, r *request) {
	root := s.apiRootURL(r.Request)
	s.reply(w, http.StatusOK, Discovery{
		Title: s.cfg.Title, Description: s.cfg.Description, Contact: s.cfg.Contact,
		Default: root, APIRoots: []string{root},
	})
}

func (s *Server) apiRoot(w http.ResponseWriter, r *request) {
	s.reply(w, http.StatusOK, APIRoot{
		Title: s.cfg.Title, Description: s.cfg.Description,
		Versions: []string{MediaTAXII}, MaxContentLength: s.cfg.MaxContentLength,
	})
}

func (s *Server) collections(w http.ResponseWriter, r *request) {
	list, err := s.cfg.Repo.Collections(r.Context(), r.viewer)
	if err != nil {
		s.repoError(w, err)
		return
	}
	var out collections
	for _, a := range list {
		out.Collections = append(out.Collections, wireCollection(a))
	}
	s.reply(w, http.StatusOK, out)
}

func (s *Server) collection(w http.ResponseWriter, r *request) {
	a, err := s.cfg.Repo.Collection(r.Context(), r.viewer, r.collection)
	if err != nil {
		s.repoError(w, err)
		return
	}
	s.reply(w, http.StatusOK, wireCollection(a))
}

func wireCollection(a intel.Access) Collection {
	return Collection{
		ID: a.ID, Title: a.Title, Description: a.Description, Alias: a.Alias,
		CanRead: a.CanRead, CanWrite: a.CanWrite, MediaTypes: mediaTypes(a.MediaTypes),
	}
}

// mediaTypes is a collection's media types as TAXII shows them: a
// collection of STIX 2.1 objects also serves STIX 2.0, the form of the
// versions members gave in it (match[spec_version]=2.0), and a manifest
// entry's media type must be one the collection lists.
func mediaTypes(list []string) []string {
	if slices.Contains(list, MediaSTIX) && !slices.Contains(list, MediaSTIX20) {
		return append(slices.Clip(list), MediaSTIX20)
	}
	return list
}

// mediaSTIX is the media type of STIX objects of a version.
func mediaSTIX(specVersion string) string {
	if specVersion == "2.0" {
		return MediaSTIX20
	}
	return MediaSTIX
}

func (s *Server) objects(w http.ResponseWriter, r *request) {
	if r.Method == http.MethodPost {
		s.addObjects(w, r)
		return
	}
	f, ok := s.filter(w, r, objectsParams)
	if !ok {
		return
	}
	page, err := s.cfg.Repo.Objects(r.Context(), r.viewer, r.collection, f)
	s.replyEnvelope(w, r, page, err)
}

func (s *Server) object(w http.ResponseWriter, r *request) {
	if r.Method == http.MethodDelete {
		s.deleteObject(w, r)
		return
	}
	f, ok := s.filter(w, r, objectParams)
	if !ok {
		return
	}
	page, err := s.cfg.Repo.Object(r.Context(), r.viewer, r.collection, r.object, f)
	s.replyEnvelope(w, r, page, err)
}

// read tells Config.Read of a successful read.
func (s *Server) read(r *request, page intel.Page) {
	if s.cfg.Read != nil && len(page.Objects) > 0 {
		s.cfg.Read(r.Request, r.viewer, page.Objects)
	}
}

func (s *Server) replyEnvelope(w http.ResponseWriter, r *request, page intel.Page, err error) {
	if err != nil {
		s.repoError(w, err)
		return
	}
	s.read(r, page)
	var env envelope
	for _, o := range page.Objects {
		env.Objects = append(env.Objects, o.Raw)
	}
	env.More, env.Next = pagination(page)
	dateHeaders(w, page)
	s.reply(w, http.StatusOK, env)
}

func (s *Server) manifest(w http.ResponseWriter, r *request) {
	f, ok := s.filter(w, r, objectsParams)
	if !ok {
		return
	}
	page, err := s.cfg.Repo.Manifest(r.Context(), r.viewer, r.collection, f)
	if err != nil {
		s.repoError(w, err)
		return
	}
	s.read(r, page)
	var m manifest
	for _, o := range page.Objects {
		m.Objects = append(m.Objects, ManifestRecord{
			ID: o.ID, DateAdded: intel.FormatDateAdded(o.DateAdded),
			Version: o.VersionString(), MediaType: mediaSTIX(o.SpecVersion),
		})
	}
	m.More, m.Next = pagination(page)
	dateHeaders(w, page)
	s.reply(w, http.StatusOK, m)
}

func (s *Server) versions(w http.ResponseWriter, r *request) {
	f, ok := s.filter(w, r, versionsParams)
	if !ok {
		return
	}
	page, err := s.cfg.Repo.Versions(r.Context(), r.viewer, r.collection, r.object, f)
	if err != nil {
		s.repoError(w, err)
		return
	}
	s.read(r, page)
	var v versions
	for _, o := range page.Objects {
		v.Versions = append(v.Versions, o.VersionString())
	}
	v.More, v.Next = pagination(page)
	dateHeaders(w, page)
	s.reply(w, http.StatusOK, v)
}

// pagination returns the more and next properties of a non-empty page;
// an empty page is an empty resource.
func pagination(page intel.Page) (*bool, string) {
	if len(page.Objects) == 0 {
		return nil, ""
	}
	more := page.More
	return &more, page.Next
}

func dateHeaders(w http.ResponseWriter, page intel.Page) {
	if n := len(page.Objects); n > 0 {
		w.Header().Set(HeaderDateAddedFirst, intel.FormatDateAdded(page.Objects[0].DateAdded))
		w.Header().Set(HeaderDateAddedLast, intel.FormatDateAdded(page.Objects[n-1].DateAdded))
	}
}

func (s *Server) deleteObject(w http.ResponseWriter, r *request) {
	f, ok := s.filter(w, r, deleteParams)
	if !ok {
		return
	}
	if _, err := s.cfg.Repo.DeleteObject(r.Context(), r.viewer, r.collection, r.object, f); err != nil {
		s.repoError(w, err)
		return
	}
	w.Header().Set("Content-Type", MediaTAXII)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) status(w http.ResponseWriter, r *request) {
	st, err := s.cfg.Repo.Status(r.Context(), r.viewer, r.object)
	if err != nil {
		s.repoError(w, err)
		return
	}
	s.reply(w, http.StatusOK, wireStatus(st))
}

// addObjects handles POST .../objects/: checks rights, media type and
// size before reading the body, then adds the objects and answers 202
// with the (complete) status resource.
func (s *Server) addObjects(w http.ResponseWriter, r *request) {
	if _, err := s.cfg.Repo.Collection(r.Context(), r.viewer, r.collection); err != nil {
		s.repoError(w, err)
		return
	}
	if ct := r.Header.Get("Content-Type"); !postable(ct) {
		s.fail(w, http.StatusUnsupportedMediaType, "Unsupported media type",
			fmt.Sprintf("Content-Type %q: send %s", ct, MediaTAXII))
		return
	}
	if r.ContentLength > s.cfg.MaxContentLength {
		s.tooLarge(w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxContentLength))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.tooLarge(w)
		return
	case err != nil:
		s.fail(w, http.StatusBadRequest, "Unreadable body", err.Error())
		return
	}
	objects, err := parseEnvelopeBody(body)
	var bare errBareObject
	switch {
	case errors.As(err, &bare):
		// Well-formed JSON the endpoint cannot process: TAXII 2.1
		// section 5.4 answers 422.
		s.fail(w, http.StatusUnprocessableEntity, "Not an envelope", err.Error())
		return
	case err != nil:
		s.fail(w, http.StatusBadRequest, "Invalid envelope", err.Error())
		return
	}
	st, err := s.cfg.Repo.AddObjects(r.Context(), r.viewer, r.collection, objects)
	if err != nil {
		s.repoError(w, err)
		return
	}
	s.reply(w, http.StatusAccepted, wireStatus(st))
}

func (s *Server) tooLarge(w http.ResponseWriter) {
	s.fail(w, http.StatusRequestEntityTooLarge, "Request too large",
		"the body exceeds max_content_length of "+strconv.FormatInt(s.cfg.MaxContentLength, 10)+" bytes")
}

// parseEnvelopeBody reads the objects of a TAXII envelope (or STIX bundle)
// body. Anything that is not one JSON object with an "objects" list is
// refused whole.
func parseEnvelopeBody(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, errors.New("the body must be a JSON object with an objects list")
	}
	var env struct {
		Objects *[]json.RawMessage `json:"objects"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("invalid JSON: data after the envelope")
	}
	if env.Objects == nil {
		var obj struct{ Type, ID string }
		json.Unmarshal(body, &obj)
		if obj.Type != "" && obj.Type != "bundle" {
			return nil, errBareObject{obj.Type, obj.ID}
		}
		return nil, errors.New("the envelope has no objects list")
	}
	if len(*env.Objects) == 0 {
		return nil, errors.New("the objects list is empty")
	}
	return *env.Objects, nil
}

// errBareObject is a single STIX object posted where an envelope is
// expected.
type errBareObject struct{ typ, id string }

func (e errBareObject) Error() string {
	return fmt.Sprintf("the body is a bare STIX %s object (%s), not an envelope: send {\"objects\": [ ... ]}", e.typ, e.id)
}

func wireStatus(st intel.Status) Status {
	out := Status{
		ID: st.ID, Status: StatusComplete, RequestTimestamp: intel.FormatDateAdded(st.Requested),
		TotalCount: st.Total(), SuccessCount: len(st.Successes), FailureCount: len(st.Failures),
	}
	out.Successes = wireDetails(st.Successes)
	out.Failures = wireDetails(st.Failures)
	out.Pendings = []StatusDetail{} // the repository adds synchronously
	return out
}

func wireDetails(ds []intel.StatusDetail) []StatusDetail {
	out := []StatusDetail{}
	for _, d := range ds {
		w := StatusDetail{ID: d.ID, Message: d.Message}
		if !d.Version.IsZero() {
			w.Version = intel.FormatTimestamp(d.Version)
		}
		out = append(out, w)
	}
	return out
}

// filter parses the request's filters, answering 400 when they are wrong.
func (s *Server) filter(w http.ResponseWriter, r *request, allowed []string) (intel.Filter, bool) {
	f, err := ParseFilter(r.URL.Query(), allowed)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "Invalid filter", err.Error())
		return intel.Filter{}, false
	}
	return f, true
}

// repoError answers a repository error with its TAXII status.
func (s *Server) repoError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, intel.ErrNotFound):
		s.fail(w, http.StatusNotFound, "Not found", err.Error())
	case errors.Is(err, intel.ErrForbidden):
		s.fail(w, http.StatusForbidden, "Forbidden", err.Error())
	case errors.Is(err, intel.ErrInvalid):
		s.fail(w, http.StatusBadRequest, "Invalid request", err.Error())
	default:
		s.cfg.Log.Error("taxii: repository failure", "err", err)
		s.fail(w, http.StatusInternalServerError, "Internal error", "the request could not be completed")
	}
}

// fail writes a TAXII error message.
func (s *Server) fail(w http.ResponseWriter, code int, title, description string) {
	s.reply(w, code, Error{Title: title, Description: description, HTTPStatus: strconv.Itoa(code)})
}

// WriteError answers a TAXII request with an error message, for what
// stands in front of the server (rate limits).
func WriteError(w http.ResponseWriter, code int, title, description string) {
	(&Server{cfg: Config{Log: slog.Default()}}).fail(w, code, title, description)
}

// reply writes a TAXII resource.
func (s *Server) reply(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.cfg.Log.Error("taxii: encode reply", "err", err)
		code, body = http.StatusInternalServerError, []byte(`{"title":"Internal error","http_status":"500"}`)
	}
	w.Header().Set("Content-Type", MediaTAXII)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}
