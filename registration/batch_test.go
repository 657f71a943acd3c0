package registration_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestGroupCommit: sign-ups arriving together are written in groups,
// and each still gets its own answer: the same submission sent twice at
// once is one registration with one id; a full category refuses exactly
// those beyond its seats while the others' sign-ups in the same groups
// go through; nothing is oversold and the counts agree with the store.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.twoCategories(t, false, events.Category{Key: "liten", Name: privacy.Text{NB: "Liten", EN: "Small"}, Capacity: 2})
	var inserts atomic.Int64
	f.db.InjectFaults(func(coll, op string) mongodb.Fault {
		if coll == mongodb.Registrations && op == "insert" {
			inserts.Add(1)
		}
		return mongodb.NoFault
	})
	defer f.db.InjectFaults(nil)

	type answer struct {
		kind string // "dup", "liten", "dag"
		key  int
		res  *registration.Result
		err  error
	}
	var mu sync.Mutex
	var answers []answer
	var wg sync.WaitGroup
	send := func(kind string, key int, r registration.SignupRequest) {
		wg.Go(func() {
			res, err := f.app.Signups.Signup(ctx, "konf", r, registration.API)
			mu.Lock()
			answers = append(answers, answer{kind, key, res, err})
			mu.Unlock()
		})
	}
	for i := range 40 {
		who := fmt.Sprintf("d%d", i)
		send("dag", i, registration.SignupRequest{Category: "dag", Fields: map[string]string{"name": who, "email": who + "@example.no"}})
	}
	for i := range 10 {
		who := fmt.Sprintf("l%d", i)
		send("liten", i, registration.SignupRequest{Category: "liten", Fields: map[string]string{"name": who, "email": who + "@example.no"}})
	}
	for i := range 10 {
		who := fmt.Sprintf("s%d", i)
		r := registration.SignupRequest{Category: "full", SubmissionKey: "form-" + who, Fields: map[string]string{"name": who, "email": who + "@example.no"}}
		send("dup", i, r)
		send("dup", i, r)
	}
	wg.Wait()

	ids := map[int]string{}
	var dag, liten, litenFull int
	for _, a := range answers {
		var so *events.SoldOutError
		switch {
		case a.kind == "liten" && errors.As(a.err, &so):
			if so.Category != "liten" {
				t.Errorf("a small ticket refused for %q", so.Category)
			}
			litenFull++
		case a.err != nil:
			t.Errorf("%s %d: %v", a.kind, a.key, a.err)
		case a.res.Status != registration.Confirmed:
			t.Errorf("%s %d: %s", a.kind, a.key, a.res.Status)
		case a.kind == "dup":
			if prev, ok := ids[a.key]; ok && prev != a.res.ID {
				t.Errorf("submission %d answered with two registrations: %s, %s", a.key, prev, a.res.ID)
			}
			ids[a.key] = a.res.ID
		case a.kind == "dag":
			dag++
		case a.kind == "liten":
			liten++
		}
	}
	if dag != 40 || liten != 2 || litenFull != 8 || len(ids) != 10 {
		t.Errorf("confirmed: dag %d (want 40), liten %d (want 2), liten refused %d (want 8), submissions %d (want 10)", dag, liten, litenFull, len(ids))
	}
	held := f.heldIn(t)
	ev, _ := f.ev.Get(ctx, "konf")
	if held["dag"] != 40 || held["liten"] != 2 || held["full"] != 10 || ev.SeatsLeft != 80-52 ||
		ev.Quota["dag"].Taken != 40 || ev.Quota["liten"].Taken != 2 || ev.Quota["full"].Taken != 10 {
		t.Errorf("store holds %v; event seats left %d, quota %+v", held, ev.SeatsLeft, ev.Quota)
	}
	// 70 sign-ups, 52 registrations stored: fewer inserts than that means
	// they went in groups.
	if n := inserts.Load(); n == 0 || n >= 52 {
		t.Errorf("%d inserts of registrations for 52 stored: no group commit", n)
	}
	t.Logf("%d inserts for 52 registrations", inserts.Load())
}

// TestGroupClosedMeanwhile: a sign-up checked while registration was
// open, whose group is written after the event was cancelled (or is
// being erased), is refused: the group reads the event afresh, and
// nothing is stored or claimed.
func TestGroupClosedMeanwhile(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var once sync.Once
	cancelled := false
	f.db.InjectFaults(func(coll, op string) mongodb.Fault {
		// The sign-up counts the address's other registrations after it
		// was checked and before its group is written.
		if coll == mongodb.Registrations && op == "count" {
			once.Do(func() {
				ok, err := f.ev.Cancel(ctx, "gala")
				cancelled = ok && err == nil
			})
		}
		return mongodb.NoFault
	})
	defer f.db.InjectFaults(nil)
	_, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{Fields: map[string]string{"name": "Kari", "email": "kari@example.no"}}, registration.API)
	if !cancelled {
		t.Fatal("precondition: the event was not cancelled between check and commit")
	}
	if !errors.Is(err, registration.ErrRegistrationClosed) {
		t.Errorf("err = %v, want registration closed", err)
	}
	ev, _ := f.ev.Get(ctx, "gala")
	if n, _ := f.db.Collection(mongodb.Registrations).Count(ctx, bson.M{"event": "gala"}); n != 0 || ev.SeatsLeft != ev.Capacity {
		t.Errorf("%d registrations stored, %d of %d seats left", n, ev.SeatsLeft, ev.Capacity)
	}
}
