package registration

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/mongodb/mongotest"
	"github.com/pamelding/pamelding/privacy"
)

// TestTransitions: every transition on a registration moves it from the
// state it expects, and from any other changes nothing (the raw document
// is compared) and says so.
func TestTransitions(t *testing.T) {
	ctx := context.Background()
	db := mongotest.Open(t)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	keys, _ := privacy.NewKeyring(make([]byte, privacy.KeySize))
	s := NewStore(db, mongotest.OpenKeys(t), keys, func() time.Time { return now })
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	card := func(st PaymentStatus) *Payment {
		return &Payment{Method: Card, Status: st, Amount: 1000, Currency: "NOK", SessionID: "cs_1", PaidAmount: 1000, PaymentIntentID: "pi_1"}
	}
	invoice := func(st PaymentStatus) *Payment {
		return &Payment{Method: Invoice, Status: st, Amount: 1000, Currency: "NOK", InvoiceNumber: 7, KID: "70"}
	}
	base := func(st Status, p *Payment) Registration {
		return Registration{Event: "e", Status: st, Seat: st.WithSeat(), Sealed: map[string]privacy.Sealed{"name": {Nonce: []byte("n"), Data: []byte("d")}},
			EmailKey: "k", ManageTokens: []string{}, Outbox: map[string]Mail{}, ConsentState: map[privacy.ConsentPurpose]bool{}, Consents: []Consent{}, Payment: p, CreatedAt: now, UpdatedAt: now}
	}
	with := func(r Registration, f func(*Registration)) Registration { f(&r); return r }
	mail := Mail{Kind: mailOffer, CreatedAt: now, TokenHash: "0123456789abcdef"}
	nextAt := now.Add(time.Minute)

	cases := []struct {
		name      string
		ok, wrong Registration
		run       func(id string, r *Registration) error
		check     func(t *testing.T, r *Registration)
		wrongErr  error
	}{
		{name: "Cancel", ok: base(Confirmed, card(PaymentPaid)), wrong: base(Cancelled, card(PaymentPaid)),
			run: func(id string, r *Registration) error {
				_, err := s.cancel(ctx, r, PaymentRefundDue, now, false)
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.Status != Cancelled || r.Seat || r.Payment.Status != PaymentRefundDue || r.Payment.SettleAt == nil || r.ActiveKey != r.ID {
					t.Errorf("%+v %+v", r, r.Payment)
				}
			}},
		{name: "Offer", ok: base(Waitlisted, nil), wrong: base(Confirmed, nil),
			run: func(id string, _ *Registration) error { return s.offer(ctx, id, now, future, mail) },
			check: func(t *testing.T, r *Registration) {
				if r.Status != Offered || !r.Seat || r.OfferExpiresAt == nil || len(r.ManageTokens) != 1 {
					t.Errorf("%+v", r)
				}
			}},
		{name: "AcceptOffer", ok: with(base(Offered, nil), func(r *Registration) { r.OfferExpiresAt = &future }),
			wrong: with(base(Offered, nil), func(r *Registration) { r.OfferExpiresAt = &past }), wrongErr: ErrNoOffer,
			run: func(id string, _ *Registration) error {
				_, err := s.acceptOffer(ctx, id, SeatDue{Status: Confirmed}, now)
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.Status != Confirmed || r.OfferExpiresAt != nil {
					t.Errorf("%+v", r)
				}
			}},
		{name: "ExpireOffer", ok: with(base(Offered, nil), func(r *Registration) { r.OfferExpiresAt = &past }),
			wrong: with(base(Offered, nil), func(r *Registration) { r.OfferExpiresAt = &future }),
			run: func(id string, _ *Registration) error {
				_, err := s.expireOffer(ctx, id, now)
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.Status != Expired || r.Seat {
					t.Errorf("%+v", r)
				}
			}},
		{name: "ConfirmGuardian", ok: with(base(PendingGuardian, nil), func(r *Registration) { r.Seat, r.Guardian = true, &GuardianCheck{HoldUntil: future} }),
			wrong: with(base(PendingGuardian, nil), func(r *Registration) { r.Seat, r.Guardian = true, &GuardianCheck{HoldUntil: past} }),
			run: func(id string, _ *Registration) error {
				_, err := s.confirmGuardian(ctx, id, PendingGuardian, SeatDue{Status: Confirmed}, Consent{Purpose: privacy.ConsentGuardian, Given: true, At: now}, now)
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.Status != Confirmed || r.Guardian.ConfirmedAt == nil || !r.ConsentState[privacy.ConsentGuardian] || len(r.Consents) != 1 || r.HooksAt == nil {
					t.Errorf("%+v %+v", r, r.Guardian)
				}
			}},
		{name: "LapseGuardianHold", ok: with(base(PendingGuardian, nil), func(r *Registration) { r.Seat, r.Guardian = true, &GuardianCheck{HoldUntil: past} }),
			wrong: with(base(Confirmed, nil), func(r *Registration) { r.Guardian = &GuardianCheck{HoldUntil: past, ConfirmedAt: &past} }),
			run: func(id string, _ *Registration) error {
				_, err := s.lapseGuardianHold(ctx, id, now, false)
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.Status != Expired || r.Seat || r.Guardian.LapsedAt == nil || r.ActiveKey != r.ID {
					t.Errorf("%+v %+v", r, r.Guardian)
				}
			}},
		{name: "GuardianWithdrew", ok: with(base(Confirmed, nil), func(r *Registration) { r.Guardian = &GuardianCheck{HoldUntil: past, ConfirmedAt: &past} }),
			wrong: with(base(Confirmed, nil), func(r *Registration) {
				r.Guardian = &GuardianCheck{HoldUntil: past, ConfirmedAt: &past, WithdrawnAt: &past}
			}),
			run: func(id string, _ *Registration) error {
				_, err := s.guardianWithdrew(ctx, id, bson.M{"$set": bson.M{"consentState.health": false}, "$unset": bson.M{"sealed.name": ""}},
					Mail{Kind: mailGuardianWithdrawn, CreatedAt: now, To: ToOrganiser, Fields: []string{"name"}}, now)
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.Guardian.WithdrawnAt == nil || len(r.Sealed) != 0 || r.Outbox["guardian-withdrawn"].To != ToOrganiser || r.OutboxNextAt == nil {
					t.Errorf("%+v %+v", r, r.Guardian)
				}
			}},
		{name: "MarkPaid", ok: base(PendingPayment, card(PaymentPending)), wrong: base(PendingPayment, card(PaymentRefunded)),
			run: func(id string, _ *Registration) error {
				out, err := s.MarkPaid(ctx, id, CardPayment{Session: "cs_1", PaymentIntent: "pi_1", Amount: 1000, At: now})
				if err == nil && out != PaidConfirmed {
					return ErrWrongState
				}
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.Status != Confirmed || r.Payment.Status != PaymentPaid || r.Payment.PaidAmount != 1000 {
					t.Errorf("%+v %+v", r, r.Payment)
				}
			}},
		{name: "ExpireHold", ok: base(PendingPayment, card(PaymentPending)), wrong: base(Confirmed, card(PaymentPaid)),
			run: func(id string, _ *Registration) error {
				_, err := s.ExpireHold(ctx, id, "cs_1")
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.Status != Expired || r.Seat || r.Payment.Status != PaymentExpired {
					t.Errorf("%+v %+v", r, r.Payment)
				}
			}},
		{name: "RefundIssued", ok: base(Cancelled, card(PaymentRefundDue)), wrong: base(Cancelled, card(PaymentPaid)),
			run: func(id string, _ *Registration) error { return s.RefundIssued(ctx, id, "re_1", 1000, true) },
			check: func(t *testing.T, r *Registration) {
				if r.Payment.Status != PaymentRefunded || r.Payment.RefundedAmount != 1000 || r.Payment.RefundID != "re_1" {
					t.Errorf("%+v", r.Payment)
				}
			}},
		{name: "LeaseSettlement", ok: with(base(Cancelled, card(PaymentRefundDue)), func(r *Registration) { r.Payment.SettleAt = &past }),
			wrong: with(base(Cancelled, card(PaymentRefundDue)), func(r *Registration) { r.Payment.SettleAt = &future }),
			run: func(id string, _ *Registration) error {
				ok, err := s.LeaseSettlement(ctx, &Registration{ID: id, Payment: &Payment{Status: PaymentRefundDue, SettleAt: &past}}, nextAt)
				if err == nil && !ok {
					return ErrWrongState
				}
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if !r.Payment.SettleAt.Equal(nextAt) || r.Payment.SettleLeases != 1 {
					t.Errorf("%+v", r.Payment)
				}
			}},
		{name: "ClaimInvoicing", ok: base(Confirmed, invoice(PaymentInvoicing)),
			wrong: with(base(Confirmed, invoice(PaymentInvoicing)), func(r *Registration) { r.Payment.InvoiceClaim = &Claim{Nonce: "other", Until: future} }),
			run: func(id string, _ *Registration) error {
				_, ok, err := s.ClaimInvoicing(ctx, id, "n1", future)
				if err == nil && !ok {
					return ErrWrongState
				}
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.Payment.InvoiceClaim == nil || r.Payment.InvoiceClaim.Nonce != "n1" || r.Payment.Claims != 1 {
					t.Errorf("%+v", r.Payment)
				}
			}},
		{name: "MarkInvoiced", ok: with(base(Confirmed, invoice(PaymentInvoicing)), func(r *Registration) { r.Payment.InvoiceClaim = &Claim{Nonce: "n1", Until: future} }),
			wrong: with(base(Confirmed, invoice(PaymentInvoicing)), func(r *Registration) { r.Payment.InvoiceClaim = &Claim{Nonce: "other", Until: future} }),
			run: func(id string, _ *Registration) error {
				_, err := s.MarkInvoiced(ctx, id, "n1", 8, "81")
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.Payment.Status != PaymentInvoiced || r.Payment.InvoiceNumber != 8 || r.Payment.InvoiceClaim != nil {
					t.Errorf("%+v", r.Payment)
				}
			}},
		{name: "MarkInvoicedCancelledMeanwhile", ok: with(base(Cancelled, invoice(PaymentNotDue)), func(r *Registration) { r.Payment.InvoiceClaim = &Claim{Nonce: "n1", Until: future} }),
			wrong: base(Cancelled, invoice(PaymentNotDue)),
			run: func(id string, _ *Registration) error {
				credit, err := s.MarkInvoiced(ctx, id, "n1", 8, "81")
				if err == nil && !credit {
					return errors.New("not credit due")
				}
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.Payment.Status != PaymentCreditDue || r.Payment.InvoiceNumber != 8 || r.Payment.SettleAt == nil {
					t.Errorf("%+v", r.Payment)
				}
			}},
		{name: "MarkCredited", ok: base(Cancelled, invoice(PaymentCreditDue)), wrong: base(Confirmed, invoice(PaymentInvoiced)),
			run: func(id string, _ *Registration) error { return s.MarkCredited(ctx, id, 9) },
			check: func(t *testing.T, r *Registration) {
				if r.Payment.Status != PaymentCredited || r.Payment.CreditNote != 9 {
					t.Errorf("%+v", r.Payment)
				}
			}},
		{name: "RecordInvoicePayment", ok: base(Confirmed, invoice(PaymentInvoiced)),
			wrong: with(base(Confirmed, invoice(PaymentInvoiced)), func(r *Registration) { r.Payment.PaidAmount = 1000 }),
			run: func(id string, _ *Registration) error {
				err := s.RecordInvoicePayment(ctx, id, 7, 1000, PaymentPaid, now)
				if r, _ := s.Get(ctx, id); err == nil && r.Payment.PaidAmount == 1000 && r.UpdatedAt.Equal(now) && r.Payment.Status != PaymentPaid {
					return ErrWrongState
				}
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.Payment.Status != PaymentPaid || r.Payment.PaidAmount != 1000 {
					t.Errorf("%+v", r.Payment)
				}
			}},
		{name: "Rectify", ok: base(Confirmed, nil), wrong: with(base(Cancelled, nil), func(r *Registration) { r.ErasedAt = &past }), wrongErr: ErrErased,
			run: func(id string, _ *Registration) error {
				_, err := s.rectify(ctx, id, bson.M{"sealed.name": privacy.Sealed{Nonce: []byte("m"), Data: []byte("m")}}, nil, nil)
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if string(r.Sealed["name"].Data) != "m" {
					t.Errorf("%+v", r.Sealed)
				}
			}},
		{name: "Erase", ok: base(Cancelled, nil), wrong: with(base(Cancelled, nil), func(r *Registration) { r.ErasedAt = &past }), wrongErr: ErrErased,
			run: func(id string, _ *Registration) error {
				_, err := s.erase(ctx, id, bson.M{"sealed": bson.M{}, "erasedAt": now})
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if r.ErasedAt == nil || len(r.Sealed) != 0 {
					t.Errorf("%+v", r)
				}
			}},
		{name: "LeaseOutbox", ok: with(base(Confirmed, nil), func(r *Registration) { r.OutboxNextAt = &past }),
			wrong: with(base(Confirmed, nil), func(r *Registration) { r.OutboxNextAt = &future }),
			run: func(id string, _ *Registration) error {
				ok, err := s.leaseOutbox(ctx, id, &past, nextAt)
				if err == nil && !ok {
					return ErrWrongState
				}
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if !r.OutboxNextAt.Equal(nextAt) {
					t.Errorf("%+v", r.OutboxNextAt)
				}
			}},
		{name: "PurgeValues", ok: base(Confirmed, nil), wrong: with(base(Confirmed, nil), func(r *Registration) { r.UpdatedAt = past }),
			run: func(id string, _ *Registration) error {
				ok, err := s.purgeValues(ctx, &Registration{ID: id, UpdatedAt: now}, []string{"name"}, now)
				if err == nil && !ok {
					return ErrWrongState
				}
				return err
			},
			check: func(t *testing.T, r *Registration) {
				if _, ok := r.Sealed["name"]; ok {
					t.Errorf("%+v", r.Sealed)
				}
			}},
	}
	raw := db.Collection(mongodb.Registrations)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, wrong := tc.ok, tc.wrong
			ok.ID, wrong.ID = tc.name+"-ok", tc.name+"-wrong"
			ok.ActiveKey, wrong.ActiveKey = ok.ID, wrong.ID
			ok.EmailKey, wrong.EmailKey = string(rune('a'+i))+"1", string(rune('a'+i))+"2"
			for _, r := range []*Registration{&ok, &wrong} {
				if err := s.insert(ctx, r, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.run(ok.ID, &ok); err != nil {
				t.Fatalf("from the expected state: %v", err)
			}
			got, err := s.Get(ctx, ok.ID)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)

			var before, after bson.D
			if err := raw.FindOne(ctx, bson.M{"_id": wrong.ID}, &before); err != nil {
				t.Fatal(err)
			}
			want := tc.wrongErr
			if want == nil {
				want = ErrWrongState
			}
			if err := tc.run(wrong.ID, &wrong); !errors.Is(err, want) {
				t.Errorf("from another state: %v, want %v", err, want)
			}
			if err := raw.FindOne(ctx, bson.M{"_id": wrong.ID}, &after); err != nil {
				t.Fatal(err)
			}
			b1, _ := bson.Marshal(before)
			b2, _ := bson.Marshal(after)
			if string(b1) != string(b2) {
				t.Errorf("a transition from another state changed the document:\n%v\n%v", before, after)
			}
		})
	}
}

