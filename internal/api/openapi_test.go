package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/audit"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/eventlog"
	"github.com/xsoc/xsoc/internal/ingest"
	"github.com/xsoc/xsoc/internal/intel/taxii"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/respond"
)

// openAPIDoc decodes the embedded document into generic JSON values.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return doc
}

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operation is one method of one documented path.
type operation struct {
	method, path string
	pathItem     map[string]any
	op           map[string]any
}

// operations lists every operation of doc, sorted by path and method.
func operations(t *testing.T, doc map[string]any) []operation {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("document has no paths object")
	}
	var ops []operation
	for p, v := range paths {
		item, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("path %s is not an object", p)
		}
		for _, m := range httpMethods {
			if o, ok := item[m]; ok {
				op, ok := o.(map[string]any)
				if !ok {
					t.Fatalf("%s %s is not an object", m, p)
				}
				ops = append(ops, operation{method: strings.ToUpper(m), path: p, pathItem: item, op: op})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].path != ops[j].path {
			return ops[i].path < ops[j].path
		}
		return ops[i].method < ops[j].method
	})
	return ops
}

// resolvePointer follows a local JSON reference ("#/components/...")
// through doc, decoding ~1 and ~0 as RFC 6901 says.
func resolvePointer(doc map[string]any, ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("reference %q is not local to the document", ref)
	}
	var cur any = doc
	if rest == "" {
		return cur, nil
	}
	if !strings.HasPrefix(rest, "/") {
		return nil, fmt.Errorf("reference %q: pointer must start with /", ref)
	}
	for _, tok := range strings.Split(rest[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("reference %q: no %q", ref, tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("reference %q: bad index %q", ref, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("reference %q: %q indexes a scalar", ref, tok)
		}
	}
	return cur, nil
}

// deref returns v, or what its $ref points to (repeatedly).
func deref(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("want a JSON object, have %T", v)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		if v, _ = resolvePointer(doc, ref); v == nil {
			t.Fatalf("unresolvable reference %q", ref)
		}
	}
	t.Fatal("reference chain longer than 10")
	return nil
}

func TestOpenAPIDocumentHeader(t *testing.T) {
	doc := openAPIDoc(t)
	info, _ := doc["info"].(map[string]any)
	components, _ := doc["components"].(map[string]any)
	schemes, _ := components["securitySchemes"].(map[string]any)
	security, _ := doc["security"].([]any)
	for _, tc := range []struct {
		what string
		ok   bool
	}{
		{"openapi is 3.1.x", strings.HasPrefix(fmt.Sprint(doc["openapi"]), "3.1.")},
		{`info.title is "xsoc API"`, info["title"] == "xsoc API"},
		{`info.version is "1"`, info["version"] == "1"},
		{"bearerAuth is HTTP bearer", scheme(schemes, "bearerAuth") == "http/bearer"},
		{"basicAuth is HTTP basic", scheme(schemes, "basicAuth") == "http/basic"},
		{"a global security requirement", len(security) > 0},
	} {
		if !tc.ok {
			t.Errorf("want %s", tc.what)
		}
	}
	// Every global requirement names a declared scheme.
	for _, req := range security {
		r, _ := req.(map[string]any)
		for name := range r {
			if _, ok := schemes[name]; !ok {
				t.Errorf("global security names undeclared scheme %q", name)
			}
		}
	}
}

// scheme renders a security scheme as "type/scheme".
func scheme(schemes map[string]any, name string) string {
	s, _ := schemes[name].(map[string]any)
	return fmt.Sprintf("%v/%v", s["type"], s["scheme"])
}

func TestOpenAPIReferencesResolve(t *testing.T) {
	doc := openAPIDoc(t)
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"]; ok {
				s, ok := r.(string)
				if !ok {
					t.Errorf("$ref %v is not a string", r)
				}
				refs = append(refs, s)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if len(refs) == 0 {
		t.Fatal("no $ref found: the walk or the document is broken")
	}
	for _, r := range refs {
		if _, err := resolvePointer(doc, r); err != nil {
			t.Error(err)
		}
	}
}

