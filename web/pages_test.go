package web_test

import (
	"net/url"
	"strings"
	"testing"
)

func TestPageHeaders(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	for _, path := range []string{"/e/free", "/me", "/e/nope", "/m/pmr_nope"} {
		r := e.do(t, "GET", path, "", nil)
		csp := r.header.Get("Content-Security-Policy")
		if csp == "" || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if r.header.Get("Referrer-Policy") != "no-referrer" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, r.header)
		}
		for _, c := range r.header.Values("Set-Cookie") {
			if !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
				t.Errorf("%s: cookie %q", path, c)
			}
		}
		if strings.Contains(string(r.body), "<script") || strings.Contains(string(r.body), "style=") {
			t.Errorf("%s: inline script or style", path)
		}
	}
}

func TestPagesCSRF(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	form := url.Values{"f_name": {"Kari"}, "f_email": {"kari@example.no"}, "lang": {"nb"}}.Encode()
	r := e.doRaw(t, "POST", "/e/free", form, "application/x-www-form-urlencoded")
	if r.status != 403 {
		t.Fatalf("a form post without a CSRF token: %d", r.status)
	}
	if n := e.count(t, "registrations"); n != 0 {
		t.Errorf("%d registrations stored by a forged post", n)
	}
}
