package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
	"github.com/xuri/excelize/v2"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/mail"
	"github.com/pamelding/pamelding/mail/mailtest"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/payments/stripetest"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
	"github.com/pamelding/pamelding/web"
)

type regDoc struct {
	Category string                `bson:"category"`
	Status   string                `bson:"status"`
	Seat     bool                  `bson:"seat"`
	Payment  *registration.Payment `bson:"payment"`
}

func (e *env) reg(t testing.TB, id string) regDoc {
	t.Helper()
	var d regDoc
	if err := e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": id}, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// stripeEvent builds an event as Stripe sends it, with the API version
// stripe-go v76 expects unless another is given.
func stripeEvent(id, typ string, object map[string]any, version ...string) []byte {
	v := "2023-10-16"
	if len(version) > 0 {
		v = version[0]
	}
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": v, "created": time.Now().Unix(), "type": typ,
		"livemode": false, "pending_webhooks": 1, "data": map[string]any{"object": object},
	})
	return b
}

func (e *env) webhook(t testing.TB, payload []byte, at time.Time, secret string) response {
	t.Helper()
	return e.webhookAs(t, payload, payload, at, secret)
}

// webhookAs signs one payload and sends another (the same, unless the
// test tampers with it in transit).
func (e *env) webhookAs(t testing.TB, signed, sent []byte, at time.Time, secret string) response {
	t.Helper()
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: signed, Secret: secret, Timestamp: at})
	return e.do(t, "POST", "/api/v1/payments/stripe/webhook", "", string(sent), "Stripe-Signature", sp.Header)
}

func session(id, ref string, amount int64, paid bool) map[string]any {
	ps := "unpaid"
	if paid {
		ps = "paid"
	}
	return map[string]any{"id": id, "object": "checkout.session", "client_reference_id": ref, "amount_total": amount,
		"currency": "nok", "payment_status": ps, "status": "complete", "payment_intent": "pi_" + ref}
}

func TestCardPayment(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "gala", func(b map[string]any) { b["capacity"] = 5 })
	s := e.mustSignup(t, "gala", person("kari@example.no"))
	r := e.do(t, "POST", "/api/v1/events/gala/registrations", "", person("ola@example.no"))
	var withURL struct {
		CheckoutURL string `json:"checkoutUrl"`
	}
	r.json(t, &withURL)
	if !strings.HasPrefix(withURL.CheckoutURL, "https://checkout.stripe.com/") {
		t.Fatalf("no checkout URL: %s", r.body)
	}
	d := e.reg(t, s.ID)
	if d.Status != "pending_payment" || d.Payment.Status != "pending" || !strings.HasPrefix(d.Payment.SessionID, "cs_") || d.Payment.Amount != 150000 {
		t.Fatalf("after sign-up %+v %+v", d, d.Payment)
	}
	sid := d.Payment.SessionID
	now := time.Now()

	completed := stripeEvent("evt_1", "checkout.session.completed", session(sid, s.ID, 150000, true))
	for _, tc := range []struct {
		name         string
		signed, sent []byte
		at           time.Time
		secret       string
	}{
		{"Tampered", completed, bytes.Replace(completed, []byte("150000"), []byte("1"), 1), now, webhookSecret},
		{"WrongSecret", completed, completed, now, "whsec_other"},
		{"TooOld", completed, completed, now.Add(-time.Hour), webhookSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.sent == nil {
				tc.sent = tc.signed
			}
			mustProblem(t, e.webhookAs(t, tc.signed, tc.sent, tc.at, tc.secret), 400)
			if d := e.reg(t, s.ID); d.Status != "pending_payment" {
				t.Errorf("status %s after a refused webhook", d.Status)
			}
		})
	}
	t.Run("NoSignature", func(t *testing.T) {
		mustProblem(t, e.do(t, "POST", "/api/v1/payments/stripe/webhook", "", string(stripeEvent("evt_1", "checkout.session.completed", session(sid, s.ID, 150000, true)))), 400)
	})

	if r := e.webhook(t, completed, now, webhookSecret); r.status != 200 {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	d = e.reg(t, s.ID)
	if d.Status != "confirmed" || d.Payment.Status != "paid" || d.Payment.PaidAmount != 150000 || d.Payment.PaymentIntentID != "pi_"+s.ID || d.Payment.PaidAt == nil {
		t.Fatalf("after payment %+v %+v", d, d.Payment)
	}

	t.Run("Replayed", func(t *testing.T) {
		if r := e.webhook(t, completed, now, webhookSecret); r.status != 200 {
			t.Fatalf("replay: %d", r.status)
		}
		n, _ := e.store.Collection(mongodb.StripeEvents).Count(context.Background(), bson.M{})
		if n != 1 {
			t.Errorf("%d events recorded", n)
		}
	})
	t.Run("ExpiredAfterPaidChangesNothing", func(t *testing.T) {
		exp := stripeEvent("evt_2", "checkout.session.expired", map[string]any{"id": sid, "object": "checkout.session", "client_reference_id": s.ID, "status": "expired"})
		if r := e.webhook(t, exp, now, webhookSecret); r.status != 200 {
			t.Fatal(r.status)
		}
		if d := e.reg(t, s.ID); d.Status != "confirmed" || !d.Seat {
			t.Errorf("an out-of-order expiry undid the payment: %+v", d)
		}
	})
	t.Run("Refunded", func(t *testing.T) {
		ch := map[string]any{"id": "ch_1", "object": "charge", "amount": 150000, "amount_refunded": 50000, "refunded": false,
			"payment_intent": "pi_" + s.ID, "metadata": map[string]string{"registration": s.ID}}
		if r := e.webhook(t, stripeEvent("evt_3", "charge.refunded", ch), now, webhookSecret); r.status != 200 {
			t.Fatal(r.status)
		}
		if d := e.reg(t, s.ID); d.Payment.RefundedAmount != 50000 || d.Payment.Status != "paid" {
			t.Errorf("partial refund: %+v", d.Payment)
		}
		// An older delivery arriving late does not lower it.
		ch["amount_refunded"] = 20000
		e.webhook(t, stripeEvent("evt_4", "charge.refunded", ch), now, webhookSecret)
		if d := e.reg(t, s.ID); d.Payment.RefundedAmount != 50000 {
			t.Errorf("refund went backwards: %d", d.Payment.RefundedAmount)
		}
	})
	t.Run("NoCardDataStored", func(t *testing.T) {
		var raw bson.Raw
		_ = e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": s.ID}, &raw)
		for _, bad := range []string{"last4", "exp_month", "exp_year", "cvc", "fingerprint", "brand"} {
			if strings.Contains(string(raw), bad) {
				t.Errorf("the registration holds %q", bad)
			}
		}
	})
}

