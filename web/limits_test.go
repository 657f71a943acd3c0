package web_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/pamelding/pamelding/web"
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

func TestAuthFailureLimit(t *testing.T) {
	e := newEnvWith(t, func(d *web.Deps) { d.Limits = web.Limits{AuthFailuresPerMinute: 3} })
	for range 3 {
		mustProblem(t, e.do(t, "GET", "/api/v1/privacy/requests", "pmd_guess", nil), 401)
	}
	r := e.do(t, "GET", "/api/v1/privacy/requests", adminToken, nil)
	mustProblem(t, r, 429)
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	mustProblem(t, e.do(t, "GET", "/api/v1/me", "pmr_guess", nil), 429)
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
