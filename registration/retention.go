package registration

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// PurgeCount says how many values one rule removed for one event.
type PurgeCount struct {
	Event string `bson:"event" json:"event"`
	Field string `bson:"field" json:"field"`
	Rule  string `bson:"rule" json:"rule"`
	Count int    `bson:"count" json:"count"`
}

// PurgeReceipt records a retention run: when, by which rules, how many.
// It holds no personal data.
type PurgeReceipt struct {
	ID                   string       `bson:"_id" json:"id"`
	At                   time.Time    `bson:"at" json:"at"`
	DryRun               bool         `bson:"dryRun" json:"dryRun"`
	Values               []PurgeCount `bson:"values" json:"values"`
	RegistrationsDeleted int          `bson:"registrationsDeleted" json:"registrationsDeleted"`
}

// RuleRemovedFromForm is the purge rule of a value whose field an
// organiser removed from the form: it goes at once.
const RuleRemovedFromForm = "removed_from_form"

// bookkeeping is how long payment records are kept: five years after the
// end of the fiscal year (bokføringsloven § 13).
var bookkeeping = privacy.MustRetention("fiscal_year_end+5y")

// due works out what retention removes from one registration at now:
// the values whose rule has run out, and whether the registration itself
// goes (nothing dated is left, the event is over, and no payment record
// must be kept).
func due(reg *Registration, ev *events.Event, now time.Time) (values []string, rules map[string]string, deleteAll bool) {
	a := anchors(reg, ev)
	rules = map[string]string{}
	remaining := 0
	invoiced := reg.Payment != nil && reg.Payment.InvoiceNumber != 0
	consider := func(key string) {
		if key == pendingEmail {
			// A new address waiting for its confirmation, until it runs out.
			if c := reg.EmailChange; c == nil || !now.Before(c.Until) {
				values, rules[key] = append(values, key), "address_change_unconfirmed"
			}
			return
		}
		f, ok := ev.Field(key)
		if !ok {
			// A field the form no longer declares: nothing allows keeping it.
			values, rules[key] = append(values, key), "undeclared"
			return
		}
		if !ev.Asks(key) && !(invoiced && f.LegalBasis == privacy.LegalObligation) {
			// Removed from the form: no purpose is left for it, but the
			// bookkeeping of an issued invoice.
			values, rules[key] = append(values, key), RuleRemovedFromForm
			return
		}
		at, ok := deleteAt(reg, ev, key)
		if !ok {
			if f.Retention.Anchor != privacy.WithRegistration {
				remaining++
			}
			return
		}
		if !now.Before(at) {
			values, rules[key] = append(values, key), f.Retention.String()
			return
		}
		remaining++
	}
	for key := range reg.Sealed {
		consider(key)
	}
	sort.Strings(values)
	if remaining > 0 || now.Before(ev.EndsAt) {
		return values, rules, false
	}
	if p := reg.Payment; p != nil && (p.PaidAmount > 0 || p.InvoiceNumber != 0) {
		if at, _ := bookkeeping.DeleteAt(a); now.Before(at) {
			return values, rules, false
		}
	}
	return values, rules, true
}

// Retention applies every field's retention rule, and shows what remains.
type Retention struct {
	d        *Domain
	purges   *mongodb.Collection
	requests *mongodb.Collection
	changes  *mongodb.Collection
}

// NewRetention returns the retention part.
func NewRetention(d *Domain) *Retention {
	return &Retention{d: d, purges: d.db.Collection(mongodb.PurgeReceipts), requests: d.db.Collection(mongodb.PrivacyRequests),
		changes: d.db.Collection(mongodb.RetentionChanges)}
}