func TestHoldExpires(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "gala", func(b map[string]any) { b["capacity"] = 2; b["waitlist"] = true })
	a := e.mustSignup(t, "gala", person("a@example.no"))
	b := e.mustSignup(t, "gala", person("b@example.no"))
	w := e.mustSignup(t, "gala", person("w@example.no"))
	if w.Status != "waitlisted" {
		t.Fatalf("third: %s", w.Status)
	}

	t.Run("WebhookExpired", func(t *testing.T) {
		sid := e.reg(t, a.ID).Payment.SessionID
		exp := stripeEvent("evt_x", "checkout.session.expired", map[string]any{"id": sid, "object": "checkout.session", "client_reference_id": a.ID, "status": "expired"})
		if r := e.webhook(t, exp, time.Now(), webhookSecret); r.status != 200 {
			t.Fatal(r.status)
		}
		if d := e.reg(t, a.ID); d.Status != "expired" || d.Seat || d.Payment.Status != "expired" {
			t.Errorf("after expiry %+v", d)
		}
		if d := e.reg(t, w.ID); d.Status != "offered" {
			t.Errorf("the freed seat was not offered: %s", d.Status)
		}
		t.Run("PaidLate", func(t *testing.T) {
			late := stripeEvent("evt_y", "checkout.session.completed", session(sid, a.ID, 150000, true))
			if r := e.webhook(t, late, time.Now(), webhookSecret); r.status != 200 {
				t.Fatal(r.status)
			}
			d := e.reg(t, a.ID)
			if d.Status != "expired" || d.Payment.Status != "paid" || d.Payment.PaidAmount != 150000 {
				t.Errorf("a late payment must be recorded, not confirm a seat given away: %+v %+v", d, d.Payment)
			}
		})
	})
	t.Run("JobAsksStripe", func(t *testing.T) {
		// No webhook ever comes for b: once the hold is over, the job asks
		// Stripe (stripe-mock answers "open"), expires the session there
		// and releases the seat.
		if n, err := e.a.Payments.ReleaseHolds(context.Background()); err != nil || n != 0 {
			t.Fatalf("before the hold ended: %d, %v", n, err)
		}
		e.clock.add(32 * time.Minute)
		n, err := e.a.Payments.ReleaseHolds(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("released %d, %v", n, err)
		}
		if d := e.reg(t, b.ID); d.Status != "expired" || d.Seat {
			t.Errorf("after the job %+v", d)
		}
		if left := e.seatsLeft(t, "gala"); left != 1 {
			t.Errorf("seats left %d, want 1", left)
		}
	})
	t.Run("OrphanPayment", func(t *testing.T) {
		orphan := stripeEvent("evt_o", "checkout.session.completed", session("cs_unknown", "NOSUCHREGISTRATION", 99900, true))
		if r := e.webhook(t, orphan, time.Now(), webhookSecret); r.status != 200 {
			t.Fatal(r.status)
		}
		r := e.do(t, "GET", "/api/v1/finance/reconciliation", adminToken, nil)
		if !strings.Contains(string(r.body), "stripe_payment_without_registration") || !strings.Contains(string(r.body), "paid_but_cancelled") {
			t.Errorf("report lacks the anomalies: %s", r.body)
		}
	})
}

func TestRefunds(t *testing.T) {
	e := newEnv(t)
	pay := func(slug, id string) {
		sid := e.reg(t, id).Payment.SessionID
		if r := e.webhook(t, stripeEvent("evt_"+id, "checkout.session.completed", session(sid, id, 150000, true)), time.Now(), webhookSecret); r.status != 200 {
			t.Fatal(r.status)
		}
	}
	e.mustEvent(t, "gala", func(b map[string]any) { b["refundDeadline"] = "2027-02-01T00:00:00Z" })
	early := e.mustSignup(t, "gala", person("early@example.no"))
	late := e.mustSignup(t, "gala", person("late@example.no"))
	pay("gala", early.ID)
	pay("gala", late.ID)

	r := e.do(t, "DELETE", "/api/v1/me/registration", early.ManageToken, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"refund":"re_`) {
		t.Fatalf("cancel before the deadline: %d %s", r.status, r.body)
	}
	if d := e.reg(t, early.ID); d.Status != "cancelled" || d.Payment.RefundID == "" || d.Payment.Status != "refunded" {
		t.Errorf("refund not recorded: %+v", d.Payment)
	}

	e.clock.add(80 * 24 * time.Hour) // past 1 February 2027
	r = e.do(t, "DELETE", "/api/v1/me/registration", late.ManageToken, nil)
	if r.status != 200 || strings.Contains(string(r.body), `"refund"`) {
		t.Fatalf("cancel after the deadline: %d %s", r.status, r.body)
	}
	if d := e.reg(t, late.ID); d.Status != "cancelled" || d.Seat || d.Payment.Status != "paid" {
		t.Errorf("after the deadline the seat is freed without refund: %+v %+v", d, d.Payment)
	}

	var rep struct {
		Rows []struct {
			Registration string
			AmountDue    int64
			Anomalies    []string
		}
	}
	e.do(t, "GET", "/api/v1/finance/reconciliation?event=gala", adminToken, nil).json(t, &rep)
	for _, row := range rep.Rows {
		want := int64(0) // refunded in time
		if row.Registration == late.ID {
			want = 150000 // kept under the no-refund rule
		}
		if row.AmountDue != want || len(row.Anomalies) != 0 {
			t.Errorf("report row %+v, want due %d and no anomaly", row, want)
		}
	}
}

// invoiceEvent is a paid event whose form offers payment by invoice.
func (e *env) invoiceEvent(t testing.TB, slug string) {
	e.mustEvent(t, slug, func(b map[string]any) {
		b["vatRate"] = 25
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "organisation"},
			{"key": "invoice_org_number"}, {"key": "invoice_address"}, {"key": "invoice_reference"}}
	})
}

func invoiceBuyer(email string) map[string]any {
	return map[string]any{
		"fields": map[string]any{"name": "Kari Nordmann", "email": email, "organisation": "Acme AS",
			"invoice_org_number": "974760673", "invoice_address": "Postboks 1\n0101 Oslo", "invoice_reference": "PO-77"},
		"payment": map[string]any{"method": "invoice"},
	}
}

// TestEHFInvoiceMail: a buyer who asks for EHF gets the invoice mail
// with the PDF and the EHF document of the same invoice, addressed to
// their org number with their reference; asking for it without a
// reference, with a card, or where the event asks no reference is
// refused and registers nothing; a buyer who does not ask gets the PDF
// alone.
func TestEHFInvoiceMail(t *testing.T) {
	e := newEnv(t)
	e.invoiceEvent(t, "seminar")
	e.mustEvent(t, "noref", func(b map[string]any) {
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true},
			{"key": "invoice_org_number"}, {"key": "invoice_address"}}
	})
	ehf := func(email string) map[string]any {
		b := invoiceBuyer(email)
		b["payment"] = map[string]any{"method": "invoice", "ehf": true}
		return b
	}
	noRef := ehf("a@example.no")
	delete(noRef["fields"].(map[string]any), "invoice_reference")
	if p := mustProblem(t, e.do(t, "POST", "/api/v1/events/seminar/registrations", "", noRef), 422); !p.has("fields.invoice_reference", "required") {
		t.Errorf("EHF without a reference: %+v", p.Errors)
	}
	card := ehf("b@example.no")
	card["payment"] = map[string]any{"method": "card", "ehf": true}
	if p := mustProblem(t, e.do(t, "POST", "/api/v1/events/seminar/registrations", "", card), 422); !p.has("payment.ehf", "invalid") {
		t.Errorf("EHF with a card: %+v", p.Errors)
	}
	other := ehf("c@example.no")
	delete(other["fields"].(map[string]any), "invoice_reference")
	delete(other["fields"].(map[string]any), "organisation")
	if p := mustProblem(t, e.do(t, "POST", "/api/v1/events/noref/registrations", "", other), 422); !p.has("payment.ehf", "invalid") {
		t.Errorf("EHF where no reference is asked: %+v", p.Errors)
	}
	if n := e.count(t, "registrations"); n != 0 {
		t.Fatalf("%d registrations after refusals", n)
	}

	if r := e.do(t, "POST", "/api/v1/events/seminar/registrations", "", ehf("kari@example.no")); r.status != 201 {
		t.Fatalf("EHF sign-up: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer("ola@example.no")); r.status != 201 {
		t.Fatalf("PDF sign-up: %d %s", r.status, r.body)
	}
	invoiceMails := map[string][]mailtest.Part{}
	for _, m := range e.sendMail(t) {
		for _, a := range m.Attachments() {
			if strings.HasPrefix(a.Filename, "faktura-") {
				invoiceMails[m.To[0]] = m.Attachments()
				break
			}
		}
	}
	kari, ola := invoiceMails["kari@example.no"], invoiceMails["ola@example.no"]
	if len(kari) != 2 || kari[0].Filename != "faktura-1.pdf" || kari[1].Filename != "faktura-1.xml" || !strings.HasPrefix(kari[1].ContentType, "application/xml") ||
		!bytes.Contains(kari[1].Data, []byte(`<cbc:EndpointID schemeID="0192">974760673</cbc:EndpointID>`)) ||
		!bytes.Contains(kari[1].Data, []byte(`<cbc:BuyerReference>PO-77</cbc:BuyerReference>`)) || !bytes.Contains(kari[1].Data, []byte(`<cbc:ID>1</cbc:ID>`)) {
		t.Errorf("the EHF buyer's invoice mail: %+v", kari)
	}
	if len(ola) != 1 || ola[0].Filename != "faktura-2.pdf" {
		t.Errorf("the PDF buyer's invoice mail: %+v", ola)
	}
}

