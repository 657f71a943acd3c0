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
		if _, err := s.holds.ExpireHold(ctx, cs.ClientReferenceID, cs.ID); err != nil {
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

// confirmPaid records a completed card payment (see
// registration.Store.MarkPaid). orphan: no registration has that session.
func (s *Service) confirmPaid(ctx context.Context, cs *stripe.CheckoutSession) (orphan bool, err error) {
	pi := ""
	if cs.PaymentIntent != nil {
		pi = cs.PaymentIntent.ID
	}
	out, err := s.regs.MarkPaid(ctx, cs.ClientReferenceID, registration.CardPayment{
		Session: cs.ID, PaymentIntent: pi, Amount: cs.AmountTotal, At: s.clock(),
	})
	return out == registration.PaidOrphan, err
}

// recordRefund records what Stripe says was refunded of a charge; the
// amount only grows.
func (s *Service) recordRefund(ctx context.Context, ch *stripe.Charge) error {
	id := ch.Metadata["registration"]
	if id == "" && ch.PaymentIntent != nil {
		reg, err := s.regs.ByPaymentIntent(ctx, ch.PaymentIntent.ID)
		if err == nil {
			id = reg.ID
		} else if !errors.Is(err, registration.ErrNotFound) {
			return err
		}
	}
	if id == "" {
		s.log.WarnContext(ctx, "stripe refund for no known registration", "charge", ch.ID)
		return nil
	}
	_, err := s.regs.RecordRefund(ctx, id, ch.AmountRefunded, ch.Refunded)
	return err
}

// ReleaseHolds ends card holds that never heard back: for each
// registration whose payment page should have expired, it asks Stripe. A
// paid session confirms the registration (a missed webhook loses no
// payment); any other is expired at Stripe, so it can no longer be paid,
// and its seat passes on. Holds are handled one by one: a failing one is
// logged and the others go on. It returns how many holds ended.
func (s *Service) ReleaseHolds(ctx context.Context) (int, error) {
	if s.cfg.StripeKey == "" {
		return 0, nil
	}
	due, err := s.regs.HoldsPastEnd(ctx, s.clock().Add(-time.Minute), 200)
	if err != nil {
		return 0, err
	}
	return mongodb.Sweep(ctx, s.log, "payment-holds", due, func(r registration.Registration) string { return r.ID },
		func(ctx context.Context, reg registration.Registration) error {
			sid := reg.Payment.SessionID
			p := &stripe.CheckoutSessionParams{}
			p.Context = ctx
			cs, err := s.stripe.CheckoutSessions.Get(sid, p)
			if err != nil {
				return stripeErr("get checkout session", err)
			}
			if cs.Status == stripe.CheckoutSessionStatusComplete && cs.PaymentStatus == stripe.CheckoutSessionPaymentStatusPaid {
				cs.ClientReferenceID = reg.ID
				_, err := s.confirmPaid(ctx, cs)
				return err
			}
			if cs.Status == stripe.CheckoutSessionStatusOpen {
				ep := &stripe.CheckoutSessionExpireParams{}
				ep.Context = ctx
				if _, err := s.stripe.CheckoutSessions.Expire(sid, ep); err != nil {
					return stripeErr("expire checkout session", err)
				}
			}
			_, err = s.holds.ExpireHold(ctx, reg.ID, sid)
			return err
		})
}