// RunRetention applies every field's retention rule: values whose time has
// come are removed, and a registration with nothing dated left (and no
// payment record to keep) is deleted, leaving only counts. dryRun counts
// without removing. Every run writes a purge receipt.
func (s *Retention) RunRetention(ctx context.Context, dryRun bool) (*PurgeReceipt, error) {
	now := s.d.now().UTC().Truncate(time.Millisecond)
	rec := &PurgeReceipt{ID: rand.Text(), At: now, DryRun: dryRun, Values: []PurgeCount{}}
	evs, err := s.d.events.List(ctx)
	if err != nil {
		return nil, err
	}
	destroyed := false
	defer func() {
		// Destroyed keys leave no copy in the key store's log.
		if destroyed {
			if err := s.d.Store.vault.checkpoint(context.WithoutCancel(ctx)); err != nil {
				s.d.log.ErrorContext(ctx, "key store checkpoint after retention", "err", err)
			}
		}
	}()
	for i := range evs {
		d, err := s.purgeEvent(ctx, &evs[i], now, dryRun, rec)
		destroyed = destroyed || d
		if err != nil {
			return nil, err
		}
	}
	// Privacy requests: the subject's address is needed to answer; it goes
	// a year after the request was closed. The record of what was asked and
	// done stays three years, to show the rights were honoured.
	n, err := s.purgeRequests(ctx, now, dryRun)
	destroyed = destroyed || (n > 0 && !dryRun)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		rec.Values = append(rec.Values, PurgeCount{Event: "-", Field: "privacy_request", Rule: "closed+1y (address, notes), closed+3y (record)", Count: n})
	}
	sort.Slice(rec.Values, func(i, j int) bool {
		a, b := rec.Values[i], rec.Values[j]
		return a.Event < b.Event || (a.Event == b.Event && a.Field < b.Field)
	})
	if err := s.purges.InsertOne(ctx, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// purgeEvent applies retention to one event's registrations, adding what
// it removed to rec; destroyed says whether keys were destroyed.
func (s *Retention) purgeEvent(ctx context.Context, ev *events.Event, now time.Time, dryRun bool, rec *PurgeReceipt) (destroyed bool, err error) {
	counts := map[[2]string]int{}
	regs, err := s.d.Store.ofEvent(ctx, ev.Slug)
	if err != nil {
		return false, fmt.Errorf("retention: %w", err)
	}
	deleted := 0
	for j := range regs {
		reg := &regs[j]
		values, rules, deleteAll := due(reg, ev, now)
		for _, v := range values {
			counts[[2]string{v, rules[v]}]++
		}
		if dryRun || (len(values) == 0 && !deleteAll) {
			if deleteAll {
				deleted++
			}
			continue
		}
		if deleteAll {
			// The keys first: from then on no copy of the values can be
			// read; the document with what is left goes after.
			if err := s.d.Store.vault.destroyAll(ctx, reg.ID); err != nil {
				return destroyed, err
			}
			destroyed = true
			ok, err := s.d.Store.deleteExpired(ctx, reg)
			if err != nil {
				return destroyed, err
			}
			if ok {
				deleted++
			}
			continue
		}
		if err := s.d.Store.vault.destroy(ctx, reg.ID, values); err != nil {
			return destroyed, err
		}
		destroyed = true
		// Only if unchanged since read: a rectification meanwhile is
		// looked at again next run (its key is gone already).
		if _, err := s.d.Store.purgeValues(ctx, reg, values, now); err != nil {
			return destroyed, err
		}
	}
	for k, n := range counts {
		rec.Values = append(rec.Values, PurgeCount{Event: ev.Slug, Field: k[0], Rule: k[1], Count: n})
	}
	rec.RegistrationsDeleted += deleted
	if deleted > 0 && !dryRun {
		if err := s.d.events.CountPurged(ctx, ev.Slug, deleted); err != nil {
			return destroyed, err
		}
	}
	return destroyed, nil
}

// PurgeEvent applies retention to one event at once, after its form
// changed: the values of fields removed from it go now (their keys
// destroyed first), not at the next hourly run. It writes a receipt.
func (s *Retention) PurgeEvent(ctx context.Context, ev *events.Event) (*PurgeReceipt, error) {
	now := s.d.now().UTC().Truncate(time.Millisecond)
	rec := &PurgeReceipt{ID: rand.Text(), At: now, Values: []PurgeCount{}}
	destroyed, err := s.purgeEvent(ctx, ev, now, false, rec)
	if destroyed {
		if cerr := s.d.Store.vault.checkpoint(context.WithoutCancel(ctx)); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(rec.Values, func(i, j int) bool { return rec.Values[i].Field < rec.Values[j].Field })
	if err := s.purges.InsertOne(ctx, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// FieldRetention is what remains of one field of an event, and when it goes.
type FieldRetention struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
	// Held counts registrations holding a value.
	Held int `json:"held"`
	// First and Last are the earliest and latest deletion dates; nil when
	// the rule has no date (with the registration, until withdrawn).
	First *time.Time `json:"firstDeletion,omitempty"`
	Last  *time.Time `json:"lastDeletion,omitempty"`
}

// EventRetention is what personal data of an event remains.
type EventRetention struct {
	Event         string           `json:"event"`
	EndsAt        time.Time        `json:"endsAt"`
	Registrations int              `json:"registrations"`
	Purged        int              `json:"registrationsPurged"`
	Fields        []FieldRetention `json:"fields"`
}

// Receipts are the latest retention runs that deleted something (a run
// that found nothing due is not listed), newest first, at most limit.
func (s *Retention) Receipts(ctx context.Context, limit int64) ([]PurgeReceipt, error) {
	out := []PurgeReceipt{}
	err := s.purges.All(ctx, bson.M{"dryRun": false, "$or": bson.A{bson.M{"values.0": bson.M{"$exists": true}}, bson.M{"registrationsDeleted": bson.M{"$gt": 0}}}},
		&out, options.Find().SetSort(bson.D{{Key: "at", Value: -1}}).SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list purge receipts: %w", err)
	}
	return out, nil
}

// RetentionOverview shows, per event, what personal data remains and when
// it goes.
func (s *Retention) RetentionOverview(ctx context.Context) ([]EventRetention, error) {
	evs, err := s.d.events.List(ctx)
	if err != nil {
		return nil, err
	}
	out := []EventRetention{}
	for i := range evs {
		ev := &evs[i]
		regs, err := s.d.Store.ofEvent(ctx, ev.Slug)
		if err != nil {
			return nil, err
		}
		er := EventRetention{Event: ev.Slug, EndsAt: ev.EndsAt, Registrations: len(regs), Purged: ev.Purged, Fields: []FieldRetention{}}
		for _, ff := range ev.Fields {
			f, _ := ev.Field(ff.Key)
			fr := FieldRetention{Field: ff.Key, Rule: f.Retention.String()}
			for j := range regs {
				if _, held := regs[j].Sealed[ff.Key]; !held {
					continue
				}
				fr.Held++
				if at, ok := deleteAt(&regs[j], ev, ff.Key); ok {
					if fr.First == nil || at.Before(*fr.First) {
						fr.First = &at
					}
					if fr.Last == nil || at.After(*fr.Last) {
						fr.Last = &at
					}
				}
			}
			er.Fields = append(er.Fields, fr)
		}
		out = append(out, er)
	}
	return out, nil
}

// purgeRequests removes the address of privacy requests closed over a year
// ago and the requests closed over three years ago; it counts both.
func (s *Retention) purgeRequests(ctx context.Context, now time.Time, dryRun bool) (int, error) {
	addrBefore, recordBefore := now.AddDate(-1, 0, 0), now.AddDate(-3, 0, 0)
	var due []Request
	if err := s.requests.All(ctx, bson.M{"closedAt": bson.M{"$lt": addrBefore}, "subjectKey": bson.M{"$ne": ""}}, &due,
		options.Find().SetProjection(bson.M{"_id": 1})); err != nil {
		return 0, err
	}
	if dryRun {
		return len(due), nil
	}
	n, err := s.requests.DeleteMany(ctx, bson.M{"closedAt": bson.M{"$lt": recordBefore}})
	if err != nil {
		return 0, err
	}
	for _, req := range due {
		// The keys first: the address and the notes cannot be read again,
		// from any copy; then the ciphertexts go.
		if err := s.d.Store.vault.destroyAll(ctx, requestKeys(req.ID)); err != nil {
			return int(n), err
		}
		if _, err := s.requests.UpdateOne(ctx, bson.M{"_id": req.ID},
			bson.M{"$set": bson.M{"subjectKey": ""}, "$unset": bson.M{"sealed": "", "email": "", "notes": ""}}); err != nil {
			return int(n), err
		}
		n++
	}
	return int(n), nil
}

// RetentionChange records deletion dates an event change brought forward:
// which event, field and how many registrations, from when to when, and
// why. It holds no personal data.
type RetentionChange struct {
	ID     string    `bson:"_id" json:"id"`
	Event  string    `bson:"event" json:"event"`
	At     time.Time `bson:"at" json:"at"`
	Field  string    `bson:"field" json:"field"`
	Count  int       `bson:"count" json:"count"`
	From   time.Time `bson:"from" json:"from"`
	To     time.Time `bson:"to" json:"to"`
	Reason string    `bson:"reason" json:"reason"`
}

// Shorten brings forward the deletion dates of an event's registrations
// that its current settings (an earlier end, say) make earlier; a date is
// never moved later: it was fixed at sign-up, by what the participant was
// told. Every change is recorded. It returns how many registrations
// changed.
func (s *Retention) Shorten(ctx context.Context, ev *events.Event, reason string) (int, error) {
	regs, err := s.d.Store.ofEvent(ctx, ev.Slug)
	if err != nil {
		return 0, err
	}
	type change struct {
		field    string
		from, to time.Time
	}
	counts := map[change]int{}
	n := 0
	for i := range regs {
		reg := &regs[i]
		values := map[string]string{}
		for k := range reg.DeleteAt {
			values[k] = ""
		}
		set := bson.M{}
		for k, at := range deadlines(ev, values) {
			if old := reg.DeleteAt[k]; at.Before(old) {
				set["deleteAt."+k] = at
				counts[change{k, old, at}]++
			}
		}
		if len(set) == 0 {
			continue
		}
		ok, err := s.d.Store.shortenDeadlines(ctx, reg, set)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	now := s.d.clock()
	for c, count := range counts {
		if err := s.changes.InsertOne(ctx, RetentionChange{ID: rand.Text(), Event: ev.Slug, At: now, Field: c.field,
			Count: count, From: c.from, To: c.to, Reason: reason}); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Changes lists the recorded changes of deletion dates, oldest first.
func (s *Retention) Changes(ctx context.Context) ([]RetentionChange, error) {
	out := []RetentionChange{}
	err := s.changes.All(ctx, bson.M{}, &out, options.Find().SetSort(bson.D{{Key: "at", Value: 1}}))
	return out, err
}

// ErrEventSells: an event that sells anything, or whose registrations
// hold a payment or an invoice, keeps its records (bookkeeping keeps them
// five years): it can be cancelled, not erased.
var ErrEventSells = errors.New("event sells or has payment records")

// RuleEventErased is the purge rule of the values of an erased event.
const RuleEventErased = "event_erased"

// EraseEvent erases a free event and everything its sign-ups left: for an
// event made by mistake or for a test (pamelding loadtest's rushes). The
// event is cancelled first, so that sign-ups stop; then each
// registration's and order's data keys are destroyed (from then on no
// copy of their values can be opened, not even from a backup), their
// documents deleted, and the event with its codes. Nobody is mailed: no
// address is left to mail (to tell participants, cancel the event
// instead). The disclosure log stays (what was shown to whom, by id), and
// a purge receipt counts what went.
func (s *Retention) EraseEvent(ctx context.Context, slug string) (*PurgeReceipt, error) {
	ev, err := s.d.events.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	if ev.Paid() {
		return nil, ErrEventSells
	}
	regs, err := s.d.Store.ofEvent(ctx, slug)
	if err != nil {
		return nil, fmt.Errorf("erase event: %w", err)
	}
	for _, r := range regs {
		if p := r.Payment; p != nil && (p.PaidAmount > 0 || p.InvoiceNumber != 0) {
			return nil, ErrEventSells
		}
	}
	if _, err := s.d.events.Cancel(ctx, slug); err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx) // once begun, it is finished
	now := s.d.now().UTC().Truncate(time.Millisecond)
	rec := &PurgeReceipt{ID: rand.Text(), At: now, Values: []PurgeCount{}}
	counts := map[string]int{}
	// Twice: the second time for sign-ups that were being written as the
	// event closed.
	for range 2 {
		if regs, err = s.d.Store.ofEvent(ctx, slug); err != nil {
			return nil, fmt.Errorf("erase event: %w", err)
		}
		var orders []Order
		if err := s.d.Store.orders.All(ctx, bson.M{"event": slug}, &orders, options.Find().SetProjection(bson.M{"_id": 1})); err != nil {
			return nil, fmt.Errorf("erase event: %w", err)
		}
		ids := make([]string, 0, len(regs)+len(orders))
		for _, r := range regs {
			ids = append(ids, r.ID)
			for key := range r.Sealed {
				counts[key]++
			}
		}
		for _, o := range orders {
			ids = append(ids, o.ID)
		}
		if err := s.d.Store.vault.destroyEach(ctx, ids); err != nil {
			return nil, err
		}
		n, err := s.d.Store.deleteEvent(ctx, slug)
		if err != nil {
			return nil, err
		}
		rec.RegistrationsDeleted += int(n)
	}
	if err := s.d.Store.vault.checkpoint(ctx); err != nil {
		return nil, err
	}
	if err := s.d.events.Delete(ctx, slug); err != nil {
		return nil, err
	}
	for field, n := range counts {
		rec.Values = append(rec.Values, PurgeCount{Event: slug, Field: field, Rule: RuleEventErased, Count: n})
	}
	sort.Slice(rec.Values, func(i, j int) bool { return rec.Values[i].Field < rec.Values[j].Field })
	if err := s.purges.InsertOne(ctx, rec); err != nil {
		return nil, err
	}
	s.d.log.InfoContext(ctx, "event erased", "event", slug, "registrations", rec.RegistrationsDeleted)
	return rec, nil
}
