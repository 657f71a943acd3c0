package payments_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/registration"
)

// signed is a Stripe event of the API version, signed with the
// fixture's secret as Stripe signs it: the payload and its header.
func signed(id, typ, version string, object map[string]any) ([]byte, string) {
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": version, "created": time.Now().Unix(), "type": typ,
		"livemode": false, "pending_webhooks": 1, "data": map[string]any{"object": object},
	})
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: b, Secret: "whsec_x", Timestamp: time.Now()})
	return b, sp.Header
}

func paidSession(reg *registration.Registration) map[string]any {
	return map[string]any{"id": reg.Payment.SessionID, "object": "checkout.session", "client_reference_id": reg.ID,
		"amount_total": reg.Payment.Amount, "currency": "nok", "payment_status": "paid", "status": "complete", "payment_intent": "pi_" + reg.ID}
}

// cardSignup signs up a card payer, who has not paid yet.
func (f *fixture) cardSignup(t testing.TB, email string) *registration.Registration {
	t.Helper()
	ctx := context.Background()
	res, err := f.app.Signups.Signup(ctx, "kurs", registration.SignupRequest{
		Fields:  map[string]string{"name": "N", "email": email},
		Payment: registration.PaymentRequest{Method: registration.Card},
	}, registration.API)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := f.app.Registrations.Get(ctx, res.ID)
	if err != nil || reg.Status != registration.PendingPayment {
		t.Fatalf("card sign-up: %+v, %v", reg, err)
	}
	return reg
}

// cardPaid signs up a card payer who paid.
func (f *fixture) cardPaid(t testing.TB, email string) *registration.Registration {
	t.Helper()
	ctx := context.Background()
	reg := f.cardSignup(t, email)
	payload, header := signed("evt_paid_"+reg.ID, "checkout.session.completed", stripe.APIVersion, paidSession(reg))
	if _, _, err := f.app.Payments.HandleWebhook(ctx, payload, header); err != nil {
		t.Fatal(err)
	}
	reg, err := f.app.Registrations.Get(ctx, reg.ID)
	if err != nil || reg.Status != registration.Confirmed || reg.Payment.Status != registration.PaymentPaid {
		t.Fatalf("not paid: %+v, %v", reg, err)
	}
	return reg
}

// TestWebhookVersions: the signature is checked whatever the version; an
// event is read in any version where the fields handled can be read, and
// otherwise refused as ErrUnsupportedAPIVersion (a bad payload too) when
// its version is another, as ErrBadPayload when it is stripe-go's.
func TestWebhookVersions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reg := f.cardSignup(t, "a@example.no")
	odd := paidSession(reg)
	odd["payment_intent"] = 42 // neither an id nor an object

	for _, tc := range []struct {
		name, typ, version string
		object             map[string]any
		want, not          error
		outcome            string
	}{
		{"UnreadableOtherVersion", "checkout.session.completed", "2099-01-01.future", odd, payments.ErrUnsupportedAPIVersion, nil, ""},
		{"UnreadableOtherVersionIsABadPayload", "checkout.session.completed", "2099-01-01.future", odd, payments.ErrBadPayload, nil, ""},
		{"UnreadableOurVersion", "checkout.session.completed", stripe.APIVersion, odd, payments.ErrBadPayload, payments.ErrUnsupportedAPIVersion, ""},
		{"NoIDOtherVersion", "charge.refunded", "2025-03-31.basil", map[string]any{"object": "charge"}, payments.ErrUnsupportedAPIVersion, nil, ""},
		{"IgnoredTypeAnyVersion", "customer.created", "2099-01-01.future", map[string]any{"id": "cus_1", "shape": []int{1}}, nil, nil, "ignored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload, header := signed("evt_"+tc.name, tc.typ, tc.version, tc.object)
			_, outcome, err := f.app.Payments.HandleWebhook(ctx, payload, header)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) || tc.not != nil && errors.Is(err, tc.not) {
				t.Errorf("err %v, want %v and not %v", err, tc.want, tc.not)
			}
			if tc.outcome != "" && outcome != tc.outcome {
				t.Errorf("outcome %s, want %s", outcome, tc.outcome)
			}
		})
	}
	t.Run("SignedButNotJSON", func(t *testing.T) {
		sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte("not json"), Secret: "whsec_x", Timestamp: time.Now()})
		_, _, err := f.app.Payments.HandleWebhook(ctx, sp.Payload, sp.Header)
		if !errors.Is(err, payments.ErrBadPayload) || errors.Is(err, payments.ErrBadSignature) {
			t.Errorf("err %v, want a bad payload with a valid signature", err)
		}
	})
	t.Run("WrongSecretAnyVersion", func(t *testing.T) {
		payload, _ := signed("evt_w", "checkout.session.completed", "2025-03-31.basil", paidSession(reg))
		sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: "whsec_other", Timestamp: time.Now()})
		if _, _, err := f.app.Payments.HandleWebhook(ctx, payload, sp.Header); !errors.Is(err, payments.ErrBadSignature) {
			t.Errorf("err %v, want a bad signature", err)
		}
	})
	if r, _ := f.app.Registrations.Get(ctx, reg.ID); r.Status != registration.PendingPayment {
		t.Errorf("a refused event changed the registration: %s", r.Status)
	}
	t.Run("ReadableOtherVersion", func(t *testing.T) {
		payload, header := signed("evt_basil", "checkout.session.completed", "2025-03-31.basil", paidSession(reg))
		if _, _, err := f.app.Payments.HandleWebhook(ctx, payload, header); err != nil {
			t.Fatal(err)
		}
		if r, _ := f.app.Registrations.Get(ctx, reg.ID); r.Status != registration.Confirmed || r.Payment.PaymentIntentID != "pi_"+reg.ID {
			t.Errorf("after a basil event: %s %+v", r.Status, r.Payment)
		}
	})
}
