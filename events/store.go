package events

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/mongodb"
)

// store keeps events in the events collection.
type store struct {
	c *mongodb.Collection
}

func (s store) insert(ctx context.Context, e *Event) error {
	err := s.c.InsertOne(ctx, e)
	if errors.Is(err, mongodb.ErrDuplicate) {
		return fmt.Errorf("insert event: %w", ErrSlugTaken)
	}
	if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

func (s store) get(ctx context.Context, slug string) (*Event, error) {
	var e Event
	err := s.c.FindOne(ctx, bson.M{"_id": slug}, &e)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, fmt.Errorf("get event: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get event: %w", err)
	}
	e.normalize()
	return &e, nil
}

// normalize gives an event stored before categories existed their empty
// values.
func (e *Event) normalize() {
	if e.Categories == nil {
		e.Categories = []Category{}
	}
	if e.Addons == nil {
		e.Addons = []Addon{}
	}
	if e.Quota == nil {
		e.Quota = map[string]Quota{}
	}
}

func (s store) list(ctx context.Context) ([]Event, error) {
	var out []Event
	if err := s.c.All(ctx, bson.M{}, &out, options.Find().SetSort(bson.D{{Key: "startsAt", Value: 1}, {Key: "slug", Value: 1}})); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	for i := range out {
		out[i].normalize()
	}
	return out, nil
}

// replace writes next over the version of the event that was read, in one
// conditional update. Seats are moved by deltas with $inc, never set, so
// that registrations taking seats at the same moment are not overwritten;
// the filter refuses a capacity below the seats already taken, in the
// event or in a category, and removing a category that holds seats.
func (s store) replace(ctx context.Context, prev, next *Event) error {
	delta := next.Capacity - prev.Capacity
	filter := bson.M{"_id": prev.ID, "version": prev.Version}
	if delta < 0 {
		filter["seatsLeft"] = bson.M{"$gte": -delta}
	}
	// The settings are written whole, as their bson names say.
	raw, err := bson.Marshal(next.Settings)
	if err != nil {
		return fmt.Errorf("update event: %w", err)
	}
	set := bson.M{}
	if err := bson.Unmarshal(raw, &set); err != nil {
		return fmt.Errorf("update event: %w", err)
	}
	set["updatedAt"], set["promise"] = next.UpdatedAt, next.PromiseID
	update := bson.M{"$set": set, "$inc": bson.M{"version": 1, "seatsLeft": delta}}
	// A category's quota: its capacity set, its seats taken left to the
	// claims (a new one starts at none).
	unset := bson.M{}
	want := next.quotaCapacities()
	for key, capacity := range want {
		path := "quota." + key
		if _, ok := prev.Quota[key]; !ok {
			set[path] = Quota{Capacity: capacity}
			filter[path] = bson.M{"$exists": false}
			continue
		}
		set[path+".capacity"] = capacity
		if capacity > 0 {
			filter[path+".taken"] = bson.M{"$lte": capacity}
		}
	}
	for key := range prev.Quota {
		if _, ok := want[key]; !ok {
			unset["quota."+key] = ""
			filter["quota."+key+".taken"] = 0
		}
	}
	if len(unset) > 0 {
		update["$unset"] = unset
	}
	var out Event
	err = s.c.FindOneAndUpdate(ctx, filter, update, &out)
	if errors.Is(err, mongodb.ErrNotFound) {
		// Either another change won, or the seats are taken.
		cur, gerr := s.get(ctx, prev.Slug)
		if gerr != nil {
			return gerr
		}
		if cur.Version != prev.Version {
			return fmt.Errorf("update event: %w", ErrConflict)
		}
		for key, q := range cur.Quota {
			if _, ok := want[key]; !ok && q.Taken > 0 {
				return fmt.Errorf("update event: category %s: %w", key, ErrCategoryInUse)
			}
		}
		return fmt.Errorf("update event: %w", ErrCapacityBelowTaken)
	}
	if err != nil {
		return fmt.Errorf("update event: %w", err)
	}
	*next = out
	return nil
}

