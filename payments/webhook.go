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
	// APIVersion is the version Stripe rendered the event in.
	APIVersion string `bson:"apiVersion,omitempty"`
	// Orphan: a payment for no registration we know (a reconciliation
	// anomaly); Registration and Amount say what it was.
	Orphan       bool   `bson:"orphan,omitempty"`
	Registration string `bson:"registration,omitempty"`
	Amount       int64  `bson:"amount,omitempty"`
	Session      string `bson:"session,omitempty"`
}

// HandleWebhook verifies and applies one Stripe delivery. The signature
// and its age are checked by stripe-go (webhook.ValidatePayload), whatever
// the event's API version: the endpoint may have been created with
// another version than stripe-go v76's (2023-10-16), or moved on. Only
// the few fields handled are read (see the types below), and they have
// kept their shape across versions; an object that cannot be read is
// refused as ErrUnsupportedAPIVersion when its version is another (its
// version is logged, never the payload), as ErrBadPayload otherwise.
// Stripe retries a refused delivery, so nothing is lost once it can be
// read. A replay changes nothing; every state change is a conditional
// update that only moves forward, so deliveries may come twice or out of
// order.
//
// It returns the event's type ("unknown" before the signature holds) and
// what became of it: handled, replayed or ignored (a type not handled).
func (s *Service) HandleWebhook(ctx context.Context, payload []byte, signature string) (typ, outcome string, err error) {
	typ, outcome = "unknown", "handled"
	err = s.handleWebhook(ctx, payload, signature, &typ, &outcome)
	return typ, outcome, err
}

// eventEnvelope is what is read of every event: the same in every API
// version.
type eventEnvelope struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	APIVersion string `json:"api_version"`
	Created    int64  `json:"created"`
	Data       struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// stripeID is an expandable reference: an id, an object with one, or
// null.
type stripeID string

func (x *stripeID) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*x = ""
		return nil
	}
	var id string
	if err := json.Unmarshal(b, &id); err == nil {
		*x = stripeID(id)
		return nil
	}
	var obj struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &obj); err != nil || obj.ID == "" {
		return errors.New("neither an id nor an object with one")
	}
	*x = stripeID(obj.ID)
	return nil
}

// sessionEvent is what is read of a Checkout Session.
type sessionEvent struct {
	ID                string   `json:"id"`
	ClientReferenceID string   `json:"client_reference_id"`
	AmountTotal       int64    `json:"amount_total"`
	PaymentStatus     string   `json:"payment_status"`
	PaymentIntent     stripeID `json:"payment_intent"`
}

// chargeEvent is what is read of a Charge.
type chargeEvent struct {
	ID             string            `json:"id"`
	AmountRefunded int64             `json:"amount_refunded"`
	Refunded       bool              `json:"refunded"`
	PaymentIntent  stripeID          `json:"payment_intent"`
	Metadata       map[string]string `json:"metadata"`
}

// readObject reads an event's object into v, which must then have an id.
func (s *Service) readObject(ctx context.Context, ev *eventEnvelope, what string, v any, id func() string) error {
	err := json.Unmarshal(ev.Data.Object, v)
	if err == nil && id() == "" {
		err = errors.New("no id")
	}
	if err == nil {
		return nil
	}
	if ev.APIVersion != stripe.APIVersion {
		s.log.WarnContext(ctx, "stripe event of an API version this service cannot read", "event", ev.ID, "type", ev.Type,
			"apiVersion", ev.APIVersion, "supported", stripe.APIVersion)
		return fmt.Errorf("%w: %s of API version %s", ErrUnsupportedAPIVersion, what, ev.APIVersion)
	}
	return fmt.Errorf("%w: %s", ErrBadPayload, what)
}