func TestInvoices(t *testing.T) {
	e := newEnv(t)
	e.invoiceEvent(t, "seminar")
	e.mustEvent(t, "noinvoice", nil)

	t.Run("Refused", func(t *testing.T) {
		b := invoiceBuyer("x@example.no")
		delete(b["fields"].(map[string]any), "invoice_address")
		p := mustProblem(t, e.do(t, "POST", "/api/v1/events/seminar/registrations", "", b), 422)
		if !p.has("fields.invoice_address", "required") {
			t.Errorf("errors %+v", p.Errors)
		}
		p = mustProblem(t, e.do(t, "POST", "/api/v1/events/noinvoice/registrations", "", map[string]any{
			"fields": map[string]any{"name": "X", "email": "x@example.no"}, "payment": map[string]any{"method": "invoice"}}), 422)
		if !p.has("payment.method", "invalid") {
			t.Errorf("a form without invoice fields took an invoice: %+v", p.Errors)
		}
	})

	r := e.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer("kari@example.no"))
	var s struct{ ID, Status, PaymentStatus string }
	r.json(t, &s)
	if r.status != 201 || s.Status != "confirmed" || s.PaymentStatus != "invoiced" {
		t.Fatalf("invoice sign-up: %d %s", r.status, r.body)
	}
	d := e.reg(t, s.ID)
	if d.Payment.InvoiceNumber != 1 || d.Payment.KID != "18" {
		t.Fatalf("payment %+v", d.Payment)
	}
	finance := e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "regnskap"})
	r = e.do(t, "GET", "/api/v1/finance/invoices/1", finance, nil)
	var inv struct {
		Number                 int64
		KID                    string
		Total, VAT, Net        int64
		Seller, Buyer          map[string]any
		IssueDate, DueDate     time.Time
		DeliveryDate           time.Time
		Lines                  []map[string]any
		Status, Kind, Currency string
	}
	r.json(t, &inv)
	if inv.Total != 150000 || inv.VAT != 30000 || inv.Net != 120000 || inv.KID != "18" || inv.Kind != "invoice" || inv.Currency != "NOK" {
		t.Errorf("invoice amounts %+v", inv)
	}
	if inv.Seller["orgNumber"] != "923609016" || inv.Seller["vatRegistered"] != true || inv.Buyer["orgNumber"] != "974760673" || inv.Buyer["reference"] != "PO-77" {
		t.Errorf("parties %+v %+v", inv.Seller, inv.Buyer)
	}
	if inv.DueDate.Sub(inv.IssueDate) != 14*24*time.Hour || inv.DeliveryDate.IsZero() || len(inv.Lines) != 1 {
		t.Errorf("dates %v %v %v", inv.IssueDate, inv.DueDate, inv.DeliveryDate)
	}
	t.Run("PDF", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/finance/invoices/1?format=pdf", finance, nil)
		if r.status != 200 || r.header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(r.body, []byte("%PDF-")) {
			t.Fatalf("pdf: %d %s", r.status, r.header.Get("Content-Type"))
		}
	})
	t.Run("EHF", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/finance/invoices/1?format=ehf", finance, nil)
		if r.status != 200 || r.header.Get("Content-Type") != "application/xml" ||
			r.header.Get("Content-Disposition") != `attachment; filename="faktura-1.xml"` ||
			!bytes.Contains(r.body, []byte(`<cbc:EndpointID schemeID="0192">974760673</cbc:EndpointID>`)) ||
			!bytes.Contains(r.body, []byte(`<cbc:PaymentID>18</cbc:PaymentID>`)) {
			t.Fatalf("ehf: %d %s %s\n%s", r.status, r.header.Get("Content-Type"), r.header.Get("Content-Disposition"), r.body)
		}
		if r := e.do(t, "GET", "/api/v1/finance/invoices/1", finance, nil, "Accept", "application/xml"); r.status != 200 || !bytes.HasPrefix(r.body, []byte("<?xml")) {
			t.Errorf("Accept: application/xml: %d %.60s", r.status, r.body)
		}
	})
	t.Run("Forbidden", func(t *testing.T) {
		organiser := e.token(t, staff.CreateRequest{Role: staff.Organiser, Name: "o"})
		mustProblem(t, e.do(t, "GET", "/api/v1/finance/invoices/1", organiser, nil), 403)
		mustProblem(t, e.do(t, "GET", "/api/v1/finance/invoices", "", nil), 401)
		mustProblem(t, e.do(t, "GET", "/api/v1/finance/invoices/999", finance, nil), 404)
	})
	t.Run("CancelIssuesCreditNote", func(t *testing.T) {
		r := e.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer("ola@example.no"))
		var s2 signup
		r.json(t, &s2)
		r = e.do(t, "DELETE", "/api/v1/me/registration", s2.ManageToken, nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"creditNote":3`) {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		var list struct {
			Invoices []struct {
				Number, Credits, Total int64
				Kind, Status           string
			}
		}
		e.do(t, "GET", "/api/v1/finance/invoices", finance, nil).json(t, &list)
		if len(list.Invoices) != 3 || list.Invoices[2].Kind != "credit_note" || list.Invoices[2].Credits != 2 || list.Invoices[2].Total != -150000 || list.Invoices[1].Status != "credited" {
			t.Errorf("invoices %+v", list.Invoices)
		}
	})
	t.Run("AfterTheRefundDeadlineTheInvoiceStands", func(t *testing.T) {
		r := e.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer("late@example.no"))
		var s3 signup
		r.json(t, &s3)
		e.clock.add(120 * 24 * time.Hour) // past the start, the default deadline
		r = e.do(t, "DELETE", "/api/v1/me/registration", s3.ManageToken, nil)
		if r.status != 200 || strings.Contains(string(r.body), "creditNote") {
			t.Fatalf("late cancel: %d %s", r.status, r.body)
		}
		if d := e.reg(t, s3.ID); d.Status != "cancelled" || d.Payment.Status != "invoiced" {
			t.Errorf("after the deadline: %s %s", d.Status, d.Payment.Status)
		}
	})
}

// TestBankStatement: invoice → bank file → paid, over HTTP, and the
// report shows card and invoice payments together.
func TestBankStatement(t *testing.T) {
	e := newEnv(t)
	e.invoiceEvent(t, "seminar")
	var kids []string
	for i := range 4 {
		e.clock.add(time.Second) // report rows in sign-up order
		r := e.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer(fmt.Sprintf("buyer%d@example.no", i)))
		var s struct{ ID string }
		r.json(t, &s)
		kids = append(kids, e.reg(t, s.ID).Payment.KID)
	}
	if strings.Join(kids, ",") != "18,26,34,42" {
		t.Fatalf("KIDs %v", kids)
	}
	e.clock.add(time.Second)
	card := e.mustSignup(t, "seminar", person("card@example.no"))
	sid := e.reg(t, card.ID).Payment.SessionID
	e.webhook(t, stripeEvent("evt_c", "checkout.session.completed", session(sid, card.ID, 150000, true)), time.Now(), webhookSecret)

	finance := e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "regnskap"})
	post := func(file string) response {
		b, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		return e.do(t, "POST", "/api/v1/finance/bank-statements", finance, string(b), "Content-Type", "application/xml")
	}
	r := post("camt054.xml")
	var res struct {
		Entries, Matched, Duplicates, Ignored int
		Unmatched                             []struct {
			KID    string
			Amount int64
		}
	}
	r.json(t, &res)
	if r.status != 200 || res.Entries != 4 || res.Matched != 3 || len(res.Unmatched) != 1 || res.Unmatched[0].KID != "99999999" || res.Ignored != 1 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	var list struct {
		Invoices []struct {
			Number, PaidAmount int64
			Status             string
		}
	}
	e.do(t, "GET", "/api/v1/finance/invoices", finance, nil).json(t, &list)
	want := []string{"paid", "partially_paid", "overpaid", "open"}
	for i, inv := range list.Invoices {
		if inv.Status != want[i] {
			t.Errorf("invoice %d: %s (paid %d), want %s", inv.Number, inv.Status, inv.PaidAmount, want[i])
		}
	}

	t.Run("SameFileAgain", func(t *testing.T) {
		r := post("camt054.xml")
		r.json(t, &res)
		if res.Duplicates != 4 || res.Matched != 0 {
			t.Errorf("re-import: %s", r.body)
		}
		var again struct{ Invoices []struct{ PaidAmount int64 } }
		e.do(t, "GET", "/api/v1/finance/invoices", finance, nil).json(t, &again)
		if again.Invoices[0].PaidAmount != 150000 {
			t.Errorf("paid twice: %d", again.Invoices[0].PaidAmount)
		}
	})
	t.Run("Camt053", func(t *testing.T) {
		r := post("camt053.xml")
		r.json(t, &res)
		if r.status != 200 || res.Matched != 1 {
			t.Fatalf("camt.053: %d %s", r.status, r.body)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		before := e.count(t, mongodb.BankEntries)
		mustProblem(t, e.do(t, "POST", "/api/v1/finance/bank-statements", finance, `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Document>&x;</Document>`, "Content-Type", "application/xml"), 422)
		mustProblem(t, e.do(t, "POST", "/api/v1/finance/bank-statements", finance, `<Document><nope/></Document>`, "Content-Type", "application/xml"), 422)
		mustProblem(t, e.do(t, "POST", "/api/v1/finance/bank-statements", finance, `{}`), 415)
		if after := e.count(t, mongodb.BankEntries); after != before {
			t.Errorf("a refused file wrote %d entries", after-before)
		}
	})
	t.Run("Unmatched", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/finance/bank-statements/unmatched", finance, nil)
		if !strings.Contains(string(r.body), `"kid":"99999999"`) {
			t.Errorf("unmatched: %s", r.body)
		}
	})

	t.Run("Reconciliation", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/finance/reconciliation?event=seminar", finance, nil)
		var rep struct {
			Rows []struct {
				Method, PaymentStatus, KID string
				InvoiceNumber              int64
				AmountPaid                 int64
				StripeSession              string   `json:"stripeSession"`
				Anomalies                  []string `json:"anomalies"`
			}
			Totals struct {
				Rows      int
				Due, Paid int64
			}
		}
		r.json(t, &rep)
		if rep.Totals.Rows != 5 || rep.Totals.Due != 5*150000 {
			t.Fatalf("report %s", r.body)
		}
		if rep.Rows[4].Method != "card" || rep.Rows[4].PaymentStatus != "paid" || rep.Rows[4].StripeSession == "" {
			t.Errorf("card row %+v", rep.Rows[4])
		}
		if rep.Rows[0].Method != "invoice" || rep.Rows[0].KID != "18" || rep.Rows[0].PaymentStatus != "paid" {
			t.Errorf("invoice row %+v", rep.Rows[0])
		}
		if !strings.Contains(strings.Join(rep.Rows[1].Anomalies, ","), "amount_mismatch") {
			t.Errorf("partial payment not flagged: %+v", rep.Rows[1])
		}
		for _, bad := range []string{"@example.no", "email", "phone", "dietary"} {
			if strings.Contains(string(r.body), bad) {
				t.Errorf("finance report holds %q", bad)
			}
		}

		csvR := e.do(t, "GET", "/api/v1/finance/reconciliation?event=seminar&format=csv", finance, nil)
		recs, err := csv.NewReader(bytes.NewReader(csvR.body)).ReadAll()
		if err != nil || len(recs) != 7 || recs[0][0] != "registration" || recs[6][0] != "TOTAL" {
			t.Fatalf("csv: %v %d rows", err, len(recs))
		}
		x := e.do(t, "GET", "/api/v1/finance/reconciliation?event=seminar&format=xlsx", finance, nil)
		f, err := excelize.OpenReader(bytes.NewReader(x.body))
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := f.GetRows("Avstemming")
		if len(rows) != 7 || rows[1][0] == "" {
			t.Errorf("xlsx rows %d", len(rows))
		}
		mustProblem(t, e.do(t, "GET", "/api/v1/finance/reconciliation?from=yesterday", finance, nil), 400)
	})
	t.Run("OverdueFlagged", func(t *testing.T) {
		e.clock.add(20 * 24 * time.Hour)
		r := e.do(t, "GET", "/api/v1/finance/reconciliation?event=seminar", finance, nil)
		if !strings.Contains(string(r.body), "overdue_invoice") {
			t.Errorf("no overdue flag: %s", r.body)
		}
	})
}

func TestCancelEvent(t *testing.T) {
	e := newEnv(t)
	e.invoiceEvent(t, "seminar")
	inv := e.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer("a@example.no"))
	var invS signup
	inv.json(t, &invS)
	card := e.mustSignup(t, "seminar", person("b@example.no"))
	sid := e.reg(t, card.ID).Payment.SessionID
	e.webhook(t, stripeEvent("evt_c", "checkout.session.completed", session(sid, card.ID, 150000, true)), time.Now(), webhookSecret)
	pending := e.mustSignup(t, "seminar", person("c@example.no"))

	r := e.do(t, "POST", "/api/v1/events/seminar/cancel", adminToken, nil)
	var out struct{ Cancelled, Refunds, CreditNotes int }
	r.json(t, &out)
	if r.status != 200 || out.Cancelled != 3 || out.Refunds != 1 || out.CreditNotes != 1 {
		t.Fatalf("cancel event: %d %s", r.status, r.body)
	}
	for id, want := range map[string]string{invS.ID: "credited", card.ID: "refunded", pending.ID: "not_due"} {
		if d := e.reg(t, id); d.Status != "cancelled" || d.Payment.Status != registration.PaymentStatus(want) {
			t.Errorf("%s: %s %s, want cancelled %s", id, d.Status, d.Payment.Status, want)
		}
	}
	p := mustProblem(t, e.do(t, "POST", "/api/v1/events/seminar/registrations", "", person("late@example.no")), 409)
	if p.Code != "registration_closed" {
		t.Errorf("sign-up to a cancelled event: %s", p.Code)
	}
	if r := e.do(t, "GET", "/api/v1/events/seminar", "", nil); !strings.Contains(string(r.body), `"cancelled":true`) {
		t.Error("public view does not say cancelled")
	}
	_ = io.Discard
	_ = httptest.NewRequest
}

// TestPaidOfferAccepted: a seat of a paid event offered from the waiting
// list makes the payment due when taken: a new Stripe page for a card, an
// invoice for an organisation.
func TestPaidOfferAccepted(t *testing.T) {
	e := newEnv(t)
	e.invoiceEvent(t, "seminar")
	if r := e.do(t, "PATCH", "/api/v1/events/seminar", adminToken, map[string]any{"capacity": 1, "waitlist": true}); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	holder := e.mustSignup(t, "seminar", person("holder@example.no"))
	e.clock.add(time.Second)
	card := e.mustSignup(t, "seminar", person("card@example.no"))
	e.clock.add(time.Second)
	r := e.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer("org@example.no"))
	var inv signup
	r.json(t, &inv)
	if card.Status != "waitlisted" || inv.Status != "waitlisted" {
		t.Fatalf("statuses %s %s", card.Status, inv.Status)
	}
	e.do(t, "DELETE", "/api/v1/me/registration", holder.ManageToken, nil)
	r = e.do(t, "POST", "/api/v1/me/offer/accept", card.ManageToken, nil)
	var res struct{ Status, PaymentStatus, CheckoutURL string }
	r.json(t, &res)
	if r.status != 200 || res.Status != "pending_payment" || res.PaymentStatus != "pending" || !strings.HasPrefix(res.CheckoutURL, "https://checkout.stripe.com/") {
		t.Fatalf("card offer accepted: %d %s", r.status, r.body)
	}
	if d := e.reg(t, card.ID); d.Payment.SessionID == "" || d.Payment.SessionExpiresAt == nil {
		t.Errorf("no session stored: %+v", d.Payment)
	}

	// The card holder cancels; the organisation is offered the seat and
	// takes it by invoice.
	e.do(t, "DELETE", "/api/v1/me/registration", card.ManageToken, nil)
	r = e.do(t, "POST", "/api/v1/me/offer/accept", inv.ManageToken, nil)
	r.json(t, &res)
	if r.status != 200 || res.Status != "confirmed" || res.PaymentStatus != "invoiced" {
		t.Fatalf("invoice offer accepted: %d %s", r.status, r.body)
	}
	if d := e.reg(t, inv.ID); d.Payment.InvoiceNumber == 0 {
		t.Errorf("no invoice: %+v", d.Payment)
	}
}

// TestRefundSurvivesStripeOutage: a cancellation while Stripe does not
// answer stands at once (200, refund due) and the settlement job makes
// the refund when Stripe answers again. It used to answer 500 with the
// registration already cancelled and the refund lost.
func TestRefundSurvivesStripeOutage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustEvent(t, "gala", nil)
	card := e.mustSignup(t, "gala", person("kari@example.no"))
	sid := e.reg(t, card.ID).Payment.SessionID
	if r := e.webhook(t, stripeEvent("evt_paid", "checkout.session.completed", session(sid, card.ID, 150000, true)), time.Now(), webhookSecret); r.status != 200 {
		t.Fatal(r.status)
	}
	// Another instance, whose Stripe is unreachable, takes the cancellation.
	down := app.New(e.store, e.a.KeyStore, e.keys, slog.New(slog.DiscardHandler), e.clock.now, app.Config{Payments: payments.Config{
		StripeKey: "sk_test_123", StripeAPIBase: "http://127.0.0.1:9", WebhookSecret: webhookSecret, PublicURL: "https://pamelding.example.no"}})
	reg, err := down.Registrations.Get(ctx, card.ID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := down.Cancel(ctx, reg)
	if err != nil || out.Status != registration.Cancelled || out.PaymentStatus != registration.PaymentRefundDue || out.Refund != "" {
		t.Fatalf("cancel while Stripe is down: %+v %v", out, err)
	}
	if d := e.reg(t, card.ID); d.Status != "cancelled" || d.Payment.Status != registration.PaymentRefundDue {
		t.Fatalf("after the cancellation: %s %s", d.Status, d.Payment.Status)
	}
	// Not yet due again: the failed attempt set a backoff.
	if n, err := e.a.Payments.SettleDue(ctx); err != nil || n != 0 {
		t.Fatalf("settled %d before the backoff, %v", n, err)
	}
	e.clock.add(time.Hour)
	if n, err := e.a.Payments.SettleDue(ctx); err != nil || n != 1 {
		t.Fatalf("settled %d, %v", n, err)
	}
	if d := e.reg(t, card.ID); d.Payment.Status != registration.PaymentRefunded || !strings.HasPrefix(d.Payment.RefundID, "re_") || d.Payment.RefundedAmount != 150000 {
		t.Errorf("after the job: %+v", d.Payment)
	}
}

// TestDashboardRefundFlagged: a refund made in Stripe's dashboard for a
// registration that keeps its seat is recorded and flagged by the
// reconciliation report; it used to leave the registration confirmed with
// nothing flagged.
func TestDashboardRefundFlagged(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "gala", nil)
	card := e.mustSignup(t, "gala", person("kari@example.no"))
	sid := e.reg(t, card.ID).Payment.SessionID
	e.webhook(t, stripeEvent("evt_paid", "checkout.session.completed", session(sid, card.ID, 150000, true)), time.Now(), webhookSecret)
	charge := map[string]any{"id": "ch_1", "object": "charge", "amount": 150000, "amount_refunded": 150000, "refunded": true,
		"currency": "nok", "payment_intent": "pi_" + card.ID, "metadata": map[string]string{}}
	if r := e.webhook(t, stripeEvent("evt_refund", "charge.refunded", charge), time.Now(), webhookSecret); r.status != 200 {
		t.Fatalf("webhook %d %s", r.status, r.body)
	}
	if d := e.reg(t, card.ID); d.Status != "confirmed" || d.Payment.Status != registration.PaymentRefunded || d.Payment.RefundedAmount != 150000 {
		t.Fatalf("refund not recorded: %s %+v", d.Status, d.Payment)
	}
	var rep struct {
		Rows []struct {
			Registration string
			Anomalies    []string
		}
	}
	e.do(t, "GET", "/api/v1/finance/reconciliation?event=gala", adminToken, nil).json(t, &rep)
	if len(rep.Rows) != 1 || !slices.Contains(rep.Rows[0].Anomalies, payments.AnomalyRefundedButLive) {
		t.Errorf("report %+v, want %s flagged", rep.Rows, payments.AnomalyRefundedButLive)
	}
}

// stripeProxy stands in front of stripe-mock: it passes requests on, or,
// as Stripe in an outage, answers 500 ("fail") or never answers
// ("hang"); refunds whose idempotency key is in failKeys fail whatever
// the mode. It records the idempotency key of every refund request:
// made (passed on to Stripe) or refused.
type stripeProxy struct {
	url           string
	mu            sync.Mutex
	mode          string
	failKeys      map[string]bool
	made, refused []string
}

func newStripeProxy(t testing.TB) *stripeProxy {
	t.Helper()
	target, err := url.Parse(stripetest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &stripeProxy{failKeys: map[string]bool{}}
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refund := r.Method == http.MethodPost && r.URL.Path == "/v1/refunds"
		key := r.Header.Get("Idempotency-Key")
		p.mu.Lock()
		mode := p.mode
		if refund && p.failKeys[key] {
			mode = "fail"
		}
		if refund && mode == "" {
			p.made = append(p.made, key)
		} else if refund {
			p.refused = append(p.refused, key)
		}
		p.mu.Unlock()
		switch mode {
		case "fail":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":{"type":"api_error","message":"An unknown error occurred"}}`)
		case "hang":
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs first: hanging requests end
	p.url = srv.URL
	return p
}

