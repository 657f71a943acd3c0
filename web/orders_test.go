package web_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pamelding/pamelding/mongodb"
	"go.mongodb.org/mongo-driver/v2/bson"
)

type orderJSON struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	OrderToken   string `json:"orderToken"`
	Participants []struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Category string `json:"category"`
		Status   string `json:"status"`
	} `json:"participants"`
	Payment *struct {
		Method        string `json:"method"`
		Status        string `json:"status"`
		Amount        int64  `json:"amount"`
		InvoiceNumber int64  `json:"invoiceNumber"`
		KID           string `json:"kid"`
		Lines         []struct {
			Participant string `json:"participant"`
			Item        string `json:"item"`
			Key         string `json:"key"`
		} `json:"lines"`
	} `json:"payment"`
}

func teamOrder(participants ...map[string]any) map[string]any {
	return map[string]any{
		"buyer":        map[string]any{"name": "Berit Kaptein", "email": "berit@example.no"},
		"participants": participants,
	}
}

func member(name, email string, extra map[string]any) map[string]any {
	f := map[string]any{"name": name, "email": email}
	for k, v := range extra {
		f[k] = v
	}
	return map[string]any{"fields": f}
}

// TestOrderPrivacy: a buyer registers others, but cannot give what needs
// their consent (a participant's dietary entered by the buyer is refused
// whole, 422, and nothing is kept); the buyer's token opens the order's
// view (names, tickets), never a participant's registration; each
// participant gets their own link by mail, and gives their health data
// with their consent themself.
func TestOrderPrivacy(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "fest")
	const path = "/api/v1/events/fest/orders"

	r := e.do(t, "POST", path, "", teamOrder(member("Ola", "ola@example.no", map[string]any{"dietary": "nøtter"})))
	e.mustRefuse(t, r, "participants[0].fields.dietary", "participant_only")
	r = e.do(t, "POST", path, "", teamOrder(map[string]any{"fields": map[string]any{"name": "Ola", "email": "ola@example.no"},
		"consents": map[string]any{"health": true}}))
	e.mustRefuse(t, r, "participants[0].consents.health", "participant_only")
	r = e.do(t, "POST", path, "", map[string]any{"participants": []any{member("Ola", "ola@example.no", nil)}})
	e.mustRefuse(t, r, "buyer.email", "required")
	if n, o := e.count(t, mongodb.Registrations), e.count(t, mongodb.Orders); n != 0 || o != 0 {
		t.Fatalf("refused orders kept %d registrations, %d orders", n, o)
	}

	r = e.do(t, "POST", path, "", teamOrder(member("Ola Nordmann", "ola@example.no", map[string]any{"club": "Kongsvinger IL"}),
		member("Siri Nordmann", "siri@example.no", nil)))
	if r.status != 201 {
		t.Fatalf("order: %d %s", r.status, r.body)
	}
	var o orderJSON
	r.json(t, &o)
	if o.Status != "placed" || len(o.Participants) != 2 || !strings.HasPrefix(o.OrderToken, "pmo_") ||
		o.Participants[0].Name != "Ola Nordmann" || o.Participants[1].Status != "confirmed" {
		t.Fatalf("order answer %s", r.body)
	}
	if strings.Contains(string(r.body), "pmr_") || strings.Contains(string(r.body), "ola@example.no") {
		t.Errorf("the buyer got a participant's link or address: %s", r.body)
	}
	if n := e.count(t, mongodb.Registrations); n != 2 {
		t.Fatalf("%d registrations, want 2", n)
	}

	// The buyer's token: the order, never a registration.
	if r := e.do(t, "GET", "/api/v1/me", o.OrderToken, nil); r.status != 401 {
		t.Errorf("order token on /me: %d %s", r.status, r.body)
	}
	view := e.do(t, "GET", "/api/v1/orders/me", o.OrderToken, nil)
	if view.status != 200 || !strings.Contains(string(view.body), "Siri Nordmann") {
		t.Fatalf("order view: %d %s", view.status, view.body)
	}

	// Each participant's own mail and link; Ola gives his dietary, with
	// his consent, himself.
	mails := e.sendMail(t)
	links := map[string]string{}
	for _, m := range mails {
		if tok := regexp.MustCompile(`/m/(pmr_[A-Za-z0-9_.-]+)`).FindStringSubmatch(m.Body()); tok != nil {
			links[m.To[0]] = tok[1]
		}
		if !strings.Contains(m.Body(), "Berit Kaptein meldte deg på") || len(m.Attachments()) != 1 {
			t.Errorf("a participant's mail does not say who registered them, or has no ticket:\n%s", m.Body())
		}
	}
	if len(links) != 2 || links["ola@example.no"] == "" || links["siri@example.no"] == "" {
		t.Fatalf("participants' links by mail: %v", links)
	}
	ola := links["ola@example.no"]
	if r := e.do(t, "PATCH", "/api/v1/me", ola, map[string]any{"fields": map[string]any{"dietary": "nøtter"}}); r.status != 422 {
		t.Errorf("dietary without consent: %d %s", r.status, r.body)
	}
	if r := e.do(t, "PATCH", "/api/v1/me", ola, map[string]any{"fields": map[string]any{"dietary": "nøtter"}, "consents": map[string]any{"health": true}}); r.status != 200 {
		t.Fatalf("dietary with consent: %d %s", r.status, r.body)
	}
	if v := e.values(t, o.Participants[0].ID); v["dietary"] != "nøtter" {
		t.Errorf("Ola's dietary not stored: %v", v)
	}
	me := e.do(t, "GET", "/api/v1/me", ola, nil)
	if !strings.Contains(string(me.body), `"purpose":"health","given":true`) {
		t.Errorf("Ola's own consent not recorded: %s", me.body)
	}
	// The buyer still sees no more than before.
	view = e.do(t, "GET", "/api/v1/orders/me", o.OrderToken, nil)
	for _, secret := range []string{"nøtter", "ola@example.no", "Kongsvinger IL", "health"} {
		if strings.Contains(string(view.body), secret) {
			t.Errorf("the order view shows %q: %s", secret, view.body)
		}
	}
	// The buyer cancels Siri: Ola stays.
	if r := e.do(t, "DELETE", "/api/v1/orders/me/participants/"+o.Participants[1].ID, o.OrderToken, nil); r.status != 200 {
		t.Fatalf("buyer cancels a participant: %d %s", r.status, r.body)
	}
	if r := e.do(t, "DELETE", "/api/v1/orders/me/participants/"+o.Participants[1].ID, ola, nil); r.status != 401 {
		t.Errorf("a participant's token on the buyer's route: %d", r.status)
	}
	view = e.do(t, "GET", "/api/v1/orders/me", o.OrderToken, nil)
	var after orderJSON
	view.json(t, &after)
	if after.Participants[0].Status != "confirmed" || after.Participants[1].Status != "cancelled" {
		t.Errorf("after cancelling Siri: %s", view.body)
	}
}

