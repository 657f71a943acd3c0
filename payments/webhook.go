package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/registration"
)

// MaxWebhookBody is the largest webhook payload read.
const MaxWebhookBody = 64 << 10

// stripeEvent records a handled webhook delivery: its id (the dedupe key),
// type and times, never its payload.
type stripeEvent struct {
	ID        string    `bson:"_id"`
	Type      string    `bson:"type"`
	Created   time.Time `bson:"created"`
	HandledAt time.Time `bson:"handledAt"`
	// Orphan: a payment for no registration we know (a reconciliation
	// anomaly); Registration and Amount say what it was.
	Orphan       bool   `bson:"orphan,omitempty"`
	Registration string `bson:"registration,omitempty"`
	Amount       int64  `bson:"amount,omitempty"`
	Session      string `bson:"session,omitempty"`
}

// HandleWebhook verifies and applies one Stripe delivery. The signature
// and its age are checked by webhook.ConstructEvent, which also refuses
// events of another API version than stripe-go's (2023-10-16): the
// endpoint must be created with that version. A replay changes nothing;
// every state change is a conditional update that only moves forward, so
// deliveries may come twice or out of order.
//
// It returns the event's type ("unknown" before the signature holds) and
// what became of it: handled, replayed or ignored (a type not handled).
func (s *Service) HandleWebhook(ctx context.Context, payload []byte, signature string) (typ, outcome string, err error) {
	typ, outcome = "unknown", "handled"
	err = s.handleWebhook(ctx, payload, signature, &typ, &outcome)
	return typ, outcome, err
}

func (s *Service) handleWebhook(ctx context.Context, payload []byte, signature string, typ, outcome *string) error {
	ev, err := webhook.ConstructEvent(payload, signature, s.cfg.WebhookSecret)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	*typ = string(ev.Type)
	var seen stripeEvent
	if err := s.store.stripeEvents.FindOne(ctx, bson.M{"_id": ev.ID}, &seen); err == nil {
		*outcome = "replayed"
		return nil
	} else if !errors.Is(err, mongodb.ErrNotFound) {
		return err
	}
	rec := stripeEvent{ID: ev.ID, Type: string(ev.Type), Created: time.Unix(ev.Created, 0).UTC(), HandledAt: s.clock()}

	switch ev.Type {
	case "checkout.session.completed", "checkout.session.async_payment_succeeded":
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &cs); err != nil {
			return fmt.Errorf("%w: checkout session: %v", ErrBadPayload, err)
		}
		if cs.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid {
			break // async methods complete unpaid; their success comes later
		}
		orphan, err := s.confirmPaid(ctx, &cs)
		if err != nil {
			return err
		}
		if orphan {
			rec.Orphan, rec.Registration, rec.Amount, rec.Session = true, cs.ClientReferenceID, cs.AmountTotal, cs.ID
			s.log.WarnContext(ctx, "stripe payment for no known registration", "session", cs.ID)
		}
	case "checkout.session.expired":
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &cs); err != nil {
			return fmt.Errorf("%w: checkout session: %v", ErrBadPayload, err)
		}
		if err := s.expireHold(ctx, cs.ClientReferenceID, cs.ID); err != nil {
			return err
		}
	case "charge.refunded":
		var ch stripe.Charge
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
			return fmt.Errorf("%w: charge: %v", ErrBadPayload, err)
		}
		if err := s.recordRefund(ctx, &ch); err != nil {
			return err
		}
	default:
		*outcome = "ignored"
	}
	if err := s.store.stripeEvents.InsertOne(ctx, rec); err != nil && !errors.Is(err, mongodb.ErrDuplicate) {
		return err
	}
	return nil
}

// confirmPaid records a completed card payment. A registration waiting for
// it is confirmed; one that expired or was cancelled meanwhile keeps its
// status but records the money (the reconciliation report flags it for a
// refund). orphan: no registration has that id.
func (s *Service) confirmPaid(ctx context.Context, cs *stripe.CheckoutSession) (orphan bool, err error) {
	now := s.clock()
	pi := ""
	if cs.PaymentIntent != nil {
		pi = cs.PaymentIntent.ID
	}
	paid := bson.M{
		"payment.status": registration.PaymentPaid, "payment.paymentIntentId": pi,
		"payment.paidAmount": cs.AmountTotal, "payment.paidAt": now, "updatedAt": now,
	}
	kp, hp := registration.HookSet(registration.HookPaid, now)
	paid[kp], paid["hooksAt"] = hp, now
	set := bson.M{"status": registration.Confirmed}
	for k, v := range paid {
		set[k] = v
	}
	kc, hc := registration.HookSet(registration.HookConfirmed, now)
	set[kc] = hc
	ok, err := s.regs.UpdateOne(ctx,
		bson.M{"_id": cs.ClientReferenceID, "status": registration.PendingPayment, "payment.sessionId": cs.ID},
		bson.M{"$set": set})
	if err != nil || ok {
		return false, err
	}
	// Too late for the seat, or a replay: record the money only if it is
	// not recorded yet.
	ok, err = s.regs.UpdateOne(ctx,
		bson.M{"_id": cs.ClientReferenceID, "payment.sessionId": cs.ID,
			"payment.status": bson.M{"$in": []registration.PaymentStatus{registration.PaymentPending, registration.PaymentExpired, registration.PaymentNotDue}}},
		bson.M{"$set": paid})
	if err != nil || ok {
		return false, err
	}
	n, err := s.regs.Count(ctx, bson.M{"_id": cs.ClientReferenceID, "payment.sessionId": cs.ID})
	return n == 0, err
}