// claimSeats takes the seats of a claim in the event and in each
// category together, in a single conditional update: it matches only
// while every one of them has the seats left, so concurrent claims can
// never oversell either. The filter states the quotas as read; if one
// changed meanwhile (a patch), the claim is tried again on the new ones.
func (s store) claimSeats(ctx context.Context, ev *Event, claim Claim) error {
	for range 5 {
		filter := bson.M{"_id": ev.ID, "seatsLeft": bson.M{"$gte": claim.Total()}}
		inc := bson.M{"seatsLeft": -claim.Total()}
		for key, n := range claim {
			if key == "" {
				continue
			}
			q, ok := ev.Quota[key]
			if !ok {
				return fmt.Errorf("claim seats: %w", ErrNoCategory)
			}
			path := "quota." + key
			filter[path+".capacity"] = q.Capacity
			if q.Capacity > 0 {
				filter[path+".taken"] = bson.M{"$lte": q.Capacity - n}
			}
			inc[path+".taken"] = n
		}
		ok, err := s.c.UpdateOne(ctx, filter, bson.M{"$inc": inc})
		if err != nil {
			return fmt.Errorf("claim seats: %w", err)
		}
		if ok {
			return nil
		}
		if ev, err = s.get(ctx, ev.ID); err != nil {
			return err
		}
		if full := ev.short(claim); full != nil {
			return fmt.Errorf("claim seats: %w", full)
		}
	}
	return fmt.Errorf("claim seats: %w", ErrConflict)
}

// short says which of the claim's categories (or the event) has too few
// seats left; nil if the claim fits.
func (e *Event) short(claim Claim) error {
	keys := make([]string, 0, len(claim))
	for key := range claim {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if key == "" {
			continue
		}
		q, ok := e.Quota[key]
		if !ok {
			return ErrNoCategory
		}
		if q.Capacity > 0 && q.Capacity-q.Taken < claim[key] {
			return &SoldOutError{Category: key} // "+key": an add-on
		}
	}
	if e.SeatsLeft < claim.Total() {
		return &SoldOutError{}
	}
	return nil
}

// Fit says which claims, taken in order, the event as read has seats
// for: a claim that does not fit is skipped (with why, a *SoldOutError)
// and the later ones still may (a group commit keeps arrival order, and
// a full category does not hold back another). Total is what the
// fitting claims take together, to claim in one update.
func (e *Event) Fit(claims []Claim) (fits []error, total Claim) {
	left := *e
	left.Quota = maps.Clone(e.Quota)
	fits, total = make([]error, len(claims)), Claim{}
	for i, c := range claims {
		if full := left.short(c); full != nil {
			fits[i] = full
			continue
		}
		left.SeatsLeft -= c.Total()
		for key, n := range c {
			if key != "" {
				q := left.Quota[key]
				q.Taken += n
				left.Quota[key] = q
			}
		}
		total.Add(c)
	}
	return fits, total
}

// releaseSeats gives the seats of a claim back to the event and its
// categories.
func (s store) releaseSeats(ctx context.Context, slug string, claim Claim) error {
	inc := bson.M{"seatsLeft": claim.Total()}
	for key, n := range claim {
		if key != "" {
			inc["quota."+key+".taken"] = -n
		}
	}
	if _, err := s.c.UpdateOne(ctx, bson.M{"_id": slug}, bson.M{"$inc": inc}); err != nil {
		return fmt.Errorf("release seats: %w", err)
	}
	return nil
}

// adjustSeats moves the seats left by delta if capacity and seats left
// are still as read.
func (s store) adjustSeats(ctx context.Context, slug string, capacity, seatsLeft, delta int) (bool, error) {
	ok, err := s.c.UpdateOne(ctx, bson.M{"_id": slug, "capacity": capacity, "seatsLeft": seatsLeft}, bson.M{"$inc": bson.M{"seatsLeft": delta}})
	if err != nil {
		return false, fmt.Errorf("adjust seats: %w", err)
	}
	return ok, nil
}