// TestCardOrder: a relay captain pays for a team of three on one Stripe
// page; Stripe's confirmation pays each participant's share on their own
// registration, and cancelling one refunds that share only.
func TestCardOrder(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "gala", nil) // 1 500,00 by card
	body := teamOrder(member("Ola", "ola@example.no", nil), member("Siri", "siri@example.no", nil), member("Per", "per@example.no", nil))
	body["payment"] = map[string]any{"method": "card"}
	r := e.do(t, "POST", "/api/v1/events/gala/orders", "", body)
	if r.status != 201 {
		t.Fatalf("order: %d %s", r.status, r.body)
	}
	var o orderJSON
	r.json(t, &o)
	if o.Payment == nil || o.Payment.Amount != 3*150000 || o.Payment.Status != "pending" || len(o.Payment.Lines) != 3 {
		t.Fatalf("order payment: %s", r.body)
	}
	sid := e.reg(t, o.Participants[0].ID).Payment.SessionID
	for _, p := range o.Participants {
		if d := e.reg(t, p.ID); d.Status != "pending_payment" || d.Payment.SessionID != sid || sid == "" || d.Payment.Amount != 150000 {
			t.Fatalf("participant before payment: %+v %+v", d, d.Payment)
		}
	}
	// Before the payment, one participant cannot leave alone: the page
	// pays the whole order.
	if r := e.do(t, "DELETE", "/api/v1/orders/me/participants/"+o.Participants[2].ID, o.OrderToken, nil); r.status != 409 || !strings.Contains(string(r.body), "order_payment_pending") {
		t.Errorf("cancel before payment: %d %s", r.status, r.body)
	}
	if r := e.webhook(t, stripeEvent("evt_order", "checkout.session.completed", session(sid, o.ID, 3*150000, true)), time.Now(), webhookSecret); r.status != 200 {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	for _, p := range o.Participants {
		if d := e.reg(t, p.ID); d.Status != "confirmed" || d.Payment.Status != "paid" || d.Payment.PaidAmount != 150000 || d.Payment.PaymentIntentID != "pi_"+o.ID {
			t.Errorf("participant after payment: %+v %+v", d, d.Payment)
		}
	}
	// Each is told their payment arrived.
	paid := 0
	for _, m := range e.sendMail(t) {
		if strings.HasPrefix(m.Header("Subject"), "Betaling mottatt") && strings.Contains(m.Body(), "1\u00a0500\u00a0kr") {
			paid++
		}
	}
	if paid != 3 {
		t.Errorf("%d payment-received mails, want 3", paid)
	}
	if r := e.do(t, "DELETE", "/api/v1/orders/me/participants/"+o.Participants[2].ID, o.OrderToken, nil); r.status != 200 {
		t.Fatalf("cancel Per: %d %s", r.status, r.body)
	}
	if _, err := e.a.Payments.SettleDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := e.reg(t, o.Participants[2].ID); d.Payment.RefundedAmount != 150000 {
		t.Errorf("Per's share not refunded: %+v", d.Payment)
	}
	if d := e.reg(t, o.Participants[0].ID); d.Status != "confirmed" || d.Payment.RefundedAmount != 0 {
		t.Errorf("Ola touched by Per's cancellation: %+v %+v", d, d.Payment)
	}
}

