package registration

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// ErrWrongState: the registration is not in the state a transition
// expects (it moved on meanwhile, or never was); nothing was changed.
var ErrWrongState = errors.New("registration not in the expected state")

// Store is the one owner of the registrations collection. Every change to
// a registration is one of the named transitions below: a single
// conditional update (a compare-and-set) on the state it expects, which
// changes nothing and returns ErrWrongState (or a domain error saying
// more) from any other state. Package payments and package webhooks call
// the exported ones through small interfaces of their own; nothing else
// writes a registration.
//
// It keeps the registrations' data keys too, in the key store (vault): a
// registration holds its values sealed, each under a key of its own.
type Store struct {
	c     *mongodb.Collection
	vault *vault
	now   func() time.Time
	// disclosures and chunks log what was opened for whom.
	disclosures, chunks *mongodb.Collection
	// orders are orders of several participants (see Signups.Order).
	orders *mongodb.Collection
}

// NewStore returns the registrations' store: documents in db, their data
// keys in keyStore.
func NewStore(db, keyStore *mongodb.Store, keys *privacy.Keyring, now func() time.Time) *Store {
	return &Store{c: db.Collection(mongodb.Registrations), now: now,
		vault:       &vault{store: keyStore, c: keyStore.Collection(mongodb.DataKeys), keys: keys},
		disclosures: db.Collection(mongodb.Disclosures), chunks: db.Collection(mongodb.DisclosureChunks),
		orders: db.Collection(mongodb.Orders)}
}

// Open opens a registration's values (those named, or all) into its Plain
// map and returns them. A value whose key was destroyed is not there.
func (s *Store) Open(ctx context.Context, reg *Registration, fields ...string) (map[string]string, error) {
	values, err := s.vault.open(ctx, reg, fields...)
	if err != nil {
		return nil, err
	}
	if reg.Plain == nil {
		reg.Plain = map[string]string{}
	}
	maps.Copy(reg.Plain, values)
	return values, nil
}

func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// transition applies update to the registration matching filter and
// returns it as it is after; ErrWrongState when none matched.
func (s *Store) transition(ctx context.Context, op string, filter, update bson.M) (*Registration, error) {
	var out Registration
	err := s.c.FindOneAndUpdate(ctx, filter, update, &out)
	switch {
	case errors.Is(err, mongodb.ErrNotFound):
		return nil, fmt.Errorf("%s: %w", op, ErrWrongState)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &out, nil
}

// set is a transition that reports only whether it matched.
func (s *Store) set(ctx context.Context, op string, filter, update bson.M) (bool, error) {
	ok, err := s.c.UpdateOne(ctx, filter, update)
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	return ok, nil
}

// notErased is the filter of every transition a participant's rights
// make: an erased registration takes none.
func notErased(id string) bson.M { return bson.M{"_id": id, "erasedAt": bson.M{"$exists": false}} }

// ----- reads -----

// Get returns a registration by its id.
func (s *Store) Get(ctx context.Context, id string) (*Registration, error) {
	return s.one(ctx, bson.M{"_id": id})
}

func (s *Store) one(ctx context.Context, filter bson.M, opts ...options.Lister[options.FindOneOptions]) (*Registration, error) {
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

func (s *Store) all(ctx context.Context, op string, filter bson.M, opts ...options.Lister[options.FindOptions]) ([]Registration, error) {
	var out []Registration
	if err := s.c.All(ctx, filter, &out, opts...); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// ByToken returns the registration a manage token belongs to.
//
// A manage token expires with its registration's data: once the last of
// its values is due for deletion, the link has nothing left to manage.
func (s *Store) ByToken(ctx context.Context, token string) (*Registration, error) {
	now := s.clock()
	return s.byToken(ctx, manageTokenPrefix, token, func(r *Registration) []string {
		if until, ok := r.ManageableUntil(); ok && !now.Before(until) {
			return nil
		}
		return r.ManageTokens
	})
}

// ByGuardianToken returns the minor's registration a guardian token
// belongs to, not erased.
func (s *Store) ByGuardianToken(ctx context.Context, token string) (*Registration, error) {
	return s.byToken(ctx, guardianTokenPrefix, token, func(r *Registration) []string {
		if r.Guardian == nil || r.ErasedAt != nil {
			return nil
		}
		return r.Guardian.Tokens
	})
}

func (s *Store) byToken(ctx context.Context, prefix, token string, hashes func(*Registration) []string) (*Registration, error) {
	id, ok := tokenID(prefix, token)
	if !ok {
		return nil, ErrInvalidManageToken
	}
	reg, err := s.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidManageToken
	}
	if err != nil {
		return nil, err
	}
	if !oneOf(token, hashes(reg)) {
		return nil, ErrInvalidManageToken
	}
	return reg, nil
}

// ByPaymentIntent returns the registration paid by a Stripe payment
// intent.
func (s *Store) ByPaymentIntent(ctx context.Context, pi string) (*Registration, error) {
	return s.one(ctx, bson.M{"payment.paymentIntentId": pi})
}

// PaidByIntents returns the registrations paid by any of Stripe's
// payment intents pis (an order's participants share one), in one read.
func (s *Store) PaidByIntents(ctx context.Context, pis []string) ([]Registration, error) {
	if len(pis) == 0 {
		return nil, nil
	}
	return s.all(ctx, "registrations by payment intent", bson.M{"payment.paymentIntentId": bson.M{"$in": pis}})
}

// insertionOrder sorts registrations in sign-up order (see
// mongodb.Collection.InsertionOrder).
func (s *Store) insertionOrder() bson.D {
	return s.c.InsertionOrder(bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}})
}

