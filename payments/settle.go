package payments

import (
	"context"
	"errors"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/registration"
)

// settleLease is how long one instance owns a due refund or credit.
const settleLease = 2 * time.Minute

// Settle settles a registration's money after a cancellation: a refund due
// is made at Stripe (the exact amount left, idempotency key
// refund-<registration>), a credit note due is issued; an open payment
// page is expired at Stripe so it can no longer be paid. One attempt,
// made now even if an earlier one failed and the job waits to retry
// (a request asks for it: a cancellation, or an event's cancellation run
// again), but never while another settler holds it. A failure is left to
// SettleDue, which retries until it succeeds.
func (s *Service) Settle(ctx context.Context, id string) error {
	reg, err := s.regs.Get(ctx, id)
	if err != nil {
		return err
	}
	p := reg.Payment
	if p == nil {
		return nil
	}
	if p.Status == registration.PaymentNotDue && p.SessionID != "" && p.PaidAmount == 0 && s.cfg.StripeKey != "" {
		ep := &stripe.CheckoutSessionExpireParams{}
		ep.Context = ctx
		if _, err := s.stripe.CheckoutSessions.Expire(p.SessionID, ep); err != nil {
			// Already expired or completed: a completed one shows up as
			// "paid but cancelled" in the reconciliation report.
			s.log.WarnContext(ctx, "expire checkout session on cancel", "registration", reg.ID, "err", stripeErr("expire", err))
		}
		return nil
	}
	if p.Status != registration.PaymentRefundDue && p.Status != registration.PaymentCreditDue || leased(p, s.clock()) {
		return nil
	}
	ok, err := s.regs.LeaseSettlement(ctx, reg, s.clock().Add(settleLease))
	if err != nil || !ok {
		return err // another instance has it, or it is settled
	}
	return s.settle(ctx, reg)
}

// leased says whether a settler holds a due refund or credit now: a lease
// was taken that ended neither in success nor in a recorded failure (each
// failure counts an attempt), and it has not run out. One that failed
// and waits for its next attempt is not held.
func leased(p *registration.Payment, now time.Time) bool {
	return p.SettleLeases > p.SettleAttempts && p.SettleAt != nil && p.SettleAt.After(now)
}

// settle makes one leased refund or credit note; a failure is recorded
// with its next attempt.
func (s *Service) settle(ctx context.Context, reg *registration.Registration) error {
	p := reg.Payment
	var err error
	switch p.Status {
	case registration.PaymentRefundDue:
		err = s.refund(ctx, reg)
	case registration.PaymentCreditDue:
		var cn *Invoice
		if cn, err = s.invoices.credit(ctx, p.InvoiceNumber, reg.ID, p.SettleLeases > 0); err == nil {
			err = s.regs.MarkCredited(ctx, reg.ID, cn.Number)
		}
	}
	if err == nil {
		return nil
	}
	class := "store"
	if errors.Is(err, errStripe) {
		class = "stripe"
	}
	next := s.clock().Add(settleBackoff(p.SettleAttempts + 1))
	if ferr := s.regs.SettlementFailed(context.WithoutCancel(ctx), reg.ID, p.Status, next, class); ferr != nil {
		s.log.ErrorContext(ctx, "settlement failure not recorded", "registration", reg.ID, "err", ferr)
	}
	return err
}

// settleBackoff is the wait before attempt n+1: 30 s doubling, at most an
// hour. A refund is retried until Stripe answers.
func settleBackoff(n int) time.Duration {
	return min(30*time.Second<<min(n, 10), time.Hour)
}

var errStripe = errors.New("stripe")

// refund refunds what is left of a card payment. Stripe replays the first
// answer to the same idempotency key, so a retry never refunds twice; a
// charge refunded meanwhile (in Stripe's dashboard) is what
// charge.refunded records.
func (s *Service) refund(ctx context.Context, reg *registration.Registration) error {
	p := reg.Payment
	amount := p.PaidAmount - p.RefundedAmount
	if p.PaymentIntentID == "" || amount <= 0 {
		return s.regs.RefundIssued(ctx, reg.ID, p.RefundID, p.RefundedAmount, true)
	}
	rp := &stripe.RefundParams{PaymentIntent: stripe.String(p.PaymentIntentID), Amount: stripe.Int64(amount)}
	rp.AddMetadata("registration", reg.ID)
	rp.SetIdempotencyKey("refund-" + reg.ID)
	rp.Context = ctx
	rf, err := s.stripe.Refunds.New(rp)
	if err != nil {
		var se *stripe.Error
		if errors.As(err, &se) && se.Code == stripe.ErrorCodeChargeAlreadyRefunded {
			return s.regs.RefundIssued(ctx, reg.ID, p.RefundID, p.PaidAmount, true)
		}
		return errors.Join(errStripe, stripeErr("refund", err))
	}
	return s.regs.RefundIssued(ctx, reg.ID, rf.ID, p.RefundedAmount+amount, rf.Status == stripe.RefundStatusSucceeded)
}

// SettleDue makes the refunds and credit notes that are due, one by one:
// each is leased first (instances sharing the store never settle one
// twice at once), a failing one is logged and retried later with backoff.
func (s *Service) SettleDue(ctx context.Context) (int, error) {
	due, err := s.regs.SettlementsDue(ctx, s.clock(), 200)
	if err != nil {
		return 0, err
	}
	return mongodb.Sweep(ctx, s.log, "settlements", due, func(r registration.Registration) string { return r.ID },
		func(ctx context.Context, r registration.Registration) error {
			ok, err := s.regs.LeaseSettlement(ctx, &r, s.clock().Add(settleLease))
			if err != nil || !ok {
				return err
			}
			return s.settle(ctx, &r)
		})
}