// TestOpenAPIOperations checks what every operation must have: an id, a
// summary and description, a success answer, content with a schema, and a
// declaration of each path parameter of its template.
func TestOpenAPIOperations(t *testing.T) {
	doc := openAPIDoc(t)
	ops := operations(t, doc)
	if len(ops) == 0 {
		t.Fatal("no operations")
	}
	ids := map[string]string{}
	templateVar := regexp.MustCompile(`\{([^}]+)\}`)
	for _, o := range ops {
		t.Run(o.method+" "+o.path, func(t *testing.T) {
			for _, field := range []string{"summary", "description", "operationId"} {
				if s, _ := o.op[field].(string); strings.TrimSpace(s) == "" {
					t.Errorf("no %s", field)
				}
			}
			id, _ := o.op["operationId"].(string)
			if other, dup := ids[id]; dup {
				t.Errorf("operationId %q also used by %s", id, other)
			}
			ids[id] = o.method + " " + o.path

			responses, _ := o.op["responses"].(map[string]any)
			success := 0
			for code, r := range responses {
				if len(code) == 3 && code[0] == '2' {
					success++
				}
				resp := deref(t, doc, r)
				if d, _ := resp["description"].(string); d == "" {
					t.Errorf("response %s has no description", code)
				}
				content, _ := resp["content"].(map[string]any)
				for mt, c := range content {
					if _, ok := c.(map[string]any)["schema"]; !ok {
						t.Errorf("response %s %s has no schema", code, mt)
					}
				}
			}
			if success == 0 {
				t.Error("no 2xx response")
			}

			declared := map[string]bool{}
			var params []any
			if ps, ok := o.pathItem["parameters"].([]any); ok {
				params = append(params, ps...)
			}
			if ps, ok := o.op["parameters"].([]any); ok {
				params = append(params, ps...)
			}
			for _, p := range params {
				pm := deref(t, doc, p)
				if pm["in"] == "path" {
					declared[fmt.Sprint(pm["name"])] = true
					if pm["required"] != true {
						t.Errorf("path parameter %v is not required", pm["name"])
					}
				}
			}
			var vars []string
			for _, m := range templateVar.FindAllStringSubmatch(o.path, -1) {
				vars = append(vars, m[1])
				if !declared[m[1]] {
					t.Errorf("path parameter {%s} is not declared", m[1])
				}
			}
			for name := range declared {
				if !slices.Contains(vars, name) {
					t.Errorf("path parameter %q declared but not in the template", name)
				}
			}
		})
	}
}

// repoRoot walks up from the working directory to the directory holding
// go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// routePattern finds ServeMux patterns of the REST API in Go source.
var routePattern = regexp.MustCompile(`"(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^"]*)"`)

