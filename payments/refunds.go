package payments

import (
	"context"
	"errors"

	"github.com/stripe/stripe-go/v76"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/registration"
)

// CancelOutcome says what a cancellation did with the money.
type CancelOutcome struct {
	ID            string                     `json:"id"`
	Status        registration.Status        `json:"status"`
	PaymentStatus registration.PaymentStatus `json:"paymentStatus,omitempty"`
	// Refund is Stripe's refund id, when a card payment was refunded.
	Refund string `json:"refund,omitempty"`
	// CreditNote is the number of the credit note, when an invoice was
	// credited.
	CreditNote int64 `json:"creditNote,omitempty"`
}

// Cancel cancels a registration and settles its money: before the event's
// refund deadline (or always, when the organiser cancels the event) a card
// payment is refunded and an invoice credited; an open payment page is
// expired at Stripe. The seat goes on to the waiting list.
func (s *Service) Cancel(ctx context.Context, reg *registration.Registration, eventCancelled bool) (*CancelOutcome, error) {
	out, err := s.rs.Cancel(ctx, reg)
	if err != nil {
		return nil, err
	}
	res := &CancelOutcome{ID: out.ID, Status: out.Status}
	p := out.Payment
	if p == nil {
		return res, nil
	}
	res.PaymentStatus = p.Status
	ev, err := s.events.Get(ctx, out.Event)
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx) // the registration is cancelled: finish settling
	switch {
	case p.Status == registration.PaymentPending && p.SessionID != "":
		ep := &stripe.CheckoutSessionExpireParams{}
		ep.Context = ctx
		if _, err := s.stripe.CheckoutSessions.Expire(p.SessionID, ep); err != nil {
			// Already expired or completed: a completed one shows up as
			// "paid but cancelled" in the reconciliation report.
			s.log.WarnContext(ctx, "expire checkout session on cancel", "registration", out.ID, "err", stripeErr("expire", err))
		}
		res.PaymentStatus = s.setPaymentStatus(ctx, out.ID, registration.PaymentPending, registration.PaymentNotDue)
	case p.Status == registration.PaymentPaid && p.PaymentIntentID != "" && (eventCancelled || s.now().Before(ev.RefundDeadline)):
		// Exactly what is left to refund: a succeeded refund of that amount
		// is what gets recorded (charge.refunded confirms it later).
		amount := p.PaidAmount - p.RefundedAmount
		rp := &stripe.RefundParams{PaymentIntent: stripe.String(p.PaymentIntentID), Amount: stripe.Int64(amount)}
		rp.AddMetadata("registration", out.ID)
		rp.SetIdempotencyKey("refund-" + out.ID)
		rp.Context = ctx
		rf, err := s.stripe.Refunds.New(rp)
		if err != nil {
			return nil, stripeErr("refund", err)
		}
		now := s.clock()
		set := bson.M{"payment.refundId": rf.ID, "updatedAt": now}
		if rf.Status == stripe.RefundStatusSucceeded {
			set["payment.status"] = registration.PaymentRefunded
			set["payment.refundedAmount"] = p.RefundedAmount + amount
			set["payment.refundedAt"] = now
		}
		if _, err := s.regs.UpdateOne(ctx, bson.M{"_id": out.ID, "payment.status": registration.PaymentPaid}, bson.M{"$set": set}); err != nil {
			return nil, err
		}
		res.Refund = rf.ID
		if rf.Status == stripe.RefundStatusSucceeded {
			res.PaymentStatus = registration.PaymentRefunded
		}
	case p.InvoiceNumber != 0 && (eventCancelled || s.now().Before(ev.RefundDeadline)):
		// Before the refund deadline an invoice is credited; after it, the
		// seat is freed and the invoice stands, as a card is not refunded.
		cn, err := s.creditInvoice(ctx, p.InvoiceNumber)
		if err != nil {
			return nil, err
		}
		if _, err := s.regs.UpdateOne(ctx, bson.M{"_id": out.ID},
			bson.M{"$set": bson.M{"payment.status": registration.PaymentCredited, "payment.creditNote": cn.Number, "updatedAt": s.clock()}}); err != nil {
			return nil, err
		}
		res.CreditNote, res.PaymentStatus = cn.Number, registration.PaymentCredited
	case p.Status == registration.PaymentInvoicing:
		res.PaymentStatus = s.setPaymentStatus(ctx, out.ID, registration.PaymentInvoicing, registration.PaymentNotDue)
	}
	return res, nil
}

func (s *Service) setPaymentStatus(ctx context.Context, id string, from, to registration.PaymentStatus) registration.PaymentStatus {
	ok, err := s.regs.UpdateOne(ctx, bson.M{"_id": id, "payment.status": from}, bson.M{"$set": bson.M{"payment.status": to, "updatedAt": s.clock()}})
	if err != nil || !ok {
		return from
	}
	return to
}

// EventCancellation is what cancelling an event did.
type EventCancellation struct {
	Event       string `json:"event"`
	Cancelled   int    `json:"cancelled"`
	Refunds     int    `json:"refunds"`
	CreditNotes int    `json:"creditNotes"`
}

// CancelEvent cancels an event and every live registration for it:
// every card payment is refunded and every invoice credited. Running it
// again finishes what an interrupted run left.
func (s *Service) CancelEvent(ctx context.Context, slug string) (*EventCancellation, error) {
	if _, err := s.events.Cancel(ctx, slug); err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	var live []registration.Registration
	if err := s.regs.All(ctx, bson.M{"event": slug, "status": bson.M{"$in": []registration.Status{
		registration.Confirmed, registration.PendingPayment, registration.Waitlisted, registration.Offered}}}, &live); err != nil {
		return nil, err
	}
	res := &EventCancellation{Event: slug}
	for i := range live {
		out, err := s.Cancel(ctx, &live[i], true)
		if errors.Is(err, registration.ErrNotCancellable) {
			continue // cancelled meanwhile
		}
		if err != nil {
			return res, err
		}
		res.Cancelled++
		if out.Refund != "" {
			res.Refunds++
		}
		if out.CreditNote != 0 {
			res.CreditNotes++
		}
	}
	return res, nil
}
