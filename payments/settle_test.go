package payments_test

import (
	"context"
	"testing"
	"time"

	"github.com/pamelding/pamelding/registration"
)

// TestSettleLease: a request's attempt at a refund never takes one
// another settler holds, but does not wait for the backoff of one that
// failed.
func TestSettleLease(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reg := f.cardPaid(t, "a@example.no")
	out, err := f.app.Signups.Cancel(ctx, reg, false)
	if err != nil || out.Payment.Status != registration.PaymentRefundDue {
		t.Fatalf("cancel: %+v, %v", out, err)
	}
	// Another instance's job holds it, its call to Stripe under way.
	if ok, err := f.app.Registrations.LeaseSettlement(ctx, out, time.Now().Add(2*time.Minute)); !ok || err != nil {
		t.Fatalf("lease: %v, %v", ok, err)
	}
	if err := f.app.Payments.Settle(ctx, reg.ID); err != nil {
		t.Fatal(err)
	}
	r, _ := f.app.Registrations.Get(ctx, reg.ID)
	if r.Payment.Status != registration.PaymentRefundDue || r.Payment.RefundID != "" || r.Payment.SettleLeases != 1 {
		t.Fatalf("a held refund was taken: %+v", r.Payment)
	}
	// That attempt failed and waits an hour; a request tries at once.
	if err := f.app.Registrations.SettlementFailed(ctx, reg.ID, registration.PaymentRefundDue, time.Now().Add(time.Hour), "stripe"); err != nil {
		t.Fatal(err)
	}
	if err := f.app.Payments.Settle(ctx, reg.ID); err != nil {
		t.Fatal(err)
	}
	r, _ = f.app.Registrations.Get(ctx, reg.ID)
	if r.Payment.Status != registration.PaymentRefunded || r.Payment.RefundID == "" || r.Payment.RefundedAmount != r.Payment.PaidAmount {
		t.Errorf("after the request's attempt: %+v", r.Payment)
	}
	if _, ok := r.Outbox["refund"]; !ok {
		t.Errorf("outbox %v: no refund mail", r.Outbox)
	}
}
