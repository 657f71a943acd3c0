package registration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/privacy"
)

// A race gives each confirmed participant of a category with a range a
// start number (bib), once: taken from the category's counter on the
// event (which only grows, so a number is never given twice, nor again
// after a cancellation) and then set on the registration only if it has
// none. Numbers follow one another as participants are confirmed; a
// number is skipped only when a sign-up or order fails after taking it.
// Sign-ups and orders take it before they store the registration; the
// bib job gives it to those confirmed later (a payment, an accepted
// offer, a guardian).

// numberBibs gives registrations about to be stored confirmed their
// start numbers, taken per category in one update each: they are stored
// with them. One whose number cannot be taken now gets it from the bib
// job; one never stored leaves its number unused.
func (s *Signups) numberBibs(ctx context.Context, ev *events.Event, regs ...*Registration) {
	byCat := map[string][]*Registration{}
	var cats []string
	for _, reg := range regs {
		c, ok := ev.Category(reg.Category)
		if reg.Status != Confirmed || reg.Bib != 0 || !ok || c.Bibs == nil {
			continue
		}
		if byCat[c.Key] == nil {
			cats = append(cats, c.Key)
		}
		byCat[c.Key] = append(byCat[c.Key], reg)
	}
	for _, cat := range cats {
		first, err := s.d.events.TakeBibs(ctx, ev, cat, len(byCat[cat]))
		if err != nil {
			s.d.log.ErrorContext(ctx, "start numbers not given; the bib job gives them", "event", ev.Slug, "err", err)
			continue
		}
		for i, reg := range byCat[cat] {
			reg.Bib = first + i
		}
	}
}

func (s *Signups) giveBib(ctx context.Context, ev *events.Event, id, category string) error {
	bib, err := s.d.events.TakeBib(ctx, ev, category)
	if err != nil {
		return err
	}
	ok, err := s.d.Store.c.UpdateOne(ctx, bson.M{"_id": id, "status": Confirmed, "bib": bson.M{"$exists": false}},
		bson.M{"$set": bson.M{"bib": bib}})
	if err != nil {
		return fmt.Errorf("set bib: %w", err)
	}
	if !ok {
		s.d.log.WarnContext(ctx, "start number skipped: the registration has one, or is no longer confirmed", "event", ev.Slug, "bib", bib)
	}
	return nil
}

// AssignBibs gives start numbers to confirmed race participants who have
// none yet, in sign-up order. It returns how many it gave.
func (s *Signups) AssignBibs(ctx context.Context) (int, error) {
	evs, err := s.d.events.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ev := range evs {
		var cats []string
		for _, c := range ev.Categories {
			if c.Bibs != nil {
				cats = append(cats, c.Key)
			}
		}
		if len(cats) == 0 {
			continue
		}
		due, err := s.d.Store.all(ctx, "find registrations without bib", bson.M{"event": ev.Slug, "status": Confirmed,
			"category": bson.M{"$in": cats}, "bib": bson.M{"$exists": false}},
			options.Find().SetSort(s.d.Store.insertionOrder()).SetLimit(500))
		if err != nil {
			return n, err
		}
		for _, reg := range due {
			if err := s.giveBib(ctx, &ev, reg.ID, reg.Category); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// StartListRow is one participant on a race's public start list: what
// they consented to publish, and nothing else.
type StartListRow struct {
	Bib      int    `json:"bib,omitempty"`
	Name     string `json:"name"`
	Club     string `json:"club,omitempty"`
	Class    string `json:"class,omitempty"`
	Category string `json:"category"`
	Team     string `json:"team,omitempty"`
}

// ErrNoStartList: the event publishes no start list.
var ErrNoStartList = errors.New("no start list")

// StartList is a race's public start list: the confirmed participants
// who consented to it (and did not withdraw it, restrict processing or
// have their data erased), by category and bib. The class is taken from
// the date of birth at race day.
func (s *Signups) StartList(ctx context.Context, slug string) ([]StartListRow, error) {
	ev, err := s.d.events.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	if !ev.HasStartList() {
		return nil, ErrNoStartList
	}
	regs, err := s.d.Store.all(ctx, "start list", bson.M{"event": slug, "status": Confirmed, "restricted": false,
		"erasedAt": bson.M{"$exists": false},
		"consentState." + string(privacy.ConsentStartList): true})
	if err != nil {
		return nil, err
	}
	rows := make([]StartListRow, 0, len(regs))
	for _, reg := range regs {
		v, err := s.d.Store.Open(ctx, &reg, "name", "club", "date_of_birth")
		if err != nil {
			return nil, err
		}
		row := StartListRow{Bib: reg.Bib, Name: v["name"], Club: v["club"], Category: reg.Category, Team: reg.Team}
		if c, ok := ev.Category(reg.Category); ok {
			if dob, err := time.Parse(time.DateOnly, v["date_of_birth"]); err == nil {
				row.Class = c.ClassFor(events.AgeOn(dob, ev.RaceDay()))
			}
		}
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(a, b StartListRow) int {
		if a.Category != b.Category {
			return strings.Compare(a.Category, b.Category)
		}
		return a.Bib - b.Bib
	})
	return rows, nil
}

// StartListColumns are the start list's CSV columns.
var StartListColumns = []string{"bib", "name", "club", "class", "category", "team"}

// Cells are the row as CSV cells.
func (r StartListRow) Cells() []string {
	bib := ""
	if r.Bib != 0 {
		bib = strconv.Itoa(r.Bib)
	}
	return []string{bib, r.Name, r.Club, r.Class, r.Category, r.Team}
}
