package web_test

import (
	"bytes"
	"net/http"
	"testing"

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