// registeredRoutes scans internal/**/*.go (tests excluded) of the
// repository for API route patterns and returns "METHOD /path" → where it
// was found. ServeMux's {name...} and {$} have no OpenAPI spelling and are
// normalised to {name} and nothing.
func registeredRoutes(t *testing.T) map[string]string {
	t.Helper()
	root := repoRoot(t)
	routes := map[string]string{}
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "testdata" || strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			for _, m := range routePattern.FindAllStringSubmatch(line, -1) {
				rel, _ := filepath.Rel(root, path)
				routes[m[1]+" "+normaliseRoute(m[2])] = fmt.Sprintf("%s:%d", rel, i+1)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return routes
}

var wildcardRest = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\.\.\.\}`)

func normaliseRoute(p string) string {
	p = strings.ReplaceAll(p, "{$}", "")
	return wildcardRest.ReplaceAllString(p, "{$1}")
}

func TestNormaliseRoute(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/api/v1/alerts/{id}", "/api/v1/alerts/{id}"},
		{"/api/v1/files/{path...}", "/api/v1/files/{path}"},
		{"/api/v1/{$}", "/api/v1/"},
		{"/api/v1/a/{x}/b/{rest...}", "/api/v1/a/{x}/b/{rest}"},
	} {
		if got := normaliseRoute(tc.in); got != tc.want {
			t.Errorf("normaliseRoute(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// selfRoute is the route serving this document; the node mounts it, and
// it is documented whether or not the mount is in place yet.
const selfRoute = "GET /api/v1/openapi.json"

// TestOpenAPICoversRoutes fails when a route is registered in the code
// but not documented, or documented under /api/v1 but not registered.
// Path templates must match exactly: {id} in the code is {id} here.
func TestOpenAPICoversRoutes(t *testing.T) {
	routes := registeredRoutes(t)
	if len(routes) < 10 {
		t.Fatalf("found only %d routes in the sources; the scan is broken", len(routes))
	}
	documented := map[string]bool{}
	for _, o := range operations(t, openAPIDoc(t)) {
		documented[o.method+" "+o.path] = true
	}
	var keys []string
	for r := range routes {
		keys = append(keys, r)
	}
	sort.Strings(keys)
	for _, r := range keys {
		if !documented[r] {
			t.Errorf("%s (registered at %s) is not in openapi.json", r, routes[r])
		}
	}
	for r := range documented {
		method, path, _ := strings.Cut(r, " ")
		if !strings.HasPrefix(path, "/api/v1/") || r == selfRoute {
			continue
		}
		if _, ok := routes[r]; !ok {
			t.Errorf("openapi.json documents %s %s, which no code registers", method, path)
		}
	}
	// Paths served outside the /api/v1 mux, which the scan does not see.
	for _, r := range []string{selfRoute, "GET /metrics", "GET /healthz", "GET /taxii2/", "GET /taxii2/api/",
		"GET /taxii2/api/collections/{id}/objects/", "POST /taxii2/api/collections/{id}/objects/"} {
		if !documented[r] {
			t.Errorf("%s is not in openapi.json", r)
		}
	}
}

// TestOpenAPISchemasMatchModels compares each model schema with the Go
// type the handlers encode: the same JSON property names, compatible JSON
// types, and "required" listing exactly the fields always present (no
// omitempty or omitzero). A field added to a model without updating the
// description fails here.
func TestOpenAPISchemasMatchModels(t *testing.T) {
	doc := openAPIDoc(t)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, tc := range []struct {
		schema string
		model  reflect.Type
		// request schemas describe what a client sends: their
		// properties are the model's, their required list is not.
		request bool
	}{
		{"Member", reflect.TypeFor[member.Member](), false},
		{"NewMember", reflect.TypeFor[member.Member](), true},
		{"Alert", reflect.TypeFor[alert.Alert](), false},
		{"AlertInput", reflect.TypeFor[alert.Alert](), true},
		{"Observable", reflect.TypeFor[alert.Observable](), false},
		{"Triage", reflect.TypeFor[alert.Triage](), false},
		{"TriageFactor", reflect.TypeFor[alert.TriageFactor](), false},
		{"AlertPage", reflect.TypeFor[alert.Page](), false},
		{"AlertReport", reflect.TypeFor[alert.Report](), false},
		{"GroupTimes", reflect.TypeFor[alert.GroupTimes](), false},
		{"Times", reflect.TypeFor[alert.Times](), false},
		{"Incident", reflect.TypeFor[correlate.Incident](), false},
		{"IncidentPage", reflect.TypeFor[correlate.Page](), false},
		{"IncidentChange", reflect.TypeFor[correlate.Change](), false},
		{"TimelineEntry", reflect.TypeFor[correlate.TimelineEntry](), false},
		{"Note", reflect.TypeFor[correlate.Note](), false},
		{"Entities", reflect.TypeFor[correlate.Entities](), false},
		{"NIS2", reflect.TypeFor[correlate.NIS2](), false},
		{"MemberCase", reflect.TypeFor[correlate.MemberCase](), false},
		{"Clock", reflect.TypeFor[correlate.Clock](), false},
		{"AuditEntry", reflect.TypeFor[correlate.AuditEntry](), false},
		{"AuditLogEntry", reflect.TypeFor[audit.Entry](), false},
		{"NIS2Draft", reflect.TypeFor[correlate.Draft](), false},
		{"DraftEntity", reflect.TypeFor[correlate.DraftEntity](), false},
		{"Tag", reflect.TypeFor[correlate.Tag](), false},
		{"RuleInfo", reflect.TypeFor[sigma.RuleInfo](), false},
		{"Logsource", reflect.TypeFor[sigma.Logsource](), false},
		{"PlaybookInfo", reflect.TypeFor[respond.PlaybookInfo](), false},
		{"Delivery", reflect.TypeFor[respond.Delivery](), false},
		{"Planned", reflect.TypeFor[respond.Planned](), false},
		{"PlannedAction", reflect.TypeFor[respond.PlannedAction](), false},
		{"IngestReject", reflect.TypeFor[eventlog.Reject](), false},
		{"IngestResult", reflect.TypeFor[ingest.Result](), false},
		{"LineError", reflect.TypeFor[ingest.LineError](), false},
		{"TaxiiError", reflect.TypeFor[taxii.Error](), false},
		{"TaxiiDiscovery", reflect.TypeFor[taxii.Discovery](), false},
		{"TaxiiAPIRoot", reflect.TypeFor[taxii.APIRoot](), false},
		{"TaxiiCollection", reflect.TypeFor[taxii.Collection](), false},
		{"TaxiiStatus", reflect.TypeFor[taxii.Status](), false},
		{"TaxiiStatusDetail", reflect.TypeFor[taxii.StatusDetail](), false},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			raw, ok := schemas[tc.schema]
			if !ok {
				t.Fatalf("components/schemas has no %s", tc.schema)
			}
			s := deref(t, doc, raw)
			props, _ := s["properties"].(map[string]any)
			fields := jsonFields(tc.model)
			for _, f := range fields {
				p, ok := props[f.name]
				if !ok {
					t.Errorf("%s.%s: property %q missing", tc.model, f.goName, f.name)
					continue
				}
				checkType(t, doc, tc.model.String()+"."+f.goName, p, f.typ)
			}
			for name := range props {
				if !slices.ContainsFunc(fields, func(f jsonField) bool { return f.name == name }) {
					t.Errorf("property %q is not a JSON field of %s", name, tc.model)
				}
			}
			if tc.request {
				return // what a client must send is the validation's business
			}
			var want, got []string
			for _, f := range fields {
				if !f.omittable {
					want = append(want, f.name)
				}
			}
			required, _ := s["required"].([]any)
			for _, r := range required {
				got = append(got, fmt.Sprint(r))
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(want, got) {
				t.Errorf("required = %v, want %v", got, want)
			}
		})
	}
}

// jsonField is a struct field as encoding/json writes it.
type jsonField struct {
	name, goName string
	typ          reflect.Type
	omittable    bool
}

// jsonFields lists the fields encoding/json writes for struct type t,
// flattening untagged embedded structs.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := false
		for _, o := range strings.Split(opts, ",") {
			omit = omit || o == "omitempty" || o == "omitzero"
		}
		out = append(out, jsonField{name: name, goName: f.Name, typ: f.Type, omittable: omit})
	}
	return out
}

var (
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	rawMessage    = reflect.TypeFor[json.RawMessage]()
)

// jsonType is the JSON Schema type encoding/json produces for t, or ""
// when it can be anything.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == rawMessage:
		return ""
	case t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler):
		return "string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string" // base64
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return ""
}

// checkType reports a property schema whose type cannot hold what
// encoding/json writes for typ; for arrays it checks the items too.
func checkType(t *testing.T, doc map[string]any, where string, prop any, typ reflect.Type) {
	t.Helper()
	want := jsonType(typ)
	if want == "" {
		return
	}
	s := deref(t, doc, prop)
	var have []string
	switch v := s["type"].(type) {
	case string:
		have = []string{v}
	case []any:
		for _, x := range v {
			have = append(have, fmt.Sprint(x))
		}
	default:
		t.Errorf("%s: schema has no type, want %s", where, want)
		return
	}
	if !slices.Contains(have, want) {
		t.Errorf("%s: schema type %v, encoded as %s", where, have, want)
		return
	}
	if want == "array" {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		items, ok := s["items"]
		if !ok {
			t.Errorf("%s: array without items", where)
			return
		}
		checkType(t, doc, where+"[]", items, typ.Elem())
	}
}

// fieldType is the type of T's field name.
func fieldType[T any](name string) reflect.Type {
	f, ok := reflect.TypeFor[T]().FieldByName(name)
	if !ok {
		panic("no field " + name)
	}
	return f.Type
}

func TestJSONType(t *testing.T) {
	for _, tc := range []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[alert.Severity](), "string"}, // a TextMarshaler over uint8
		{reflect.TypeFor[*alert.Severity](), "string"},
		{reflect.TypeFor[alert.Status](), "string"},
		{fieldType[respond.Delivery]("NextAttempt"), "string"}, // time.Time
		{fieldType[alert.Times]("Mean"), "integer"},            // time.Duration, in nanoseconds
		{reflect.TypeFor[[]string](), "array"},
		{reflect.TypeFor[[]byte](), "string"},
		{reflect.TypeFor[map[string]int](), "object"},
		{reflect.TypeFor[json.RawMessage](), ""},
		{reflect.TypeFor[float64](), "number"},
		{reflect.TypeFor[bool](), "boolean"},
	} {
		if got := jsonType(tc.typ); got != tc.want {
			t.Errorf("jsonType(%v) = %q, want %q", tc.typ, got, tc.want)
		}
	}
}

func TestOpenAPIHandler(t *testing.T) {
	h := OpenAPIHandler()
	first := httptest.NewRecorder()
	h.ServeHTTP(first, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	etag := first.Header().Get("ETag")
	for _, tc := range []struct {
		name        string
		method      string
		ifNoneMatch string
		status      int
		body        []byte
	}{
		{"get", http.MethodGet, "", http.StatusOK, OpenAPI()},
		{"head", http.MethodHead, "", http.StatusOK, nil},
		{"stale etag", http.MethodGet, `"0000"`, http.StatusOK, OpenAPI()},
		{"current etag", http.MethodGet, etag, http.StatusNotModified, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/api/v1/openapi.json", nil)
			if tc.ifNoneMatch != "" {
				req.Header.Set("If-None-Match", tc.ifNoneMatch)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status == http.StatusOK {
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q, want application/json", ct)
				}
			}
			if !slices.Equal(rec.Body.Bytes(), tc.body) && !(len(tc.body) == 0 && rec.Body.Len() == 0) {
				t.Errorf("body of %d bytes, want %d", rec.Body.Len(), len(tc.body))
			}
		})
	}
	if etag == "" || !strings.HasPrefix(etag, `"`) {
		t.Errorf("ETag %q, want a quoted strong validator", etag)
	}
}

func TestOpenAPIReturnsCopy(t *testing.T) {
	a := OpenAPI()
	a[0] = 'X'
	if b := OpenAPI(); b[0] == 'X' {
		t.Error("changing OpenAPI's result changed the embedded document")
	}
}

// TestOpenAPIHasNoDuplicateKeys reads the OpenAPI document token by
// token: an object naming a key twice (two schemas under one name) is
// accepted by most decoders, which silently keep the last.
func TestOpenAPIHasNoDuplicateKeys(t *testing.T) {
	type object struct {
		keys    map[string]bool
		wantKey bool
		last    string
	}
	dec := json.NewDecoder(bytes.NewReader(OpenAPI()))
	var stack []*object // nil entries are arrays
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1] != nil {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &object{keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, nil)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
			continue
		}
		if n := len(stack); n > 0 && stack[n-1] != nil && stack[n-1].wantKey {
			o := stack[n-1]
			key := tok.(string)
			if o.keys[key] {
				t.Errorf("key %q appears twice in one object (after %q)", key, o.last)
			}
			o.keys[key], o.wantKey, o.last = true, false, key
			continue
		}
		valueDone()
	}
}
