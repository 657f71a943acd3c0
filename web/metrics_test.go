package web_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pamelding/pamelding/web"
)

func TestMetrics(t *testing.T) {
	e := newEnvWith(t, func(d *web.Deps) { d.Config.MetricsToken = "metrics-token-0123456789" })
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price"); b["capacity"] = 1 })
	e.mustSignup(t, "free", person("kari@example.no"))
	e.do(t, "POST", "/api/v1/events/free/registrations", "", person("ola@example.no"))
	e.do(t, "POST", "/api/v1/events/free/registrations", "", map[string]any{"fields": map[string]any{"name": "X"}})
	e.webhook(t, stripeEvent("evt_m", "customer.created", map[string]any{"id": "cus_1", "object": "customer"}), time.Now(), webhookSecret)
	e.webhook(t, []byte(`{}`), time.Now(), "whsec_wrong")

	mustProblem(t, e.do(t, "GET", "/metrics", "", nil), 401)
	mustProblem(t, e.do(t, "GET", "/metrics", adminToken, nil), 401)
	r := e.do(t, "GET", "/metrics", "metrics-token-0123456789", nil)
	body := string(r.body)
	for _, want := range []string{
		`pamelding_registrations_total{outcome="confirmed"} 1`,
		`pamelding_registrations_total{outcome="sold_out"} 1`,
		`pamelding_registrations_total{outcome="validation"} 1`,
		`pamelding_seats_left{event="free"} 0`,
		`pamelding_webhooks_total{outcome="ignored",type="customer.created"} 1`,
		`pamelding_webhooks_total{outcome="refused",type="unknown"} 1`,
		`pamelding_http_request_duration_seconds_bucket{method="POST",route="/api/v1/events/:slug/registrations",status="2xx"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, bad := range []string{"kari", "ola@", "Nordmann"} {
		if strings.Contains(body, bad) {
			t.Errorf("metrics hold %q", bad)
		}
	}
}

// TestMetricsNotPublic: without a metrics token /metrics is not on the
// public listener; the private listener's app serves it.
func TestMetricsNotPublic(t *testing.T) {
	e := newEnv(t)
	mustProblem(t, e.do(t, "GET", "/metrics", "", nil), 404)
	res, err := web.MetricsApp(e.a.Metrics).Test(httptest.NewRequest("GET", "/metrics", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(b), "pamelding_") {
		t.Errorf("private metrics: %d %.200s", res.StatusCode, b)
	}
}

// TestWarnsOfUntrustedForwarding: behind a proxy nobody trusted, the log
// says what to set, once.
func TestWarnsOfUntrustedForwarding(t *testing.T) {
	e := newEnv(t)
	for range 3 {
		e.do(t, "GET", "/api/v1/events", "", nil, "X-Forwarded-For", "203.0.113.9")
	}
	if n := strings.Count(e.logs.String(), "PAMELDING_TRUSTED_PROXIES is empty"); n != 1 {
		t.Errorf("warned %d times, want once", n)
	}
	if strings.Contains(e.logs.String(), "203.0.113.9") {
		t.Error("the log holds the client's address")
	}
}