// TestOrderIdempotent: a retried order with the same Idempotency-Key gets
// the first answer (the order token included) and registers nobody twice;
// once that answer is gone, the same key finds the order as it stands
// (200, resubmitted, no token).
func TestOrderIdempotent(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "fest")
	body := teamOrder(member("Ola", "ola@example.no", nil), member("Siri", "siri@example.no", nil))
	first := e.do(t, "POST", "/api/v1/events/fest/orders", "", body, "Idempotency-Key", "ord-1")
	again := e.do(t, "POST", "/api/v1/events/fest/orders", "", body, "Idempotency-Key", "ord-1")
	if first.status != 201 || again.status != 201 || string(first.body) != string(again.body) || !strings.Contains(string(first.body), "pmo_") {
		t.Fatalf("retry: %d %s / %d %s", first.status, first.body, again.status, again.body)
	}
	if n := e.count(t, mongodb.Registrations); n != 2 {
		t.Fatalf("%d registrations after a retry, want 2", n)
	}
	// The kept answers expire; the order's own submission key still holds.
	if _, err := e.store.Collection(mongodb.WebState).DeleteMany(context.Background(), bson.M{}); err != nil {
		t.Fatal(err)
	}
	late := e.do(t, "POST", "/api/v1/events/fest/orders", "", body, "Idempotency-Key", "ord-1")
	var o orderJSON
	late.json(t, &o)
	if late.status != 200 || o.OrderToken != "" || len(o.Participants) != 2 || !strings.Contains(string(late.body), `"resubmitted":true`) {
		t.Errorf("late retry: %d %s", late.status, late.body)
	}
	if n := e.count(t, mongodb.Registrations); n != 2 {
		t.Errorf("%d registrations after a late retry, want 2", n)
	}
}
