package registration_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

func (f *fixture) withCode(ctx context.Context, slug, category, who, code string) (*registration.Result, error) {
	return f.app.Signups.Signup(ctx, slug, registration.SignupRequest{Category: category, Code: code,
		Fields: map[string]string{"name": who, "email": who + "@example.no"}}, registration.API)
}

// TestCodeRedeemedExactly: a code of 10 uses, 100 sign-ups at once: 10
// get it, 90 are told it is used up, and none of those holds a seat.
func TestCodeRedeemedExactly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.twoCategories(t, false)
	if _, err := f.ev.CreateCode(ctx, "konf", events.CodeRequest{Code: "rabatt-10", Percent: 10, MaxUses: 10}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got, usedUp := 0, 0
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.withCode(ctx, "konf", []string{"full", "dag"}[i%2], fmt.Sprint("p", i), "RABATT-10")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				got++
			case errors.Is(err, events.ErrCodeUsedUp):
				usedUp++
			default:
				t.Errorf("sign-up: %v", err)
			}
		}()
	}
	wg.Wait()
	codes, err := f.ev.Codes(ctx, "konf")
	if err != nil || len(codes) != 1 {
		t.Fatal(err, codes)
	}
	held := f.heldIn(t)
	if got != 10 || usedUp != 90 || codes[0].Used != 10 || held["full"]+held["dag"] != 10 {
		t.Errorf("redeemed %d, used up %d, code used %d, seats held %v", got, usedUp, codes[0].Used, held)
	}

	// A code not valid for the category, or unknown: the same answer.
	if _, err := f.ev.CreateCode(ctx, "konf", events.CodeRequest{Code: "BARE-DAG", Amount: 100, MaxUses: 5, Categories: []string{"dag"}}); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"BARE-DAG", "FINNES-IKKE"} {
		var errs privacy.Errors
		if _, err := f.withCode(ctx, "konf", "full", "x", code); !errors.As(err, &errs) || errs[0].Field != "code" {
			t.Errorf("code %s for full: %v", code, err)
		}
	}
}

// TestGuestQuota: a partner's code holds ten seats of a category sold
// only with a code: they are taken from the event when the code is made,
// nobody else can take them, and its holders get them even when the
// event is otherwise sold out. The recount counts them as taken.
func TestGuestQuota(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.twoCategories(t, false, events.Category{Key: "gjest", Name: privacy.Text{NB: "Partnergjest", EN: "Partner guest"}, Visibility: events.CodeOnly})
	if _, err := f.ev.CreateCode(ctx, "konf", events.CodeRequest{Code: "PARTNER-ACME", Percent: 100, MaxUses: 10, Reserve: true, Categories: []string{"gjest"}}); err != nil {
		t.Fatal(err)
	}
	ev, _ := f.ev.Get(ctx, "konf")
	if ev.SeatsLeft != 70 || ev.Quota["gjest"].Taken != 10 {
		t.Fatalf("after the code: left %d, quota %+v", ev.SeatsLeft, ev.Quota)
	}
	// Others fill the 70 seats left; the 71st finds the event full.
	for i := range 70 {
		if _, err := f.signupIn(ctx, "konf", []string{"full", "dag"}[i%2], fmt.Sprint("p", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.signupIn(ctx, "konf", "full", "late"); !errors.Is(err, events.ErrSoldOut) {
		t.Fatalf("71st: %v", err)
	}
	// Without the code, the guest category is not on sale.
	if _, err := f.signupIn(ctx, "konf", "gjest", "sneaky"); err == nil {
		t.Error("guest ticket sold without the code")
	}
	for i := range 10 {
		res, err := f.withCode(ctx, "konf", "gjest", fmt.Sprint("guest", i), "partner-acme")
		if err != nil || res.Status != registration.Confirmed {
			t.Fatalf("guest %d: %v %+v", i, err, res)
		}
	}
	if _, err := f.withCode(ctx, "konf", "gjest", "guest11", "PARTNER-ACME"); !errors.Is(err, events.ErrCodeUsedUp) {
		t.Errorf("11th guest: %v", err)
	}
	f.recount(t)
	ev, _ = f.ev.Get(ctx, "konf")
	held := f.heldIn(t)
	if ev.SeatsLeft != 0 || ev.Quota["gjest"].Taken != 10 || held["gjest"] != 10 {
		t.Errorf("after the recount: left %d, quota %+v, held %v", ev.SeatsLeft, ev.Quota, held)
	}
	// A code that would reserve more than is left is refused whole.
	if _, err := f.ev.CreateCode(ctx, "konf", events.CodeRequest{Code: "FOR-MANGE", Percent: 100, MaxUses: 1, Reserve: true, Categories: []string{"gjest"}}); !errors.Is(err, events.ErrSoldOut) {
		t.Errorf("reserving on a full event: %v", err)
	}
	if codes, _ := f.ev.Codes(ctx, "konf"); len(codes) != 1 {
		t.Errorf("%d codes stored", len(codes))
	}
}
