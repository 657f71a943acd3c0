package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pamelding/pamelding/mail/mailtest"
)

// TestNoPersonalDataInLogs runs the scenarios with debug logging and
// checks that none of the participants' names, e-mails, phones, dietary
// texts or tokens, nor the staff tokens, reach the log.
func TestNoPersonalDataInLogs(t *testing.T) {
	smtp := mailtest.Start(t)
	env := embeddedEnv(t)
	env["PAMELDING_LOG_LEVEL"] = "debug"
	env["SMTP_URL"] = smtp.URL()
	env["SMTP_FROM"] = "pamelding@example.no"
	env["PAMELDING_SELLER_NAME"] = "Janteloppet AS"
	env["PAMELDING_SELLER_ORG_NUMBER"] = "923609016"
	env["PAMELDING_SELLER_BANK_ACCOUNT"] = "1234.56.78903"
	env["PAMELDING_SELLER_ADDRESS"] = "Storgata 1, 2211 Kongsvinger"
	s := startServer(t, env)

	ev := event("logs")
	ev["price"] = map[string]any{"amount": 50000, "currency": "NOK"}
	ev["partners"] = []map[string]string{{"id": "acme", "name": "Acme AS"}}
	ev["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "phone"},
		{"key": "organisation"}, {"key": "dietary"}, {"key": "invoice_org_number"}, {"key": "invoice_address"}}
	if st, b := s.call(t, "POST", "/api/v1/events", testAdminToken, ev); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	secrets := []string{testAdminToken, "Sigrid Solberg", "sigrid.solberg@example.no", "41234567", "cøliaki og laktose", "Postboks 77 Hamar", "Sigurd Svendsen", "sigurd@"}
	st, b := s.call(t, "POST", "/api/v1/events/logs/registrations", "", map[string]any{
		"fields": map[string]any{"name": "Sigrid Solberg", "email": "sigrid.solberg@example.no", "phone": "41234567",
			"organisation": "Acme AS", "dietary": "cøliaki og laktose", "invoice_org_number": "974760673", "invoice_address": "Postboks 77 Hamar"},
		"consents": map[string]any{"health": true}, "payment": map[string]any{"method": "invoice"}})
	if st != 201 {
		t.Fatalf("sign-up: %d %s", st, b)
	}
	var reg struct{ ID, ManageToken string }
	_ = json.Unmarshal(b, &reg)
	secrets = append(secrets, reg.ManageToken)

	// Refused input is not echoed anywhere either.
	s.call(t, "POST", "/api/v1/events/logs/registrations", "", map[string]any{
		"fields": map[string]any{"name": "Sigurd Svendsen", "email": "sigurd@", "dietary": "cøliaki og laktose"}, "payment": map[string]any{"method": "invoice"}})
	s.call(t, "POST", "/api/v1/events/logs/registrations", "", `{"fields": {"name": "Sigurd Svendsen"`)

	_, b = s.call(t, "POST", "/api/v1/tokens", testAdminToken, map[string]any{"role": "partner", "name": "acme", "events": []string{"logs"}, "partner": "acme"})
	var pt struct{ Token string }
	_ = json.Unmarshal(b, &pt)
	secrets = append(secrets, pt.Token)
	for _, call := range []struct{ method, path, token string }{
		{"GET", "/api/v1/me", reg.ManageToken},
		{"GET", "/api/v1/me/export", reg.ManageToken},
		{"GET", "/api/v1/events/logs/partner-export", pt.Token},
		{"GET", "/api/v1/events/logs/registrations?format=csv", testAdminToken},
		{"GET", "/api/v1/finance/reconciliation", testAdminToken},
		{"GET", "/api/v1/me", "pmr_" + reg.ID + ".wrongwrongwrongwrongwrongwrongwrongwrongwro"},
		{"GET", "/m/" + reg.ManageToken, ""},
	} {
		s.call(t, call.method, call.path, call.token, nil)
	}
	s.call(t, "PATCH", "/api/v1/me", reg.ManageToken, map[string]any{"fields": map[string]any{"phone": "41234567"}})
	s.call(t, "POST", "/api/v1/privacy/requests", testAdminToken, map[string]any{"type": "erasure", "email": "sigrid.solberg@example.no", "receivedAt": "2026-11-01"})
	smtp.WaitFor(1, 5*time.Second)
	s.call(t, "DELETE", "/api/v1/me", reg.ManageToken, nil)
	s.stop()

	logs := s.logs.String()
	if !strings.Contains(logs, `"route":"/api/v1/events/:slug/registrations"`) {
		t.Fatalf("the log is not the one expected:\n%s", logs)
	}
	for _, sec := range secrets {
		if strings.Contains(logs, sec) {
			t.Errorf("the log holds %q", sec)
		}
	}
	if strings.Contains(logs, reg.ManageToken[len(reg.ManageToken)-20:]) {
		t.Error("the log holds part of a manage token")
	}
}
