package registration

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/events"
)

// Why a participant cannot be moved to another category.
var (
	// ErrMoveNotAllowed: the registration holds no seat (cancelled,
	// waiting, offered), belongs to a relay team, or the category is
	// the one it has, or is not the event's.
	ErrMoveNotAllowed = errors.New("registration cannot be moved to that category")
	// ErrPriceDiffers: the categories cost differently; a move never
	// changes what was paid or invoiced, so that takes a cancellation
	// and a new sign-up.
	ErrPriceDiffers = errors.New("the categories' prices differ")
	// ErrMoveAddon: an add-on bought is not sold with that category.
	ErrMoveAddon = errors.New("an add-on bought is not sold with that category")
	// ErrMoveAge: the participant's age on race day is outside that
	// category's.
	ErrMoveAge = errors.New("age outside the category's range")
)

// Move puts a participant holding a seat in another category of the same
// price (staff, in the back office): the new category's seat is taken and
// the old one's given back in one conditional update of the event (its
// own seats do not change, so a sold-out event can still move people
// between categories), then the registration's category changes if it
// is still as read; otherwise the seats go back. The start number, if
// the new category has its own range, is new; the old category's waiting
// list is offered the seat freed.
func (s *Signups) Move(ctx context.Context, reg *Registration, category string) (*Registration, error) {
	ev, err := s.d.events.Get(ctx, reg.Event)
	if err != nil {
		return nil, err
	}
	from, okFrom := ev.Category(reg.Category)
	to, okTo := ev.Category(category)
	switch {
	case !reg.Seat || (reg.Status != Confirmed && reg.Status != PendingPayment), reg.Team != "",
		!okFrom, !okTo, from.Key == to.Key, to.TeamSize > 0:
		return nil, ErrMoveNotAllowed
	case from.Price != to.Price || from.VATRate != to.VATRate:
		return nil, ErrPriceDiffers
	}
	for _, a := range reg.Addons {
		if addon, ok := ev.Addon(a.Key); ok && !addon.For(to.Key) {
			return nil, ErrMoveAddon
		}
	}
	if to.MinAge != nil || to.MaxAge != nil {
		values, err := s.d.Store.Open(ctx, reg, "date_of_birth")
		if err != nil {
			return nil, err
		}
		if dob, err := time.Parse(time.DateOnly, values["date_of_birth"]); err == nil && !to.TakesAge(dob, ev.RaceDay()) {
			return nil, ErrMoveAge
		}
	}
	move := events.Claim{to.Key: 1, from.Key: -1}
	if err := s.d.events.ClaimSeats(ctx, ev, move); err != nil {
		return nil, err
	}
	now := s.d.clock()
	out, err := s.d.Store.move(ctx, reg, to.Key, now)
	if err != nil {
		if rerr := s.d.events.ReleaseSeats(context.WithoutCancel(ctx), ev.Slug, move); rerr != nil {
			s.d.log.ErrorContext(ctx, "moved seat not given back; the recount repairs it", "event", ev.Slug, "err", rerr)
		}
		return nil, err
	}
	if out.Status == Confirmed && to.Bibs != nil {
		if err := s.giveBib(ctx, ev, out.ID, to.Key); err != nil {
			s.d.log.ErrorContext(ctx, "start number not given; the bib job gives it", "event", ev.Slug, "err", err)
		}
	}
	if ev.Waitlist {
		if _, err := s.OfferFreeSeats(context.WithoutCancel(ctx), ev.Slug); err != nil {
			s.d.log.ErrorContext(ctx, "freed seat not offered; the offer job does", "event", ev.Slug, "err", err)
		}
	}
	s.d.log.InfoContext(ctx, "registration moved", "registration", out.ID, "event", ev.Slug, "from", from.Key, "to", to.Key)
	return out, nil
}

// move changes the category of a registration that still holds its seat
// in the category it was read with; its start number, of the old
// category's range, goes.
func (s *Store) move(ctx context.Context, reg *Registration, category string, now time.Time) (*Registration, error) {
	filter := bson.M{"_id": reg.ID, "category": reg.Category, "seat": true, "status": bson.M{"$in": []Status{Confirmed, PendingPayment}},
		"erasedAt": bson.M{"$exists": false}}
	out, err := s.transition(ctx, "move registration", filter,
		bson.M{"$set": bson.M{"category": category, "updatedAt": now}, "$unset": bson.M{"bib": ""}})
	if errors.Is(err, ErrWrongState) {
		return nil, fmt.Errorf("%w: %w", ErrMoveNotAllowed, err)
	}
	return out, err
}