// Each yields the registrations matching a query in sign-up order, streamed
// from a cursor.
func (s *Store) each(ctx context.Context, filter bson.M, o *options.FindOptionsBuilder) iter.Seq2[*Registration, error] {
	return func(yield func(*Registration, error) bool) {
		cur, err := s.c.Find(ctx, filter, o)
		if err != nil {
			yield(nil, fmt.Errorf("find registrations: %w", err))
			return
		}
		defer cur.Close(context.WithoutCancel(ctx))
		for cur.Next(ctx) {
			var reg Registration
			if err := cur.Decode(&reg); err != nil {
				yield(nil, err)
				return
			}
			if !yield(&reg, nil) {
				return
			}
		}
		if err := cur.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// PaymentQuery selects registrations with a payment, for reconciliation.
type PaymentQuery struct {
	Event    string
	From, To *time.Time
}

// WithPayment yields the registrations with a payment, in sign-up order.
func (s *Store) WithPayment(ctx context.Context, q PaymentQuery) iter.Seq2[*Registration, error] {
	filter := bson.M{"payment": bson.M{"$exists": true}}
	if q.Event != "" {
		filter["event"] = q.Event
	}
	created := bson.M{}
	if q.From != nil {
		created["$gte"] = *q.From
	}
	if q.To != nil {
		created["$lt"] = *q.To
	}
	if len(created) > 0 {
		filter["createdAt"] = created
	}
	return s.each(ctx, filter, options.Find().SetSort(s.insertionOrder()))
}

// HoldsPastEnd lists card holds whose payment page should have expired
// before t.
func (s *Store) HoldsPastEnd(ctx context.Context, t time.Time, limit int64) ([]Registration, error) {
	return s.all(ctx, "find holds past their end", bson.M{
		"status": PendingPayment, "payment.status": PaymentPending, "payment.sessionExpiresAt": bson.M{"$lte": t},
	}, options.Find().SetLimit(limit))
}

// AwaitingInvoice lists registrations whose invoice is still to be issued.
func (s *Store) AwaitingInvoice(ctx context.Context, limit int64) ([]Registration, error) {
	return s.all(ctx, "find invoices to issue", bson.M{"payment.status": PaymentInvoicing}, options.Find().SetLimit(limit))
}

// SettlementsDue lists registrations with a refund or a credit note due
// at t.
func (s *Store) SettlementsDue(ctx context.Context, t time.Time, limit int64) ([]Registration, error) {
	return s.all(ctx, "find settlements due", bson.M{
		"payment.status": bson.M{"$in": []PaymentStatus{PaymentRefundDue, PaymentCreditDue}}, "payment.settleAt": bson.M{"$lte": t},
	}, options.Find().SetLimit(limit))
}

// HooksWaiting lists registrations with hook events not yet dispatched
// (ids, events and hooks only).
func (s *Store) HooksWaiting(ctx context.Context, limit int64) ([]Registration, error) {
	return s.all(ctx, "find hooks", bson.M{"hooksAt": bson.M{"$exists": true}},
		options.Find().SetProjection(bson.M{"_id": 1, "event": 1, "hooks": 1, "hooksAt": 1}).SetLimit(limit))
}

// Live lists an event's live registrations.
func (s *Store) Live(ctx context.Context, slug string) ([]Registration, error) {
	return s.all(ctx, "find live registrations", bson.M{"event": slug, "status": bson.M{"$in": LiveStatuses}})
}

// Summary is an event's registrations counted for the back office.
type Summary struct {
	ByStatus map[Status]int
	// Paid is what was paid less what was refunded (øre), by card and
	// invoice; CheckedIn counts who came.
	Paid      int64
	CheckedIn int
	// Of those holding a seat, who a partner export leaves out: objected
	// to partner sharing (art. 21), or restricted (art. 18).
	Objected, Restricted int
}

// SummaryOf counts an event's registrations by status, what they paid
// and who was checked in, in one read of those fields.
func (s *Store) SummaryOf(ctx context.Context, slug string) (Summary, error) {
	regs, err := s.all(ctx, "summarise registrations", bson.M{"event": slug}, options.Find().SetProjection(bson.M{
		"_id": 1, "status": 1, "payment.paidAmount": 1, "payment.refundedAmount": 1, "checkedIn.at": 1,
		"objections.partnerSharing": 1, "restricted": 1}))
	if err != nil {
		return Summary{}, err
	}
	out := Summary{ByStatus: map[Status]int{}}
	for _, r := range regs {
		out.ByStatus[r.Status]++
		if r.Payment != nil {
			out.Paid += r.Payment.PaidAmount - r.Payment.RefundedAmount
		}
		if r.CheckedIn != nil {
			out.CheckedIn++
		}
		if r.Status.WithSeat() && r.Restricted {
			out.Restricted++
		} else if r.Status.WithSeat() && r.Objections.PartnerSharing {
			out.Objected++
		}
	}
	return out, nil
}

// MoneyOf counts an event's registrations by payment status.
func (s *Store) MoneyOf(ctx context.Context, slug string) (map[PaymentStatus]int, error) {
	regs, err := s.all(ctx, "count payments", bson.M{"event": slug, "payment": bson.M{"$exists": true}},
		options.Find().SetProjection(bson.M{"_id": 1, "payment.status": 1}))
	if err != nil {
		return nil, err
	}
	out := map[PaymentStatus]int{}
	for _, r := range regs {
		out[r.Payment.Status]++
	}
	return out, nil
}

// seatsHeld counts, per event and per category of each, the
// registrations holding a seat, in one pass over the collection.
func (s *Store) seatsHeld(ctx context.Context) (events.Claims, error) {
	regs, err := s.all(ctx, "count seats", bson.M{"seat": true}, options.Find().SetProjection(bson.M{"_id": 1, "event": 1, "category": 1, "addons": 1}))
	if err != nil {
		return nil, err
	}
	out := events.Claims{}
	for _, r := range regs {
		for key, n := range r.claim(true) {
			out.Add(r.Event, key, n)
		}
	}
	return out, nil
}

// offerable are the waiting registrations that can be offered a seat: a
// minor's waits for the guardian's confirmation first.
func offerable(slug string) bson.M {
	return bson.M{"event": slug, "status": Waitlisted, "$or": bson.A{
		bson.M{"guardian": bson.M{"$exists": false}}, bson.M{"guardian.confirmedAt": bson.M{"$exists": true}},
	}}
}

// firstWaitlisted is the first on a category's waiting list ("": of the
// registrations without a category).
func (s *Store) firstWaitlisted(ctx context.Context, slug, category string) (*Registration, error) {
	filter := offerable(slug)
	filter["category"] = category
	if category == "" {
		filter["category"] = bson.M{"$exists": false}
	}
	return s.one(ctx, filter, options.FindOne().SetSort(s.insertionOrder()))
}

// waitlisted are the first registrations on the event's waiting lists, in
// the order they signed up, whatever their category.
func (s *Store) waitlisted(ctx context.Context, slug string, limit int64) ([]Registration, error) {
	return s.all(ctx, "find waitlisted", offerable(slug), options.Find().SetSort(s.insertionOrder()).SetLimit(limit).
		SetProjection(bson.M{"_id": 1, "event": 1, "category": 1}))
}

func (s *Store) offersDue(ctx context.Context, now time.Time, limit int64) ([]Registration, error) {
	return s.all(ctx, "find expired offers", bson.M{"status": Offered, "offerExpiresAt": bson.M{"$lte": now}}, options.Find().SetLimit(limit))
}

func (s *Store) outboxDue(ctx context.Context, now time.Time, limit int64) ([]Registration, error) {
	return s.all(ctx, "find mail due", bson.M{"outboxNextAt": bson.M{"$lte": now}},
		options.Find().SetLimit(limit).SetSort(bson.D{{Key: "outboxNextAt", Value: 1}}))
}

func (s *Store) countOutboxDue(ctx context.Context, now time.Time) (int64, error) {
	return s.c.Count(ctx, bson.M{"outboxNextAt": bson.M{"$lte": now}})
}

func (s *Store) ofEvent(ctx context.Context, slug string) ([]Registration, error) {
	return s.all(ctx, "find registrations of event", bson.M{"event": slug})
}

func (s *Store) ofSubject(ctx context.Context, emailKey string) ([]Registration, error) {
	return s.all(ctx, "find registrations of subject", bson.M{"emailKey": emailKey},
		options.Find().SetProjection(bson.M{"_id": 1, "event": 1, "status": 1, "createdAt": 1}))
}

// bySubmission is the registration a sign-up with the submission key made.
func (s *Store) bySubmission(ctx context.Context, slug, activeKey string) (*Registration, error) {
	return s.one(ctx, bson.M{"event": slug, "activeKey": activeKey})
}

// othersOf counts the live registrations an address holds for an event.
func (s *Store) othersOf(ctx context.Context, slug, emailKey string) (int64, error) {
	return s.c.Count(ctx, bson.M{"emailKey": emailKey, "event": slug, "status": bson.M{"$in": LiveStatuses}})
}

// AnyOf says whether anyone has signed up for the event.
func (s *Store) AnyOf(ctx context.Context, slug string) (bool, error) {
	n, err := s.c.Count(ctx, bson.M{"event": slug})
	return n > 0, err
}

func (s *Store) count(ctx context.Context, slug string) (int64, error) {
	return s.c.Count(ctx, bson.M{"event": slug})
}

// ----- sign-up, seats and the waiting list -----

// insert stores a new registration, its data keys first (in the key
// store); ErrSubmitted when one with its submission key exists. Any other
// error may be ambiguous: the registration may have been stored
// (ErrUnavailable after the write). Keys of a registration definitely not
// stored are destroyed again. It is a group of one (see insertGroup).
func (s *Store) insert(ctx context.Context, r *Registration, keys *keyDoc) error {
	failed, err := s.insertGroup(ctx, []*Registration{r}, func(int) *keyDoc { return keys })
	if err != nil {
		return err
	}
	return failed[0]
}

// cancel moves a live registration, as it was read, to cancelled, giving
// up its seat and setting its payment to pay (the money's next state; ""
// keeps it). ErrWrongState when it changed since it was read.
func (s *Store) cancel(ctx context.Context, reg *Registration, pay PaymentStatus, now time.Time, eventCancelled bool) (*Registration, error) {
	if !reg.Status.Live() {
		return nil, fmt.Errorf("cancel registration: %w", ErrWrongState)
	}
	filter := bson.M{"_id": reg.ID, "status": reg.Status, "seat": reg.Seat, "erasedAt": bson.M{"$exists": false}}
	told := Mail{Kind: mailCancelled, CreatedAt: now, EventCancelled: eventCancelled, Money: pay}
	if pay == "" && reg.Payment != nil {
		told.Money = reg.Payment.Status
	}
	// The participant is told, in the same update.
	set := queued(mailCancelled, told)
	maps.Copy(set, bson.M{"status": Cancelled, "seat": false, "activeKey": reg.ID, "updatedAt": now, "hooksAt": now, "cancelledAt": now})
	k, h := HookSet(HookCancelled, now)
	set[k] = h
	if reg.Payment != nil {
		filter["payment.status"] = reg.Payment.Status
		if pay != "" && pay != reg.Payment.Status {
			set["payment.status"] = pay
			if pay == PaymentRefundDue || pay == PaymentCreditDue {
				set["payment.settleAt"] = now
			}
		}
	}
	return s.transition(ctx, "cancel registration", filter, bson.M{"$set": set, "$unset": bson.M{"offerExpiresAt": ""}})
}

// offer gives a freed seat to a waitlisted registration and queues the
// offer mail with a new manage token; ErrWrongState if it is no longer
// waitlisted.
func (s *Store) offer(ctx context.Context, id string, now, until time.Time, m Mail) error {
	ok, err := s.set(ctx, "offer seat",
		bson.M{"_id": id, "status": Waitlisted},
		bson.M{
			"$set": bson.M{
				"status": Offered, "seat": true, "offerExpiresAt": until, "updatedAt": now,
				"outbox.offer-" + m.TokenHash[:8]: m, "outboxNextAt": now,
			},
			"$push": bson.M{"manageTokens": m.TokenHash},
		})
	if err == nil && !ok {
		err = fmt.Errorf("offer seat: %w", ErrWrongState)
	}
	return err
}

// set adds to an update's $set what taking the seat changes: the status
// (confirmed is told to the organisers' systems), the payment's status,
// and the processor's page.
func (due SeatDue) set(set bson.M, now time.Time) {
	set["status"] = due.Status
	if due.Status == Confirmed {
		k, h := HookSet(HookConfirmed, now)
		set[k], set["hooksAt"] = h, now
	}
	if due.Pay != "" {
		set["payment.status"] = due.Pay
	}
	if cs := due.Checkout; cs != nil {
		exp := cs.ExpiresAt.UTC().Truncate(time.Millisecond)
		set["payment.sessionId"], set["payment.checkoutUrl"], set["payment.sessionExpiresAt"] = cs.ID, cs.URL, exp
	}
}

// acceptOffer takes an offered seat before the offer runs out.
func (s *Store) acceptOffer(ctx context.Context, id string, due SeatDue, now time.Time) (*Registration, error) {
	// The participant is told, with the ticket, in the same update.
	set := queued(mailAccepted, Mail{Kind: mailAccepted, CreatedAt: now})
	set["updatedAt"] = now
	due.set(set, now)
	out, err := s.transition(ctx, "accept offer",
		bson.M{"_id": id, "status": Offered, "offerExpiresAt": bson.M{"$gt": now}},
		bson.M{"$set": set, "$unset": bson.M{"offerExpiresAt": ""}})
	if errors.Is(err, ErrWrongState) {
		return nil, fmt.Errorf("accept offer: %w", ErrNoOffer)
	}
	return out, err
}

// expireOffer ends an offer whose time ran out.
func (s *Store) expireOffer(ctx context.Context, id string, now time.Time) (*Registration, error) {
	return s.transition(ctx, "expire offer",
		bson.M{"_id": id, "status": Offered, "offerExpiresAt": bson.M{"$lte": now}},
		bson.M{"$set": bson.M{"status": Expired, "seat": false, "activeKey": id, "updatedAt": now}})
}

// ----- guardians -----

// guardianOpen is the filter of a minor's registration awaiting its
// guardian, not erased.
func guardianOpen(id string) bson.M {
	return bson.M{"_id": id, "erasedAt": bson.M{"$exists": false}, "status": bson.M{"$in": []Status{PendingGuardian, Waitlisted}},
		"guardian.confirmedAt": bson.M{"$exists": false}}
}

// confirmGuardian records the guardian's confirmation before the hold ran
// out, with their consent. One pending the guardian (from) takes its
// status and the payment now due, as an accepted offer does; one on the
// waiting list stays there, now to be offered a seat.
func (s *Store) confirmGuardian(ctx context.Context, id string, from Status, due SeatDue, c Consent, now time.Time) (*Registration, error) {
	filter := guardianOpen(id)
	filter["status"], filter["guardian.holdUntil"] = from, bson.M{"$gt": now}
	set := bson.M{"guardian.confirmedAt": now, "consentState." + string(privacy.ConsentGuardian): true, "updatedAt": now}
	if from == PendingGuardian {
		due.set(set, now)
	}
	return s.transition(ctx, "confirm guardian", filter, bson.M{"$set": set, "$push": bson.M{"consents": c}})
}

// guardianHoldsDue lists minors' registrations whose guardian did not
// confirm in time, and those that lapsed with data still to erase.
func (s *Store) guardianHoldsDue(ctx context.Context, now time.Time, limit int64) ([]Registration, error) {
	return s.all(ctx, "find guardian holds due", bson.M{"guardian.confirmedAt": bson.M{"$exists": false}, "erasedAt": bson.M{"$exists": false}, "$or": bson.A{
		bson.M{"status": bson.M{"$in": []Status{PendingGuardian, Waitlisted}}, "guardian.holdUntil": bson.M{"$lte": now}},
		bson.M{"status": Expired},
	}}, options.Find().SetLimit(limit))
}

// lapseGuardianHold ends a minor's registration its guardian did not
// confirm in time, or declined: expired, its seat given up (the caller
// passes it on).
func (s *Store) lapseGuardianHold(ctx context.Context, id string, now time.Time, declined bool) (*Registration, error) {
	filter := guardianOpen(id)
	if !declined {
		filter["guardian.holdUntil"] = bson.M{"$lte": now}
	}
	return s.transition(ctx, "lapse guardian hold", filter,
		bson.M{"$set": bson.M{"status": Expired, "seat": false, "activeKey": id, "updatedAt": now, "guardian.lapsedAt": now}})
}

// eraseLapsed removes the values of a lapsed minor's registration, whose
// keys are destroyed: nobody consented to keep them.
func (s *Store) eraseLapsed(ctx context.Context, id string, now time.Time) error {
	_, err := s.set(ctx, "erase lapsed", bson.M{"_id": id, "status": Expired, "guardian.confirmedAt": bson.M{"$exists": false}, "erasedAt": bson.M{"$exists": false}},
		bson.M{"$set": bson.M{"sealed": bson.M{}, "deleteAt": bson.M{}, "erasedAt": now, "updatedAt": now, "emailKey": "erased:" + id,
			"manageTokens": []string{}, "guardian.tokens": []string{}, "outbox": bson.M{}, "consentState": bson.M{}},
			"$unset": bson.M{"outboxNextAt": ""}})
	return err
}

// guardianWithdrew records a guardian's withdrawal of the consents they
// gave, with the values under them gone (their keys destroyed first),
// and queues the organiser's notice.
func (s *Store) guardianWithdrew(ctx context.Context, id string, update bson.M, m Mail, now time.Time) (*Registration, error) {
	set := update["$set"].(bson.M)
	set["guardian.withdrawnAt"], set["outbox.guardian-withdrawn"], set["outboxNextAt"], set["updatedAt"] = now, m, now, now
	return s.transition(ctx, "guardian withdrew", bson.M{"_id": id, "erasedAt": bson.M{"$exists": false},
		"guardian.confirmedAt": bson.M{"$exists": true}, "guardian.withdrawnAt": bson.M{"$exists": false}}, update)
}

// ----- payments (called by package payments) -----

// PaidOutcome is what recording a card payment did.
type PaidOutcome int

// The outcomes of MarkPaid.
const (
	// PaidConfirmed: the registration waited for it and is confirmed.
	PaidConfirmed PaidOutcome = iota + 1
	// PaidLate: the money came after the hold ended or the registration
	// was cancelled; it is recorded and the status kept.
	PaidLate
	// PaidBefore: it was recorded before (a replay).
	PaidBefore
	// PaidOrphan: no registration has that payment session.
	PaidOrphan
)

// CardPayment is a completed Stripe Checkout payment.
type CardPayment struct {
	Session       string
	PaymentIntent string
	Amount        int64
	At            time.Time
}

// MarkPaid records a completed card payment of a registration: one
// waiting for it (pending_payment, its own session) is confirmed; one
// that expired or was cancelled meanwhile keeps its status but records
// the money, so the reconciliation report flags it.
func (s *Store) MarkPaid(ctx context.Context, id string, p CardPayment) (PaidOutcome, error) {
	paid := bson.M{
		"payment.status": PaymentPaid, "payment.paymentIntentId": p.PaymentIntent,
		"payment.paidAmount": p.Amount, "payment.paidAt": p.At, "updatedAt": p.At,
	}
	kp, hp := HookSet(HookPaid, p.At)
	paid[kp], paid["hooksAt"] = hp, p.At
	set := queued(mailPaid, Mail{Kind: mailPaid, CreatedAt: p.At})
	set["status"] = Confirmed
	maps.Copy(set, paid)
	kc, hc := HookSet(HookConfirmed, p.At)
	set[kc] = hc
	ok, err := s.set(ctx, "mark paid",
		bson.M{"_id": id, "status": PendingPayment, "payment.sessionId": p.Session, "payment.status": PaymentPending},
		bson.M{"$set": set})
	if err != nil || ok {
		return PaidConfirmed, err
	}
	ok, err = s.set(ctx, "record late payment",
		bson.M{"_id": id, "payment.sessionId": p.Session, "payment.status": bson.M{"$in": []PaymentStatus{PaymentPending, PaymentExpired, PaymentNotDue}}},
		bson.M{"$set": paid})
	if err != nil || ok {
		return PaidLate, err
	}
	n, err := s.c.Count(ctx, bson.M{"_id": id, "payment.sessionId": p.Session})
	if err != nil {
		return 0, fmt.Errorf("mark paid: %w", err)
	}
	if n == 0 {
		return PaidOrphan, nil
	}
	return PaidBefore, nil
}

// ExpireHold ends a card sign-up whose payment page expired unpaid: it
// gives up its seat (which the caller passes on). ErrWrongState when it
// was paid, cancelled or expired already.
func (s *Store) ExpireHold(ctx context.Context, id, session string) (*Registration, error) {
	now := s.clock()
	return s.transition(ctx, "expire hold",
		bson.M{"_id": id, "status": PendingPayment, "payment.sessionId": session, "payment.status": PaymentPending},
		bson.M{"$set": bson.M{"status": Expired, "seat": false, "activeKey": id, "payment.status": PaymentExpired, "updatedAt": now}})
}

// RecordRefund records what Stripe says was refunded of a registration's
// payment in all; the amount only grows. A full refund sets the payment
// refunded whatever the registration's status (a refund made in Stripe's
// dashboard of a confirmed registration is flagged by reconciliation).
func (s *Store) RecordRefund(ctx context.Context, id string, total int64, full bool) (bool, error) {
	now := s.clock()
	set := bson.M{"payment.refundedAmount": total, "payment.refundedAt": now, "updatedAt": now}
	if full {
		set["payment.status"] = PaymentRefunded
	}
	return s.set(ctx, "record refund", bson.M{"_id": id, "payment.refundedAmount": bson.M{"$lt": total}},
		bson.M{"$set": set, "$unset": bson.M{"payment.settleAt": ""}})
}

// RefundIssued records a refund Stripe took for a registration whose
// refund was due: refunded if it succeeded, refunding while Stripe
// finishes it (charge.refunded then records it). A refund Stripe took
// (refundID set) queues the participant's mail that the money is on its
// way back to the card, in the same update.
func (s *Store) RefundIssued(ctx context.Context, id, refundID string, amount int64, succeeded bool) error {
	now := s.clock()
	set := bson.M{"payment.refundId": refundID, "payment.status": PaymentRefunding, "updatedAt": now}
	if succeeded {
		set["payment.status"] = PaymentRefunded
		set["payment.refundedAmount"] = amount
		set["payment.refundedAt"] = now
	}
	var m *Mail
	if refundID != "" {
		m = &Mail{Kind: mailRefund, CreatedAt: now}
	}
	return s.settled(ctx, "refund issued", bson.M{"_id": id, "payment.status": PaymentRefundDue}, set, m)
}

// settled applies a settled refund or credit note (set) to the
// registration matching filter, with the participant's mail m, if any:
// queued unless the registration was erased (nobody is left to tell).
// ErrWrongState when none matched.
func (s *Store) settled(ctx context.Context, op string, filter, set bson.M, m *Mail) error {
	unset := bson.M{"payment.settleAt": "", "payment.settleError": ""}
	if m != nil {
		withMail := queued(m.Kind, *m)
		maps.Copy(withMail, set)
		f := bson.M{"erasedAt": bson.M{"$exists": false}}
		maps.Copy(f, filter)
		ok, err := s.set(ctx, op, f, bson.M{"$set": withMail, "$unset": unset})
		if err != nil || ok {
			return err
		}
	}
	ok, err := s.set(ctx, op, filter, bson.M{"$set": set, "$unset": unset})
	if err == nil && !ok {
		err = fmt.Errorf("%s: %w", op, ErrWrongState)
	}
	return err
}

// LeaseSettlement takes a due refund or credit for until, so one
// instance at a time settles it; false when another took it or it is no
// longer due.
func (s *Store) LeaseSettlement(ctx context.Context, reg *Registration, until time.Time) (bool, error) {
	return s.set(ctx, "lease settlement",
		bson.M{"_id": reg.ID, "payment.status": reg.Payment.Status, "payment.settleAt": reg.Payment.SettleAt},
		bson.M{"$set": bson.M{"payment.settleAt": until}, "$inc": bson.M{"payment.settleLeases": 1}})
}

// SettlementFailed records a failed attempt at a due refund or credit
// and when to try again; class names the failure, never its text.
func (s *Store) SettlementFailed(ctx context.Context, id string, status PaymentStatus, next time.Time, class string) error {
	_, err := s.set(ctx, "settlement failed", bson.M{"_id": id, "payment.status": status},
		bson.M{"$set": bson.M{"payment.settleAt": next, "payment.settleError": class}, "$inc": bson.M{"payment.settleAttempts": 1}})
	return err
}

// ClaimInvoicing takes the exclusive right to issue a registration's
// invoice until the claim runs out; taken says whether it was had (false:
// another issuer holds it, or nothing is to be issued). The registration
// is returned as it is now; its Claims count above one says an earlier
// issuer may have died after storing the invoice.
func (s *Store) ClaimInvoicing(ctx context.Context, id, nonce string, until time.Time) (*Registration, bool, error) {
	now := s.clock()
	reg, err := s.transition(ctx, "claim invoicing",
		bson.M{"_id": id, "payment.status": PaymentInvoicing, "$or": bson.A{
			bson.M{"payment.invoiceClaim": bson.M{"$exists": false}},
			bson.M{"payment.invoiceClaim.until": bson.M{"$lt": now}},
		}},
		bson.M{"$set": bson.M{"payment.invoiceClaim": Claim{Nonce: nonce, Until: until}}, "$inc": bson.M{"payment.claims": 1}})
	if errors.Is(err, ErrWrongState) {
		return nil, false, nil
	}
	return reg, err == nil, err
}

// ReleaseInvoicing gives up a claim whose issuer failed, so the sweep can
// issue at once rather than when the claim runs out.
func (s *Store) ReleaseInvoicing(ctx context.Context, id, nonce string) error {
	_, err := s.set(ctx, "release invoicing", bson.M{"_id": id, "payment.invoiceClaim.nonce": nonce},
		bson.M{"$unset": bson.M{"payment.invoiceClaim": ""}})
	return err
}

// invoiceLink is the update that links an issued invoice to a
// registration and moves its payment to st (credit due: the settlement
// job credits it now), lifting its invoicing claim.
func invoiceLink(number int64, kid string, now time.Time) func(st PaymentStatus) bson.M {
	return func(st PaymentStatus) bson.M {
		set := bson.M{"payment.status": st, "payment.invoiceNumber": number, "payment.kid": kid, "updatedAt": now}
		if st == PaymentCreditDue {
			set["payment.settleAt"] = now
		}
		return bson.M{"$set": set, "$unset": bson.M{"payment.invoiceClaim": ""}}
	}
}

// MarkInvoiced links the invoice issued under a claim: invoiced, and its
// mail (with the PDF) queued in the same update; or, if the registration
// was cancelled in time meanwhile, credit due (the invoice exists and
// must be answered by a credit note, whose mail says both).
func (s *Store) MarkInvoiced(ctx context.Context, id, nonce string, number int64, kid string) (creditDue bool, err error) {
	now := s.clock()
	with := invoiceLink(number, kid, now)
	invoiced := with(PaymentInvoiced)
	maps.Copy(invoiced["$set"].(bson.M), queued(mailInvoice, Mail{Kind: mailInvoice, CreatedAt: now}))
	ok, err := s.set(ctx, "mark invoiced", bson.M{"_id": id, "payment.invoiceClaim.nonce": nonce, "payment.status": PaymentInvoicing}, invoiced)
	if err != nil || ok {
		return false, err
	}
	ok, err = s.set(ctx, "mark invoiced", bson.M{"_id": id, "payment.invoiceClaim.nonce": nonce, "payment.status": PaymentNotDue}, with(PaymentCreditDue))
	if err == nil && !ok {
		err = fmt.Errorf("mark invoiced: %w", ErrWrongState)
	}
	return ok, err
}

// MarkCredited records the credit note that answered a registration's
// invoice, and queues the participant's mail that the invoice is
// credited, in the same update.
func (s *Store) MarkCredited(ctx context.Context, id string, creditNote int64) error {
	now := s.clock()
	return s.settled(ctx, "mark credited", bson.M{"_id": id, "payment.status": PaymentCreditDue},
		bson.M{"payment.status": PaymentCredited, "payment.creditNote": creditNote, "updatedAt": now},
		&Mail{Kind: mailCreditNote, CreatedAt: now})
}

// RecordInvoicePayment records what the bank says was paid on a
// registration's invoice in all (the amount only grows) and the payment
// status that follows; a credited invoice keeps its status.
func (s *Store) RecordInvoicePayment(ctx context.Context, id string, invoice, paidTotal int64, st PaymentStatus, at time.Time) error {
	now := s.clock()
	filter := bson.M{"_id": id, "payment.invoiceNumber": invoice, "payment.paidAmount": bson.M{"$lt": paidTotal}}
	set := bson.M{"payment.paidAmount": paidTotal, "payment.paidAt": at, "updatedAt": now}
	stateful := bson.M{"payment.status": st}
	for k, v := range set {
		stateful[k] = v
	}
	if st == PaymentPaid {
		k, h := HookSet(HookPaid, now)
		stateful[k], stateful["hooksAt"] = h, now
		maps.Copy(stateful, queued(mailPaid, Mail{Kind: mailPaid, CreatedAt: now}))
	}
	f := bson.M{"payment.status": bson.M{"$nin": []PaymentStatus{PaymentCreditDue, PaymentCredited}}}
	for k, v := range filter {
		f[k] = v
	}
	ok, err := s.set(ctx, "record invoice payment", f, bson.M{"$set": stateful})
	if err != nil || ok {
		return err
	}
	_, err = s.set(ctx, "record invoice payment", filter, bson.M{"$set": set})
	return err
}

// ----- mail -----

// queued is the $set that puts a mail in the outbox under key (its kind,
// or the kind with a suffix where a registration may hold several) and
// makes the outbox due when the mail was made: the mailer finds it, and
// a lease taken before it no longer matches.
func queued(key string, m Mail) bson.M {
	return bson.M{"outbox." + key: m, "outboxNextAt": m.CreatedAt}
}

// QueueInvoiceReminder queues the reminder of a registration's unpaid
// invoice, with its new deadline, while the invoice is still the
// registration's and neither paid in full nor credited; false if it is
// not (or the registration was erased). fee is the reminder fee it
// charges (øre; 0: none).
func (s *Store) QueueInvoiceReminder(ctx context.Context, id string, number int64, due time.Time, fee int64) (bool, error) {
	now := s.clock()
	return s.set(ctx, "queue invoice reminder",
		bson.M{"_id": id, "erasedAt": bson.M{"$exists": false}, "payment.invoiceNumber": number,
			"payment.status": bson.M{"$in": []PaymentStatus{PaymentInvoiced, PaymentPartiallyPaid}}},
		bson.M{"$set": queued(mailInvoiceReminder, Mail{Kind: mailInvoiceReminder, CreatedAt: now, Due: &due, Fee: fee})})
}

// queueMessage queues an organiser's message under key in the outbox of
// every registration of the event in one of the statuses, not restricted
// nor erased.
func (s *Store) queueMessage(ctx context.Context, event string, statuses []Status, key string, m Mail) (int64, error) {
	n, err := s.c.UpdateMany(ctx, bson.M{"event": event, "status": bson.M{"$in": statuses}, "restricted": bson.M{"$ne": true},
		"erasedAt": bson.M{"$exists": false}}, bson.M{"$set": queued(key, m)})
	if err != nil {
		return 0, fmt.Errorf("queue message: %w", err)
	}
	return n, nil
}

// queueReminders queues the reminder of every confirmed registration of
// an event that has none yet, in one update: run again after a crash, it
// queues only those it missed. Restricted and erased registrations get
// none.
func (s *Store) queueReminders(ctx context.Context, event string, now time.Time) (int64, error) {
	n, err := s.c.UpdateMany(ctx,
		bson.M{"event": event, "status": Confirmed, "erasedAt": bson.M{"$exists": false}, "restricted": bson.M{"$ne": true},
			"outbox." + mailReminder: bson.M{"$exists": false}},
		bson.M{"$set": queued(mailReminder, Mail{Kind: mailReminder, CreatedAt: now})})
	if err != nil {
		return n, fmt.Errorf("queue reminders: %w", err)
	}
	return n, nil
}

// leaseOutbox takes a registration's outbox until leaseEnd, if its due
// time is still the one read: of several instances, one wins.
func (s *Store) leaseOutbox(ctx context.Context, id string, read *time.Time, leaseEnd time.Time) (bool, error) {
	return s.set(ctx, "lease outbox", bson.M{"_id": id, "outboxNextAt": read}, bson.M{"$set": bson.M{"outboxNextAt": leaseEnd}})
}

// mailSent marks a mail sent, once, and drops the token it carried.
func (s *Store) mailSent(ctx context.Context, id, key string, at time.Time) error {
	_, err := s.set(ctx, "mail sent", bson.M{"_id": id, "outbox." + key + ".sentAt": bson.M{"$exists": false}},
		bson.M{"$set": bson.M{"outbox." + key + ".sentAt": at},
			"$unset": bson.M{"outbox." + key + ".token": "", "outbox." + key + ".subject": "", "outbox." + key + ".text": ""}})
	return err
}

// mailFailed records a failed attempt at a mail.
func (s *Store) mailFailed(ctx context.Context, id, key string, attempts int, class string) error {
	_, err := s.set(ctx, "mail failed", bson.M{"_id": id, "outbox." + key + ".attempts": attempts - 1},
		bson.M{"$set": bson.M{"outbox." + key + ".attempts": attempts, "outbox." + key + ".lastError": class}})
	return err
}

// releaseOutbox gives the outbox lease up: due again at next, or not at
// all. Mail queued meanwhile set its own due time, which the filter on the
// lease protects.
func (s *Store) releaseOutbox(ctx context.Context, id string, leaseEnd time.Time, next *time.Time) error {
	update := bson.M{"$unset": bson.M{"outboxNextAt": ""}}
	if next != nil {
		update = bson.M{"$set": bson.M{"outboxNextAt": *next}}
	}
	_, err := s.set(ctx, "release outbox", bson.M{"_id": id, "outboxNextAt": leaseEnd}, update)
	return err
}

// notePartner queues the notice of a partner added after the participant
// signed up, with a new manage link, and dates it: the objection window
// counts from then. Once only, for a registration live and not erased.
func (s *Store) notePartner(ctx context.Context, id, partner string, at time.Time, m Mail) (bool, error) {
	return s.set(ctx, "note partner",
		bson.M{"_id": id, "status": bson.M{"$in": LiveStatuses}, "erasedAt": bson.M{"$exists": false}, "partnerNotices." + partner: bson.M{"$exists": false}},
		bson.M{"$set": bson.M{"partnerNotices." + partner: at, "outbox.partner-" + partner: m, "outboxNextAt": at},
			"$push": bson.M{"manageTokens": m.TokenHash}})
}

// ----- participants' rights -----

// rectify sets and removes values of a registration not erased.
func (s *Store) rectify(ctx context.Context, id string, set, unset, push bson.M) (*Registration, error) {
	update := bson.M{"$set": set}
	if len(unset) > 0 {
		update["$unset"] = unset
	}
	if len(push) > 0 {
		update["$push"] = push
	}
	out, err := s.transition(ctx, "rectify", notErased(id), update)
	if errors.Is(err, ErrWrongState) {
		return nil, ErrErased
	}
	return out, err
}

// rotateManageTokens revokes every manage token of the registration but
// the new one, whose link m carries.
func (s *Store) rotateManageTokens(ctx context.Context, id, hash string, m Mail, now time.Time) (*Registration, error) {
	out, err := s.transition(ctx, "rotateManageTokens", notErased(id), bson.M{"$set": bson.M{
		"manageTokens": []string{hash}, "outbox." + m.Kind: m, "outboxNextAt": now, "updatedAt": now,
	}, "$inc": bson.M{"linkGeneration": 1}})
	if errors.Is(err, ErrWrongState) {
		return nil, ErrErased
	}
	return out, err
}

// addManageToken adds one manage token to a registration not erased, and
// queues the mail carrying it, unless one such mail was queued after
// since (false then).
func (s *Store) addManageToken(ctx context.Context, id, hash string, m Mail, now, since time.Time) (bool, error) {
	filter := notErased(id)
	filter["$or"] = bson.A{
		bson.M{"outbox." + m.Kind: bson.M{"$exists": false}},
		bson.M{"outbox." + m.Kind + ".createdAt": bson.M{"$lt": since}},
	}
	return s.set(ctx, "add manage token", filter, bson.M{
		"$set":  bson.M{"outbox." + m.Kind: m, "outboxNextAt": now, "updatedAt": now},
		"$push": bson.M{"manageTokens": hash},
	})
}

// confirmEmail makes a confirmed new address the registration's, once.
func (s *Store) confirmEmail(ctx context.Context, id, tokenHash string, set bson.M) (*Registration, error) {
	filter := notErased(id)
	filter["emailChange.tokenHash"] = tokenHash
	out, err := s.transition(ctx, "confirm e-mail", filter, bson.M{"$set": set, "$unset": bson.M{"emailChange": "", "sealed." + pendingEmail: ""}})
	if errors.Is(err, ErrWrongState) {
		return nil, ErrEmailChangeInvalid
	}
	return out, err
}

// rights applies one of the other rights' updates (withdrawal, objection,
// restriction) to a registration not erased.
func (s *Store) rights(ctx context.Context, op, id string, update bson.M) (*Registration, error) {
	out, err := s.transition(ctx, op, notErased(id), update)
	if errors.Is(err, ErrWrongState) {
		return nil, ErrErased
	}
	return out, err
}

// erase removes a registration's personal data, once.
func (s *Store) erase(ctx context.Context, id string, set bson.M) (*Registration, error) {
	out, err := s.transition(ctx, "erase", notErased(id),
		bson.M{"$set": set, "$unset": bson.M{"outboxNextAt": "", "offerExpiresAt": ""}})
	if errors.Is(err, ErrWrongState) {
		return nil, ErrErased
	}
	return out, err
}

// destroyKeys destroys the data keys of a registration's named values
// (none named, none destroyed) and makes sure no copy of them is left in
// the key store's log.
func (s *Store) destroyKeys(ctx context.Context, id string, fields []string) error {
	if len(fields) == 0 {
		return nil
	}
	if err := s.vault.destroy(ctx, id, fields); err != nil {
		return err
	}
	return s.vault.checkpoint(ctx)
}

// destroyAllKeys destroys every data key of a registration, likewise.
func (s *Store) destroyAllKeys(ctx context.Context, id string) error {
	if err := s.vault.destroyAll(ctx, id); err != nil {
		return err
	}
	return s.vault.checkpoint(ctx)
}

// ----- retention -----

// purgeValues removes values whose retention ran out, if the registration
// is unchanged since it was read (a rectification meanwhile is looked at
// again next run).
func (s *Store) purgeValues(ctx context.Context, reg *Registration, keys []string, now time.Time) (bool, error) {
	unset := bson.M{}
	for _, k := range keys {
		unset["sealed."+k] = ""
		unset["deleteAt."+k] = ""
	}
	return s.set(ctx, "purge values", bson.M{"_id": reg.ID, "updatedAt": reg.UpdatedAt},
		bson.M{"$unset": unset, "$set": bson.M{"updatedAt": now}})
}

// shortenDeadlines brings deletion dates forward, if the registration is
// unchanged since it was read.
func (s *Store) shortenDeadlines(ctx context.Context, reg *Registration, set bson.M) (bool, error) {
	set["updatedAt"] = s.clock()
	return s.set(ctx, "shorten deadlines", bson.M{"_id": reg.ID, "updatedAt": reg.UpdatedAt}, bson.M{"$set": set})
}

// deleteExpired deletes a registration with nothing left to keep, if it
// is unchanged since it was read.
func (s *Store) deleteExpired(ctx context.Context, reg *Registration) (bool, error) {
	ok, err := s.c.DeleteOne(ctx, bson.M{"_id": reg.ID, "updatedAt": reg.UpdatedAt})
	if err != nil {
		return false, fmt.Errorf("delete registration: %w", err)
	}
	return ok, nil
}

// deleteEvent deletes an erased event's registrations and orders (their
// keys destroyed first) and says how many registrations went.
func (s *Store) deleteEvent(ctx context.Context, slug string) (int64, error) {
	n, err := s.c.DeleteMany(ctx, bson.M{"event": slug})
	if err != nil {
		return n, fmt.Errorf("delete registrations: %w", err)
	}
	if _, err := s.orders.DeleteMany(ctx, bson.M{"event": slug}); err != nil {
		return n, fmt.Errorf("delete orders: %w", err)
	}
	return n, nil
}

// ----- hooks (called by package webhooks) -----

// HooksDispatched removes hook events that became deliveries; hooksAt,
// as read, goes too unless a new event arrived meanwhile (it moved
// hooksAt, so that event is found next time).
func (s *Store) HooksDispatched(ctx context.Context, id string, keys []string, hooksAt *time.Time) error {
	unset := bson.M{}
	for _, k := range keys {
		unset["hooks."+k] = ""
	}
	all := bson.M{"hooksAt": ""}
	for k := range unset {
		all[k] = ""
	}
	ok, err := s.set(ctx, "hooks dispatched", bson.M{"_id": id, "hooksAt": hooksAt}, bson.M{"$unset": all})
	if err != nil || ok || len(unset) == 0 {
		return err
	}
	_, err = s.set(ctx, "hooks dispatched", bson.M{"_id": id}, bson.M{"$unset": unset})
	return err
}

// Import stores registrations in bulk (imports, benchmarks): each one's
// Plain values are sealed under keys of their own, the keys stored first.
// Nothing is validated: the caller vouches for the documents.
func (s *Store) Import(ctx context.Context, regs []*Registration) error {
	docs := make([]any, len(regs))
	keys := make([]any, len(regs))
	for i, r := range regs {
		sealed, kd, err := s.vault.seal(r.ID, r.Event, r.CreatedAt, r.Plain)
		if err != nil {
			return err
		}
		r.Sealed = sealed
		docs[i], keys[i] = r, kd
	}
	if err := s.vault.c.InsertMany(ctx, keys); err != nil {
		return fmt.Errorf("import data keys: %w", err)
	}
	if err := s.c.InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("import registrations: %w", err)
	}
	return nil
}