// expireHold ends a card sign-up whose payment page expired unpaid and
// passes its seat on.
func (s *Service) expireHold(ctx context.Context, id, session string) error {
	now := s.clock()
	var reg registration.Registration
	err := s.regs.FindOneAndUpdate(ctx,
		bson.M{"_id": id, "status": registration.PendingPayment, "payment.sessionId": session, "payment.status": registration.PaymentPending},
		bson.M{"$set": bson.M{"status": registration.Expired, "seat": false, "activeKey": id,
			"payment.status": registration.PaymentExpired, "updatedAt": now}},
		&reg)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil // paid, cancelled or already expired
	}
	if err != nil {
		return err
	}
	return s.rs.PassSeatOn(ctx, reg.Event)
}

// recordRefund records what Stripe says was refunded of a charge; the
// amount only grows.
func (s *Service) recordRefund(ctx context.Context, ch *stripe.Charge) error {
	id := ch.Metadata["registration"]
	if id == "" && ch.PaymentIntent != nil {
		var reg registration.Registration
		if err := s.regs.FindOne(ctx, bson.M{"payment.paymentIntentId": ch.PaymentIntent.ID}, &reg); err == nil {
			id = reg.ID
		} else if !errors.Is(err, mongodb.ErrNotFound) {
			return err
		}
	}
	if id == "" {
		s.log.WarnContext(ctx, "stripe refund for no known registration", "charge", ch.ID)
		return nil
	}
	now := s.clock()
	set := bson.M{"payment.refundedAmount": ch.AmountRefunded, "payment.refundedAt": now, "updatedAt": now}
	if ch.Refunded {
		set["payment.status"] = registration.PaymentRefunded
	}
	_, err := s.regs.UpdateOne(ctx,
		bson.M{"_id": id, "payment.refundedAmount": bson.M{"$lt": ch.AmountRefunded}},
		bson.M{"$set": set})
	return err
}

// ReleaseHolds ends card holds that never heard back: for each
// registration whose payment page should have expired, it asks Stripe. A
// paid session confirms the registration (a missed webhook loses no
// payment); any other is expired at Stripe, so it can no longer be paid,
// and its seat passes on. It returns how many holds ended.
func (s *Service) ReleaseHolds(ctx context.Context) (int, error) {
	if s.cfg.StripeKey == "" {
		return 0, nil
	}
	now := s.clock()
	var due []registration.Registration
	if err := s.regs.All(ctx, bson.M{
		"status": registration.PendingPayment, "payment.status": registration.PaymentPending,
		"payment.sessionExpiresAt": bson.M{"$lte": now.Add(-time.Minute)},
	}, &due); err != nil {
		return 0, err
	}
	n := 0
	for _, reg := range due {
		sid := reg.Payment.SessionID
		p := &stripe.CheckoutSessionParams{}
		p.Context = ctx
		cs, err := s.stripe.CheckoutSessions.Get(sid, p)
		if err != nil {
			return n, stripeErr("get checkout session", err)
		}
		if cs.Status == stripe.CheckoutSessionStatusComplete && cs.PaymentStatus == stripe.CheckoutSessionPaymentStatusPaid {
			cs.ClientReferenceID = reg.ID
			if _, err := s.confirmPaid(ctx, cs); err != nil {
				return n, err
			}
			n++
			continue
		}
		if cs.Status == stripe.CheckoutSessionStatusOpen {
			ep := &stripe.CheckoutSessionExpireParams{}
			ep.Context = ctx
			if _, err := s.stripe.CheckoutSessions.Expire(sid, ep); err != nil {
				return n, stripeErr("expire checkout session", err)
			}
		}
		if err := s.expireHold(ctx, reg.ID, sid); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