func (p *stripeProxy) set(mode string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = mode
}

// refunds returns the keys of the refund requests made and refused.
func (p *stripeProxy) refunds() (made, refused []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.made), slices.Clone(p.refused)
}

// newEnvStripe is newEnv whose app reaches Stripe through p.
func newEnvStripe(t testing.TB, p *stripeProxy) *env {
	t.Helper()
	return newEnvStripeAt(t, p.url)
}

// newEnvStripeAt is newEnv whose app reaches Stripe at url.
func newEnvStripeAt(t testing.TB, url string) *env {
	t.Helper()
	e := newEnv(t)
	a := app.New(e.store, e.a.KeyStore, e.keys, slog.New(slog.NewJSONHandler(e.logs, nil)), e.clock.now, app.Config{
		Payments: payments.Config{
			StripeKey: "sk_test_123", StripeAPIBase: url, WebhookSecret: webhookSecret, PublicURL: "https://pamelding.example.no",
			Seller: payments.Seller{Name: "Janteloppet AS", OrgNumber: "923609016", VATRegistered: true, Address: "Storgata 1, 2211 Kongsvinger", BankAccount: "1234.56.78903"},
		},
		AdminToken: adminToken, PublicURL: "https://pamelding.example.no", AllowLoopbackWebhooks: true,
	})
	e.a, e.staff, e.hooks = a, a.Staff, a.Webhooks
	e.app = web.New(web.Deps{App: a, Config: web.Config{PublicURL: "https://pamelding.example.no", DigitalConsentAge: 13, CardPayments: true}})
	return e
}

