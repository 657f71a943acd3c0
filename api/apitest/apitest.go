// Package apitest checks exchanges of the tests against api/openapi.yaml
// (with kin-openapi), so the document cannot drift from the code.
package apitest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/pamelding/pamelding/api"
)

var (
	once   sync.Once
	router routers.Router
	err    error
)

func init() {
	// Bank statements are XML: the contract checks that one is sent, the
	// service parses it.
	asText := func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(body)
		return string(b), err
	}
	openapi3filter.RegisterBodyDecoder("application/xml", asText)
	openapi3filter.RegisterBodyDecoder("text/xml", asText)
}

// Router loads and validates the document once.
func Router(tb testing.TB) routers.Router {
	tb.Helper()
	once.Do(func() {
		loader := openapi3.NewLoader()
		doc, e := loader.LoadFromData(api.OpenAPI)
		if e == nil {
			e = doc.Validate(loader.Context)
		}
		if e == nil {
			router, e = gorillamux.NewRouter(doc)
		}
		err = e
	})
	if err != nil {
		tb.Fatalf("api/openapi.yaml: %v", err)
	}
	return router
}

// Check validates one exchange: every response must match the document,
// and a request the document refuses must not be accepted (2xx).
func Check(tb testing.TB, method, path string, reqHeader http.Header, reqBody []byte, status int, respHeader http.Header, respBody []byte) {
	tb.Helper()
	if !strings.HasPrefix(path, "/api/v1/") {
		return
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(reqBody))
	req.Header = reqHeader.Clone()
	route, params, err := Router(tb).FindRoute(req)
	if err != nil && status == http.StatusNotFound {
		return // an unknown path, refused
	}
	if err != nil {
		tb.Errorf("contract: %s %s is not in api/openapi.yaml: %v", method, path, err)
		return
	}
	ctx := tb.Context()
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && status < 300 {
		tb.Errorf("contract: the server accepted (%d) a request api/openapi.yaml refuses: %s %s: %v", status, method, path, err)
	}
	json := strings.Contains(respHeader.Get("Content-Type"), "json")
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: respHeader,
		Body:    io.NopCloser(bytes.NewReader(respBody)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: !json}}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		b := respBody
		if len(b) > 600 {
			b = b[:600]
		}
		tb.Errorf("contract: %s %s answered %d against api/openapi.yaml: %v\n%s", method, path, status, err, b)
	}
}