func (s *Service) handleWebhook(ctx context.Context, payload []byte, signature string, typ, outcome *string) error {
	if err := webhook.ValidatePayload(payload, signature, s.cfg.WebhookSecret); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	var ev eventEnvelope
	if err := json.Unmarshal(payload, &ev); err != nil || ev.ID == "" || ev.Type == "" {
		return fmt.Errorf("%w: not a Stripe event", ErrBadPayload)
	}
	*typ = ev.Type
	var seen stripeEvent
	if err := s.store.stripeEvents.FindOne(ctx, bson.M{"_id": ev.ID}, &seen); err == nil {
		*outcome = "replayed"
		return nil
	} else if !errors.Is(err, mongodb.ErrNotFound) {
		return err
	}
	rec := stripeEvent{ID: ev.ID, Type: ev.Type, APIVersion: ev.APIVersion, Created: time.Unix(ev.Created, 0).UTC(), HandledAt: s.clock()}

	switch ev.Type {
	case "checkout.session.completed", "checkout.session.async_payment_succeeded":
		var cs sessionEvent
		if err := s.readObject(ctx, &ev, "checkout session", &cs, func() string { return cs.ID }); err != nil {
			return err
		}
		if cs.PaymentStatus != string(stripe.CheckoutSessionPaymentStatusPaid) {
			break // async methods complete unpaid; their success comes later
		}
		orphan, err := s.confirmPaid(ctx, cs)
		if err != nil {
			return err
		}
		if orphan {
			rec.Orphan, rec.Registration, rec.Amount, rec.Session = true, cs.ClientReferenceID, cs.AmountTotal, cs.ID
			s.log.WarnContext(ctx, "stripe payment for no known registration", "session", cs.ID)
		}
	case "checkout.session.expired", "checkout.session.async_payment_failed":
		// A delayed payment that failed ends the hold as an expired page
		// does: the seat passes on.
		var cs sessionEvent
		if err := s.readObject(ctx, &ev, "checkout session", &cs, func() string { return cs.ID }); err != nil {
			return err
		}
		ids, err := s.payers(ctx, cs.ClientReferenceID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := s.holds.ExpireHold(ctx, id, cs.ID); err != nil {
				return err
			}
		}
	case "charge.refunded":
		var ch chargeEvent
		if err := s.readObject(ctx, &ev, "charge", &ch, func() string { return ch.ID }); err != nil {
			return err
		}
		if err := s.recordRefund(ctx, &ch); err != nil {
			return err
		}
	case "payout.paid", "payout.reconciliation_completed", "payout.failed", "payout.canceled":
		// Read again from Stripe, with what it paid out: the event may be
		// older than the payout's state.
		var po struct {
			ID string `json:"id"`
		}
		if err := s.readObject(ctx, &ev, "payout", &po, func() string { return po.ID }); err != nil {
			return err
		}
		if _, err := s.RecordPayout(ctx, po.ID); err != nil {
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
//
// An order's session pays each participant's share, recorded on their
// own registration (the session's total is the sum of the shares).
func (s *Service) confirmPaid(ctx context.Context, cs sessionEvent) (orphan bool, err error) {
	o, err := s.regs.OrderOf(ctx, cs.ClientReferenceID)
	if errors.Is(err, registration.ErrNotFound) {
		out, err := s.regs.MarkPaid(ctx, cs.ClientReferenceID, registration.CardPayment{
			Session: cs.ID, PaymentIntent: string(cs.PaymentIntent), Amount: cs.AmountTotal, At: s.clock(),
		})
		return out == registration.PaidOrphan, err
	}
	if err != nil {
		return false, err
	}
	regs, err := s.regs.OrderRegistrations(ctx, o)
	if err != nil {
		return false, err
	}
	if cs.AmountTotal != o.Amount {
		s.log.WarnContext(ctx, "order paid another amount than its lines", "order", o.ID, "paid", cs.AmountTotal, "due", o.Amount)
	}
	orphan = true
	for _, reg := range regs {
		if reg.Payment == nil {
			continue
		}
		out, err := s.regs.MarkPaid(ctx, reg.ID, registration.CardPayment{
			Session: cs.ID, PaymentIntent: string(cs.PaymentIntent), Amount: reg.Payment.Amount, At: s.clock(),
		})
		if err != nil {
			return false, err
		}
		orphan = orphan && out == registration.PaidOrphan
	}
	return orphan, nil
}

// payers are the registrations a session's client reference names: an
// order's participants, or the one registration.
func (s *Service) payers(ctx context.Context, ref string) ([]string, error) {
	o, err := s.regs.OrderOf(ctx, ref)
	if errors.Is(err, registration.ErrNotFound) {
		return []string{ref}, nil
	}
	if err != nil {
		return nil, err
	}
	return o.Participants, nil
}

// recordRefund records what Stripe says was refunded of a charge; the
// amount only grows.
func (s *Service) recordRefund(ctx context.Context, ch *chargeEvent) error {
	if ch.Metadata["order"] != "" {
		// The charge paid several participants: the refunds this service
		// made are recorded on each as made; one made in Stripe's
		// dashboard cannot be told to whom it went.
		s.log.WarnContext(ctx, "refund on an order's charge: recorded per participant by the refunds made here only", "charge", ch.ID)
		return nil
	}
	id := ch.Metadata["registration"]
	if id == "" && ch.PaymentIntent != "" {
		reg, err := s.regs.ByPaymentIntent(ctx, string(ch.PaymentIntent))
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
				paid := sessionEvent{ID: cs.ID, ClientReferenceID: reg.ID, AmountTotal: cs.AmountTotal}
				if reg.Order != "" {
					paid.ClientReferenceID = reg.Order
				}
				if cs.PaymentIntent != nil {
					paid.PaymentIntent = stripeID(cs.PaymentIntent.ID)
				}
				_, err := s.confirmPaid(ctx, paid)
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