// paid signs up a card payer and pays through the webhook.
func (e *env) paid(t testing.TB, slug, email string) signup {
	t.Helper()
	s := e.mustSignup(t, slug, person(email))
	sid := e.reg(t, s.ID).Payment.SessionID
	if r := e.webhook(t, stripeEvent("evt_paid_"+s.ID, "checkout.session.completed", session(sid, s.ID, 150000, true)), time.Now(), webhookSecret); r.status != 200 {
		t.Fatalf("payment webhook: %d %s", r.status, r.body)
	}
	if d := e.reg(t, s.ID); d.Status != "confirmed" || d.Payment.Status != registration.PaymentPaid {
		t.Fatalf("not paid: %s %+v", d.Status, d.Payment)
	}
	return s
}

// outbox lists the kinds of mail waiting in or sent from a
// registration's outbox.
func (e *env) outbox(t testing.TB, id string) []string {
	t.Helper()
	var d struct {
		Outbox map[string]struct {
			Kind string `bson:"kind"`
		} `bson:"outbox"`
	}
	if err := e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": id}, &d); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range d.Outbox {
		kinds = append(kinds, m.Kind)
	}
	slices.Sort(kinds)
	return kinds
}

// sendMail sends what waits in the outboxes to a test SMTP server and
// returns what it received.
func (e *env) sendMail(t testing.TB) []mailtest.Mail {
	t.Helper()
	smtp := mailtest.Start(t)
	sender, err := mail.Parse(smtp.URL(), "Janteloppet <pamelding@example.no>")
	if err != nil {
		t.Fatal(err)
	}
	m := registration.NewMailer(e.a.Domain, sender, "https://pamelding.example.no")
	m.Documents = e.a.Mailer.Documents // as main wires it
	if _, err := m.SendDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	return smtp.Mail()
}

