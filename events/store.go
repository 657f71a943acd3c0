package events

import (
	"context"
	"errors"
	"fmt"
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
	return &e, nil
}

func (s store) list(ctx context.Context) ([]Event, error) {
	var out []Event
	if err := s.c.All(ctx, bson.M{}, &out, options.Find().SetSort(bson.D{{Key: "startsAt", Value: 1}, {Key: "slug", Value: 1}})); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

// replace writes next over the version of the event that was read, in one
// conditional update. Seats are moved by seatDelta with $inc, never set, so
// that registrations taking seats at the same moment are not overwritten;
// the filter refuses a capacity below the seats already taken.
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
	var out Event
	err = s.c.FindOneAndUpdate(ctx, filter, bson.M{
		"$set": set,
		"$inc": bson.M{"version": 1, "seatsLeft": delta},
	}, &out)
	if errors.Is(err, mongodb.ErrNotFound) {
		// Either another change won, or the seats are taken.
		cur, gerr := s.get(ctx, prev.Slug)
		if gerr != nil {
			return gerr
		}
		if cur.Version != prev.Version {
			return fmt.Errorf("update event: %w", ErrConflict)
		}
		return fmt.Errorf("update event: %w", ErrCapacityBelowTaken)
	}
	if err != nil {
		return fmt.Errorf("update event: %w", err)
	}
	*next = out
	return nil
}

// claimSeat takes one seat in a single conditional update: it matches only
// while a seat is left, so concurrent claims can never oversell.
func (s store) claimSeat(ctx context.Context, slug string) error {
	ok, err := s.c.UpdateOne(ctx, bson.M{"_id": slug, "seatsLeft": bson.M{"$gt": 0}}, bson.M{"$inc": bson.M{"seatsLeft": -1}})
	if err != nil {
		return fmt.Errorf("claim seat: %w", err)
	}
	if !ok {
		return fmt.Errorf("claim seat: %w", ErrSoldOut)
	}
	return nil
}

func (s store) releaseSeat(ctx context.Context, slug string) error {
	if _, err := s.c.UpdateOne(ctx, bson.M{"_id": slug}, bson.M{"$inc": bson.M{"seatsLeft": 1}}); err != nil {
		return fmt.Errorf("release seat: %w", err)
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

func (s store) countPurged(ctx context.Context, slug string, n int) error {
	if _, err := s.c.UpdateOne(ctx, bson.M{"_id": slug}, bson.M{"$inc": bson.M{"purged": n}}); err != nil {
		return fmt.Errorf("count purged: %w", err)
	}
	return nil
}
