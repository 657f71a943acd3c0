package events

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// Service creates, changes and reads events, and keeps what each version
// of an event promised its participants.
type Service struct {
	store    store
	codes    codes
	promises *promises
	now      func() time.Time
	// copies are events as last read by Terms, by slug.
	copies *copies
	// NoVAT: the seller is not in the VAT register, so no event may
	// charge VAT (a rate above 0 is refused, 422 not_vat_registered,
	// rather than dropped on the invoice without a word).
	NoVAT bool
}

// vatFaults are the VAT rates an event may not charge.
func (s *Service) vatFaults(e *Event) privacy.Errors {
	if !s.NoVAT {
		return nil
	}
	var errs privacy.Errors
	if e.VATRate != 0 {
		errs.Add("vatRate", CodeNotVATRegistered)
	}
	for i, c := range e.Categories {
		if c.VATRate != 0 {
			errs.Add("categories["+strconv.Itoa(i)+"].vatRate", CodeNotVATRegistered)
		}
	}
	for i, a := range e.Addons {
		if a.VATRate != 0 {
			errs.Add("addons["+strconv.Itoa(i)+"].vatRate", CodeNotVATRegistered)
		}
	}
	return errs
}

// CodeNotVATRegistered: a VAT rate for a seller outside the VAT register.
const CodeNotVATRegistered = "not_vat_registered"

// NewService returns the events service on the store; now is the clock.
func NewService(db *mongodb.Store, now func() time.Time) *Service {
	return &Service{store: store{c: db.Collection(mongodb.Events)}, codes: codes{c: db.Collection(mongodb.Codes)}, now: now,
		promises: &promises{c: db.Collection(mongodb.Promises), cache: map[string]*Promise{}}, copies: &copies{m: map[string]*Event{}}}
}

// ErrTagsInUse: a patch would change the tags of a field participants
// have signed up under; a new field (another key) is the way.
var ErrTagsInUse = errors.New("field tags in use")

// InUse says whether anyone has signed up for the event (then the tags of
// its fields are part of what they were told, and cannot change).
type InUse func(ctx context.Context, slug string) (bool, error)

// Create checks the request and stores the new event. createdBy names the
// staff token that asked.
func (s *Service) Create(ctx context.Context, r CreateRequest, createdBy string) (*Event, error) {
	now := s.now()
	e, err := r.build(now)
	if err != nil {
		return nil, err
	}
	if err := s.vatFaults(e).Err(); err != nil {
		return nil, err
	}
	// The slug is the primary key (build sets it): the embedded store
	// finds documents without a scan only by _id, and a sign-up reads and
	// updates its event.
	e.CreatedBy = createdBy
	e.CreatedAt = now.UTC().Truncate(time.Millisecond)
	e.UpdatedAt = e.CreatedAt
	e.Version = 1
	for i := range e.Partners {
		e.Partners[i].AddedAt = e.CreatedAt
	}
	if err := s.keepPromise(ctx, e); err != nil {
		return nil, err
	}
	if err := s.store.insert(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// Preview checks a request as Create does and returns the event it
// would make, without storing it: the back office shows its privacy
// notice before it is published.
func (s *Service) Preview(r CreateRequest) (*Event, error) {
	e, err := r.build(s.now())
	if err != nil {
		return nil, err
	}
	if err := s.vatFaults(e).Err(); err != nil {
		return nil, err
	}
	return e, nil
}

// Get returns the event with the slug.
func (s *Service) Get(ctx context.Context, slug string) (*Event, error) {
	return s.store.get(ctx, slug)
}

// Terms returns the event as Get does, but for its seat counts, start
// numbers and bookkeeping dates (remindedAt, purged), which change without
// a new version and may be older: what a sign-up is checked against,
// before its group claims seats on a fresh read. It is this process's copy
// of the event when the store says the version has not changed since it
// was read, which on the embedded store costs a small fraction of a read
// (a rush read the event once per sign-up: a quarter of its CPU). The
// event is shared: read only.
func (s *Service) Terms(ctx context.Context, slug string) (*Event, error) {
	if v, ok, err := s.store.c.Version(ctx, slug, "version"); err != nil {
		return nil, fmt.Errorf("get event: %w", err)
	} else if ok {
		if e := s.copies.get(slug); e != nil && int64(e.Version) == v {
			return e, nil
		}
	}
	e, err := s.store.get(ctx, slug)
	if err != nil {
		return nil, err
	}
	s.copies.put(slug, e)
	c := *e
	return &c, nil
}

// copies holds events as last read, for Terms.
type copies struct {
	mu sync.Mutex
	m  map[string]*Event
}

// maxCopies bounds copies: past it, they are dropped and read again.
const maxCopies = 1024

func (c *copies) get(slug string) *Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[slug]; e != nil {
		cp := *e
		return &cp
	}
	return nil
}

func (c *copies) put(slug string, e *Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCopies {
		clear(c.m)
	}
	c.m[slug] = e
}

func (c *copies) drop(slug string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, slug)
}

