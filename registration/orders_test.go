package registration_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/registration"
)

// order is n participants of category cat (n ≤ 4), bought by one buyer.
func order(tag, cat string, n int) registration.OrderRequest {
	r := registration.OrderRequest{Buyer: map[string]string{"name": "Kjøper " + tag, "email": tag + "@kjoper.example.no"}}
	for i := range n {
		who := fmt.Sprintf("%s-%d", tag, i)
		r.Participants = append(r.Participants, registration.ParticipantRequest{Category: cat,
			Fields: map[string]string{"name": who, "email": who + "@example.no"}})
	}
	return r
}

// TestOrderRush: 64 clients race with orders of 1 to 4 participants for
// two categories of 50 inside an event of 80. Every order is all or
// nothing, neither category nor the event is oversold, and the counts on
// the event agree with the registrations holding seats.
func TestOrderRush(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.twoCategories(t, false)
	var inserts atomic.Int64
	f.db.InjectFaults(func(coll, op string) mongodb.Fault {
		if coll == mongodb.Registrations && op == "insert" {
			inserts.Add(1)
		}
		return mongodb.NoFault
	})
	defer f.db.InjectFaults(nil)

	var mu sync.Mutex
	placed := map[string]int{} // seats, by category
	orders, refused := 0, 0
	var wg sync.WaitGroup
	for c := range 64 {
		wg.Go(func() {
			for i := range 3 {
				cat := []string{"full", "dag"}[(c+i)%2]
				n := 1 + (c+i)%4
				res, err := f.app.Signups.Order(ctx, "konf", order(fmt.Sprintf("c%d-%d", c, i), cat, n), registration.API)
				mu.Lock()
				switch {
				case err == nil && res.Status == registration.OrderPlaced && len(res.Participants) == n:
					placed[cat] += n
					orders++
				case errors.Is(err, events.ErrSoldOut):
					refused++
				default:
					t.Errorf("order of %d in %s: %v %+v", n, cat, err, res)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	if total := placed["full"] + placed["dag"]; total > 80 || total < 77 || placed["full"] > 50 || placed["dag"] > 50 {
		t.Fatalf("placed %v: more than 80 in all or 50 in one, or seats left that an order of one could take", placed)
	}
	if orders+refused != 192 || orders == 0 || refused == 0 {
		t.Errorf("%d orders placed, %d refused, of 192", orders, refused)
	}
	// An order's registrations go in one insert.
	if n := inserts.Load(); n != int64(orders) || placed["full"]+placed["dag"] <= orders {
		t.Errorf("%d inserts of registrations for %d orders of %d participants", n, orders, placed["full"]+placed["dag"])
	}
	// All or nothing: the registrations are exactly the placed orders'
	// participants, each order whole.
	var regs []struct {
		Order string `bson:"order"`
	}
	if err := f.db.Collection(mongodb.Registrations).All(ctx, bson.M{"event": "konf"}, &regs); err != nil {
		t.Fatal(err)
	}
	byOrder := map[string]int{}
	for _, r := range regs {
		byOrder[r.Order]++
	}
	var os []registration.Order
	if err := f.db.Collection(mongodb.Orders).All(ctx, bson.M{"event": "konf"}, &os); err != nil {
		t.Fatal(err)
	}
	nPlaced := 0
	for _, o := range os {
		switch {
		case o.Status == registration.OrderPlaced:
			nPlaced++
			if byOrder[o.ID] != len(o.Participants) {
				t.Errorf("placed order %s: %d of %d registrations", o.ID, byOrder[o.ID], len(o.Participants))
			}
		case byOrder[o.ID] != 0:
			t.Errorf("%s order %s kept %d registrations", o.Status, o.ID, byOrder[o.ID])
		}
	}
	if nPlaced != orders || len(regs) != placed["full"]+placed["dag"] {
		t.Errorf("%d placed orders stored for %d answered; %d registrations for %d seats", nPlaced, orders, len(regs), placed["full"]+placed["dag"])
	}
	ev, _ := f.ev.Get(ctx, "konf")
	held := f.heldIn(t)
	if ev.Capacity-ev.SeatsLeft != len(regs) || ev.Quota["full"].Taken != held["full"] || ev.Quota["dag"].Taken != held["dag"] {
		t.Errorf("event counts left %d, quota %+v; registrations hold %v", ev.SeatsLeft, ev.Quota, held)
	}
}

// TestOrderCodeRedeemedExactly: a code of 10 uses, raced by 100
// concurrent orders of one: exactly 10 are placed with it.
func TestOrderCodeRedeemedExactly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.twoCategories(t, false)
	if _, err := f.ev.CreateCode(ctx, "konf", events.CodeRequest{Code: "PARTNER", Percent: 100, MaxUses: 10}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	used, refused := 0, 0
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			r := order(fmt.Sprintf("k%d", i), []string{"full", "dag"}[i%2], 1)
			r.Code = "partner"
			_, err := f.app.Signups.Order(ctx, "konf", r, registration.API)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				used++
			case errors.Is(err, events.ErrCodeUsedUp):
				refused++
			default:
				t.Errorf("order: %v", err)
			}
		})
	}
	wg.Wait()
	if used != 10 || refused != 90 {
		t.Fatalf("%d orders with the code, %d refused; want 10 and 90", used, refused)
	}
	if n, _ := f.db.Collection(mongodb.Registrations).Count(ctx, bson.M{"event": "konf"}); n != 10 {
		t.Errorf("%d registrations, want 10", n)
	}
}

// TestOrderSweep: an order whose request died before placing it is
// aborted by the sweep once its window ran out, and what it inserted is
// deleted; the recount then gives its seats back.
func TestOrderSweep(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.twoCategories(t, false)
	// The answer to the insert of the order's registrations (one insert
	// for all four) is lost: the order is undone at once, the
	// registrations written included.
	var inserts atomic.Int32
	f.db.InjectFaults(func(coll, op string) mongodb.Fault {
		if coll == mongodb.Registrations && op == "insert" && inserts.Add(1) == 1 {
			return mongodb.FailAfter // committed, answer lost
		}
		return mongodb.NoFault
	})
	_, err := f.app.Signups.Order(ctx, "konf", order("x", "full", 4), registration.API)
	f.db.InjectFaults(nil)
	if err == nil {
		t.Fatal("an order whose insert failed was placed")
	}
	if inserts.Load() != 1 {
		t.Fatalf("precondition: %d inserts of registrations, want the one whose answer was lost", inserts.Load())
	}
	if n, _ := f.db.Collection(mongodb.Registrations).Count(ctx, bson.M{"event": "konf"}); n != 0 {
		t.Errorf("%d registrations kept of a failed order", n)
	}
	ev, _ := f.ev.Get(ctx, "konf")
	if ev.SeatsLeft != 80 || ev.Quota["full"].Taken != 0 {
		t.Errorf("seats not given back: left %d, quota %+v", ev.SeatsLeft, ev.Quota)
	}

	// An order left open (its request died mid-way): two registrations
	// in, the order never placed.
	if _, err := f.ev.CreateCode(ctx, "konf", events.CodeRequest{Code: "SWEEP", Percent: 10, MaxUses: 5}); err != nil {
		t.Fatal(err)
	}
	withCode := order("y", "dag", 2)
	withCode.Code, withCode.SubmissionKey = "sweep", "key-1"
	res, err := f.app.Signups.Order(ctx, "konf", withCode, registration.API)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Collection(mongodb.Orders).UpdateOne(ctx, bson.M{"_id": res.ID}, bson.M{"$set": bson.M{"status": registration.OrderOpen}}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.app.Signups.SweepOrders(ctx); err != nil || n != 0 {
		t.Fatalf("swept %d (%v) before the window ran out", n, err)
	}
	f.now = f.now.Add(2 * time.Minute)
	if n, err := f.app.Signups.SweepOrders(ctx); err != nil || n != 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
	if n, _ := f.db.Collection(mongodb.Registrations).Count(ctx, bson.M{"order": res.ID}); n != 0 {
		t.Errorf("%d registrations of an aborted order kept", n)
	}
	used := func() int {
		cs, err := f.ev.Codes(ctx, "konf")
		if err != nil || len(cs) != 1 {
			t.Fatalf("codes %v %v", cs, err)
		}
		return cs[0].Used
	}
	if u := used(); u != 0 {
		t.Errorf("the aborted order's code uses were not given back: %d used", u)
	}
	if n, err := f.app.Signups.SweepOrders(ctx); err != nil || n != 0 {
		t.Errorf("a second sweep handled %d (%v)", n, err)
	}
	// The same submission key again: a new order, not the aborted one.
	again, err := f.app.Signups.Order(ctx, "konf", withCode, registration.API)
	if err != nil || again.Resubmitted || again.ID == res.ID || len(again.Participants) != 2 || used() != 2 {
		t.Errorf("retry after an abort: %v %+v", err, again)
	}

	if _, err := f.app.Signups.RecountSeats(ctx, true); err != nil {
		t.Fatal(err)
	}
	ev, _ = f.ev.Get(ctx, "konf")
	if ev.SeatsLeft != 78 || ev.Quota["dag"].Taken != 2 {
		t.Errorf("recount: left %d, quota %+v (the retried order holds 2)", ev.SeatsLeft, ev.Quota)
	}
}
