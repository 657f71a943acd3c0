package events

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/pamelding/pamelding/mongodb"
)

// Service creates, changes and reads events.
type Service struct {
	store store
	now   func() time.Time
}

// NewService returns the events service on the store; now is the clock.
func NewService(db *mongodb.Store, now func() time.Time) *Service {
	return &Service{store: store{c: db.Collection(mongodb.Events)}, now: now}
}

// Create checks the request and stores the new event. createdBy names the
// staff token that asked.
func (s *Service) Create(ctx context.Context, r CreateRequest, createdBy string) (*Event, error) {
	now := s.now()
	e, err := r.build(now)
	if err != nil {
		return nil, err
	}
	// The slug is the primary key (build sets it): the embedded store
	// finds documents without a scan only by _id, and a sign-up reads and
	// updates its event.
	e.CreatedBy = createdBy
	e.CreatedAt = now.UTC().Truncate(time.Millisecond)
	e.UpdatedAt = e.CreatedAt
	e.Version = 1
	if err := s.store.insert(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// Get returns the event with the slug.
func (s *Service) Get(ctx context.Context, slug string) (*Event, error) {
	return s.store.get(ctx, slug)
}

// List returns every event in date order.
func (s *Service) List(ctx context.Context) ([]Event, error) {
	return s.store.list(ctx)
}

// Patch applies the members p carries to the event, then checks the
// result by the rules of a new event. A concurrent change is retried a
// few times on the fresh version before ErrConflict is returned.
func (s *Service) Patch(ctx context.Context, slug string, p PatchRequest) (*Event, error) {
	for range 3 {
		prev, err := s.store.get(ctx, slug)
		if err != nil {
			return nil, err
		}
		next := *prev
		errs := p.apply(&next)
		errs = append(errs, next.validate()...)
		if err := errs.Err(); err != nil {
			return nil, err
		}
		if reflect.DeepEqual(next.Settings, prev.Settings) {
			return prev, nil // nothing to change
		}
		next.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
		err = s.store.replace(ctx, prev, &next)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &next, nil
	}
	return nil, ErrConflict
}

// ClaimSeat takes a seat of the event; ErrSoldOut when none is left.
func (s *Service) ClaimSeat(ctx context.Context, slug string) error {
	return s.store.claimSeat(ctx, slug)
}

// ReleaseSeat gives a seat back.
func (s *Service) ReleaseSeat(ctx context.Context, slug string) error {
	return s.store.releaseSeat(ctx, slug)
}

// AdjustSeats moves the seats left by delta, if the event still has the
// capacity and seats left it was read with (a recount's repair; false
// when either moved meanwhile).
func (s *Service) AdjustSeats(ctx context.Context, slug string, capacity, seatsLeft, delta int) (bool, error) {
	return s.store.adjustSeats(ctx, slug, capacity, seatsLeft, delta)
}

// Cancel marks the event cancelled: registration closes. Refunds and
// credit notes are the payments package's. It reports false when the
// event was already cancelled.
func (s *Service) Cancel(ctx context.Context, slug string) (bool, error) {
	if _, err := s.store.get(ctx, slug); err != nil {
		return false, err
	}
	return s.store.cancel(ctx, slug, s.now().UTC().Truncate(time.Millisecond))
}

// CancellationDone records that every registration of a cancelled event
// was cancelled.
func (s *Service) CancellationDone(ctx context.Context, slug string) error {
	return s.store.cancellationDone(ctx, slug, s.now().UTC().Truncate(time.Millisecond))
}

// CountPurged adds n registrations deleted by retention to the event's
// count.
func (s *Service) CountPurged(ctx context.Context, slug string, n int) error {
	return s.store.countPurged(ctx, slug, n)
}
