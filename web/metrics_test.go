package web_test

import (
	"strings"
	"testing"
	"time"
)

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price"); b["capacity"] = 1 })
	e.mustSignup(t, "free", person("kari@example.no"))
	e.do(t, "POST", "/api/v1/events/free/registrations", "", person("ola@example.no"))
	e.do(t, "POST", "/api/v1/events/free/registrations", "", map[string]any{"fields": map[string]any{"name": "X"}})
	e.webhook(t, stripeEvent("evt_m", "customer.created", map[string]any{"id": "cus_1", "object": "customer"}), time.Now(), webhookSecret)
	e.webhook(t, []byte(`{}`), time.Now(), "whsec_wrong")

	r := e.do(t, "GET", "/metrics", "", nil)
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