// TestInsertGroup: a group's registrations stand alone: one whose id is
// taken and one whose submission was stored before are refused, each
// with its reason, their data keys destroyed again, and the others are
// stored with theirs.
func TestInsertGroup(t *testing.T) {
	ctx := context.Background()
	db := mongotest.Open(t)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	keyring, _ := privacy.NewKeyring(make([]byte, privacy.KeySize))
	s := NewStore(db, mongotest.OpenKeys(t), keyring, func() time.Time { return now })
	reg := func(id, active string) (*Registration, *keyDoc) {
		sealed, keys, err := s.vault.seal(id, "e", now, map[string]string{"name": "N " + id})
		if err != nil {
			t.Fatal(err)
		}
		return &Registration{ID: id, Event: "e", Status: Confirmed, Seat: true, ActiveKey: active, Sealed: sealed, EmailKey: "k" + id,
			ManageTokens: []string{}, Outbox: map[string]Mail{}, ConsentState: map[privacy.ConsentPurpose]bool{}, Consents: []Consent{},
			CreatedAt: now, UpdatedAt: now}, keys
	}
	old, oldKeys := reg("old", "submission:x")
	if err := s.insert(ctx, old, oldKeys); err != nil {
		t.Fatal(err)
	}
	var regs []*Registration
	var keys []*keyDoc
	for _, r := range [][2]string{{"a", "a"}, {"old", "old2"}, {"b", "submission:x"}, {"c", "c"}} {
		g, k := reg(r[0], r[1])
		regs, keys = append(regs, g), append(keys, k)
	}
	// The group's "old" has a key document of the same id as the stored
	// one: that insert is refused too, so the stored one's keys stay.
	failed, err := s.insertGroup(ctx, regs, func(i int) *keyDoc { return keys[i] })
	if err != nil {
		t.Fatal(err)
	}
	if failed[0] != nil || failed[3] != nil || failed[1] == nil || !errors.Is(failed[2], ErrSubmitted) {
		t.Fatalf("failed %v", failed)
	}
	for _, id := range []string{"a", "c", "old"} {
		r, err := s.Get(ctx, id)
		if err != nil {
			t.Fatalf("%s not stored: %v", id, err)
		}
		if v, err := s.Open(ctx, r); err != nil || v["name"] != "N "+id {
			t.Errorf("%s opens to %v %v", id, v, err)
		}
	}
	if _, err := s.Get(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("b stored although its submission was: %v", err)
	}
	var kd []bson.M
	if err := s.vault.c.All(ctx, bson.M{"_id": "b"}, &kd); err != nil || len(kd) != 0 {
		t.Errorf("b's keys kept: %d %v", len(kd), err)
	}
}
