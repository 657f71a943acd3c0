package registration_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/events/eventstest"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// twoCategories makes the event "konf" of 80 seats that sells a full
// ticket (50 seats) and a day ticket (50 seats), with a waiting list if
// waitlist.
func (f *fixture) twoCategories(t *testing.T, waitlist bool, more ...events.Category) *events.Event {
	t.Helper()
	cats := append([]events.Category{
		{Key: "full", Name: privacy.Text{NB: "Full billett", EN: "Full ticket"}, Capacity: 50},
		{Key: "dag", Name: privacy.Text{NB: "Dagsbillett", EN: "Day ticket"}, Capacity: 50},
	}, more...)
	ev, err := f.ev.Create(context.Background(), eventstest.Request("konf", events.Settings{Kind: events.Conference, Title: privacy.Text{NB: "Konferanse", EN: "Conference"},
		StartsAt: f.now.Add(30 * 24 * time.Hour), EndsAt: f.now.Add(31 * 24 * time.Hour), Capacity: 80, Waitlist: waitlist,
		Fields:     []events.FormField{{Key: "name", Required: true}, {Key: "email", Required: true}},
		Organiser:  events.Organiser{Name: "Janteloppet AS", PrivacyEmail: "personvern@example.no"},
		Categories: cats,
	}), "test")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func (f *fixture) signupIn(ctx context.Context, slug, category, who string) (*registration.Result, error) {
	return f.app.Signups.Signup(ctx, slug, registration.SignupRequest{Category: category,
		Fields: map[string]string{"name": who, "email": who + "@example.no"}}, registration.API)
}

// heldIn counts the registrations of konf holding a seat, per category.
func (f *fixture) heldIn(t *testing.T) map[string]int {
	t.Helper()
	var regs []struct {
		Category string `bson:"category"`
	}
	if err := f.db.Collection(mongodb.Registrations).All(context.Background(), bson.M{"event": "konf", "seat": true}, &regs); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range regs {
		out[r.Category]++
	}
	return out
}

// TestCategoryRush: 64 clients race for two categories of 50 seats inside
// an event of 80. Neither category nor the event is oversold, and the
// counts on the event agree with the registrations holding seats.
func TestCategoryRush(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.twoCategories(t, false)

	var mu sync.Mutex
	confirmed := map[string]int{}
	fullIn := map[string]int{}
	var wg sync.WaitGroup
	for c := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3 {
				cat := []string{"full", "dag"}[(c+i)%2]
				res, err := f.signupIn(ctx, "konf", cat, fmt.Sprintf("p%d-%d", c, i))
				mu.Lock()
				var so *events.SoldOutError
				switch {
				case err == nil && res.Status == registration.Confirmed:
					confirmed[cat]++
				case errors.As(err, &so):
					fullIn[so.Category]++
				default:
					t.Errorf("sign-up in %s: %v %+v", cat, err, res)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	// 192 tries, 96 per category: the event's 80 seats all sell, no more,
	// and neither category beyond its 50.
	if total := confirmed["full"] + confirmed["dag"]; total != 80 || confirmed["full"] > 50 || confirmed["dag"] > 50 {
		t.Fatalf("confirmed %v (want 80 in all, at most 50 each)", confirmed)
	}
	if fullIn[""]+fullIn["full"]+fullIn["dag"] != 192-80 {
		t.Errorf("refusals %v", fullIn)
	}
	ev, _ := f.ev.Get(ctx, "konf")
	held := f.heldIn(t)
	if ev.SeatsLeft != 0 || ev.Quota["full"].Taken != held["full"] || ev.Quota["dag"].Taken != held["dag"] || held["full"] != confirmed["full"] {
		t.Errorf("event counts left %d, quota %+v; registrations hold %v", ev.SeatsLeft, ev.Quota, held)
	}
}

// TestCategoryRules: what decides whether a category can be bought, and
// at which price.
func TestCategoryRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	early := f.now.Add(24 * time.Hour)
	f.twoCategories(t, false,
		events.Category{Key: "tidlig", Name: privacy.Text{NB: "Tidligbillett", EN: "Early bird"}, SaleUntil: &early},
		events.Category{Key: "senere", Name: privacy.Text{NB: "Etternøler", EN: "Late"}, SaleFrom: &early},
		events.Category{Key: "partner", Name: privacy.Text{NB: "Partnergjest", EN: "Partner guest"}, Visibility: events.CodeOnly},
	)
	for _, tc := range []struct {
		category, code string
	}{
		{"", privacy.CodeRequired},
		{"ukjent", registration.CodeNotOnSale},
		{"senere", registration.CodeNotOnSale},  // not yet
		{"partner", registration.CodeNotOnSale}, // only with a code
	} {
		_, err := f.signupIn(ctx, "konf", tc.category, "x")
		var errs privacy.Errors
		if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Field != "category" || errs[0].Code != tc.code {
			t.Errorf("category %q: %v, want category %s", tc.category, err, tc.code)
		}
	}
	if res, err := f.signupIn(ctx, "konf", "tidlig", "early"); err != nil || res.Status != registration.Confirmed {
		t.Fatalf("early bird: %v", err)
	}
	f.now = early
	if _, err := f.signupIn(ctx, "konf", "tidlig", "late"); err == nil {
		t.Error("early bird sold after its sale ended")
	}
	if _, err := f.signupIn(ctx, "konf", "senere", "late"); err != nil {
		t.Errorf("late ticket once on sale: %v", err)
	}
	// The public view shows neither the code-only category nor hides the
	// others.
	ev, _ := f.ev.Get(ctx, "konf")
	var keys []string
	for _, c := range ev.Public().Categories {
		keys = append(keys, c.Key)
	}
	if fmt.Sprint(keys) != "[full dag tidlig senere]" {
		t.Errorf("public categories %v", keys)
	}
}

// TestCategoryWaitlist: a seat freed in a category goes to the first on
// that category's waiting list, even if someone waiting for another
// category came first; with nobody waiting in it, the seat goes back to
// the event and the first other category that can take it.
func TestCategoryWaitlist(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.twoCategories(t, true)
	full := make([]*registration.Result, 0, 50)
	for i := range 50 {
		res, err := f.signupIn(ctx, "konf", "full", fmt.Sprint("full", i))
		if err != nil {
			t.Fatal(err)
		}
		full = append(full, res)
	}
	for i := range 30 {
		if _, err := f.signupIn(ctx, "konf", "dag", fmt.Sprint("dag", i)); err != nil {
			t.Fatal(err)
		}
	}
	// The event is full: one waits for a day ticket, then one for a full.
	waitDay, err := f.signupIn(ctx, "konf", "dag", "waitday")
	if err != nil || waitDay.Status != registration.Waitlisted {
		t.Fatalf("day waiter: %v %+v", err, waitDay)
	}
	waitFull, err := f.signupIn(ctx, "konf", "full", "waitfull")
	if err != nil || waitFull.Status != registration.Waitlisted {
		t.Fatalf("full waiter: %v %+v", err, waitFull)
	}

	// A full ticket is cancelled: its seat goes to the full waiter.
	reg, _ := f.app.Signups.Get(ctx, "konf", full[0].ID)
	if _, err := f.app.Signups.Cancel(ctx, reg, false); err != nil {
		t.Fatal(err)
	}
	if got := f.status(t, waitFull.ID); got != registration.Offered {
		t.Errorf("full waiter %s, want offered", got)
	}
	if got := f.status(t, waitDay.ID); got != registration.Waitlisted {
		t.Errorf("day waiter %s, want still waiting", got)
	}
	// Another full ticket is cancelled, with nobody waiting for one: the
	// event's seat goes to the day waiter.
	reg, _ = f.app.Signups.Get(ctx, "konf", full[1].ID)
	if _, err := f.app.Signups.Cancel(ctx, reg, false); err != nil {
		t.Fatal(err)
	}
	if got := f.status(t, waitDay.ID); got != registration.Offered {
		t.Errorf("day waiter %s, want offered", got)
	}
	ev, _ := f.ev.Get(ctx, "konf")
	held := f.heldIn(t)
	if ev.SeatsLeft != 0 || ev.Quota["full"].Taken != held["full"] || ev.Quota["dag"].Taken != held["dag"] || held["full"] != 49 || held["dag"] != 31 {
		t.Errorf("left %d quota %+v, held %v", ev.SeatsLeft, ev.Quota, held)
	}
}

func (f *fixture) status(t *testing.T, id string) registration.Status {
	t.Helper()
	reg, err := f.app.Domain.Store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return reg.Status
}

// TestCategoryPatch: a category's capacity cannot go below its seats
// taken, nor can a category holding seats be removed; the recount
// repairs a category's count a lost answer left wrong.
func TestCategoryPatch(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ev := f.twoCategories(t, false)
	for i := range 10 {
		if _, err := f.signupIn(ctx, "konf", "full", fmt.Sprint("p", i)); err != nil {
			t.Fatal(err)
		}
	}
	cats := func(fullCap int, keys ...string) *[]events.Category {
		var out []events.Category
		for _, c := range ev.Categories {
			if c.Key == "full" {
				c.Capacity = fullCap
			}
			for _, k := range keys {
				if c.Key == k {
					out = append(out, c)
				}
			}
		}
		return &out
	}
	if _, err := f.ev.Patch(ctx, "konf", events.PatchRequest{Categories: cats(9, "full", "dag")}, nil); !errors.Is(err, events.ErrCapacityBelowTaken) {
		t.Errorf("full to 9 below 10 taken: %v", err)
	}
	if _, err := f.ev.Patch(ctx, "konf", events.PatchRequest{Categories: cats(50, "dag")}, nil); !errors.Is(err, events.ErrCategoryInUse) {
		t.Errorf("removing full with 10 taken: %v", err)
	}
	if _, err := f.ev.Patch(ctx, "konf", events.PatchRequest{Categories: cats(90, "full", "dag")}, nil); err == nil {
		t.Error("a category above the event's capacity accepted")
	}
	got, err := f.ev.Patch(ctx, "konf", events.PatchRequest{Categories: cats(10, "full")}, nil)
	if err != nil {
		t.Fatalf("full to 10, day removed: %v", err)
	}
	if q := got.Quota["full"]; q.Capacity != 10 || q.Taken != 10 || len(got.Quota) != 1 {
		t.Errorf("quota %+v", got.Quota)
	}
	var so *events.SoldOutError
	if _, err := f.signupIn(ctx, "konf", "full", "one-more"); !errors.As(err, &so) || so.Category != "full" {
		t.Errorf("11th full ticket: %v", err)
	}

	// A seat claimed whose registration was never stored (a crash): the
	// recount gives it back to the category too.
	if _, err := f.db.Collection(mongodb.Events).UpdateOne(ctx, bson.M{"_id": "konf"}, bson.M{"$inc": bson.M{"seatsLeft": -1, "quota.full.taken": 1}}); err != nil {
		t.Fatal(err)
	}
	f.recount(t)
	ev, _ = f.ev.Get(ctx, "konf")
	if ev.Quota["full"].Taken != 10 || ev.SeatsLeft != 70 {
		t.Errorf("after the recount: taken %d, left %d", ev.Quota["full"].Taken, ev.SeatsLeft)
	}
}

// TestMoveCategory: staff move a participant between categories of one
// price. The seat moves in one update of the event (a sold-out event
// still lets people move), never into a full category, never between
// prices; a move read before another one changes nothing, and the counts
// on the event always agree with the registrations.
func TestMoveCategory(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.twoCategories(t, true,
		events.Category{Key: "liten", Name: privacy.Text{NB: "Liten", EN: "Small"}, Capacity: 1},
		events.Category{Key: "dyr", Name: privacy.Text{NB: "Dyr", EN: "Dear"}, Price: 100_00})
	var dag []string
	for i := range 50 {
		res, err := f.signupIn(ctx, "konf", "dag", fmt.Sprintf("d%d", i))
		if err != nil {
			t.Fatal(err)
		}
		dag = append(dag, res.ID)
	}
	if _, err := f.signupIn(ctx, "konf", "liten", "l0"); err != nil {
		t.Fatal(err)
	}
	for i := range 29 {
		if _, err := f.signupIn(ctx, "konf", "full", fmt.Sprintf("f%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// The event is sold out; one waits for a day ticket.
	waiting, err := f.signupIn(ctx, "konf", "dag", "w0")
	if err != nil || waiting.Status != registration.Waitlisted {
		t.Fatalf("81st sign-up: %v %+v", err, waiting)
	}
	counts := func(full, day, small int) {
		t.Helper()
		ev, _ := f.ev.Get(ctx, "konf")
		held := f.heldIn(t)
		if ev.SeatsLeft != 0 || ev.Quota["full"].Taken != full || ev.Quota["dag"].Taken != day || ev.Quota["liten"].Taken != small ||
			held["full"] != full || held["dag"] != day || held["liten"] != small {
			t.Fatalf("seats left %d, quota %+v, held %v; want full %d, dag %d, liten %d", ev.SeatsLeft, ev.Quota, held, full, day, small)
		}
	}
	counts(29, 50, 1)

	reg, err := f.app.Signups.Get(ctx, "konf", dag[0])
	if err != nil {
		t.Fatal(err)
	}
	stale := *reg
	moved, err := f.app.Signups.Move(ctx, reg, "full")
	if err != nil || moved.Category != "full" || moved.Status != registration.Confirmed {
		t.Fatalf("move to full: %v %+v", err, moved)
	}
	counts(30, 49, 1)
	// The event has no seat left, so the day ticket freed is nobody's yet.
	if w, _ := f.app.Signups.Get(ctx, "konf", waiting.ID); w.Status != registration.Waitlisted {
		t.Errorf("waiting participant is %s in a sold-out event", w.Status)
	}

	refusals := []struct {
		reg  *registration.Registration
		to   string
		want error
	}{
		{&stale, "full", registration.ErrMoveNotAllowed}, // moved meanwhile
		{moved, "full", registration.ErrMoveNotAllowed},  // already there
		{moved, "nope", registration.ErrMoveNotAllowed},  // no such category
		{moved, "dyr", registration.ErrPriceDiffers},
		{moved, "liten", events.ErrSoldOut},
	}
	for _, r := range refusals {
		if _, err := f.app.Signups.Move(ctx, r.reg, r.to); !errors.Is(err, r.want) {
			t.Errorf("move %s to %s: %v, want %v", r.reg.Category, r.to, err, r.want)
		}
		counts(30, 49, 1)
	}
	if now, _ := f.app.Signups.Get(ctx, "konf", dag[0]); now.Category != "full" {
		t.Errorf("after refusals the registration is in %q", now.Category)
	}

	// Cancelled, a registration cannot move; its seat went to the one waiting.
	w, _ := f.app.Signups.Get(ctx, "konf", dag[1])
	if _, err := f.app.Signups.Cancel(ctx, w, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Signups.Move(ctx, w, "full"); !errors.Is(err, registration.ErrMoveNotAllowed) {
		t.Errorf("move of a cancelled registration: %v", err)
	}
	if w, _ := f.app.Signups.Get(ctx, "konf", waiting.ID); w.Status != registration.Offered {
		t.Errorf("waiting participant is %s after a day ticket was cancelled", w.Status)
	}
}