// TestCancelWhileStripeFails: a paid card registration cancelled before
// the refund deadline while Stripe answers 500, or not at all, is
// cancelled at once (200, refund due, shown as to refund in the report);
// the settlement job refunds it exactly once, under the idempotency key,
// when Stripe answers again, and only then is the participant mailed.
func TestCancelWhileStripeFails(t *testing.T) {
	for _, mode := range []string{"fail", "hang"} {
		t.Run(mode, func(t *testing.T) {
			p := newStripeProxy(t)
			e := newEnvStripe(t, p)
			ctx := context.Background()
			e.mustEvent(t, "gala", nil)
			s := e.paid(t, "gala", "kari@example.no")
			key := "refund-" + s.ID

			p.set(mode)
			r := e.do(t, "DELETE", "/api/v1/me/registration", s.ManageToken, nil)
			var out app.CancelOutcome
			r.json(t, &out)
			if r.status != 200 || out.Status != registration.Cancelled || out.PaymentStatus != registration.PaymentRefundDue || out.Refund != "" {
				t.Fatalf("cancel while Stripe %ss: %d %s", mode, r.status, r.body)
			}
			made, refused := p.refunds()
			if len(made) != 0 || len(refused) == 0 || slices.ContainsFunc(refused, func(k string) bool { return k != key }) {
				t.Fatalf("refund requests: made %v, refused %v; want Stripe asked under %s and failing", made, refused, key)
			}
			d := e.reg(t, s.ID)
			if d.Status != "cancelled" || d.Seat || d.Payment.Status != registration.PaymentRefundDue || d.Payment.RefundedAmount != 0 {
				t.Fatalf("after the cancellation: %s seat=%v %+v", d.Status, d.Seat, d.Payment)
			}
			if slices.Contains(e.outbox(t, s.ID), "refund") {
				t.Error("refund mail queued before any refund")
			}
			mustProblem(t, e.do(t, "DELETE", "/api/v1/me/registration", s.ManageToken, nil), 409)

			var rep struct {
				Rows []struct {
					Registration        string
					AmountDue, ToRefund int64
					Anomalies           []string
				}
			}
			e.do(t, "GET", "/api/v1/finance/reconciliation?event=gala", adminToken, nil).json(t, &rep)
			if len(rep.Rows) != 1 || rep.Rows[0].AmountDue != 0 || rep.Rows[0].ToRefund != 150000 {
				t.Errorf("report %+v, want the paid 150000 to refund and nothing due", rep.Rows)
			}

			// Stripe still failing: the job tries, fails and waits.
			if mode == "fail" {
				e.clock.add(time.Hour)
				if _, err := e.a.Payments.SettleDue(ctx); err == nil {
					t.Error("the job reported no failure while Stripe fails")
				}
				if d := e.reg(t, s.ID); d.Payment.Status != registration.PaymentRefundDue {
					t.Fatalf("after a failed job run: %+v", d.Payment)
				}
			}

			p.set("")
			e.clock.add(time.Hour)
			if n, err := e.a.Payments.SettleDue(ctx); err != nil || n != 1 {
				t.Fatalf("job settled %d, %v", n, err)
			}
			d = e.reg(t, s.ID)
			if d.Payment.Status != registration.PaymentRefunded || !strings.HasPrefix(d.Payment.RefundID, "re_") || d.Payment.RefundedAmount != 150000 {
				t.Fatalf("after the job: %+v", d.Payment)
			}
			e.clock.add(time.Hour)
			if n, err := e.a.Payments.SettleDue(ctx); err != nil || n != 0 {
				t.Errorf("job ran again: settled %d, %v", n, err)
			}
			if made, _ := p.refunds(); !slices.Equal(made, []string{key}) {
				t.Errorf("refunds made at Stripe %v, want exactly one under %s", made, key)
			}
			if got := e.outbox(t, s.ID); !slices.Contains(got, "refund") {
				t.Fatalf("outbox %v: no refund mail after the refund", got)
			}
			var refundMail *mailtest.Mail
			for _, m := range e.sendMail(t) {
				if strings.Contains(m.Header("Subject"), "tilbake") {
					refundMail = &m
				}
			}
			if refundMail == nil || refundMail.To[0] != "kari@example.no" || !strings.Contains(refundMail.Body(), "1\u00a0500\u00a0kr") || !strings.Contains(refundMail.Body(), "kortet") {
				t.Fatalf("refund mail %+v", refundMail)
			}
			if strings.Contains(e.logs.String(), "kari@") {
				t.Errorf("the log holds the address:\n%s", e.logs)
			}
		})
	}
}

