package events_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/events/eventstest"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/mongodb/mongotest"
	"github.com/pamelding/pamelding/privacy"
)

func ptr[T any](v T) *T { return &v }

func mustCreate(tb testing.TB, s *events.Service, slug string, capacity int) *events.Event {
	tb.Helper()
	e, err := s.Create(context.Background(), eventstest.Request(slug, events.Settings{Kind: events.Race, Title: privacy.Text{NB: "Løp", EN: "Race"},
		StartsAt: time.Now().Add(48 * time.Hour), EndsAt: time.Now().Add(50 * time.Hour),
		Capacity:  capacity,
		Fields:    []events.FormField{{Key: "name", Required: true}, {Key: "email", Required: true}},
		Organiser: events.Organiser{Name: "Klubben", PrivacyEmail: "personvern@example.no"},
	}), "test")
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func TestPatchCapacity(t *testing.T) {
	ctx := context.Background()
	db := mongotest.Open(t)
	s := events.NewService(db, time.Now)
	mustCreate(t, s, "race", 100)
	// 90 seats are taken (as registrations would take them).
	if _, err := db.Collection(mongodb.Events).UpdateOne(ctx, bson.M{"slug": "race"}, bson.M{"$inc": bson.M{"seatsLeft": -90}}); err != nil {
		t.Fatal(err)
	}

	t.Run("ErrCapacityBelowTaken", func(t *testing.T) {
		_, err := s.Patch(ctx, "race", events.PatchRequest{Capacity: ptr(80)})
		if !errors.Is(err, events.ErrCapacityBelowTaken) {
			t.Fatalf("err = %v", err)
		}
		e, _ := s.Get(ctx, "race")
		if e.Capacity != 100 || e.SeatsLeft != 10 {
			t.Errorf("capacity %d, seats left %d after a refused patch", e.Capacity, e.SeatsLeft)
		}
	})
	t.Run("OK", func(t *testing.T) {
		e, err := s.Patch(ctx, "race", events.PatchRequest{Capacity: ptr(95)})
		if err != nil {
			t.Fatal(err)
		}
		if e.Capacity != 95 || e.SeatsLeft != 5 {
			t.Errorf("capacity %d, seats left %d", e.Capacity, e.SeatsLeft)
		}
	})
}

// TestPatchConcurrent: concurrent patches of the capacity and concurrent
// seat claims never lose a seat: capacity minus seats left equals the
// seats taken.
func TestPatchConcurrent(t *testing.T) {
	ctx := context.Background()
	db := mongotest.Open(t)
	s := events.NewService(db, time.Now)
	mustCreate(t, s, "race", 1000)
	c := db.Collection(mongodb.Events)

	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := 0
	for i := range 20 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := s.Patch(ctx, "race", events.PatchRequest{Capacity: ptr(1000 + i)})
			if err != nil && !errors.Is(err, events.ErrConflict) {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			ok, err := c.UpdateOne(ctx, bson.M{"slug": "race", "seatsLeft": bson.M{"$gt": 0}}, bson.M{"$inc": bson.M{"seatsLeft": -1}})
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				taken++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	e, err := s.Get(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	if e.Capacity-e.SeatsLeft != taken {
		t.Errorf("capacity %d - seats left %d != %d seats taken", e.Capacity, e.SeatsLeft, taken)
	}
}

func TestRegistrationWindow(t *testing.T) {
	db := mongotest.Open(t)
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	s := events.NewService(db, func() time.Time { return now })
	e, err := s.Create(context.Background(), eventstest.Request("course", events.Settings{Kind: events.Course, Title: privacy.Text{NB: "Kurs", EN: "Course"},
		StartsAt: now.Add(72 * time.Hour), EndsAt: now.Add(75 * time.Hour), Capacity: 10,
		Fields:    []events.FormField{{Key: "email", Required: true}},
		Organiser: events.Organiser{Name: "K", PrivacyEmail: "p@example.no"},
	}), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		open bool
	}{
		{now.Add(-time.Second), false},
		{now, true},
		{now.Add(71 * time.Hour), true},
		{now.Add(72 * time.Hour), false},
	} {
		if got := e.RegistrationOpen(tc.at); got != tc.open {
			t.Errorf("open at %v = %v, want %v", tc.at, got, tc.open)
		}
	}
}

func TestValidOrgNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"923609016": true, "974760673": true, "923609017": false, "12345678": false, "92360901a": false,
	} {
		if got := privacy.ValidOrgNumber(s); got != want {
			t.Errorf("ValidOrgNumber(%q) = %v", s, got)
		}
	}
}
