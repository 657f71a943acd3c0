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

// withAddons gives konf a conference dinner of 5 places (with the full
// ticket only) and a t-shirt in sizes.
func (f *fixture) withAddons(t *testing.T) {
	t.Helper()
	addons := []events.Addon{
		{Key: "middag", Name: privacy.Text{NB: "Konferansemiddag", EN: "Conference dinner"}, Capacity: 5, Categories: []string{"full"}, VATRate: 25},
		{Key: "tskjorte", Name: privacy.Text{NB: "T-skjorte", EN: "T-shirt"}, Options: []string{"S", "M", "L"}},
	}
	if _, err := f.ev.Patch(context.Background(), "konf", events.PatchRequest{Addons: &addons}, nil); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) signupWith(ctx context.Context, category, who string, addons ...registration.AddonChoice) (*registration.Result, error) {
	return f.app.Signups.Signup(ctx, "konf", registration.SignupRequest{Category: category, Addons: addons,
		Fields: map[string]string{"name": who, "email": who + "@example.no"}}, registration.API)
}

// TestAddons: an add-on's places are claimed with the seat, in the same
// update: 20 racing for a dinner of 5 get exactly 5 and the others are
// refused whole (no seat either); a cancellation gives the place back;
// what can be bought with what is checked.
func TestAddons(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.twoCategories(t, true)
	f.withAddons(t)

	var mu sync.Mutex
	dined, full := 0, 0
	var first *registration.Result
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			res, err := f.signupWith(ctx, "full", fmt.Sprintf("d%d", i), registration.AddonChoice{Key: "middag"})
			mu.Lock()
			defer mu.Unlock()
			var so *events.SoldOutError
			switch {
			case err == nil && res.Status == registration.Confirmed:
				dined++
				first = res
			case errors.As(err, &so) && so.Category == events.AddonQuota("middag"):
				full++
			default:
				t.Errorf("sign-up with dinner: %v %+v", err, res)
			}
		})
	}
	wg.Wait()
	ev, _ := f.ev.Get(ctx, "konf")
	if dined != 5 || full != 15 || ev.Quota["+middag"].Taken != 5 || ev.SeatsLeft != 75 || ev.Quota["full"].Taken != 5 {
		t.Fatalf("%d dined, %d refused; quota %+v, seats left %d", dined, full, ev.Quota, ev.SeatsLeft)
	}
	if ev.AddonsLeft("middag") != 0 || ev.AddonsLeft("tskjorte") != -1 {
		t.Errorf("left: dinner %d, t-shirt %d", ev.AddonsLeft("middag"), ev.AddonsLeft("tskjorte"))
	}

	// A cancellation gives the dinner place back.
	reg, _ := f.app.Domain.Store.Get(ctx, first.ID)
	if len(reg.Addons) != 1 || reg.Addons[0].Key != "middag" {
		t.Fatalf("registration add-ons %+v", reg.Addons)
	}
	if _, err := f.app.Signups.Cancel(ctx, reg, false); err != nil {
		t.Fatal(err)
	}
	if res, err := f.signupWith(ctx, "full", "late", registration.AddonChoice{Key: "middag"}, registration.AddonChoice{Key: "tskjorte", Option: "M"}); err != nil || res.Status != registration.Confirmed {
		t.Fatalf("the freed dinner place: %v", err)
	}
	if n, err := f.app.Signups.RecountSeats(ctx, true); err != nil || n != 0 {
		t.Errorf("recount repaired %d (%v): the counts drifted", n, err)
	}

	for _, tc := range []struct {
		category string
		addons   []registration.AddonChoice
		field    string
		code     string
	}{
		{"full", []registration.AddonChoice{{Key: "buss"}}, "addons[0].key", privacy.CodeUnknown},
		{"dag", []registration.AddonChoice{{Key: "middag"}}, "addons[0].key", registration.CodeNotOnSale},
		{"full", []registration.AddonChoice{{Key: "tskjorte"}}, "addons[0].option", privacy.CodeRequired},
		{"full", []registration.AddonChoice{{Key: "tskjorte", Option: "XXL"}}, "addons[0].option", privacy.CodeInvalid},
		{"full", []registration.AddonChoice{{Key: "tskjorte", Option: "S"}, {Key: "tskjorte", Option: "M"}}, "addons[1].key", privacy.CodeDuplicate},
	} {
		_, err := f.signupWith(ctx, tc.category, "x", tc.addons...)
		var errs privacy.Errors
		if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Field != tc.field || errs[0].Code != tc.code {
			t.Errorf("%s with %+v: %v, want %s %s", tc.category, tc.addons, err, tc.field, tc.code)
		}
	}
}