// TestCancelEventResumes: an event's cancellation whose refunds Stripe
// partly refused resumes when run again: the refunds not made are made,
// none twice, and the credit note made the first time is not made again.
func TestCancelEventResumes(t *testing.T) {
	p := newStripeProxy(t)
	e := newEnvStripe(t, p)
	e.invoiceEvent(t, "seminar")
	a := e.paid(t, "seminar", "a@example.no")
	b := e.paid(t, "seminar", "b@example.no")
	r := e.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer("org@example.no"))
	var inv signup
	r.json(t, &inv)

	p.failKeys["refund-"+b.ID] = true
	var out app.EventCancellation
	r = e.do(t, "POST", "/api/v1/events/seminar/cancel", adminToken, nil)
	r.json(t, &out)
	if r.status != 200 || out.Cancelled != 3 || out.Refunds != 1 || out.CreditNotes != 1 || out.Money.RefundsDue != 1 || out.Money.Refunded != 1 || out.Money.CreditNotes != 1 {
		t.Fatalf("first run: %d %s", r.status, r.body)
	}
	if d := e.reg(t, b.ID); d.Status != "cancelled" || d.Payment.Status != registration.PaymentRefundDue {
		t.Fatalf("b after the first run: %s %+v", d.Status, d.Payment)
	}
	if made, refused := p.refunds(); !slices.Equal(made, []string{"refund-" + a.ID}) || len(refused) == 0 {
		t.Fatalf("first run: refunds made %v, refused %v", made, refused)
	}
	if slices.Contains(e.outbox(t, b.ID), "refund") || !slices.Contains(e.outbox(t, a.ID), "refund") || !slices.Contains(e.outbox(t, inv.ID), "credit-note") {
		t.Errorf("outboxes a %v, b %v, invoice %v", e.outbox(t, a.ID), e.outbox(t, b.ID), e.outbox(t, inv.ID))
	}

	delete(p.failKeys, "refund-"+b.ID)
	// At once: the failed refund's backoff does not hold up a run asked for.
	r = e.do(t, "POST", "/api/v1/events/seminar/cancel", adminToken, nil)
	out = app.EventCancellation{}
	r.json(t, &out)
	if r.status != 200 || out.Cancelled != 0 || out.Refunds != 1 || out.CreditNotes != 0 || out.Money.RefundsDue != 0 || out.Money.Refunded != 2 || out.Money.CreditNotes != 1 {
		t.Fatalf("second run: %d %s", r.status, r.body)
	}
	for _, id := range []string{a.ID, b.ID} {
		if d := e.reg(t, id); d.Payment.Status != registration.PaymentRefunded || d.Payment.RefundedAmount != 150000 {
			t.Errorf("%s: %+v", id, d.Payment)
		}
	}
	if made, _ := p.refunds(); !slices.Equal(made, []string{"refund-" + a.ID, "refund-" + b.ID}) {
		t.Errorf("refunds made %v, want one for a, then one for b", made)
	}
	var list struct{ Invoices []struct{ Kind string } }
	e.do(t, "GET", "/api/v1/finance/invoices?event=seminar", adminToken, nil).json(t, &list)
	if len(list.Invoices) != 2 || list.Invoices[1].Kind != "credit_note" {
		t.Errorf("invoices %+v, want the invoice and one credit note", list.Invoices)
	}

	t.Run("ThirdRunChangesNothing", func(t *testing.T) {
		r := e.do(t, "POST", "/api/v1/events/seminar/cancel", adminToken, nil)
		out := app.EventCancellation{}
		r.json(t, &out)
		if r.status != 200 || out.Cancelled != 0 || out.Refunds != 0 || out.CreditNotes != 0 {
			t.Errorf("third run: %d %s", r.status, r.body)
		}
		if made, _ := p.refunds(); len(made) != 2 {
			t.Errorf("refunds made %v", made)
		}
	})
	t.Run("CreditNoteMail", func(t *testing.T) {
		var got *mailtest.Mail
		for _, m := range e.sendMail(t) {
			if m.To[0] == "org@example.no" && strings.Contains(m.Header("Subject"), "kreditert") {
				got = &m
			}
		}
		if got == nil || !strings.Contains(got.Body(), "1\u00a0500\u00a0kr") || !strings.Contains(got.Body(), "kreditnota nr. 2") || !strings.Contains(got.Body(), "faktura nr. 1") {
			t.Fatalf("credit note mail %+v", got)
		}
	})
}

// TestStripeWebhookAPIVersions: a correctly signed event of another API
// version is read (only the fields handled); one whose object cannot be
// read is refused as unsupported_api_version, its version logged and not
// its payload, and changes nothing.
func TestStripeWebhookAPIVersions(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "gala", nil)
	s := e.mustSignup(t, "gala", person("kari@example.no"))
	sid := e.reg(t, s.ID).Payment.SessionID

	t.Run("Unreadable", func(t *testing.T) {
		odd := session(sid, s.ID, 150000, true)
		odd["amount_total"] = map[string]any{"value": "1500.00", "currency": "nok"}
		mark := e.logs.Len()
		p := mustProblem(t, e.webhook(t, stripeEvent("evt_odd", "checkout.session.completed", odd, "2099-01-01.future"), time.Now(), webhookSecret), 400)
		if p.Code != "unsupported_api_version" {
			t.Errorf("code %s, want unsupported_api_version", p.Code)
		}
		if logged := e.logs.String()[mark:]; !strings.Contains(logged, `"apiVersion":"2099-01-01.future"`) || strings.Contains(logged, s.ID) || strings.Contains(logged, "1500.00") {
			t.Errorf("the log must name the version and hold nothing of the payload:\n%s", logged)
		}
		// The same object in the version this service reads is a bad payload.
		p = mustProblem(t, e.webhook(t, stripeEvent("evt_odd2", "checkout.session.completed", odd), time.Now(), webhookSecret), 400)
		if p.Code != "bad_payload" {
			t.Errorf("code %s, want bad_payload", p.Code)
		}
		if d := e.reg(t, s.ID); d.Status != "pending_payment" || e.count(t, mongodb.StripeEvents) != 0 {
			t.Errorf("a refused event changed something: %s, %d events", d.Status, e.count(t, mongodb.StripeEvents))
		}
	})
	t.Run("BadSignatureStillRefused", func(t *testing.T) {
		ev := stripeEvent("evt_basil", "checkout.session.completed", session(sid, s.ID, 150000, true), "2025-03-31.basil")
		if p := mustProblem(t, e.webhook(t, ev, time.Now(), "whsec_other"), 400); p.Code != "bad_signature" {
			t.Errorf("code %s", p.Code)
		}
	})
	t.Run("Basil", func(t *testing.T) {
		cs := session(sid, s.ID, 150000, true)
		cs["payment_intent"] = map[string]any{"id": "pi_" + s.ID, "object": "payment_intent"} // expanded
		cs["discounts"], cs["permissions"] = []any{}, nil
		ev := stripeEvent("evt_basil", "checkout.session.completed", cs, "2025-03-31.basil")
		if r := e.webhook(t, ev, time.Now(), webhookSecret); r.status != 200 {
			t.Fatalf("basil event: %d %s", r.status, r.body)
		}
		d := e.reg(t, s.ID)
		if d.Status != "confirmed" || d.Payment.Status != registration.PaymentPaid || d.Payment.PaidAmount != 150000 || d.Payment.PaymentIntentID != "pi_"+s.ID {
			t.Errorf("after a basil event: %s %+v", d.Status, d.Payment)
		}
	})
}

// TestAsyncPayments: a delayed payment method completes the page unpaid;
// its failure ends the hold as an expiry does (the seat goes to the
// waiting list), its success confirms as a paid completion does.
func TestAsyncPayments(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "gala", func(b map[string]any) { b["capacity"] = 2; b["waitlist"] = true })
	fails := e.mustSignup(t, "gala", person("a@example.no"))
	succeeds := e.mustSignup(t, "gala", person("b@example.no"))
	w := e.mustSignup(t, "gala", person("w@example.no"))
	if w.Status != "waitlisted" {
		t.Fatalf("third: %s", w.Status)
	}
	send := func(id, typ string, cs map[string]any) {
		t.Helper()
		if r := e.webhook(t, stripeEvent(id, typ, cs), time.Now(), webhookSecret); r.status != 200 {
			t.Fatalf("%s: %d %s", typ, r.status, r.body)
		}
	}
	for _, s := range []signup{fails, succeeds} {
		send("evt_done_"+s.ID, "checkout.session.completed", session(e.reg(t, s.ID).Payment.SessionID, s.ID, 150000, false))
		if d := e.reg(t, s.ID); d.Status != "pending_payment" || !d.Seat || d.Payment.Status != registration.PaymentPending {
			t.Fatalf("completed unpaid must hold the seat: %+v", d)
		}
	}

	t.Run("Failed", func(t *testing.T) {
		cs := session(e.reg(t, fails.ID).Payment.SessionID, fails.ID, 150000, false)
		send("evt_failed", "checkout.session.async_payment_failed", cs)
		if d := e.reg(t, fails.ID); d.Status != "expired" || d.Seat || d.Payment.Status != registration.PaymentExpired {
			t.Errorf("after the failure: %s seat=%v %+v", d.Status, d.Seat, d.Payment)
		}
		if d := e.reg(t, w.ID); d.Status != "offered" {
			t.Errorf("the freed seat was not offered: %s", d.Status)
		}
		send("evt_failed", "checkout.session.async_payment_failed", cs) // replayed
		if n := e.count(t, mongodb.StripeEvents); n != 3 {
			t.Errorf("%d events recorded, want 3", n)
		}
	})
	t.Run("Succeeded", func(t *testing.T) {
		send("evt_succeeded", "checkout.session.async_payment_succeeded", session(e.reg(t, succeeds.ID).Payment.SessionID, succeeds.ID, 150000, true))
		if d := e.reg(t, succeeds.ID); d.Status != "confirmed" || !d.Seat || d.Payment.Status != registration.PaymentPaid || d.Payment.PaidAmount != 150000 {
			t.Errorf("after the success: %s seat=%v %+v", d.Status, d.Seat, d.Payment)
		}
	})
}

