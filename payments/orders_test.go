package payments_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/registration"
)

// municipalityOrder is Kongsvinger kommune registering n employees for
// the course, on one invoice with its purchase-order reference.
func municipalityOrder(n int) registration.OrderRequest {
	r := registration.OrderRequest{Buyer: map[string]string{"name": "Guri Innkjøp", "email": "innkjop@kongsvinger.kommune.no",
		"invoice_org_number": "974760673", "invoice_address": "Rådhuset\n2226 Kongsvinger", "invoice_reference": "PO-4711"}}
	for i := range n {
		r.Participants = append(r.Participants, registration.ParticipantRequest{
			Fields: map[string]string{"name": fmt.Sprintf("Ansatt %d", i+1), "email": fmt.Sprintf("ansatt%d@kongsvinger.kommune.no", i+1)}})
	}
	r.Payment.Method = registration.Invoice
	return r
}

// TestOrderInvoice: a five-person order is one invoice with five lines,
// each naming its participant, to the buyer with their reference, with
// the series' next number and its KID; cancelling one participant credits
// that line only, by a credit note numbered next in the series; money
// from the bank is shared among the participants still billed, in order.
func TestOrderInvoice(t *testing.T) {
	ctx := context.Background()
	ev := kursSettings()
	ev.Fields = append(ev.Fields, events.FormField{Key: "invoice_reference"})
	f := buildFixture(t, time.Now, plainSeller, nil, ev)

	res, err := f.app.Signups.Order(ctx, "kurs", municipalityOrder(5), registration.API)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != registration.OrderPlaced || len(res.Participants) != 5 || res.Payment == nil ||
		res.Payment.Status != registration.PaymentInvoiced || res.Payment.InvoiceNumber != 1 || res.Payment.KID != "18" || res.Payment.Amount != 5*99900 {
		t.Fatalf("order %+v payment %+v", res, res.Payment)
	}
	inv := f.invoice(t, 1)
	if inv.Order != res.ID || len(inv.Lines) != 5 || inv.Total != 5*99900 || inv.Buyer.Reference != "PO-4711" ||
		inv.Buyer.OrgNumber != "974760673" || inv.Buyer.Name != "Guri Innkjøp" {
		t.Fatalf("invoice %+v", inv)
	}
	for i, l := range inv.Lines {
		if !strings.Contains(l.Description, fmt.Sprintf("(Ansatt %d)", i+1)) || l.Gross != 99900 {
			t.Errorf("line %d: %+v", i, l)
		}
	}
	for _, p := range res.Participants {
		reg, err := f.app.Domain.Store.Get(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if reg.Order != res.ID || reg.Payment.InvoiceNumber != 1 || reg.Payment.Status != registration.PaymentInvoiced ||
			reg.Payment.Amount != 99900 || len(reg.ManageTokens) != 1 || reg.OutboxNextAt == nil || reg.Outbox["confirmation"].Kind == "" {
			t.Errorf("participant %s: order %q payment %+v tokens %d outbox %v", p.ID, reg.Order, reg.Payment, len(reg.ManageTokens), reg.OutboxNextAt)
		}
	}

	// The second employee cancels: a credit note for that line only.
	second, _ := f.app.Domain.Store.Get(ctx, res.Participants[1].ID)
	if _, err := f.app.Signups.Cancel(ctx, second, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Payments.SettleDue(ctx); err != nil {
		t.Fatal(err)
	}
	cn := f.invoice(t, 2)
	if cn.Kind != payments.KindCreditNote || cn.Credits != 1 || cn.Total != -99900 || len(cn.Lines) != 1 ||
		!strings.Contains(cn.Lines[0].Description, "(Ansatt 2)") || cn.Registration != second.ID {
		t.Fatalf("credit note %+v", cn)
	}
	inv = f.invoice(t, 1)
	if inv.Status != payments.InvoiceOpen || inv.Credited != 99900 || inv.Due() != 4*99900 {
		t.Errorf("invoice after one credit: status %s credited %d due %d", inv.Status, inv.Credited, inv.Due())
	}
	second, _ = f.app.Domain.Store.Get(ctx, second.ID)
	if second.Payment.Status != registration.PaymentCredited || second.Payment.CreditNote != 2 {
		t.Errorf("cancelled participant's payment %+v", second.Payment)
	}
	if invs, _ := f.inv.List(ctx, payments.InvoiceQuery{}); len(invs) != 2 {
		t.Errorf("%d documents, want the invoice and one credit note", len(invs))
	}

	// 999,00 paid with KID 18: the first participant is paid, the others
	// still owe theirs.
	if r := f.mustImport(t, "same-credit.camt054.xml"); r.Matched != 1 {
		t.Fatalf("import %+v", r)
	}
	want := []registration.PaymentStatus{registration.PaymentPaid, registration.PaymentCredited, registration.PaymentInvoiced, registration.PaymentInvoiced, registration.PaymentInvoiced}
	for i, p := range res.Participants {
		reg, _ := f.app.Domain.Store.Get(ctx, p.ID)
		if reg.Payment.Status != want[i] {
			t.Errorf("participant %d: payment %s, want %s", i+1, reg.Payment.Status, want[i])
		}
	}
	if inv := f.invoice(t, 1); inv.Status != payments.InvoicePartiallyPaid || inv.PaidAmount != 99900 {
		t.Errorf("invoice after 999,00: %s paid %d", inv.Status, inv.PaidAmount)
	}
	rep, err := f.app.Payments.Reconciliation(ctx, payments.ReportQuery{Event: "kurs"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 5 || rep.Totals.Due != 5*99900 || rep.Totals.Paid != 99900 || rep.Totals.Credited != 99900 || rep.Totals.Outstanding != 3*99900 {
		t.Errorf("reconciliation totals %+v", rep.Totals)
	}
	// Sold: the four tickets that stand, not the credited one.
	if len(rep.Sold) != 1 || rep.Sold[0].Quantity != 4 || rep.Sold[0].Net != 4*99900 || rep.Sold[0].Item != registration.ItemTicket {
		t.Errorf("sold %+v", rep.Sold)
	}
	for _, row := range rep.Rows {
		if len(row.Anomalies) > 0 {
			t.Errorf("row %s anomalies %v", row.Registration, row.Anomalies)
		}
	}

	// The buyer sees the order as it stands.
	view := res
	if view.OrderToken == "" {
		t.Fatal("no order token")
	}
	got, err := f.app.Signups.OrderByToken(ctx, view.OrderToken)
	if err != nil || got.Payment.Amount != 4*99900 || got.Participants[1].Status != registration.Cancelled {
		t.Errorf("order view %v %+v", err, got)
	}
}
