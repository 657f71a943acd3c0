package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/web"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestSignupRateLimit(t *testing.T) {
	// app.Test connects from 0.0.0.0: here that is the trusted proxy.
	e := newEnvWith(t, func(d *web.Deps) {
		d.Limits = web.Limits{SignupsPerMinute: 3, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")}}
	})
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	post := func(i int, xff string) response {
		return e.do(t, "POST", "/api/v1/events/free/registrations", "", person(fmt.Sprintf("p%d@example.no", i)), "X-Forwarded-For", xff)
	}
	for i := range 3 {
		if r := post(i, "203.0.113.7"); r.status != 201 {
			t.Fatalf("sign-up %d: %d", i, r.status)
		}
	}
	r := post(3, "203.0.113.7")
	p := mustProblem(t, r, 429)
	if p.Code != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Errorf("429 without code or Retry-After: %+v %v", p, r.header)
	}
	t.Run("SpoofedLeftEntryIgnored", func(t *testing.T) {
		// The client wrote 198.51.100.1 itself; the proxy appended the
		// address it saw.
		mustProblem(t, post(4, "198.51.100.1, 203.0.113.7"), 429)
	})
	t.Run("OtherClient", func(t *testing.T) {
		if r := post(5, "203.0.113.8"); r.status != 201 {
			t.Errorf("another client: %d", r.status)
		}
	})
	if n := e.count(t, "registrations"); n != 4 {
		t.Errorf("%d registrations, want 4", n)
	}
}

