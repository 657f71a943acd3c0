package payments_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pamelding/pamelding/app"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/events/eventstest"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/mongodb/mongotest"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/payments/stripetest"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

func TestKID(t *testing.T) {
	if got := payments.KIDMod10(1234); got != "12344" {
		t.Errorf("MOD10 of 1234 = %s, want 12344", got)
	}
	if got, ok := payments.KIDMod11(1234); !ok || got != "12343" {
		t.Errorf("MOD11 of 1234 = %s, want 12343", got)
	}
	for kid, ok := range map[string]bool{"12344": true, "12343": true, "12345": false, "18": true, "1": false, "12a4": false} {
		if payments.ValidKID(kid) != ok {
			t.Errorf("ValidKID(%q) = %v", kid, !ok)
		}
	}
	for _, n := range []int64{1, 9, 10, 99, 1000, 123456789} {
		if !payments.ValidKID(payments.KIDMod10(n)) {
			t.Errorf("KID of %d does not validate", n)
		}
	}
}

func TestKroner(t *testing.T) {
	for øre, want := range map[int64]string{150000: "1500.00", 5: "0.05", 0: "0.00", -150050: "-1500.50"} {
		if got := payments.Kroner(øre); got != want {
			t.Errorf("Kroner(%d) = %s", øre, got)
		}
	}
}

type fixture struct {
	db  *mongodb.Store
	app *app.App
	inv *payments.Invoices
}

func newFixture(t testing.TB) *fixture {
	return buildFixture(t, time.Now, payments.Seller{Name: "Kurs AS", OrgNumber: "923609016"}, nil, kursSettings())
}

// kursSettings is the course most tests use: 999,00 kr, no VAT, starting
// in three days, with the invoice fields.
func kursSettings() events.Settings {
	return events.Settings{StartsAt: time.Now().Add(72 * time.Hour), EndsAt: time.Now().Add(75 * time.Hour), Capacity: 500,
		Price: events.Price{Amount: 99900}, VATRate: 0,
		Fields: []events.FormField{{Key: "name", Required: true}, {Key: "email", Required: true},
			{Key: "invoice_org_number"}, {Key: "invoice_address"}},
	}
}

// buildFixture is an app on the embedded store whose clock is now,
// invoicing as seller (log: nil discards), with the course "kurs" as ev
// describes it.
func buildFixture(t testing.TB, now func() time.Time, seller payments.Seller, log *slog.Logger, ev events.Settings) *fixture {
	t.Helper()
	db := mongotest.Open(t)
	keys, _ := privacy.NewKeyring(bytes.Repeat([]byte{3}, 32))
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := app.New(db, mongotest.OpenKeys(t), keys, log, now, app.Config{Payments: payments.Config{
		StripeKey: "sk_test_123", StripeAPIBase: stripetest.URL(t), WebhookSecret: "whsec_x", PublicURL: "https://x.example",
		Seller: seller,
	}})
	ev.Kind, ev.Title = events.Course, privacy.Text{NB: "Kurs", EN: "Course"}
	ev.Organiser = events.Organiser{Name: "Kurs AS", PrivacyEmail: "p@example.no"}
	if _, err := a.Events.Create(context.Background(), eventstest.Request("kurs", ev), "test"); err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, app: a, inv: a.Invoices}
}

