package registration

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/mongodb"
)

// store keeps registrations. Every change is one conditional update of one
// document that moves the registration forward from the statuses it may
// come from.
type store struct {
	c *mongodb.Collection
}

func (s store) insert(ctx context.Context, r *Registration) error {
	err := s.c.InsertOne(ctx, r)
	if errors.Is(err, mongodb.ErrDuplicate) {
		return fmt.Errorf("insert registration: %w", ErrAlreadyRegistered)
	}
	if err != nil {
		return fmt.Errorf("insert registration: %w", err)
	}
	return nil
}

func (s store) get(ctx context.Context, id string) (*Registration, error) {
	return s.one(ctx, bson.M{"_id": id})
}

func (s store) one(ctx context.Context, filter bson.M, opts ...options.Lister[options.FindOneOptions]) (*Registration, error) {
	var r Registration
	err := s.c.FindOne(ctx, filter, &r, opts...)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, fmt.Errorf("get registration: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get registration: %w", err)
	}
	return &r, nil
}

// cancel moves a live registration to cancelled and says whether it held a
// seat (which the caller passes on).
func (s store) cancel(ctx context.Context, id string, now time.Time) (*Registration, bool, error) {
	set := bson.M{"status": Cancelled, "seat": false, "activeKey": id, "updatedAt": now, "hooksAt": now, "cancelledAt": now}
	k, h := HookSet(HookCancelled, now)
	set[k] = h
	var out Registration
	err := s.c.FindOneAndUpdate(ctx, bson.M{"_id": id, "seat": true, "status": bson.M{"$in": live}}, bson.M{"$set": set}, &out)
	if err == nil {
		return &out, true, nil
	}
	if !errors.Is(err, mongodb.ErrNotFound) {
		return nil, false, fmt.Errorf("cancel registration: %w", err)
	}
	err = s.c.FindOneAndUpdate(ctx, bson.M{"_id": id, "seat": false, "status": bson.M{"$in": live}}, bson.M{"$set": set}, &out)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, false, fmt.Errorf("cancel registration: %w", ErrNotCancellable)
	}
	if err != nil {
		return nil, false, fmt.Errorf("cancel registration: %w", err)
	}
	return &out, false, nil
}

// firstWaitlisted is the registration longest on the event's waiting list.
func (s store) firstWaitlisted(ctx context.Context, slug string) (*Registration, error) {
	return s.one(ctx, bson.M{"event": slug, "status": Waitlisted}, options.FindOne().SetSort(s.c.InsertionOrder(bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}})))
}

// offer gives a freed seat to a waitlisted registration and queues the
// offer mail with a new manage token; false if it is no longer waitlisted.
func (s store) offer(ctx context.Context, id string, now, until time.Time, m Mail) (bool, error) {
	ok, err := s.c.UpdateOne(ctx,
		bson.M{"_id": id, "status": Waitlisted},
		bson.M{
			"$set": bson.M{
				"status": Offered, "seat": true, "offerExpiresAt": until, "updatedAt": now,
				"outbox.offer-" + m.TokenHash[:8]: m, "outboxNextAt": now,
			},
			"$push": bson.M{"manageTokens": m.TokenHash},
		})
	if err != nil {
		return false, fmt.Errorf("offer seat: %w", err)
	}
	return ok, nil
}

func (s store) acceptOffer(ctx context.Context, id string, status Status, pay PaymentStatus, cs *CheckoutSession, now time.Time) (*Registration, error) {
	set := acceptSet(status, now)
	if pay != "" {
		set["payment.status"] = pay
	}
	if cs != nil {
		exp := cs.ExpiresAt.UTC().Truncate(time.Millisecond)
		set["payment.sessionId"], set["payment.checkoutUrl"], set["payment.sessionExpiresAt"] = cs.ID, cs.URL, exp
	}
	var out Registration
	err := s.c.FindOneAndUpdate(ctx,
		bson.M{"_id": id, "status": Offered, "offerExpiresAt": bson.M{"$gt": now}},
		bson.M{"$set": set, "$unset": bson.M{"offerExpiresAt": ""}},
		&out)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, fmt.Errorf("accept offer: %w", ErrNoOffer)
	}
	if err != nil {
		return nil, fmt.Errorf("accept offer: %w", err)
	}
	return &out, nil
}

func (s store) offersDue(ctx context.Context, now time.Time, limit int64) ([]Registration, error) {
	var out []Registration
	err := s.c.All(ctx, bson.M{"status": Offered, "offerExpiresAt": bson.M{"$lte": now}}, &out, options.Find().SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("find expired offers: %w", err)
	}
	return out, nil
}

func (s store) expireOffer(ctx context.Context, id string, now time.Time) (bool, error) {
	ok, err := s.c.UpdateOne(ctx,
		bson.M{"_id": id, "status": Offered, "offerExpiresAt": bson.M{"$lte": now}},
		bson.M{"$set": bson.M{"status": Expired, "seat": false, "activeKey": id, "updatedAt": now}})
	if err != nil {
		return false, fmt.Errorf("expire offer: %w", err)
	}
	return ok, nil
}

func (s store) seatsHeld(ctx context.Context, slug string) (int, error) {
	n, err := s.c.Count(ctx, bson.M{"event": slug, "seat": true})
	if err != nil {
		return 0, fmt.Errorf("count seats: %w", err)
	}
	return int(n), nil
}

func acceptSet(status Status, now time.Time) bson.M {
	set := bson.M{"status": status, "updatedAt": now}
	if status == Confirmed {
		k, h := HookSet(HookConfirmed, now)
		set[k], set["hooksAt"] = h, now
	}
	return set
}