func TestForwardedForFromUntrustedIgnored(t *testing.T) {
	e := newEnvWith(t, func(d *web.Deps) { d.Limits = web.Limits{SignupsPerMinute: 2} })
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	for i := range 2 {
		e.do(t, "POST", "/api/v1/events/free/registrations", "", person(fmt.Sprintf("p%d@example.no", i)), "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
	}
	r := e.do(t, "POST", "/api/v1/events/free/registrations", "", person("p9@example.no"), "X-Forwarded-For", "192.0.2.99")
	mustProblem(t, r, 429)
}

// TestAuthFailureLimit: failing credentials back off and an address past
// its failures gets 429 for them, but a valid token from the same address
// is never refused (one bad request every few seconds must not keep the
// admin out), and the counts are the store's, shared by every instance.
func TestAuthFailureLimit(t *testing.T) {
	e := newEnvWith(t, func(d *web.Deps) { d.Limits = web.Limits{AuthFailuresPerMinute: 5} })
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	kari := e.mustSignup(t, "free", person("kari@example.no"))
	for range 3 {
		mustProblem(t, e.do(t, "GET", "/api/v1/privacy/requests", "pmd_guess", nil), 401)
	}
	// The fourth failure of the same credential: it backs off.
	r := e.do(t, "GET", "/api/v1/privacy/requests", "pmd_guess", nil)
	if p := mustProblem(t, r, 429); p.Code != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Errorf("429 without code or Retry-After: %+v %v", p, r.header)
	}
	// Other guesses from the address: two more 401s, then 429.
	mustProblem(t, e.do(t, "GET", "/api/v1/privacy/requests", "pmd_guess2", nil), 401)
	mustProblem(t, e.do(t, "GET", "/api/v1/me", "pmr_guess3", nil), 429)
	mustProblem(t, e.do(t, "GET", "/api/v1/privacy/requests", "pmd_guess4", nil), 429)

	// Valid tokens from the same address go through.
	if r := e.do(t, "GET", "/api/v1/privacy/requests", adminToken, nil); r.status != 200 {
		t.Errorf("the admin locked out: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/api/v1/me", kari.ManageToken, nil); r.status != 200 {
		t.Errorf("a participant locked out: %d %s", r.status, r.body)
	}

	// Shared: a second instance on the same store counts on.
	other := web.New(web.Deps{App: e.a, Limits: web.Limits{AuthFailuresPerMinute: 5}, Config: web.Config{PublicURL: "https://pamelding.example.no"}})
	req := httptest.NewRequest("GET", "/api/v1/privacy/requests", nil)
	req.Header.Set("Authorization", "Bearer pmd_guess5")
	res, err := other.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 429 {
		t.Errorf("another instance answered %d, want 429: the count is not shared", res.StatusCode)
	}
	// Nothing names the address or the token in the store.
	var docs []bson.M
	if err := e.store.Collection(mongodb.WebState).All(context.Background(), bson.M{"_id": bson.M{"$regex": "^authfail:"}}, &docs); err != nil || len(docs) == 0 {
		t.Fatalf("precondition: the failures are in the store (%v)", err)
	}
	if dump := fmt.Sprint(docs); strings.Contains(dump, "guess") || strings.Contains(dump, "0.0.0.0") {
		t.Errorf("the store holds a token or an address in the clear: %s", dump)
	}
}

func TestParseProxies(t *testing.T) {
	ps, err := web.ParseProxies("10.0.0.1, 172.16.0.0/12 ,::1")
	if err != nil || len(ps) != 3 || ps[1].String() != "172.16.0.0/12" {
		t.Fatalf("%v %v", ps, err)
	}
	if _, err := web.ParseProxies("10.0.0.300"); err == nil {
		t.Error("bad address accepted")
	}
}

// TestBodyLimits: each route reads only as much body as it takes; reads
// take none, compressed bodies are refused, and nothing is stored.
func TestBodyLimits(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	big := `{"fields":{"name":"` + strings.Repeat("x", 100<<10) + `"}}`
	send := func(method, path string, body io.Reader, length int64, header ...string) int {
		t.Helper()
		req := httptest.NewRequest(method, path, body)
		req.ContentLength = length
		if length < 0 {
			req.TransferEncoding = []string{"chunked"}
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := e.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode
	}
	for _, c := range []struct {
		name, method, path, body string
		length                   int64
		header                   []string
		want                     int
	}{
		{"SignupTooLarge", "POST", "/api/v1/events/free/registrations", big, int64(len(big)), nil, 413},
		{"SignupChunkedTooLarge", "POST", "/api/v1/events/free/registrations", big, -1, nil, 413},
		{"BodyOnARead", "GET", "/api/v1/events", `{"x":1}`, 7, nil, 413},
		{"Compressed", "POST", "/api/v1/events/free/registrations", "\x1f\x8b", 2, []string{"Content-Encoding", "gzip"}, 415},
		{"StatementLargerThanJSON", "POST", "/api/v1/finance/bank-statements", "<Document>" + strings.Repeat(" ", 200<<10) + "</Document>", -1, []string{"Content-Type", "application/xml", "Authorization", "Bearer " + adminToken}, 422},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := send(c.method, c.path, strings.NewReader(c.body), c.length, c.header...); got != c.want {
				t.Errorf("status %d, want %d", got, c.want)
			}
		})
	}
	if n := e.count(t, mongodb.Registrations); n != 0 {
		t.Errorf("%d registrations stored from refused bodies", n)
	}
}

// TestStrictJSON: member names match exactly, as the OpenAPI contract
// spells them, and a name given twice is refused rather than merged.
func TestStrictJSON(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	p := mustProblem(t, e.do(t, "POST", "/api/v1/events/free/registrations", "",
		`{"fields":{"name":"Kari Nordmann","email":"kari@example.no"},"fields":{"name":"Ola","email":"ola@example.no"}}`), 400)
	if p.Code != "duplicate_name" {
		t.Errorf("duplicate member: code %q", p.Code)
	}
	p = mustProblem(t, e.do(t, "POST", "/api/v1/events/free/registrations", "", `{"Fields":{"name":"Kari Nordmann","email":"kari@example.no"}}`), 422)
	if !p.has("Fields", "unknown") {
		t.Errorf("a name in the wrong case: %+v", p.Errors)
	}
	if n := e.count(t, mongodb.Registrations); n != 0 {
		t.Fatalf("%d registrations from refused bodies", n)
	}
	if r := e.do(t, "POST", "/api/v1/events/free/registrations", "", `{"fields":{"name":"Kari Nordmann","email":"kari@example.no"}}`); r.status != 201 {
		t.Errorf("the exact spelling: %d %s", r.status, r.body)
	}
}
