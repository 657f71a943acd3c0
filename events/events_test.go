package events_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
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
		_, err := s.Patch(ctx, "race", events.PatchRequest{Capacity: ptr(80)}, nil)
		if !errors.Is(err, events.ErrCapacityBelowTaken) {
			t.Fatalf("err = %v", err)
		}
		e, _ := s.Get(ctx, "race")
		if e.Capacity != 100 || e.SeatsLeft != 10 {
			t.Errorf("capacity %d, seats left %d after a refused patch", e.Capacity, e.SeatsLeft)
		}
	})
	t.Run("OK", func(t *testing.T) {
		e, err := s.Patch(ctx, "race", events.PatchRequest{Capacity: ptr(95)}, nil)
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
			_, err := s.Patch(ctx, "race", events.PatchRequest{Capacity: ptr(1000 + i)}, nil)
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

// full is an event with every setting away from its default.
func full() events.Settings {
	at := time.Date(2027, 3, 4, 9, 0, 0, 0, time.UTC)
	return events.Settings{
		Kind: events.Conference, Title: privacy.Text{NB: "Janteloppet", EN: "Jante run"}, Venue: "Kongsvinger",
		StartsAt: at, EndsAt: at.Add(8 * time.Hour), RegistrationOpensAt: at.Add(-60 * 24 * time.Hour), RegistrationClosesAt: at.Add(-time.Hour),
		Capacity: 300, Waitlist: true, GuardianAge: 16, Price: events.Price{Amount: 150000, Currency: "NOK"}, VATRate: 25,
		RefundDeadline: at.Add(-7 * 24 * time.Hour), PrefillEmail: true,
		Fields:       []events.FormField{{Key: "name", Required: true}, {Key: "email", Required: true}, {Key: "organisation"}},
		CustomFields: []privacy.Field{},
		Partners:     []events.Partner{{ID: "sparebank", Name: "Sparebanken Øst"}},
		Organiser:    events.Organiser{Name: "Janteloppet AS", OrgNumber: "923609016", PrivacyEmail: "personvern@example.no"},
		PublicList:   true, Notes: "staff only",
		Categories: []events.Category{{Key: "full", Name: privacy.Text{NB: "Full", EN: "Full"}, Price: 150000, VATRate: 25, Capacity: 200, Visibility: events.PublicSale}},
	}
}

// changed is a new valid value for each member of a patch, by name.
func changed() map[string]any {
	at := time.Date(2027, 3, 5, 9, 0, 0, 0, time.UTC)
	custom := []privacy.CustomFieldSpec{eventstest.Spec(privacy.Field{
		Key: "shirt", Label: privacy.Text{NB: "T-skjorte", EN: "T-shirt"}, Category: privacy.Professional, LegalBasis: privacy.Contract,
		Purposes: []privacy.Purpose{"registration"}, Recipients: []privacy.Recipient{}, Retention: privacy.MustRetention("event_end+30d"),
		Validation: privacy.Validation{Kind: privacy.KindText, MaxLength: 10},
	})}
	return map[string]any{
		"Kind": events.Course, "Title": privacy.Text{NB: "Kurs", EN: "Course"}, "Venue": "Hamar",
		"StartsAt": at.Add(-23 * time.Hour), "EndsAt": at, "RegistrationOpensAt": at.Add(-90 * 24 * time.Hour),
		"RegistrationClosesAt": at.Add(-26 * time.Hour), "Capacity": 350, "Waitlist": false, "GuardianAge": 15,
		"Price": events.Price{Amount: 99000, Currency: "NOK"}, "VATRate": 12, "RefundDeadline": at.Add(-2 * 24 * time.Hour),
		"PrefillEmail": false, "Fields": []events.FormField{{Key: "name", Required: true}, {Key: "email", Required: true}},
		"CustomFields": custom, "Partners": []events.Partner{{ID: "kommune", Name: "Kongsvinger kommune"}},
		"Organiser":  events.Organiser{Name: "Kurs AS", PrivacyEmail: "p@example.no", Email: "kurs@example.no", EmbedOrigins: []string{"https://kurs.example.no"}},
		"PublicList": false, "Notes": "other notes", "TermsURL": "https://kurs.example.no/vilkar", "ReminderDays": 3,
		"Categories":  []events.Category{{Key: "dag", Name: privacy.Text{NB: "Dag", EN: "Day"}, Price: 50000, VATRate: 12, Visibility: events.CodeOnly}},
		"Description": privacy.Text{NB: "Program: https://example.no", EN: "Programme: https://example.no"},
		"Addons":      []events.Addon{{Key: "middag", Name: privacy.Text{NB: "Middag", EN: "Dinner"}, Price: 60000, VATRate: 25, Capacity: 100, Options: []string{}, Categories: []string{}}},
	}
}

// TestPatch: a patch is applied to the event and the result checked, so
// an empty patch changes nothing and a patch naming one member changes
// that member only. (PATCH without prefillEmail used to reset it.)
func TestPatch(t *testing.T) {
	ctx := context.Background()
	db := mongotest.Open(t)
	s := events.NewService(db, func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) })
	values := changed()
	patchType := reflect.TypeFor[events.PatchRequest]()
	settingsType := reflect.TypeFor[events.Settings]()
	for i := range settingsType.NumField() {
		name := settingsType.Field(i).Name
		if _, ok := patchType.FieldByName(name); !ok {
			t.Errorf("setting %s cannot be patched", name)
		}
		if _, ok := values[name]; !ok {
			t.Errorf("no changed value for %s in this test", name)
		}
	}

	t.Run("OKEmpty", func(t *testing.T) {
		prev, err := s.Create(ctx, eventstest.Request("empty", full()), "test")
		if err != nil {
			t.Fatal(err)
		}
		next, err := s.Patch(ctx, "empty", events.PatchRequest{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := s.Get(ctx, "empty")
		if !reflect.DeepEqual(prev.Settings, next.Settings) || !reflect.DeepEqual(prev.Settings, stored.Settings) || stored.Version != prev.Version {
			t.Errorf("an empty patch changed the event:\n%+v\n%+v", prev.Settings, stored.Settings)
		}
		if !stored.PrefillEmail {
			t.Error("prefillEmail was reset")
		}
	})
	for i := range patchType.NumField() {
		name := patchType.Field(i).Name
		t.Run("OK"+name, func(t *testing.T) {
			slug := strings.ToLower(name)
			prev, err := s.Create(ctx, eventstest.Request(slug, full()), "test")
			if err != nil {
				t.Fatal(err)
			}
			var p events.PatchRequest
			v := reflect.ValueOf(values[name])
			ptr := reflect.New(v.Type())
			ptr.Elem().Set(v)
			reflect.ValueOf(&p).Elem().FieldByName(name).Set(ptr)
			if _, err := s.Patch(ctx, slug, p, nil); err != nil {
				t.Fatal(err)
			}
			got, _ := s.Get(ctx, slug)
			pv, gv := reflect.ValueOf(prev.Settings), reflect.ValueOf(got.Settings)
			for j := range settingsType.NumField() {
				member := settingsType.Field(j).Name
				same := reflect.DeepEqual(pv.Field(j).Interface(), gv.Field(j).Interface())
				switch {
				case member == name && same:
					t.Errorf("%s did not change", member)
				case member != name && !same:
					t.Errorf("patching %s changed %s: %v -> %v", name, member, pv.Field(j), gv.Field(j))
				}
			}
			if got.Version != prev.Version+1 {
				t.Errorf("version %d after one patch of %d", got.Version, prev.Version)
			}
		})
	}
}

func TestMoney(t *testing.T) {
	for _, c := range []struct {
		øre        int64
		lang, want string
	}{
		{150000, "nb", "1\u00a0500\u00a0kr"},
		{150000, "en", "NOK\u00a01,500"},
		{150050, "nb", "1\u00a0500,50\u00a0kr"},
		{150005, "en", "NOK\u00a01,500.05"},
		{99900, "nb", "999\u00a0kr"},
		{123456789, "en", "NOK\u00a01,234,567.89"},
		{-25000, "nb", "-250\u00a0kr"},
		{0, "en", "NOK\u00a00"},
	} {
		if got := events.Money(c.øre, "NOK", c.lang); got != c.want {
			t.Errorf("Money(%d, %s) = %q, want %q", c.øre, c.lang, got, c.want)
		}
	}
}

// TestNoVATForUnregisteredSeller: a seller outside the VAT register may
// not charge VAT: a rate on the event, a category or an add-on is
// refused (422 not_vat_registered), on create and on patch, rather than
// quietly dropped from its invoices.
func TestNoVATForUnregisteredSeller(t *testing.T) {
	ctx := context.Background()
	s := events.NewService(mongotest.Open(t), func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) })
	s.NoVAT = true
	settings := full()
	settings.Addons = []events.Addon{{Key: "middag", Name: privacy.Text{NB: "Middag", EN: "Dinner"}, Price: 60000, Options: []string{}, Categories: []string{}}}
	settings.VATRate, settings.Categories[0].VATRate, settings.Addons[0].VATRate = 25, 12, 25
	_, err := s.Create(ctx, eventstest.Request("mva", settings), "test")
	var errs privacy.Errors
	if !errors.As(err, &errs) || len(errs) != 3 || errs[0].Field != "vatRate" || errs[0].Code != events.CodeNotVATRegistered ||
		errs[1].Field != "categories[0].vatRate" || errs[2].Field != "addons[0].vatRate" {
		t.Fatalf("VAT for an unregistered seller: %v", err)
	}
	settings.VATRate, settings.Categories[0].VATRate, settings.Addons[0].VATRate = 0, 0, 0
	if _, err := s.Create(ctx, eventstest.Request("mva", settings), "test"); err != nil {
		t.Fatalf("no VAT: %v", err)
	}
	rate := 15
	if _, err := s.Patch(ctx, "mva", events.PatchRequest{VATRate: &rate}, nil); !errors.As(err, &errs) || errs[0].Code != events.CodeNotVATRegistered {
		t.Errorf("a patch to 15 %%: %v", err)
	}
	if e, _ := s.Get(ctx, "mva"); e.VATRate != 0 {
		t.Errorf("the refused patch changed the rate to %d", e.VATRate)
	}
}

