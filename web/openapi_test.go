package web_test

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/pamelding/pamelding/api"
	"github.com/pamelding/pamelding/api/apitest"
)

// checkContract validates one exchange of a test against the document.
func checkContract(tb testing.TB, method, path string, header http.Header, body []byte, r response) {
	tb.Helper()
	apitest.Check(tb, method, path, header, body, r.status, r.header, r.body)
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "GET", "/api/v1/openapi.yaml", "", nil)
	if r.status != 200 || !bytes.Equal(r.body, api.OpenAPI) {
		t.Fatalf("openapi.yaml: %d", r.status)
	}
	apitest.Router(t)
}

// recorder catches what checkContract reports.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) { r.errs = append(r.errs, format) }
func (r *recorder) Helper()                           {}

// TestContractCheckCatches: the contract check fails a response that
// breaks the document, and a refused request the server accepted.
func TestContractCheckCatches(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}}
	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		r            response
	}{
		{"ResponseMissingField", "GET", "/api/v1/catalog", "", response{status: 200, header: h, body: []byte(`{"fields": []}`)}},
		{"ProblemWithoutCode", "GET", "/api/v1/events/x", "", response{status: 404, header: http.Header{"Content-Type": {"application/problem+json"}}, body: []byte(`{"type": "x", "title": "Not Found", "status": 404}`)}},
		{"PublicEventWithNotes", "GET", "/api/v1/events/x", "", response{status: 200, header: h, body: []byte(`{"slug":"x","kind":"race","title":{"nb":"a","en":"a"},"startsAt":"2027-01-01T00:00:00Z","endsAt":"2027-01-01T00:00:00Z","seatsLeft":1,"soldOut":false,"price":{"amount":0,"currency":"NOK"},"fields":[],"partners":[],"organiser":{"name":"a","privacyEmail":"a@b.no"},"notes":"secret"}`)}},
		{"AcceptedUnknownProperty", "POST", "/api/v1/events/x/registrations", `{"ssn": "1"}`, response{status: 201, header: h, body: []byte(`{"id":"a","status":"confirmed","manageToken":"pmr_a.b"}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			checkContract(rec, tc.method, tc.path, http.Header{"Content-Type": {"application/json"}}, []byte(tc.body), tc.r)
			if len(rec.errs) == 0 {
				t.Error("the contract check let it through")
			}
		})
	}
}

// openAPIDoc loads and validates api/openapi.yaml.
func openAPIDoc(tb testing.TB) *openapi3.T {
	tb.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI)
	if err == nil {
		err = doc.Validate(loader.Context)
	}
	if err != nil {
		tb.Fatalf("api/openapi.yaml: %v", err)
	}
	return doc
}

// TestOpenAPIOperations: every operation has a unique camelCase
// operationId, a summary, and tags declared at the top level; every
// response documents its X-Request-ID.
func TestOpenAPIOperations(t *testing.T) {
	doc := openAPIDoc(t)
	declared := map[string]bool{}
	for _, tag := range doc.Tags {
		if tag.Description == "" {
			t.Errorf("tag %q has no description", tag.Name)
		}
		declared[tag.Name] = true
	}
	camel := regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			switch prev, dup := ids[op.OperationID]; {
			case !camel.MatchString(op.OperationID):
				t.Errorf("%s: operationId %q is not camelCase", where, op.OperationID)
			case dup:
				t.Errorf("%s: operationId %q is %s's too", where, op.OperationID, prev)
			}
			ids[op.OperationID] = where
			if op.Summary == "" {
				t.Errorf("%s has no summary", where)
			}
			if len(op.Tags) == 0 {
				t.Errorf("%s has no tags", where)
			}
			for _, tag := range op.Tags {
				if !declared[tag] {
					t.Errorf("%s: tag %q is not declared at the top level", where, tag)
				}
			}
			for status, r := range op.Responses.Map() {
				if r.Value.Headers["X-Request-ID"] == nil {
					t.Errorf("%s %s: X-Request-ID is not documented", where, status)
				}
			}
		}
	}
}

// TestOpenAPITyped: every schema is as strict as the code. Each property
// has a type, each required member is declared, each array has typed
// items, and every object a request body can hold refuses unknown
// properties (the server answers them with 422).
func TestOpenAPITyped(t *testing.T) {
	doc := openAPIDoc(t)
	c := &schemaCheck{tb: t, seen: map[schemaVisit]bool{}}
	for name, s := range doc.Components.Schemas {
		c.walk("#/components/schemas/"+name, s, false)
	}
	for path, item := range doc.Paths.Map() {
		for _, p := range item.Parameters {
			c.walk(path+" parameter "+p.Value.Name, p.Value.Schema, false)
		}
		for method, op := range item.Operations() {
			where := method + " " + path
			for _, p := range op.Parameters {
				c.walk(where+" parameter "+p.Value.Name, p.Value.Schema, false)
			}
			if op.RequestBody != nil {
				// Stripe's events are Stripe's: the server checks their
				// signature on the raw body, not their members.
				closed := op.OperationID != "receiveStripeWebhook"
				for mt, m := range op.RequestBody.Value.Content {
					c.walk(where+" request "+mt, m.Schema, closed)
				}
			}
			for status, r := range op.Responses.Map() {
				for mt, m := range r.Value.Content {
					c.walk(where+" "+status+" "+mt, m.Schema, false)
				}
				for name, h := range r.Value.Headers {
					c.walk(where+" "+status+" header "+name, h.Value.Schema, false)
				}
			}
		}
	}
}

type schemaVisit struct {
	s       *openapi3.Schema
	request bool
}

type schemaCheck struct {
	tb   testing.TB
	seen map[schemaVisit]bool
}

// typed reports whether a schema says what type its values have: by its
// type, or by composing schemas that all do.
func typed(s *openapi3.Schema) bool {
	if s.Type != nil && len(*s.Type) > 0 {
		return true
	}
	branches := append(append(append(openapi3.SchemaRefs{}, s.AllOf...), s.AnyOf...), s.OneOf...)
	for _, b := range branches {
		if b.Value == nil || !typed(b.Value) {
			return false
		}
	}
	return len(branches) > 0
}

func (c *schemaCheck) walk(where string, ref *openapi3.SchemaRef, request bool) {
	if ref == nil || ref.Value == nil {
		c.tb.Errorf("%s: no schema", where)
		return
	}
	s := ref.Value
	if !typed(s) {
		c.tb.Errorf("%s has no type", where)
	}
	if c.seen[schemaVisit{s, request}] {
		return
	}
	c.seen[schemaVisit{s, request}] = true
	for _, name := range s.Required {
		if s.Properties[name] == nil {
			c.tb.Errorf("%s requires %q but does not declare it", where, name)
		}
	}
	for name, p := range s.Properties {
		c.walk(where+"."+name, p, request)
	}
	if s.Type.Includes(openapi3.TypeArray) {
		if s.Items == nil {
			c.tb.Errorf("%s is an array of nothing declared", where)
		} else {
			c.walk(where+"[]", s.Items, request)
		}
	}
	if ap := s.AdditionalProperties.Schema; ap != nil {
		c.walk(where+".*", ap, request)
	} else if request && s.Type.Includes(openapi3.TypeObject) && (s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has) {
		c.tb.Errorf("%s takes properties it does not declare, which the server refuses (additionalProperties: false)", where)
	}
	for _, b := range append(append(append(openapi3.SchemaRefs{}, s.AllOf...), s.AnyOf...), s.OneOf...) {
		c.walk(where, b, request)
	}
}

// TestOpenAPIRoutes: every route the server has, but the participant
// pages, is in the document, and every operation in the document is a
// route.
func TestOpenAPIRoutes(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	param := regexp.MustCompile(`:([A-Za-z0-9_]+)`)
	pages := map[string]bool{"e": true, "m": true, "c": true, "g": true, "me": true, "guardian": true, "admin": true}
	served := map[string]bool{}
	for _, r := range e.app.GetRoutes(true) {
		first, _, _ := strings.Cut(strings.TrimPrefix(r.Path, "/"), "/")
		if r.Method == http.MethodHead || pages[first] {
			continue
		}
		route := r.Method + " " + param.ReplaceAllString(r.Path, "{$1}")
		served[route] = true
		if !documented[route] {
			t.Errorf("%s is served but not in api/openapi.yaml", route)
		}
	}
	for route := range documented {
		if !served[route] {
			t.Errorf("%s is in api/openapi.yaml but not served", route)
		}
	}
}
