package registration_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/registration"
)

// seats returns the seats the event counts as taken and the seats its
// registrations hold.
func (f *fixture) seats(t *testing.T) (taken, held int) {
	t.Helper()
	ctx := context.Background()
	ev, err := f.ev.Get(ctx, "gala")
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.db.Collection(mongodb.Registrations).Count(ctx, bson.M{"event": "gala", "seat": true})
	if err != nil {
		t.Fatal(err)
	}
	return ev.Capacity - ev.SeatsLeft, int(n)
}

// recount runs the recount job twice, the grace apart, as the job would.
func (f *fixture) recount(t *testing.T) {
	t.Helper()
	for range 2 {
		if _, err := f.app.Signups.RecountSeats(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		f.now = f.now.Add(3 * time.Minute)
	}
}

func (f *fixture) signup(t *testing.T, who string) *registration.Result {
	t.Helper()
	res, err := f.app.Signups.Signup(context.Background(), "gala", registration.SignupRequest{
		Fields: map[string]string{"name": who, "email": who + "@example.no"}}, registration.API)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// oneSeatOneWaiting makes the event one seat with a waiting list: one
// holds the seat, the next waits.
func (f *fixture) oneSeatOneWaiting(t *testing.T) (holder, next *registration.Result) {
	t.Helper()
	one := 1
	if _, err := f.app.Events.Patch(context.Background(), "gala", events.PatchRequest{Capacity: &one, Waitlist: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	holder, next = f.signup(t, "holder"), f.signup(t, "next")
	if holder.Status != registration.Confirmed || next.Status != registration.Waitlisted {
		t.Fatalf("statuses %s %s", holder.Status, next.Status)
	}
	return holder, next
}

func faultOn(coll, op string, fault mongodb.Fault) mongodb.FaultFunc {
	return func(c, o string) mongodb.Fault {
		if c == coll && o == op {
			return fault
		}
		return mongodb.NoFault
	}
}

// TestSeatsNeverLost: whatever write fails, or fails after committing,
// seats taken equal seats held once the recount job has run: a seat is
// given back only when its sign-up was definitely not stored, and a
// cancellation or expiry whose hand-on failed stands, its seat left to
// the recount. Before, a lost answer to a stored sign-up gave its seat
// back (oversold), and a failed hand-on lost the seat for good and failed
// the cancellation.
func TestSeatsNeverLost(t *testing.T) {
	ctx := context.Background()
	t.Run("OKSignupStoredAnswerLost", func(t *testing.T) {
		f := newFixture(t)
		f.db.InjectFaults(faultOn(mongodb.Registrations, "insert", mongodb.FailAfter))
		_, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{Fields: map[string]string{"name": "A", "email": "a@example.no"}}, registration.API)
		f.db.InjectFaults(nil)
		if !errors.Is(err, mongodb.ErrUnavailable) {
			t.Fatalf("err %v, want the store's unavailability", err)
		}
		if taken, held := f.seats(t); taken != 1 || held != 1 {
			t.Fatalf("taken %d, held %d: the seat of a stored registration was given back", taken, held)
		}
		f.recount(t)
		if taken, held := f.seats(t); taken != 1 || held != 1 {
			t.Errorf("after the recount: taken %d, held %d", taken, held)
		}
	})
	t.Run("OKSignupNotStored", func(t *testing.T) {
		f := newFixture(t)
		f.db.InjectFaults(faultOn(mongodb.Registrations, "insert", mongodb.FailBefore))
		_, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{Fields: map[string]string{"name": "A", "email": "a@example.no"}}, registration.API)
		f.db.InjectFaults(nil)
		if err == nil {
			t.Fatal("no error")
		}
		if taken, held := f.seats(t); taken != 1 || held != 0 {
			t.Fatalf("taken %d, held %d: an ambiguous failure keeps the seat until the recount", taken, held)
		}
		if _, err := f.app.Signups.RecountSeats(ctx, false); err != nil {
			t.Fatal(err)
		}
		if taken, _ := f.seats(t); taken != 1 {
			t.Fatal("repaired at the first look: a sign-up in flight would lose its seat")
		}
		f.recount(t)
		if taken, held := f.seats(t); taken != 0 || held != 0 {
			t.Errorf("after the recount: taken %d, held %d", taken, held)
		}
	})
	for _, tc := range []struct {
		name string
		prep func(f *fixture, id string) error
		end  func(f *fixture, id string) error
	}{
		{"OKCancel", nil, func(f *fixture, id string) error {
			reg, err := f.app.Registrations.Get(ctx, id)
			if err != nil {
				return err
			}
			_, err = f.app.Signups.Cancel(ctx, reg, false)
			return err
		}},
		{"OKExpiry", func(f *fixture, id string) error {
			// A card hold that ran out: made by hand, as Stripe is not here.
			_, err := f.db.Collection(mongodb.Registrations).UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{
				"status": registration.PendingPayment, "payment": registration.Payment{Method: registration.Card, Status: registration.PaymentPending, SessionID: "cs_1"},
			}})
			return err
		}, func(f *fixture, id string) error {
			ok, err := f.app.Signups.ExpireHold(ctx, id, "cs_1")
			if err == nil && !ok {
				err = errors.New("not expired")
			}
			return err
		}},
	} {
		t.Run(tc.name+"HandOnFailed", func(t *testing.T) {
			f := newFixture(t)
			holder, next := f.oneSeatOneWaiting(t)
			if tc.prep != nil {
				if err := tc.prep(f, holder.ID); err != nil {
					t.Fatal(err)
				}
			}
			// The seat cannot be passed on: neither offered nor given back.
			f.db.InjectFaults(func(c, o string) mongodb.Fault {
				if (c == mongodb.Events && o == "update") || (c == mongodb.Registrations && o == "update") {
					return mongodb.FailBefore
				}
				return mongodb.NoFault
			})
			err := tc.end(f, holder.ID)
			f.db.InjectFaults(nil)
			if err != nil {
				t.Fatalf("the cancellation or expiry stands, yet it answered %v", err)
			}
			if taken, held := f.seats(t); taken != 1 || held != 0 {
				t.Fatalf("taken %d, held %d", taken, held)
			}
			f.recount(t)
			if taken, held := f.seats(t); taken != held || taken != 1 {
				t.Errorf("after the recount: taken %d, held %d", taken, held)
			}
			if r, _ := f.app.Registrations.Get(ctx, next.ID); r.Status != registration.Offered {
				t.Errorf("the first on the waiting list is %s, want offered the recounted seat", r.Status)
			}
		})
	}
	t.Run("OKOfferAcceptedAnswerLost", func(t *testing.T) {
		f := newFixture(t)
		holder, next := f.oneSeatOneWaiting(t)
		reg, _ := f.app.Registrations.Get(ctx, holder.ID)
		if _, err := f.app.Signups.Cancel(ctx, reg, false); err != nil {
			t.Fatal(err)
		}
		offered, _ := f.app.Registrations.Get(ctx, next.ID)
		f.db.InjectFaults(faultOn(mongodb.Registrations, "findAndModify", mongodb.FailAfter))
		_, err := f.app.Signups.AcceptOffer(ctx, offered)
		f.db.InjectFaults(nil)
		if !errors.Is(err, mongodb.ErrUnavailable) {
			t.Fatalf("err %v", err)
		}
		f.recount(t)
		if taken, held := f.seats(t); taken != 1 || held != 1 {
			t.Errorf("taken %d, held %d", taken, held)
		}
		if r, _ := f.app.Registrations.Get(ctx, next.ID); r.Status != registration.Confirmed {
			t.Errorf("status %s", r.Status)
		}
	})
}

func ptr[T any](v T) *T { return &v }
