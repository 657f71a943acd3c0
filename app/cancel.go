package app

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/registration"
)

// CancelOutcome says what a cancellation did with the money.
type CancelOutcome struct {
	ID            string                     `json:"id"`
	Status        registration.Status        `json:"status"`
	PaymentStatus registration.PaymentStatus `json:"paymentStatus,omitempty"`
	// Refund is Stripe's refund id, once a card payment was refunded.
	Refund string `json:"refund,omitempty"`
	// CreditNote is the number of the credit note, once an invoice was
	// credited.
	CreditNote int64 `json:"creditNote,omitempty"`
}

// Cancel cancels a registration (the participant's wish, or an
// organiser's) and settles its money: before the event's refund deadline
// a card payment is refunded and an invoice credited; after it, the
// payment or invoice stands. The cancellation is one transition that
// records the refund or credit as due; the refund is tried at once, and if
// Stripe does not answer, the settlement job retries it until it does: the
// cancellation stands either way.
func (a *App) Cancel(ctx context.Context, reg *registration.Registration) (*CancelOutcome, error) {
	out, err := a.Signups.Cancel(ctx, reg, false)
	if err != nil {
		return nil, err
	}
	return a.settle(ctx, out), nil
}

// settleWait bounds a request's attempt at a refund or credit note: a
// Stripe that does not answer leaves it to the settlement job (the
// refund's idempotency key makes an answer that came too late harmless),
// and the participant is answered at once.
const settleWait = 5 * time.Second

// settle makes an attempt at a cancelled registration's money and says
// where it stands.
func (a *App) settle(ctx context.Context, out *registration.Registration) *CancelOutcome {
	ctx = context.WithoutCancel(ctx) // the registration is cancelled: finish settling
	if out.Payment != nil {
		sctx, cancel := context.WithTimeout(ctx, settleWait)
		err := a.Payments.Settle(sctx, out.ID)
		cancel()
		if err != nil {
			a.Log.WarnContext(ctx, "settlement left to the job", "registration", out.ID, "err", err)
		}
		if fresh, err := a.Registrations.Get(ctx, out.ID); err == nil {
			out = fresh
		}
	}
	res := &CancelOutcome{ID: out.ID, Status: out.Status}
	if p := out.Payment; p != nil {
		res.PaymentStatus, res.Refund, res.CreditNote = p.Status, p.RefundID, p.CreditNote
	}
	return res
}

// Erase cancels a live registration (settling its money as a
// cancellation) and erases it (GDPR art. 17).
func (a *App) Erase(ctx context.Context, reg *registration.Registration) (*registration.ErasureReceipt, error) {
	if _, err := a.Cancel(ctx, reg); err != nil && !errors.Is(err, registration.ErrNotCancellable) {
		return nil, err
	}
	fresh, err := a.Registrations.Get(ctx, reg.ID)
	if err != nil {
		return nil, err
	}
	rec, err := a.Rights.Erase(ctx, fresh)
	if err != nil {
		return nil, err
	}
	rec.SeatReleased = rec.SeatReleased || (reg.Seat && !fresh.Seat)
	return rec, nil
}

// EventCancellation is what cancelling an event did, and where its money
// stands.
type EventCancellation struct {
	Event string `json:"event"`
	// Cancelled counts the registrations this call cancelled; Refunds and
	// CreditNotes the refunds and credit notes it made. What it had no
	// time for, or Stripe refused, the jobs finish (Money says how far).
	Cancelled   int `json:"cancelled"`
	Refunds     int `json:"refunds"`
	CreditNotes int `json:"creditNotes"`
	// Complete: no live registration is left.
	Complete bool          `json:"complete"`
	Money    MoneyProgress `json:"money"`
}

// MoneyProgress counts an event's registrations by where their money
// stands after a cancellation.
type MoneyProgress struct {
	RefundsDue  int `json:"refundsDue"`
	Refunding   int `json:"refunding"`
	Refunded    int `json:"refunded"`
	CreditsDue  int `json:"creditsDue"`
	CreditNotes int `json:"creditNotes"`
}

// cancelBudget is how long a request cancelling an event works on its
// registrations before it answers; the job finishes the rest.
const cancelBudget = 10 * time.Second

// CancelEvent cancels an event (registration closes at once) and every
// live registration of it; every card payment is to be refunded and every
// invoice credited: tried now, within the request's budget, and left to
// the settlement job (kicked now) where Stripe fails or time runs out.
// Running it again resumes: it cancels what is still live and tries at
// once every refund and credit note of the event still due, whoever left
// it (an earlier run, a participant's cancellation); what was settled is
// not touched again. The event-cancellations job finishes the
// cancelling of an interrupted run, the settlement job the money.
func (a *App) CancelEvent(ctx context.Context, slug string) (*EventCancellation, error) {
	if _, err := a.Events.Cancel(ctx, slug); err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	deadline := time.Now().Add(cancelBudget)
	cancelled, complete, err := a.cancelRegistrations(ctx, slug, deadline)
	if err != nil {
		return nil, err
	}
	res := &EventCancellation{Event: slug, Cancelled: len(cancelled), Complete: complete}
	due, err := a.settlementsOf(ctx, slug)
	if err != nil {
		return nil, err
	}
	tried := map[string]bool{}
	for _, reg := range slices.Concat(cancelled, due) {
		if reg.Payment == nil || tried[reg.ID] || time.Now().After(deadline) {
			continue
		}
		tried[reg.ID] = true
		out := a.settle(ctx, reg)
		switch {
		case out.Refund != "" && out.PaymentStatus != registration.PaymentRefundDue:
			res.Refunds++
		case out.CreditNote != 0:
			res.CreditNotes++
		}
	}
	a.kick(jobSettlements)
	if res.Money, err = a.Money(ctx, slug); err != nil {
		return nil, err
	}
	return res, nil
}