func (f *fixture) invoiceSignup(t testing.TB, i int) *registration.Result {
	res, err := f.app.Signups.Signup(context.Background(), "kurs", registration.SignupRequest{
		Fields:  map[string]string{"name": "N", "email": fmt.Sprintf("b%d@example.no", i), "invoice_org_number": "974760673", "invoice_address": "Gate 1"},
		Payment: registration.PaymentRequest{Method: registration.Invoice},
	}, registration.API)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestInvoiceSeriesConcurrent: 50 invoices issued at once get exactly the
// numbers 1 to 50.
func TestInvoiceSeriesConcurrent(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if res := f.invoiceSignup(t, i); res.PaymentStatus != registration.PaymentInvoiced {
				t.Errorf("payment status %s", res.PaymentStatus)
			}
		})
	}
	wg.Wait()
	invs, err := f.inv.List(context.Background(), payments.InvoiceQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var numbers []int64
	regs := map[string]bool{}
	for _, inv := range invs {
		numbers = append(numbers, inv.Number)
		regs[inv.Registration] = true
	}
	slices.Sort(numbers)
	want := make([]int64, 50)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(numbers, want) || len(regs) != 50 {
		t.Errorf("numbers %v for %d registrations, want 1..50 for 50", numbers, len(regs))
	}
}

// TestInvoiceSeriesRecovers: a number taken by an issuer that died before
// storing its invoice is stored by the next issuer: no gap.
func TestInvoiceSeriesRecovers(t *testing.T) {
	f := newFixture(t)
	f.invoiceSignup(t, 1)
	orphan := payments.Invoice{ID: "923609016-2", Kind: payments.KindInvoice, Number: 2, KID: payments.KIDMod10(2),
		Registration: "lost", Event: "kurs", Status: payments.InvoiceOpen, Payments: []payments.BankPayment{}}
	ctx := context.Background()
	if _, err := f.db.Collection(mongodb.Counters).UpdateOne(ctx, bson.M{"_id": "invoices:923609016"},
		bson.M{"$set": bson.M{"next": 3, "pending": orphan}}); err != nil {
		t.Fatal(err)
	}
	f.invoiceSignup(t, 3)
	invs, _ := f.inv.List(ctx, payments.InvoiceQuery{})
	if len(invs) != 3 || invs[1].Number != 2 || invs[2].Number != 3 {
		t.Errorf("invoices %+v", invs)
	}
}

func TestIssuePending(t *testing.T) {
	f := newFixture(t)
	res := f.invoiceSignup(t, 1)
	ctx := context.Background()
	// As if issuing had failed at sign-up.
	if _, err := f.db.Collection(mongodb.Registrations).UpdateOne(ctx, bson.M{"_id": res.ID},
		bson.M{"$set": bson.M{"payment.status": registration.PaymentInvoicing}}); err != nil {
		t.Fatal(err)
	}
	n, err := f.inv.IssuePending(ctx)
	if err != nil || n != 1 {
		t.Fatalf("%d, %v", n, err)
	}
	invs, _ := f.inv.List(ctx, payments.InvoiceQuery{})
	if len(invs) != 1 {
		t.Errorf("%d invoices: the sweep issued a second one for the same registration", len(invs))
	}
}

func TestInvoicePDF(t *testing.T) {
	f := newFixture(t)
	f.invoiceSignup(t, 1)
	inv, err := f.inv.Invoice(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := inv.PDF()
	if err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) || len(b) < 1000 {
		t.Fatalf("pdf %d bytes, %v", len(b), err)
	}
}

func TestPurgeInvoices(t *testing.T) {
	f := newFixture(t)
	f.invoiceSignup(t, 1)
	ctx := context.Background()
	if n, err := f.inv.Purge(ctx, false); err != nil || n != 0 {
		t.Fatalf("purged %d, %v", n, err)
	}
	// Issued in 2026 (or whenever now is): due at the end of its year + 5.
	if _, err := f.db.Collection(mongodb.Invoices).UpdateOne(ctx, bson.M{"number": 1},
		bson.M{"$set": bson.M{"issueDate": time.Now().AddDate(-7, 0, 0)}}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.inv.Purge(ctx, true); err != nil || n != 1 {
		t.Fatalf("dry run counted %d, %v", n, err)
	}
	if n, err := f.inv.Purge(ctx, false); err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	if invs, _ := f.inv.List(ctx, payments.InvoiceQuery{}); len(invs) != 0 {
		t.Errorf("%d invoices left", len(invs))
	}
}