// List returns every event in date order.
func (s *Service) List(ctx context.Context) ([]Event, error) {
	return s.store.list(ctx)
}

// keepPromise stores what the event promises now, and names it on the
// event.
func (s *Service) keepPromise(ctx context.Context, e *Event) error {
	p := e.promise()
	e.PromiseID = p.ID
	return s.promises.keep(ctx, p, s.now())
}

// Patch applies the members p carries to the event, then checks the
// result by the rules of a new event. Once anyone has signed up (inUse),
// the tags of a field in the form cannot change: ErrTagsInUse. A partner
// added is dated, so that those who signed up before are told first. A
// concurrent change is retried a few times on the fresh version before
// ErrConflict is returned.
func (s *Service) Patch(ctx context.Context, slug string, p PatchRequest, inUse InUse) (*Event, error) {
	for range 3 {
		prev, err := s.store.get(ctx, slug)
		if err != nil {
			return nil, err
		}
		next, err := s.patched(prev, p)
		if err != nil {
			return nil, err
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		next.Partners = datePartners(prev.Partners, next.Partners, now)
		if reflect.DeepEqual(next.Settings, prev.Settings) {
			return prev, nil // nothing to change
		}
		next.UpdatedAt = now
		if keys := changedTags(prev, next); len(keys) > 0 && inUse != nil {
			used, err := inUse(ctx, slug)
			if err != nil {
				return nil, err
			}
			if used {
				return nil, fmt.Errorf("fields %v: %w", keys, ErrTagsInUse)
			}
		}
		if err := s.keepPromise(ctx, next); err != nil {
			return nil, err
		}
		err = s.store.replace(ctx, prev, next)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return next, nil
	}
	return nil, ErrConflict
}

// patched is the event prev with the members p carries, checked by the
// rules of a new event.
func (s *Service) patched(prev *Event, p PatchRequest) (*Event, error) {
	next := *prev
	errs := p.apply(&next)
	errs = append(errs, next.validate()...)
	errs = append(errs, s.vatFaults(&next)...)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &next, nil
}

// PreviewPatch checks a change as Patch does and returns the event it
// would make, without storing it: the back office shows the privacy
// notice as it would read before the change is saved.
func (s *Service) PreviewPatch(ctx context.Context, slug string, p PatchRequest) (*Event, error) {
	prev, err := s.store.get(ctx, slug)
	if err != nil {
		return nil, err
	}
	return s.patched(prev, p)
}

// changedTags lists the fields of both forms whose tags a change would
// alter (category, legal basis, purposes, recipients, retention, consent).
func changedTags(prev, next *Event) []string {
	var keys []string
	for _, f := range next.Fields {
		if !prev.Asks(f.Key) {
			continue
		}
		a, _ := prev.Field(f.Key)
		b, _ := next.Field(f.Key)
		a.Label, b.Label = privacy.Text{}, privacy.Text{}
		a.Validation, b.Validation = privacy.Validation{}, privacy.Validation{}
		if !reflect.DeepEqual(a, b) {
			keys = append(keys, f.Key)
		}
	}
	return keys
}

// datePartners keeps when each partner already there was added, and
// dates those added now.
func datePartners(prev, next []Partner, now time.Time) []Partner {
	out := slices.Clone(next)
	for i := range out {
		j := slices.IndexFunc(prev, func(p Partner) bool { return p.ID == out[i].ID })
		if j >= 0 {
			out[i].AddedAt, out[i].NoticesDoneAt = prev[j].AddedAt, prev[j].NoticesDoneAt
		} else {
			out[i].AddedAt, out[i].NoticesDoneAt = now, nil
		}
	}
	return out
}

// ClaimSeats takes the seats of a claim in the event and its categories
// together, or none: a *SoldOutError (ErrSoldOut) names the category, or
// the event, with too few left. ev is the event as read; a claim on
// categories it has changed since is checked on the new version. A
// negative count gives a category's seats back in the same update: a
// claim of +1 in one and -1 in another moves a seat between them.
func (s *Service) ClaimSeats(ctx context.Context, ev *Event, claim Claim) error {
	return s.store.claimSeats(ctx, ev, claim)
}

// ErrNoBibs: the category's range of start numbers is used up.
var ErrNoBibs = errors.New("no start numbers left")

// TakeBib gives the next start number of a race category with a range:
// never one given before (0 and no error for a category without one).
func (s *Service) TakeBib(ctx context.Context, ev *Event, category string) (int, error) {
	return s.TakeBibs(ctx, ev, category, 1)
}

// TakeBibs gives the next n start numbers of a race category at once
// (for an order): the first of them, the others following it.
func (s *Service) TakeBibs(ctx context.Context, ev *Event, category string, n int) (int, error) {
	c, ok := ev.Category(category)
	if !ok || c.Bibs == nil || n == 0 {
		return 0, nil
	}
	last, err := s.store.takeBib(ctx, ev.Slug, category, c.Bibs.To-c.Bibs.From+1, n)
	if err != nil {
		return 0, err
	}
	return c.Bibs.From + last - n, nil
}

// ReleaseSeats gives the seats of a claim back.
func (s *Service) ReleaseSeats(ctx context.Context, slug string, claim Claim) error {
	return s.store.releaseSeats(ctx, slug, claim)
}

// AdjustSeats moves the seats left by delta, if the event still has the
// capacity and seats left it was read with (a recount's repair; false
// when either moved meanwhile).
func (s *Service) AdjustSeats(ctx context.Context, slug string, capacity, seatsLeft, delta int) (bool, error) {
	return s.store.adjustSeats(ctx, slug, capacity, seatsLeft, delta)
}

// AdjustTaken moves a category's seats taken by delta, if they are still
// as read (a recount's repair).
func (s *Service) AdjustTaken(ctx context.Context, slug, category string, taken, delta int) (bool, error) {
	return s.store.adjustTaken(ctx, slug, category, taken, delta)
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

// Delete removes a cancelled event and its codes; its registrations are
// the registration package's to erase first (registration.Retention's
// EraseEvent). What it promised stays: promises are kept once, for good.
func (s *Service) Delete(ctx context.Context, slug string) error {
	if _, err := s.codes.c.DeleteMany(ctx, bson.M{"event": slug}); err != nil {
		return fmt.Errorf("delete codes: %w", err)
	}
	if _, err := s.store.c.DeleteOne(ctx, bson.M{"_id": slug, "cancelledAt": bson.M{"$exists": true}}); err != nil {
		return fmt.Errorf("delete event: %w", err)
	}
	s.copies.drop(slug)
	return nil
}

// CancellationDone records that every registration of a cancelled event
// was cancelled.
func (s *Service) CancellationDone(ctx context.Context, slug string) error {
	return s.store.cancellationDone(ctx, slug, s.now().UTC().Truncate(time.Millisecond))
}

// PartnerNoticesDone records that everyone who signed up before the
// partner was added has been told of it.
func (s *Service) PartnerNoticesDone(ctx context.Context, slug, partnerID string) error {
	return s.store.partnerNoticesDone(ctx, slug, partnerID, s.now().UTC().Truncate(time.Millisecond))
}

// Reminded records that the event's reminders are queued.
func (s *Service) Reminded(ctx context.Context, slug string) error {
	return s.store.reminded(ctx, slug, s.now().UTC().Truncate(time.Millisecond))
}

// CountPurged adds n registrations deleted by retention to the event's
// count.
func (s *Service) CountPurged(ctx context.Context, slug string, n int) error {
	return s.store.countPurged(ctx, slug, n)
}