// cancelRegistrations cancels the live registrations of a cancelled event
// until deadline (wall-clock time: it bounds a request); complete when
// none is left.
func (a *App) cancelRegistrations(ctx context.Context, slug string, deadline time.Time) (done []*registration.Registration, complete bool, err error) {
	live, err := a.Registrations.Live(ctx, slug)
	if err != nil {
		return nil, false, err
	}
	for i := range live {
		if time.Now().After(deadline) {
			return done, false, nil
		}
		out, err := a.Signups.Cancel(ctx, &live[i], true)
		if errors.Is(err, registration.ErrNotCancellable) {
			continue // cancelled meanwhile
		}
		if err != nil {
			return done, false, err
		}
		done = append(done, out)
	}
	return done, true, nil
}

// settlementsOf lists an event's registrations with a refund or a credit
// note still due.
func (a *App) settlementsOf(ctx context.Context, slug string) ([]*registration.Registration, error) {
	var due []*registration.Registration
	for reg, err := range a.Registrations.WithPayment(ctx, registration.PaymentQuery{Event: slug}) {
		if err != nil {
			return nil, err
		}
		if st := reg.Payment.Status; st == registration.PaymentRefundDue || st == registration.PaymentCreditDue {
			due = append(due, reg)
		}
	}
	return due, nil
}

// Money says where the money of an event's registrations stands.
func (a *App) Money(ctx context.Context, slug string) (MoneyProgress, error) {
	by, err := a.Registrations.MoneyOf(ctx, slug)
	if err != nil {
		return MoneyProgress{}, err
	}
	return MoneyProgress{
		RefundsDue: by[registration.PaymentRefundDue], Refunding: by[registration.PaymentRefunding], Refunded: by[registration.PaymentRefunded],
		CreditsDue: by[registration.PaymentCreditDue], CreditNotes: by[registration.PaymentCredited],
	}, nil
}

// ResumeCancellations finishes cancelled events whose registrations are
// not all cancelled yet (a request that ran out of time, a crash), and
// marks them done.
func (a *App) ResumeCancellations(ctx context.Context) (int, error) {
	evs, err := a.Events.List(ctx)
	if err != nil {
		return 0, err
	}
	var open []events.Event
	for _, e := range evs {
		if e.CancelledAt != nil && e.CancellationDoneAt == nil {
			open = append(open, e)
		}
	}
	total := 0
	for _, e := range open {
		done, complete, err := a.cancelRegistrations(ctx, e.Slug, time.Now().Add(time.Hour))
		total += len(done)
		if err != nil {
			a.Log.ErrorContext(ctx, "job item failed", "job", jobCancellations, "item", e.Slug, "err", err)
			continue
		}
		if complete {
			if err := a.Events.CancellationDone(ctx, e.Slug); err != nil {
				return total, err
			}
		}
	}
	if total > 0 {
		a.kick(jobSettlements)
	}
	return total, nil
}

// EventStaffView is an event as staff see it, with where the money of a
// cancelled event stands.
type EventStaffView struct {
	*events.Event
	Money *MoneyProgress `json:"money,omitempty"`
}

// EventForStaff returns the staff view of an event.
func (a *App) EventForStaff(ctx context.Context, slug string) (*EventStaffView, error) {
	e, err := a.Events.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	v := &EventStaffView{Event: e}
	if e.CancelledAt != nil {
		m, err := a.Money(ctx, slug)
		if err != nil {
			return nil, err
		}
		v.Money = &m
	}
	return v, nil
}

// PatchEvent changes an event; seats a larger capacity frees go to the
// waiting list first.
//
// Deletion dates, fixed at sign-up, follow an earlier end of the event
// and never a later one; each change is recorded.
func (a *App) PatchEvent(ctx context.Context, slug string, p events.PatchRequest) (*events.Event, *registration.PurgeReceipt, error) {
	prev, err := a.Events.Get(ctx, slug)
	if err != nil {
		return nil, nil, err
	}
	e, err := a.Events.Patch(ctx, slug, p, a.Registrations.AnyOf)
	if err != nil {
		return nil, nil, err
	}
	if e.EndsAt.Before(prev.EndsAt) {
		reason := "event end moved from " + prev.EndsAt.Format(time.RFC3339) + " to " + e.EndsAt.Format(time.RFC3339)
		if _, err := a.Retention.Shorten(ctx, e, reason); err != nil {
			return nil, nil, err
		}
	}
	var receipt *registration.PurgeReceipt
	if slices.ContainsFunc(prev.Fields, func(f events.FormField) bool { return !e.Asks(f.Key) }) {
		// A field left the form: its values go now, with a receipt (the
		// hourly retention run would find them too).
		if receipt, err = a.Retention.PurgeEvent(ctx, e); err != nil {
			return nil, nil, err
		}
	}
	if e.Waitlist && e.SeatsLeft > 0 {
		if _, err := a.Signups.OfferFreeSeats(ctx, e.Slug); err != nil {
			return nil, nil, err
		}
		e, err = a.Events.Get(ctx, e.Slug)
	}
	return e, receipt, err
}
