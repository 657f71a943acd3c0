package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/pamelding/pamelding/payments/stripetest"
)

// TestPaymentsEndToEnd runs the real program against stripe-mock: a card
// registration goes checkout → webhook → confirmed, an invoice
// registration goes invoice → bank file → paid, and the report shows both.
func TestPaymentsEndToEnd(t *testing.T) {
	env := embeddedEnv(t)
	env["STRIPE_SECRET_KEY"] = "sk_test_123"
	env["STRIPE_API_BASE"] = stripetest.URL(t)
	env["STRIPE_WEBHOOK_SECRET"] = "whsec_e2e"
	env["PAMELDING_SELLER_NAME"] = "Janteloppet AS"
	env["PAMELDING_SELLER_ORG_NUMBER"] = "923609016"
	env["PAMELDING_SELLER_BANK_ACCOUNT"] = "1234.56.78903"
	env["PAMELDING_SELLER_ADDRESS"] = "Storgata 1, 2211 Kongsvinger"
	env["PAMELDING_SELLER_VAT_REGISTERED"] = "true"
	s := startServer(t, env)

	ev := event("seminar")
	ev["price"] = map[string]any{"amount": 150000, "currency": "NOK"}
	ev["vatRate"] = 25
	ev["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true},
		{"key": "organisation"}, {"key": "invoice_org_number"}, {"key": "invoice_address"}}
	if st, b := s.call(t, "POST", "/api/v1/events", testAdminToken, ev); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	st, b := s.call(t, "POST", "/api/v1/events/seminar/registrations", "", map[string]any{
		"fields": map[string]any{"name": "Kari", "email": "kari@example.no"}, "payment": map[string]any{"method": "card"}})
	var card struct{ ID, Status, CheckoutURL string }
	_ = json.Unmarshal(b, &card)
	if st != 201 || card.Status != "pending_payment" || card.CheckoutURL == "" {
		t.Fatalf("card sign-up: %d %s", st, b)
	}
	st, b = s.call(t, "GET", "/api/v1/finance/reconciliation?event=seminar", testAdminToken, nil)
	if st != 200 {
		t.Fatalf("report: %d %s", st, b)
	}
	var rep struct {
		Rows []struct {
			Registration, PaymentStatus, KID string
			StripeSession                    string `json:"stripeSession"`
		}
	}
	_ = json.Unmarshal(b, &rep)
	if len(rep.Rows) != 1 || rep.Rows[0].StripeSession == "" {
		t.Fatalf("report before payment: %s", b)
	}

	payload, _ := json.Marshal(map[string]any{
		"id": "evt_e2e_1", "object": "event", "api_version": "2023-10-16", "created": time.Now().Unix(),
		"type": "checkout.session.completed",
		"data": map[string]any{"object": map[string]any{"id": rep.Rows[0].StripeSession, "object": "checkout.session",
			"client_reference_id": card.ID, "amount_total": 150000, "currency": "nok", "payment_status": "paid",
			"status": "complete", "payment_intent": "pi_e2e"}},
	})
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: "whsec_e2e", Timestamp: time.Now()})
	req, _ := http.NewRequest("POST", s.url+"/api/v1/payments/stripe/webhook", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", sp.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()

	st, b = s.call(t, "POST", "/api/v1/events/seminar/registrations", "", map[string]any{
		"fields":  map[string]any{"name": "Ola", "email": "ola@example.no", "organisation": "Acme AS", "invoice_org_number": "974760673", "invoice_address": "Gate 1"},
		"payment": map[string]any{"method": "invoice"}})
	if st != 201 || !strings.Contains(string(b), `"paymentStatus":"invoiced"`) {
		t.Fatalf("invoice sign-up: %d %s", st, b)
	}
	camt, err := os.ReadFile("../../web/testdata/camt053.xml")
	if err != nil {
		t.Fatal(err)
	}
	// The test file pays KID 42 (invoice 4); this server's first invoice
	// has KID 18.
	camt = bytes.Replace(camt, []byte("<Ref>42</Ref>"), []byte("<Ref>18</Ref>"), 1)
	req, _ = http.NewRequest("POST", s.url+"/api/v1/finance/bank-statements", bytes.NewReader(camt))
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("bank statement: %v %v", resp, err)
	}
	resp.Body.Close()

	st, b = s.call(t, "GET", "/api/v1/finance/reconciliation?event=seminar", testAdminToken, nil)
	_ = json.Unmarshal(b, &rep)
	got := map[string]string{}
	for _, r := range rep.Rows {
		got[r.Registration] = r.PaymentStatus
	}
	if st != 200 || len(rep.Rows) != 2 || got[card.ID] != "paid" || !strings.Contains(string(b), `"kid":"18","registeredAt"`) {
		t.Fatalf("report: %d %s", st, b)
	}
	for _, r := range rep.Rows {
		if r.PaymentStatus != "paid" {
			t.Errorf("row %+v not paid", r)
		}
	}
}
