package registration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
)

// Group commit. Every store write is made durable on its own (on the
// embedded store, its own SQLite transaction and fsync; on MongoDB, its
// own journal commit), so a rush of sign-ups one at a time is bounded by
// the disk, not the CPU. Sign-ups that arrive while an event's previous
// group is being written wait for the next one; each group claims its
// seats in one conditional update of the event, inserts its data keys
// and its registrations in one unordered insert each, and answers each
// sign-up with its own outcome. A 201 is still sent only once its
// registration is written.

// maxBatch bounds a group: what is waiting when the writer starts, at
// most this many.
const maxBatch = 256

// batchTimeout bounds one group's writes.
const batchTimeout = 30 * time.Second

// pending is one sign-up in a group: checked and built, its seat not
// yet claimed.
type pending struct {
	// ctx is the request's: the group's writes keep its values (for the
	// logs) but not its end, so that one client leaving does not stop the
	// others' commit.
	ctx  context.Context
	reg  *Registration
	keys *keyDoc
	// settle makes what follows from the seat or the waiting list (see
	// Signups.settle); a group calls it once the seat is decided.
	settle func(*Registration)
	done   chan error
}

// batcher keeps one queue and at most one writer per event.
type batcher struct {
	mu     sync.Mutex
	queues map[string][]*pending
	commit func(slug string, group []*pending)
}

func newBatcher(commit func(string, []*pending)) *batcher {
	return &batcher{queues: map[string][]*pending{}, commit: commit}
}

// submit queues a sign-up for its event's next group, starting the
// event's writer if none runs.
func (b *batcher) submit(slug string, p *pending) {
	b.mu.Lock()
	q, running := b.queues[slug]
	b.queues[slug] = append(q, p)
	b.mu.Unlock()
	if !running {
		go b.run(slug)
	}
}

// run writes an event's groups until its queue is empty.
func (b *batcher) run(slug string) {
	for {
		b.mu.Lock()
		q := b.queues[slug]
		if len(q) == 0 {
			delete(b.queues, slug)
			b.mu.Unlock()
			return
		}
		n := min(len(q), maxBatch)
		group := q[:n:n]
		b.queues[slug] = append([]*pending(nil), q[n:]...)
		b.mu.Unlock()
		b.commit(slug, group)
	}
}

// commitGroup claims a group's seats and stores it. Seats go in arrival
// order to those they fit (a full category skips its sign-ups, not the
// others'); one that does not fit joins the waiting list if the event has
// one and it bought no add-on, or is refused as sold out. A sign-up
// refused for certain by the store (a retry of one already made, a
// document refused) gives its seat back; after an answer that leaves the
// write open (a timeout), its seat is left to the recount, as for a
// single sign-up.
func (s *Signups) commitGroup(slug string, group []*pending) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(group[0].ctx), batchTimeout)
	defer cancel()
	answer := func(p *pending, err error) {
		p.done <- err
	}
	claims := make([]events.Claim, len(group))
	for i, p := range group {
		claims[i] = p.reg.claim(true)
	}
	var (
		ev    *events.Event
		fits  []error
		total events.Claim
		err   error
	)
	for range 5 {
		if ev, err = s.d.events.Get(ctx, slug); err != nil {
			break
		}
		if !ev.RegistrationOpen(s.d.clock()) {
			// Closed, cancelled or being erased since its sign-ups were
			// checked.
			err = ErrRegistrationClosed
			break
		}
		fits, total = ev.Fit(claims)
		if total.Total() == 0 && len(total) == 0 {
			break
		}
		// Claimed on the event as read: if another writer (an order, a
		// cancellation, another instance) moved its seats meanwhile, the
		// group is fitted again on the fresh count.
		if err = s.d.events.ClaimSeats(ctx, ev, total); !errors.Is(err, events.ErrSoldOut) {
			break
		}
	}
	if err != nil {
		for _, p := range group {
			answer(p, err)
		}
		return
	}

	kept := make([]*pending, 0, len(group))
	giveBack := events.Claim{}
	for i, p := range group {
		reg := p.reg
		switch {
		case fits[i] == nil:
			reg.Seat, reg.Status = true, Confirmed
		case waitlists(ev, reg):
			reg.Status = Waitlisted
		default:
			answer(p, fmt.Errorf("claim seats: %w", fits[i]))
			continue
		}
		p.settle(reg)
		kept = append(kept, p)
	}
	regs := make([]*Registration, len(kept))
	for i, p := range kept {
		regs[i] = p.reg
	}
	s.numberBibs(ctx, ev, regs...)

	failed, err := s.d.Store.insertGroup(ctx, regs, func(i int) *keyDoc { return kept[i].keys })
	for i, p := range kept {
		e := failed[i]
		if e == nil {
			e = err
		}
		if e != nil && s.notStored(ctx, p.reg, e) && p.reg.Seat {
			giveBack.Add(p.reg.claim(true))
		}
		answer(p, e)
	}
	if len(giveBack) > 0 {
		if err := s.d.events.ReleaseSeats(ctx, slug, giveBack); err != nil {
			s.d.log.ErrorContext(ctx, "seats not given back after refused inserts; the recount repairs them", "event", slug, "err", err)
		}
	}
}

// insertGroup stores a group of new registrations: their data keys in one
// insert, then the registrations whose keys are stored in another.
// failed[i] says why regs[i] was refused for certain (ErrSubmitted for a
// submission made before); err is a failure of a whole insert, after
// which the group's registrations may or may not be stored. Keys of a
// registration refused for certain are destroyed again.
func (s *Store) insertGroup(ctx context.Context, regs []*Registration, keysOf func(int) *keyDoc) (failed []error, err error) {
	failed = make([]error, len(regs))
	var keyDocs []any
	var keyIdx []int
	for i := range regs {
		if k := keysOf(i); k != nil {
			keyDocs, keyIdx = append(keyDocs, k), append(keyIdx, i)
		}
	}
	kf, err := s.vault.c.InsertEach(ctx, keyDocs)
	if err != nil {
		return failed, fmt.Errorf("insert data keys: %w", err)
	}
	for j, e := range kf {
		if e != nil {
			failed[keyIdx[j]] = fmt.Errorf("insert data keys: %w", e)
		}
	}
	var docs []any
	var idx []int
	for i, r := range regs {
		if failed[i] == nil {
			docs, idx = append(docs, r), append(idx, i)
		}
	}
	rf, err := s.c.InsertEach(ctx, docs)
	if err != nil {
		return failed, fmt.Errorf("insert registrations: %w", err)
	}
	for j, e := range rf {
		if e == nil {
			continue
		}
		i := idx[j]
		if errors.Is(e, mongodb.ErrDuplicate) {
			e = ErrSubmitted
		}
		failed[i] = fmt.Errorf("insert registration: %w", e)
		if keysOf(i) != nil {
			if derr := s.vault.destroyAll(context.WithoutCancel(ctx), regs[i].ID); derr != nil {
				failed[i] = errors.Join(failed[i], derr)
			}
		}
	}
	return failed, nil
}