// payoutFixtures are stripe-mock's answers about one payout: a card
// payment of gross paid by payment intent pi, of which Stripe kept fee
// and paid out the rest, arriving on 24.11.2026.
func payoutFixtures(pi string, gross, fee int64) map[string]map[string]any {
	return map[string]map[string]any{
		"payout": {"amount": gross - fee, "currency": "nok", "status": "paid", "automatic": true,
			"reconciliation_status": "completed", "arrival_date": time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC).Unix()},
		"balance_transaction": {"amount": gross, "fee": fee, "net": gross - fee, "currency": "nok", "type": "charge",
			"reporting_category": "charge", "source": "ch_3PayoutCharge",
			"fee_details": []map[string]any{{"amount": fee, "currency": "nok", "description": "Stripe processing fees", "type": "stripe_fee"}}},
		"charge": {"payment_intent": pi, "amount": gross, "currency": "nok"},
	}
}

// TestStripePayout: Stripe's payout.paid webhook records the payout
// reconciled against the balance transactions Stripe lists for it (from
// stripe-mock, answering with a recorded payout of a 1 500 kr card
// payment less a 38 kr fee): the charge is matched to the registration
// its payment intent paid, the fee is booked to card fees, the bank gets
// what came, and Stripe's clearing account, which held the card payment,
// is back to zero to the øre. A payout of a charge nobody here paid is
// listed as not matched.
func TestStripePayout(t *testing.T) {
	const gross, fee = 150000, 3800 // 2.4 % + 2 kr
	e := newEnvStripeAt(t, stripetest.WithFixtures(t, payoutFixtures("pi_payout", gross, fee)))
	e.mustEvent(t, "gala", nil)
	s := e.mustSignup(t, "gala", person("kari@example.no"))
	cs := session(e.reg(t, s.ID).Payment.SessionID, s.ID, gross, true)
	cs["payment_intent"] = "pi_payout"
	if r := e.webhook(t, stripeEvent("evt_paid", "checkout.session.completed", cs), time.Now(), webhookSecret); r.status != 200 {
		t.Fatalf("payment webhook: %d %s", r.status, r.body)
	}
	finance := e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "regnskap"})
	balances := func() map[string]int64 {
		t.Helper()
		var j journalJSON
		e.do(t, "GET", "/api/v1/finance/journal?from=2026-11-01&to=2026-11-30", finance, nil).json(t, &j)
		vouchers, got := map[string]int64{}, map[string]int64{}
		for _, l := range j.Lines {
			vouchers[l.Voucher] += l.Debit - l.Credit
			got[l.Number] += l.Debit - l.Credit
		}
		for v, sum := range vouchers {
			if sum != 0 {
				t.Errorf("voucher %s is off by %d øre", v, sum)
			}
		}
		return got
	}
	if b := balances(); b["1570"] != gross || b["1920"] != 0 {
		t.Fatalf("precondition: the card payment on Stripe's clearing account, nothing in the bank: %v", b)
	}
	payout := map[string]any{"id": "po_1Janteloppet", "object": "payout", "amount": gross - fee, "currency": "nok", "status": "paid"}
	for _, ev := range []string{"payout.paid", "payout.reconciliation_completed"} { // the second records it again, the same
		if r := e.webhook(t, stripeEvent("evt_"+ev, ev, payout), time.Now(), webhookSecret); r.status != 200 {
			t.Fatalf("%s webhook: %d %s", ev, r.status, r.body)
		}
	}
	var list struct{ Payouts []payments.Payout }
	e.do(t, "GET", "/api/v1/finance/payouts?from=2026-11-01&to=2026-11-30", finance, nil).json(t, &list)
	if len(list.Payouts) != 1 {
		t.Fatalf("%d payouts recorded, want 1", len(list.Payouts))
	}
	po := list.Payouts[0]
	if po.ID != "po_1Janteloppet" || po.Amount != gross-fee || po.Fees != fee || po.Cleared != gross || po.Difference != 0 ||
		po.Unmatched != 0 || !po.Reconciled || len(po.Transactions) != 1 || !slices.Equal(po.Transactions[0].Registrations, []string{s.ID}) {
		t.Errorf("the payout: %+v", po)
	}
	b := balances()
	if b["1570"] != 0 || b["1920"] != gross-fee || b["7770"] != fee || b["3000"]+b["3200"]+b["2700"] != -gross {
		t.Errorf("journal after the payout: %v, want Stripe's clearing account 0, bank %d, card fees %d, sales %d", b, gross-fee, fee, gross)
	}

	// A payout of a charge no registration here was paid by.
	other := newEnvStripeAt(t, stripetest.WithFixtures(t, payoutFixtures("pi_elsewhere", gross, fee)))
	other.mustEvent(t, "gala", nil)
	other.paid(t, "gala", "ola@example.no")
	if r := other.webhook(t, stripeEvent("evt_po", "payout.paid", payout), time.Now(), webhookSecret); r.status != 200 {
		t.Fatalf("payout webhook: %d %s", r.status, r.body)
	}
	other.do(t, "GET", "/api/v1/finance/payouts?from=2026-11-01&to=2026-11-30", adminToken, nil).json(t, &list)
	if len(list.Payouts) != 1 || list.Payouts[0].Unmatched != 1 || list.Payouts[0].Transactions[0].Problem != payments.PayoutNoPayment {
		t.Errorf("a payout of an unknown charge: %+v", list.Payouts)
	}
}

// TestStripePayoutOtherTransactions: a fee Stripe charges as a
// transaction of its own (Radar, say) is a fee, matched, and lowers the
// payout; a movement this service never makes (an adjustment) is booked
// to Stripe's clearing account and listed as not matched. Either way the
// payout's voucher balances and its difference is 0.
func TestStripePayoutOtherTransactions(t *testing.T) {
	for _, c := range []struct {
		typ                 string
		fees, cleared       int64
		unmatched           int
		problem, feeAccount string
		clearing, bank      int64
	}{
		{typ: "stripe_fee", fees: 500, cleared: 0, clearing: 0},
		{typ: "adjustment", fees: 0, cleared: -500, unmatched: 1, problem: payments.PayoutOtherType, clearing: 500},
	} {
		t.Run(c.typ, func(t *testing.T) {
			fx := payoutFixtures("pi_none", -500, 0)
			maps.Copy(fx["balance_transaction"], map[string]any{"type": c.typ, "reporting_category": "other_adjustment", "source": nil, "fee_details": []any{}})
			e := newEnvStripeAt(t, stripetest.WithFixtures(t, fx))
			// A payout is negative here (Stripe debits the bank): what it
			// records must still balance.
			if r := e.webhook(t, stripeEvent("evt_po", "payout.paid", map[string]any{"id": "po_1", "object": "payout"}), time.Now(), webhookSecret); r.status != 200 {
				t.Fatalf("payout webhook: %d %s", r.status, r.body)
			}
			var list struct{ Payouts []payments.Payout }
			e.do(t, "GET", "/api/v1/finance/payouts?from=2026-11-24&to=2026-11-24", adminToken, nil).json(t, &list)
			if len(list.Payouts) != 1 {
				t.Fatalf("%d payouts", len(list.Payouts))
			}
			po := list.Payouts[0]
			if po.Fees != c.fees || po.Cleared != c.cleared || po.Unmatched != c.unmatched || po.Difference != 0 || po.Transactions[0].Problem != c.problem {
				t.Errorf("the payout: %+v", po)
			}
			var j journalJSON
			e.do(t, "GET", "/api/v1/finance/journal?from=2026-11-24&to=2026-11-24", adminToken, nil).json(t, &j)
			got := map[string]int64{}
			for _, l := range j.Lines {
				got[l.Number] += l.Debit - l.Credit
			}
			if len(j.Lines) == 0 || got["1920"] != -500 || got["7770"] != c.fees || got["1570"] != c.clearing {
				t.Errorf("journal: %v", got)
			}
		})
	}
}