// TestTerms: a sign-up's read of the event is this process's copy while
// the store's version is the copy's, and the event as it is once it
// changes: a patch or a cancellation by anyone is seen at once.
func TestTerms(t *testing.T) {
	ctx := context.Background()
	db := mongotest.Open(t)
	s := events.NewService(db, time.Now)
	mustCreate(t, s, "race", 100)
	var reads atomic.Int64
	db.InjectFaults(func(coll, op string) mongodb.Fault {
		if coll == mongodb.Events && op == "find" {
			reads.Add(1)
		}
		return mongodb.NoFault
	})
	terms := func() (*events.Event, int64) {
		t.Helper()
		before := reads.Load()
		e, err := s.Terms(ctx, "race")
		if err != nil {
			t.Fatal(err)
		}
		return e, reads.Load() - before
	}
	first, n := terms()
	if n != 1 || first.Title.EN != "Race" {
		t.Fatalf("first read: %d reads, title %q", n, first.Title.EN)
	}
	// Changing the copy handed out changes no later one.
	first.Title.EN, first.Capacity = "Changed here", 1
	again, n := terms()
	if !db.Embedded() {
		if n != 1 { // MongoDB's reads are cheap: no copy is kept
			t.Errorf("against MongoDB: %d reads, want 1", n)
		}
	} else if n != 0 {
		t.Errorf("unchanged event read again from the store (%d reads)", n)
	}
	if again.Title.EN != "Race" || again.Capacity != 100 {
		t.Errorf("copy changed by a caller: %q %d", again.Title.EN, again.Capacity)
	}

	// Another writer (another service on the same store) patches it.
	other := events.NewService(db, time.Now)
	if _, err := other.Patch(ctx, "race", events.PatchRequest{Capacity: ptr(120)}, nil); err != nil {
		t.Fatal(err)
	}
	patched, n := terms()
	if n != 1 || patched.Capacity != 120 || patched.Version != first.Version+1 {
		t.Errorf("after a patch elsewhere: %d reads, capacity %d, version %d", n, patched.Capacity, patched.Version)
	}
	if ok, err := other.Cancel(ctx, "race"); err != nil || !ok {
		t.Fatal(ok, err)
	}
	cancelled, _ := terms()
	if cancelled.CancelledAt == nil {
		t.Error("a cancellation elsewhere is not seen")
	}
}
