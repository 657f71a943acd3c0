package payments_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// TestCategoryInvoice: an invoice bills the category bought at its price
// and VAT rate as priced at sign-up, with a code's discount taken off and
// named, and VAT on what is paid; a later price change does not reach it.
func TestCategoryInvoice(t *testing.T) {
	ctx := context.Background()
	ev := kursSettings()
	ev.Categories = []events.Category{
		{Key: "medlem", Name: privacy.Text{NB: "Medlemspris", EN: "Member price"}, Price: 80000, VATRate: 25},
		{Key: "standard", Name: privacy.Text{NB: "Standardpris", EN: "Standard price"}, Price: 120000, VATRate: 25},
	}
	f := buildFixture(t, time.Now, vatSeller, nil, ev)
	if _, err := f.app.Events.CreateCode(ctx, "kurs", events.CodeRequest{Code: "KOMMUNE20", Percent: 20, MaxUses: 5, Categories: []string{"standard"}}); err != nil {
		t.Fatal(err)
	}
	req := registration.SignupRequest{Category: "standard", Code: "kommune20",
		Fields: map[string]string{"name": "Per Hansen", "email": "per@example.no", "invoice_org_number": "974760673", "invoice_address": "Rådhuset, 2226 Kongsvinger"}}
	req.Payment.Method = registration.Invoice
	res, err := f.app.Signups.Signup(ctx, "kurs", req, registration.API)
	if err != nil || res.PaymentStatus != registration.PaymentInvoiced {
		t.Fatalf("sign-up: %v %+v", err, res)
	}
	// The price changes after the sign-up.
	cats := ev.Categories
	cats[1].Price = 150000
	if _, err := f.app.Events.Patch(ctx, "kurs", events.PatchRequest{Categories: &cats}, nil); err != nil {
		t.Fatal(err)
	}
	reg, _ := f.app.Domain.Store.Get(ctx, res.ID)
	inv := f.invoice(t, reg.Payment.InvoiceNumber)
	if len(inv.Lines) != 1 {
		t.Fatalf("lines %+v", inv.Lines)
	}
	l := inv.Lines[0]
	// 1 200,00 less 20 % is 960,00, of which 25 % VAT is 192,00.
	if inv.Total != 96000 || l.Gross != 96000 || l.UnitGross != 96000 || l.VAT != 19200 || l.Net != 76800 || l.VATRate != 25 {
		t.Errorf("invoice total %d, line %+v", inv.Total, l)
	}
	if !strings.Contains(l.Description, "Standardpris") || !strings.Contains(l.Description, "rabatt KOMMUNE20") || !strings.Contains(l.Description, "240,00") {
		t.Errorf("line description %q", l.Description)
	}
	if reg.Payment.Amount != 96000 || reg.Category != "standard" || reg.Code != "kurs/KOMMUNE20" {
		t.Errorf("registration payment %+v category %q code %q", reg.Payment, reg.Category, reg.Code)
	}
	rep, err := f.app.Payments.Reconciliation(ctx, payments.ReportQuery{Event: "kurs"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sold) != 1 || rep.Sold[0].Key != "standard" || rep.Sold[0].Gross != 120000 || rep.Sold[0].Discount != 24000 || rep.Sold[0].Net != 96000 ||
		len(rep.Discounts) != 1 || rep.Discounts[0].Code != "KOMMUNE20" || rep.Discounts[0].Uses != 1 || rep.Discounts[0].Amount != 24000 {
		t.Errorf("breakdown: sold %+v discounts %+v", rep.Sold, rep.Discounts)
	}
}

// TestAddonInvoice: an add-on is a line of its own on the invoice, with
// its own VAT rate (a lunch at 15 %) beside the ticket's.
func TestAddonInvoice(t *testing.T) {
	ctx := context.Background()
	ev := kursSettings()
	ev.VATRate = 25
	ev.Addons = []events.Addon{{Key: "lunsj", Name: privacy.Text{NB: "Lunsj", EN: "Lunch"}, Price: 25000, VATRate: 15, Capacity: 100}}
	f := buildFixture(t, time.Now, vatSeller, nil, ev)
	req := registration.SignupRequest{Addons: []registration.AddonChoice{{Key: "lunsj"}},
		Fields: map[string]string{"name": "Per Hansen", "email": "per@example.no", "invoice_org_number": "974760673", "invoice_address": "Rådhuset, 2226 Kongsvinger"}}
	req.Payment.Method = registration.Invoice
	res, err := f.app.Signups.Signup(ctx, "kurs", req, registration.API)
	if err != nil || res.PaymentStatus != registration.PaymentInvoiced {
		t.Fatalf("sign-up: %v %+v", err, res)
	}
	reg, _ := f.app.Domain.Store.Get(ctx, res.ID)
	inv := f.invoice(t, reg.Payment.InvoiceNumber)
	if len(inv.Lines) != 2 || inv.Total != 99900+25000 || reg.Payment.Amount != inv.Total {
		t.Fatalf("invoice %+v", inv)
	}
	lunch := inv.Lines[1]
	// 250,00 at 15 %: VAT 32,61 (half up), net 217,39.
	if !strings.Contains(lunch.Description, "Lunsj") || lunch.VATRate != 15 || lunch.VAT != 3261 || lunch.Net != 21739 || inv.Lines[0].VATRate != 25 {
		t.Errorf("lines %+v", inv.Lines)
	}
	e, _ := f.app.Events.Get(ctx, "kurs")
	if e.Quota[events.AddonQuota("lunsj")].Taken != 1 || e.AddonsLeft("lunsj") != 99 {
		t.Errorf("lunch quota %+v", e.Quota)
	}
	rep, err := f.app.Payments.Reconciliation(ctx, payments.ReportQuery{Event: "kurs"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sold) != 2 || rep.Sold[1].Item != registration.ItemAddOn || rep.Sold[1].Key != "lunsj" || rep.Sold[1].Net != 25000 {
		t.Errorf("sold %+v", rep.Sold)
	}
}