// adjustTaken moves a category's seats taken by delta if they are still
// as read.
func (s store) adjustTaken(ctx context.Context, slug, key string, taken, delta int) (bool, error) {
	path := "quota." + key + ".taken"
	ok, err := s.c.UpdateOne(ctx, bson.M{"_id": slug, path: taken}, bson.M{"$inc": bson.M{path: delta}})
	if err != nil {
		return false, fmt.Errorf("adjust seats taken: %w", err)
	}
	return ok, nil
}

// cancel marks the event cancelled, once.
func (s store) cancel(ctx context.Context, slug string, at time.Time) (bool, error) {
	ok, err := s.c.UpdateOne(ctx, bson.M{"_id": slug, "cancelledAt": bson.M{"$exists": false}},
		bson.M{"$set": bson.M{"cancelledAt": at, "updatedAt": at}, "$inc": bson.M{"version": 1}})
	if err != nil {
		return false, fmt.Errorf("cancel event: %w", err)
	}
	return ok, nil
}

func (s store) cancellationDone(ctx context.Context, slug string, at time.Time) error {
	if _, err := s.c.UpdateOne(ctx, bson.M{"_id": slug, "cancelledAt": bson.M{"$exists": true}}, bson.M{"$set": bson.M{"cancellationDoneAt": at}}); err != nil {
		return fmt.Errorf("cancellation done: %w", err)
	}
	return nil
}

// partnerNoticesDone dates a partner's notices done, on the version of
// the event read (FerretDB v1 updates no array element in place).
func (s store) partnerNoticesDone(ctx context.Context, slug, partnerID string, at time.Time) error {
	for range 5 {
		e, err := s.get(ctx, slug)
		if err != nil {
			return err
		}
		ps := slices.Clone(e.Partners)
		i := slices.IndexFunc(ps, func(p Partner) bool { return p.ID == partnerID })
		if i < 0 {
			return nil // removed meanwhile
		}
		ps[i].NoticesDoneAt = &at
		ok, err := s.c.UpdateOne(ctx, bson.M{"_id": slug, "version": e.Version},
			bson.M{"$set": bson.M{"partners": ps}, "$inc": bson.M{"version": 1}})
		if err != nil {
			return fmt.Errorf("partner notices done: %w", err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("partner notices done: %w", ErrConflict)
}

// reminded dates the event's reminders queued.
func (s store) reminded(ctx context.Context, slug string, at time.Time) error {
	if _, err := s.c.UpdateOne(ctx, bson.M{"_id": slug}, bson.M{"$set": bson.M{"remindedAt": at}}); err != nil {
		return fmt.Errorf("reminded: %w", err)
	}
	return nil
}

func (s store) countPurged(ctx context.Context, slug string, n int) error {
	if _, err := s.c.UpdateOne(ctx, bson.M{"_id": slug}, bson.M{"$inc": bson.M{"purged": n}}); err != nil {
		return fmt.Errorf("count purged: %w", err)
	}
	return nil
}

// takeBib takes the next n start numbers of a race category, once: the
// counter is moved in one conditional update, only while the range has
// them left. It returns the counter after (the last number's place).
func (s store) takeBib(ctx context.Context, slug, category string, size, n int) (int, error) {
	if n > size {
		return 0, ErrNoBibs
	}
	path := "quota." + category + ".bibs"
	var ev Event
	err := s.c.FindOneAndUpdate(ctx, bson.M{"_id": slug, "$or": bson.A{
		bson.M{path: bson.M{"$exists": false}}, bson.M{path: bson.M{"$lte": size - n}},
	}}, bson.M{"$inc": bson.M{path: n}}, &ev)
	if errors.Is(err, mongodb.ErrNotFound) {
		return 0, ErrNoBibs
	}
	if err != nil {
		return 0, fmt.Errorf("take bib: %w", err)
	}
	return ev.Quota[category].Bibs, nil
}
