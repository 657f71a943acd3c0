package registration_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/events/eventstest"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// raceEvent is a local race: 10 km (bibs 1–1000, from 16 years, three
// age classes), 5 km (bibs 2001–2100) and a relay of four (bibs
// 3001–3100), with a public start list.
func (f *fixture) raceEvent(t *testing.T) *events.Event {
	t.Helper()
	sixteen := 16
	ev, err := f.ev.Create(context.Background(), eventstest.Request("lop", events.Settings{Kind: events.Race, Title: privacy.Text{NB: "Løp", EN: "Race"},
		StartsAt: time.Date(2027, 5, 1, 9, 0, 0, 0, time.UTC), EndsAt: time.Date(2027, 5, 1, 14, 0, 0, 0, time.UTC), Capacity: 1200, PublicList: true,
		Fields:    []events.FormField{{Key: "name", Required: true}, {Key: "email", Required: true}, {Key: "date_of_birth", Required: true}, {Key: "club"}, {Key: "guardian_name"}, {Key: "guardian_email"}},
		Organiser: events.Organiser{Name: "Kongsvinger IL", PrivacyEmail: "personvern@example.no"},
		Categories: []events.Category{
			{Key: "10k", Name: privacy.Text{NB: "10 km", EN: "10 km"}, Capacity: 1000, MinAge: &sixteen, Bibs: &events.BibRange{From: 1, To: 1000},
				Classes: []events.AgeClass{{Name: "16-34", MinAge: 16, MaxAge: 34}, {Name: "35-49", MinAge: 35, MaxAge: 49}, {Name: "50+", MinAge: 50, MaxAge: 120}}},
			{Key: "5k", Name: privacy.Text{NB: "5 km", EN: "5 km"}, Capacity: 100, Bibs: &events.BibRange{From: 2001, To: 2100}},
			{Key: "stafett", Name: privacy.Text{NB: "Stafett 4 x 2,5 km", EN: "Relay 4 x 2.5 km"}, Capacity: 100, TeamSize: 4, Bibs: &events.BibRange{From: 3001, To: 3100}},
		},
	}), "test")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func (f *fixture) runner(ctx context.Context, cat, who, born string, listed bool) (*registration.Result, error) {
	return f.app.Signups.Signup(ctx, "lop", registration.SignupRequest{Category: cat,
		Fields:   map[string]string{"name": who, "email": who + "@example.no", "date_of_birth": born, "club": "Kongsvinger IL"},
		Consents: registration.ConsentsRequest{privacy.ConsentStartList: listed}}, registration.API)
}

// TestRace: 1,000 concurrent entries get 1,000 different bibs, exactly
// the 10 km range; classes are taken at race day; the start list lists
// only those who agreed; a relay team of four is entered by its captain;
// a cancelled runner's bib is never given again.
func TestRace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.raceEvent(t)

	// 1,000 entries at once: 250 clubs entering four runners each, 64 at
	// a time.
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for c := range 250 {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r := registration.OrderRequest{Buyer: map[string]string{"name": "Klubb", "email": fmt.Sprintf("klubb%d@example.no", c)}}
			for i := range 4 {
				who := fmt.Sprintf("r%d-%d", c, i)
				r.Participants = append(r.Participants, registration.ParticipantRequest{Category: "10k",
					Fields: map[string]string{"name": who, "email": who + "@example.no", "date_of_birth": "1980-01-01", "club": "Kongsvinger IL"}})
			}
			res, err := f.app.Signups.Order(ctx, "lop", r, registration.API)
			if err != nil {
				t.Errorf("club %d: %v", c, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, p := range res.Participants {
				ids = append(ids, p.ID)
			}
		})
	}
	wg.Wait()
	seen := map[int]bool{}
	for i, id := range ids {
		reg, err := f.app.Domain.Store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if reg.Bib < 1 || reg.Bib > 1000 || seen[reg.Bib] {
			t.Fatalf("bib %d: out of range or given twice", reg.Bib)
		}
		seen[reg.Bib] = true
		if i < 3 {
			// Three of them agree to the start list, through their own link.
			if _, err := f.app.Rights.Rectify(ctx, reg, registration.RectifyRequest{Consents: registration.ConsentsRequest{privacy.ConsentStartList: true}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(seen) != 1000 {
		t.Fatalf("%d bibs for 1000 runners", len(seen))
	}
	// The range is used up: no more entries (the category is full too).
	if _, err := f.runner(ctx, "10k", "late", "1980-01-01", true); !errors.Is(err, events.ErrSoldOut) {
		t.Errorf("a 1001st entry: %v", err)
	}

	// Classes at race day (1 May 2027): 34 the day before, 35 on it.
	young, err := f.runner(ctx, "5k", "ung", "1992-05-02", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.runner(ctx, "5k", "uten", "1990-01-01", false); err != nil {
		t.Fatal(err)
	}
	rows, err := f.app.Signups.StartList(ctx, "lop")
	if err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, r := range rows {
		switch {
		case r.Name == "uten":
			t.Errorf("a runner who did not agree is on the start list: %+v", r)
		case r.Category == "10k":
			listed++
			if r.Class != "35-49" || r.Club != "Kongsvinger IL" || r.Bib == 0 {
				t.Errorf("10 km row %+v", r)
			}
		case r.Name == "ung":
			if r.Bib != 2001 || r.Class != "" {
				t.Errorf("5 km row %+v", r)
			}
		}
	}
	if listed != 3 {
		t.Errorf("%d 10 km runners listed, want the 3 who agreed", listed)
	}

	// The 5 km runner cancels: bib 2001 is not given again.
	reg, _ := f.app.Domain.Store.Get(ctx, young.ID)
	if _, err := f.app.Signups.Cancel(ctx, reg, false); err != nil {
		t.Fatal(err)
	}
	next, err := f.runner(ctx, "5k", "neste", "1990-01-01", false)
	if err != nil {
		t.Fatal(err)
	}
	if reg, _ := f.app.Domain.Store.Get(ctx, next.ID); reg.Bib != 2003 {
		t.Errorf("next bib %d, want 2003 (2001 cancelled, 2002 taken)", reg.Bib)
	}

	// A relay is not entered alone.
	var alone privacy.Errors
	if _, err := f.runner(ctx, "stafett", "alene", "1990-01-01", false); !errors.As(err, &alone) || alone[0].Field != "category" || alone[0].Code != registration.CodeTeamOnly {
		t.Errorf("a relay entered alone: %v", err)
	}
	// A relay team of four, entered by its captain.
	team := registration.OrderRequest{Team: "Kongsvinger IL 1", Buyer: map[string]string{"name": "Kaptein", "email": "kaptein@example.no"}}
	for i := range 4 {
		team.Participants = append(team.Participants, registration.ParticipantRequest{Category: "stafett",
			Fields: map[string]string{"name": fmt.Sprintf("Etappe %d", i+1), "email": fmt.Sprintf("etappe%d@example.no", i+1), "date_of_birth": "1985-03-03"}})
	}
	three := team
	three.Participants = team.Participants[:3]
	var errs privacy.Errors
	if _, err := f.app.Signups.Order(ctx, "lop", three, registration.API); !errors.As(err, &errs) || errs[0].Field != "participants" || errs[0].Code != "team_size" {
		t.Errorf("a team of three: %v", err)
	}
	noName := team
	noName.Team = ""
	if _, err := f.app.Signups.Order(ctx, "lop", noName, registration.API); !errors.As(err, &errs) || errs[0].Field != "team" {
		t.Errorf("a team without a name: %v", err)
	}
	res, err := f.app.Signups.Order(ctx, "lop", team, registration.API)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range res.Participants {
		reg, _ := f.app.Domain.Store.Get(ctx, p.ID)
		if reg.Team != "Kongsvinger IL 1" || reg.Bib != 3001+i || len(reg.ManageTokens) != 1 {
			t.Errorf("relay member %d: team %q bib %d", i, reg.Team, reg.Bib)
		}
	}
}
