package registration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// Config holds the registration settings.
type Config struct {
	// DigitalConsentAge: below it a child's consents need a guardian
	// (GDPR art. 8; Norway 13 today, 15 proposed).
	DigitalConsentAge int
	// OfferTTL is how long a seat offered from the waiting list is held.
	OfferTTL time.Duration
	// GuardianHold is how long a minor's seat is held for the guardian to
	// confirm the registration through the link mailed to them.
	GuardianHold time.Duration
	// RecountGrace is how long a drift between an event's seat count and
	// its registrations must stand still before the recount repairs it (a
	// sign-up between its seat claim and its insert is a drift too, for a
	// moment).
	RecountGrace time.Duration
}

// Signups runs sign-ups and everything that moves seats: cancelling, the
// waiting list and its offers, card holds that end, and the recount that
// repairs a seat count a crash or a lost answer left wrong.
type Signups struct {
	d        *Domain
	cfg      Config
	checkout Checkout
	invoicer Invoicer

	mu       sync.Mutex
	suspects map[string]seatObservation
	// batch is the sign-ups' group commit (see batch.go).
	batch *batcher
}

// NewSignups returns the sign-up part. checkout and invoicer may be nil:
// that payment method is then refused (422).
func NewSignups(d *Domain, cfg Config, checkout Checkout, invoicer Invoicer) *Signups {
	if cfg.DigitalConsentAge == 0 {
		cfg.DigitalConsentAge = 13
	}
	if cfg.OfferTTL == 0 {
		cfg.OfferTTL = 48 * time.Hour
	}
	if cfg.GuardianHold == 0 {
		cfg.GuardianHold = 72 * time.Hour
	}
	if cfg.RecountGrace == 0 {
		cfg.RecountGrace = 2 * time.Minute
	}
	s := &Signups{d: d, cfg: cfg, checkout: checkout, invoicer: invoicer, suspects: map[string]seatObservation{}}
	s.batch = newBatcher(s.commitGroup)
	return s
}

// ErrPaymentUnavailable: the payment processor did not answer; nothing
// was kept.
var ErrPaymentUnavailable = errors.New("payment processor unavailable")

// Result is what a sign-up answers.
type Result struct {
	ID          string `json:"id"`
	Status      Status `json:"status"`
	ManageToken string `json:"manageToken,omitempty"`
	// CheckoutURL is Stripe's payment page, for card payments.
	CheckoutURL string `json:"checkoutUrl,omitempty"`
	// PaymentStatus, for paid events.
	PaymentStatus PaymentStatus `json:"paymentStatus,omitempty"`
	// Resubmitted: a retry with the same submission key; this is the
	// registration the first made (without its manage token).
	Resubmitted bool `json:"resubmitted,omitempty"`
}

// PaymentMethods says which payment methods are offered.
func (s *Signups) PaymentMethods() map[string]bool {
	return map[string]bool{Card: s.checkout != nil, Invoice: s.invoicer != nil}
}

// Signup registers a participant. On any error nothing is stored and no
// seat is held, but for an answer the store left open (a timeout after
// the insert was sent): the seat is then left to the recount, which gives
// it back only if no registration holds it. Once Signup returns a result,
// the registration and its confirmation mail are in the store.
func (s *Signups) Signup(ctx context.Context, slug string, r SignupRequest, ch Channel) (*Result, error) {
	ev, code, now, err := s.open(ctx, slug, r.Code, func(c *events.Code) bool { return c.For(r.Category) })
	if err != nil {
		return nil, err
	}
	c, err := check(ev, &r, now, ch, s.cfg.DigitalConsentAge, s.PaymentMethods(), code)
	if err != nil {
		return nil, err
	}

	reg, keys, token, err := s.newRegistration(ev, c, r, ch, now, "")
	if err != nil {
		return nil, err
	}
	if reg.ActiveKey != reg.ID {
		// A retry of a sign-up already made answers with that one, before
		// a seat is claimed.
		if prev, err := s.d.Store.bySubmission(ctx, ev.Slug, reg.ActiveKey); err == nil {
			return resubmitted(prev), nil
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	// An address may hold several registrations for the event (refusing
	// would tell whether it is registered): the confirmation tells the
	// address's owner of the others.
	others, err := s.d.Store.othersOf(ctx, ev.Slug, reg.EmailKey)
	if err != nil {
		return nil, err
	}

	// Seat first, then the registration: a crash between the two leaves a
	// seat unsold (the recount gives it back), never a seat sold twice.
	// A code is used before the seat is claimed, so that it is never used
	// more often than it may be; a code holding seats of its own gives one
	// of them.
	reg.Category, reg.Addons = c.ticket.Category, c.addons
	if code != nil {
		if err := s.d.events.Redeem(ctx, code, 1); err != nil {
			return nil, err
		}
		reg.Code = code.ID
	}
	pay := c.paymentLines(code)
	if s.batch != nil && code == nil && (LinesTotal(pay) == 0 || r.Payment.Method == Invoice) {
		// No payment page to open between seat and insert: the sign-up
		// joins the event's group commit.
		p := &pending{ctx: ctx, reg: reg, keys: keys, done: make(chan error, 1), settle: func(reg *Registration) {
			_ = s.settle(ctx, ev, reg, c, r, nil, token, others, now)
		}}
		s.batch.submit(ev.Slug, p)
		if err := <-p.done; err != nil {
			return s.sameSubmission(ctx, reg, err)
		}
		return s.signedUp(ctx, reg, token), nil
	}
	switch err := s.claim(ctx, ev, reg, code); {
	case err == nil:
		reg.Seat = true
		reg.Status = Confirmed
	case errors.Is(err, events.ErrSoldOut) && waitlists(ev, reg):
		reg.Status = Waitlisted
	default:
		s.undo(ctx, reg, code, "refused claim")
		return nil, err
	}
	if err := s.settle(ctx, ev, reg, c, r, code, token, others, now); err != nil {
		return nil, err
	}
	s.numberBibs(ctx, ev, reg)

	if err := s.d.Store.insert(ctx, reg, keys); err != nil {
		if s.notStored(ctx, reg, err) {
			s.undo(ctx, reg, code, "refused insert")
		}
		return s.sameSubmission(ctx, reg, err)
	}
	return s.signedUp(ctx, reg, token), nil
}

// waitlists says whether a sign-up that finds no seat joins the waiting
// list: add-ons are bought with a seat, so a sign-up with any is refused
// when full, the waiting list takes those without.
func waitlists(ev *events.Event, reg *Registration) bool {
	return ev.Waitlist && len(reg.Addons) == 0
}

// notStored says whether a failed insert of a sign-up certainly stored
// nothing, so that its seat can be given back. Otherwise the insert may
// have been committed: giving the seat back could sell it twice, and the
// recount decides (a code's use stays counted: it is never used too
// often).
func (s *Signups) notStored(ctx context.Context, reg *Registration, err error) bool {
	if mongodb.NotApplied(err) || errors.Is(err, ErrSubmitted) {
		return true
	}
	if reg.Seat {
		s.d.log.WarnContext(ctx, "sign-up answer lost; seat left to the recount", "event", reg.Event, "registration", reg.ID)
	}
	return false
}

// sameSubmission answers a sign-up whose insert failed: with the
// registration its submission made before if that was the reason (the
// same submission, at the same moment), else with the error.
func (s *Signups) sameSubmission(ctx context.Context, reg *Registration, err error) (*Result, error) {
	if errors.Is(err, ErrSubmitted) {
		if prev, perr := s.d.Store.bySubmission(ctx, reg.Event, reg.ActiveKey); perr == nil {
			return resubmitted(prev), nil
		}
	}
	return nil, err
}

// signedUp answers a stored sign-up: its mail is sent now, an invoice
// issued if one is due.
func (s *Signups) signedUp(ctx context.Context, reg *Registration, token string) *Result {
	s.d.notifyMail(reg.ID)
	res := &Result{ID: reg.ID, Status: reg.Status, ManageToken: token}
	if p := reg.Payment; p != nil {
		res.CheckoutURL, res.PaymentStatus = p.CheckoutURL, p.Status
		s.issueInvoice(ctx, res)
	}
	return res
}

// settle makes what follows from a sign-up's seat, or its place on the
// waiting list: a guardian's hold for a minor, what is to be paid and
// how (a card's payment page opened now; an error then gives the seat
// back), the confirmation in its outbox, the confirmed webhook.
func (s *Signups) settle(ctx context.Context, ev *events.Event, reg *Registration, c *checked, r SignupRequest, code *events.Code,
	token string, others int64, now time.Time) error {
	var guardianToken string
	if c.minor {
		// The guardian confirms from their own mailbox; the seat waits.
		guardianToken = newGuardianToken(reg.ID)
		reg.Guardian = &GuardianCheck{HoldUntil: now.Add(s.cfg.GuardianHold), Tokens: []string{hashToken(guardianToken)}}
		if reg.Status == Confirmed {
			reg.Status = PendingGuardian
		}
	}
	if lines := c.paymentLines(code); LinesTotal(lines) > 0 {
		reg.Payment = &Payment{Method: r.Payment.Method, EHF: r.Payment.EHF, Amount: LinesTotal(lines), Currency: c.ticket.Currency, Lines: lines}
		switch {
		case reg.Status == Waitlisted, reg.Status == PendingGuardian:
			reg.Payment.Status = PaymentNotDue
		case r.Payment.Method == Invoice:
			// Organisations pay by invoice: the seat is theirs now.
			reg.Payment.Status = PaymentInvoicing
		default:
			reg.Status = PendingPayment
			reg.Payment.Status = PaymentPending
			if err := s.startCheckout(ctx, reg, ev); err != nil {
				s.undo(ctx, reg, code, "failed checkout")
				return err
			}
		}
	}
	confirmation := s.d.mailWithToken(mailConfirmation, now, token)
	confirmation.Others = int(others)
	reg.Outbox = map[string]Mail{"confirmation": confirmation}
	if guardianToken != "" {
		m := s.d.mailWithToken(mailGuardian, now, guardianToken)
		m.To = ToGuardian
		reg.Outbox["guardian"] = m
	}
	if reg.Status == Confirmed {
		k, h := HookSet(HookConfirmed, now)
		reg.Hooks = map[string]HookEvent{strings.TrimPrefix(k, "hooks."): h}
		reg.HooksAt = &now
	}
	reg.OutboxNextAt = &now
	return nil
}

// open reads an event open for registration now, and the code given
// with a sign-up or order (nil if none), valid now and, if fits is set,
// for what is bought (a 422 on the code otherwise).
func (s *Signups) open(ctx context.Context, slug, raw string, fits func(*events.Code) bool) (*events.Event, *events.Code, time.Time, error) {
	now := s.d.clock()
	// Its terms: the seats are claimed on a fresh read.
	ev, err := s.d.events.Terms(ctx, slug)
	if err != nil {
		return nil, nil, now, err
	}
	if !ev.RegistrationOpen(now) {
		return nil, nil, now, ErrRegistrationClosed
	}
	if raw == "" {
		return ev, nil, now, nil
	}
	code, err := s.d.events.ValidCode(ctx, ev.Slug, raw, now)
	if errors.Is(err, events.ErrCodeInvalid) || err == nil && fits != nil && !fits(code) {
		return nil, nil, now, privacy.Errors{{Field: "code", Code: privacy.CodeInvalid}}
	}
	if err != nil {
		return nil, nil, now, err
	}
	return ev, code, now, nil
}

// resubmitted answers a retried sign-up with the registration the first
// made, as it stands now; the manage token went by mail (only its hash
// is kept).
func resubmitted(reg *Registration) *Result {
	res := &Result{ID: reg.ID, Status: reg.Status, Resubmitted: true}
	if p := reg.Payment; p != nil {
		res.PaymentStatus = p.Status
		if reg.Status == PendingPayment {
			res.CheckoutURL = p.CheckoutURL
		}
	}
	return res
}

// claim takes the registration's seat: one of the code's own if it
// holds seats (its use, already counted, is the seat), else one of the
// event and its category.
func (s *Signups) claim(ctx context.Context, ev *events.Event, reg *Registration, code *events.Code) error {
	claim := reg.claim(code == nil || !code.Reserve)
	if len(claim) == 0 {
		return nil
	}
	return s.d.events.ClaimSeats(ctx, ev, claim)
}

// undo gives back what a sign-up that was definitely not stored took:
// its seat and its code's use. If a seat cannot be given back, the
// recount finds it.
func (s *Signups) undo(ctx context.Context, reg *Registration, code *events.Code, why string) {
	ctx = context.WithoutCancel(ctx)
	if claim := reg.claim(code == nil || !code.Reserve); reg.Seat && len(claim) > 0 {
		if err := s.d.events.ReleaseSeats(ctx, reg.Event, claim); err != nil {
			s.d.log.ErrorContext(ctx, "seat not given back after "+why+"; the recount repairs it", "event", reg.Event, "err", err)
		}
	}
	if reg.Code != "" {
		if err := s.d.events.Unredeem(ctx, code, 1); err != nil {
			s.d.log.ErrorContext(ctx, "code use not given back after "+why, "event", reg.Event, "err", err)
		}
	}
}

// issueInvoice issues the invoice of a result whose payment waits for one:
// now if it can be, else the invoice sweep does.
func (s *Signups) issueInvoice(ctx context.Context, res *Result) {
	if res.PaymentStatus != PaymentInvoicing || s.invoicer == nil {
		return
	}
	if err := s.invoicer.IssueInvoice(context.WithoutCancel(ctx), res.ID); err != nil {
		s.d.log.ErrorContext(ctx, "issue invoice", "registration", res.ID, "err", err)
		return
	}
	res.PaymentStatus = PaymentInvoiced
}

// startCheckout opens the processor's payment page for a registration not
// yet stored; its session is stored with it.
func (s *Signups) startCheckout(ctx context.Context, reg *Registration, ev *events.Event) error {
	if s.checkout == nil {
		return ErrPaymentUnavailable
	}
	cs, err := s.checkout.Start(ctx, reg, ev)
	if err != nil {
		s.d.log.ErrorContext(ctx, "start checkout", "registration", reg.ID, "err", err)
		return ErrPaymentUnavailable
	}
	reg.Payment.SessionID, reg.Payment.CheckoutURL = cs.ID, cs.URL
	exp := cs.ExpiresAt.UTC().Truncate(time.Millisecond)
	reg.Payment.SessionExpiresAt = &exp
	return nil
}

// newRegistration builds the document and its data keys: every value
// sealed under a key of its own, and when each is deleted, fixed now from
// the event's form as the participant sees it.
func (s *Signups) newRegistration(ev *events.Event, c *checked, r SignupRequest, ch Channel, now time.Time, id string) (*Registration, *keyDoc, string, error) {
	if id == "" {
		id = newID(now)
	}
	token := newManageToken(id)
	lang := r.Lang
	if lang == "" {
		lang = "nb"
	}
	reg := &Registration{
		ID: id, Event: ev.Slug, Plain: c.values, Promise: ev.PromiseID,
		EmailKey: s.d.keys.EmailKey(c.values["email"]), Consents: c.consents,
		Objections:   Objections{PartnerSharing: r.Objections.PartnerSharing},
		ManageTokens: []string{hashToken(token)}, Lang: lang, Channel: ch,
		CreatedAt: now, UpdatedAt: now,
	}
	reg.ActiveKey = id
	if r.SubmissionKey != "" {
		sum := sha256.Sum256([]byte(r.SubmissionKey))
		reg.ActiveKey = "submission:" + hex.EncodeToString(sum[:])
	}
	reg.ConsentState = map[privacy.ConsentPurpose]bool{}
	if reg.Consents == nil {
		reg.Consents = []Consent{} // an order's participant consents later, through their link
	}
	for _, c := range c.consents {
		reg.ConsentState[c.Purpose] = c.Given
	}
	reg.DeleteAt = deadlines(ev, c.values)
	sealed, keys, err := s.d.Store.vault.seal(id, ev.Slug, now, c.values)
	if err != nil {
		return nil, nil, "", err
	}
	reg.Sealed = sealed
	return reg, keys, token, nil
}

// deadlines are the dates the values' retention runs out, from the rules
// anchored to the event (the others have none yet).
func deadlines(ev *events.Event, values map[string]string) map[string]time.Time {
	out := map[string]time.Time{}
	for key := range values {
		f, ok := ev.Field(key)
		if !ok || f.Retention.Anchor != privacy.EventEnd {
			continue
		}
		if at, ok := f.Retention.DeleteAt(privacy.Anchors{EventEnd: ev.EndsAt}); ok {
			out[key] = at
		}
	}
	return out
}

// Get returns a registration of an event.
func (s *Signups) Get(ctx context.Context, slug, id string) (*Registration, error) {
	reg, err := s.d.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if reg.Event != slug {
		return nil, ErrNotFound
	}
	return reg, nil
}

// settlement is what a registration's money needs when it is cancelled
// at now: a card payment refunded and an invoice credited if cancelled
// before the event's refund deadline (or by the organiser cancelling the
// event); an open payment page or an invoice not yet issued is no longer
// due. After the deadline the payment or invoice stands. "" leaves the
// payment as it is.
func settlement(reg *Registration, ev *events.Event, now time.Time, eventCancelled bool) PaymentStatus {
	p := reg.Payment
	if p == nil {
		return ""
	}
	inTime := eventCancelled || now.Before(ev.RefundDeadline)
	switch {
	case p.Status == PaymentPending:
		return PaymentNotDue
	case !inTime:
		return ""
	case p.Status == PaymentInvoicing:
		// An issuer holding the claim turns this into credit due.
		return PaymentNotDue
	case p.InvoiceNumber != 0 && p.Status.invoiceStands():
		return PaymentCreditDue
	case p.Method == Card && p.Status == PaymentPaid && p.PaidAmount > p.RefundedAmount:
		return PaymentRefundDue
	}
	return ""
}

func (st PaymentStatus) invoiceStands() bool {
	switch st {
	case PaymentInvoiced, PaymentPaid, PaymentPartiallyPaid, PaymentOverpaid:
		return true
	}
	return false
}

// CancelPreview says, in the participant's language, what cancelling the
// registration now would do to its money (by the same rule as Cancel:
// settlement), so that they are told before they confirm.
func (s *Signups) CancelPreview(ctx context.Context, reg *Registration, lang string) (string, error) {
	ev, err := s.d.events.Get(ctx, reg.Event)
	if err != nil {
		return "", err
	}
	p := reg.Payment
	en := lang == "en"
	if p == nil || p.Amount == 0 {
		if en {
			return "Your seat goes to someone else. Nothing was to be paid.", nil
		}
		return "Plassen din går til en annen. Ingenting skulle betales.", nil
	}
	amount := events.Money(p.Amount, p.Currency, lang)
	switch settlement(reg, ev, s.d.clock(), false) {
	case PaymentRefundDue:
		if en {
			return "You get " + events.Money(p.PaidAmount-p.RefundedAmount, p.Currency, lang) + " back to the card you paid with, usually within 5–10 days.", nil
		}
		return "Du får " + events.Money(p.PaidAmount-p.RefundedAmount, p.Currency, lang) + " tilbake på kortet du betalte med, vanligvis innen 5–10 dager.", nil
	case PaymentCreditDue:
		if en {
			return fmt.Sprintf("Invoice no. %d (%s) is credited: you get a credit note by e-mail and need not pay it; what was paid is paid back.", p.InvoiceNumber, amount), nil
		}
		return fmt.Sprintf("Faktura nr. %d (%s) krediteres: du får en kreditnota på e-post og skal ikke betale den; det som er betalt, betales tilbake.", p.InvoiceNumber, amount), nil
	case PaymentNotDue:
		if en {
			return "Nothing is charged: the payment was not made or the invoice not yet issued.", nil
		}
		return "Ingenting belastes: betalingen er ikke gjort, eller fakturaen er ikke laget ennå.", nil
	}
	deadline := ev.RefundDeadline.In(oslo).Format("02.01.2006 15:04")
	if en {
		return "The refund deadline (" + deadline + ") has passed: what you paid or were invoiced (" + amount + ") is not given back.", nil
	}
	return "Fristen for refusjon (" + deadline + ") er ute: det du har betalt eller er fakturert (" + amount + "), får du ikke tilbake.", nil
}

// Cancel cancels a live registration: one transition gives up its seat
// and records what its money needs next (a refund or a credit note due,
// see settlement), then the seat goes to the first on the waiting list or
// back to the event. The money is package payments' to settle. A seat
// whose hand-on fails is left to the recount: the cancellation stands.
func (s *Signups) Cancel(ctx context.Context, reg *Registration, eventCancelled bool) (*Registration, error) {
	ev, err := s.d.events.Get(ctx, reg.Event)
	if err != nil {
		return nil, err
	}
	for range 5 {
		if !reg.Status.Live() || reg.ErasedAt != nil {
			return nil, ErrNotCancellable
		}
		if !eventCancelled && reg.Order != "" && reg.Status == PendingPayment {
			// Its page pays the whole order: one participant leaves once
			// it is paid (their share refunded), or the page expires.
			return nil, ErrOrderPaymentPending
		}
		now := s.d.clock()
		out, err := s.d.Store.cancel(ctx, reg, settlement(reg, ev, now, eventCancelled), now, eventCancelled)
		if errors.Is(err, ErrWrongState) {
			// It moved on since it was read (paid, offered, expired): look
			// again.
			if reg, err = s.d.Store.Get(ctx, reg.ID); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if reg.Seat {
			s.handOn(ctx, reg)
		}
		s.d.notifyMail(out.ID)
		return out, nil
	}
	return nil, ErrNotCancellable
}

// handOn passes the seat a registration freed on; a failure is logged
// and left to the recount, which gives the seat back and offers it again.
func (s *Signups) handOn(ctx context.Context, reg *Registration) {
	ctx = context.WithoutCancel(ctx)
	if err := s.PassSeatOn(ctx, reg.Event, reg.Category); err != nil {
		s.d.log.ErrorContext(ctx, "seat not passed on; the recount repairs it", "event", reg.Event, "err", err)
	}
	// Its add-ons go back on sale.
	if addons := reg.claim(false); len(addons) > 0 {
		if err := s.d.events.ReleaseSeats(ctx, reg.Event, addons); err != nil {
			s.d.log.ErrorContext(ctx, "add-ons not given back; the recount repairs them", "event", reg.Event, "err", err)
		}
	}
}

// ExpireHold ends a card sign-up whose payment page expired unpaid and
// passes its seat on. false: it was paid, cancelled or expired already.
func (s *Signups) ExpireHold(ctx context.Context, id, session string) (bool, error) {
	reg, err := s.d.Store.ExpireHold(ctx, id, session)
	if errors.Is(err, ErrWrongState) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.handOn(ctx, reg)
	return true, nil
}

// PassSeatOn offers a freed seat of a category to the first on its
// waiting list, or gives it back to the event and the category; a seat
// given back may then go to another category's waiting list.
func (s *Signups) PassSeatOn(ctx context.Context, slug, category string) error {
	now := s.d.clock()
	release := func() error { return s.d.events.ReleaseSeats(ctx, slug, events.Claim{category: 1}) }
	ev, err := s.d.events.Get(ctx, slug)
	if err != nil {
		return err
	} else if ev.CancelledAt != nil || !now.Before(ev.StartsAt) {
		// Nobody is offered a seat of a cancelled or started event.
		return release()
	}
	// The first on the list, read then taken by a conditional update; if
	// another instance took that one meanwhile, the next.
	for range 10 {
		first, err := s.d.Store.firstWaitlisted(ctx, slug, category)
		if errors.Is(err, ErrNotFound) {
			// Nobody waits for this one: the seat goes back, and may go to
			// another category's waiting list.
			if err := release(); err != nil {
				return err
			}
			if len(ev.Categories) > 0 && ev.Waitlist {
				_, err := s.OfferFreeSeats(ctx, slug)
				return err
			}
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.offer(ctx, first.ID, now); !errors.Is(err, ErrWrongState) {
			return err
		}
	}
	return errors.New("offer seat: the waiting list kept changing")
}

// offer gives the seat held for it to a waitlisted registration, and
// mails the offer; ErrWrongState if it is no longer waiting.
func (s *Signups) offer(ctx context.Context, id string, now time.Time) error {
	m := s.d.mailWithToken(mailOffer, now, newManageToken(id))
	if err := s.d.Store.offer(ctx, id, now, now.Add(s.cfg.OfferTTL), m); err != nil {
		return err
	}
	s.d.notifyMail(id)
	return nil
}

// AcceptOffer takes the seat offered from the waiting list.
//
// For a paid event the registration's payment becomes due: by invoice it
// is confirmed and the invoice issued; by card it waits for payment on a
// new Stripe page, whose URL the result carries.
func (s *Signups) AcceptOffer(ctx context.Context, reg *Registration) (*Result, error) {
	ev, err := s.d.events.Get(ctx, reg.Event)
	if err != nil {
		return nil, err
	}
	now := s.d.clock()
	// The page is opened before the seat is taken: if Stripe does not
	// answer, the offer still stands.
	due, err := s.seatDue(ctx, reg, ev, "an offer")
	if err != nil {
		return nil, err
	}
	out, err := s.d.Store.acceptOffer(ctx, reg.ID, due, now)
	if err != nil {
		return nil, err
	}
	return s.seatResult(ctx, out), nil
}

// SeatDue is what taking a seat makes due: the status, the payment's
// status, and for a card the processor's page.
type SeatDue struct {
	Status   Status
	Pay      PaymentStatus // "" for a free event
	Checkout *CheckoutSession
}

// seatDue is what a registration taking its seat owes: for a paid event
// by invoice it is confirmed and the invoice is to be issued; by card it
// waits for payment on a new Stripe page, opened here.
func (s *Signups) seatDue(ctx context.Context, reg *Registration, ev *events.Event, why string) (SeatDue, error) {
	due := SeatDue{Status: Confirmed}
	if reg.Payment == nil || reg.Payment.Amount == 0 {
		return due, nil // free: a category's or an add-on's price is in the payment
	}
	if reg.Payment.Method == Invoice {
		due.Pay = PaymentInvoicing
		return due, nil
	}
	due.Status, due.Pay = PendingPayment, PaymentPending
	if s.checkout == nil {
		return due, ErrPaymentUnavailable
	}
	cs, err := s.checkout.Start(ctx, reg, ev)
	if err != nil {
		s.d.log.ErrorContext(ctx, "start checkout for "+why, "registration", reg.ID, "err", err)
		return due, ErrPaymentUnavailable
	}
	due.Checkout = cs
	return due, nil
}

// seatResult answers a registration that took its seat, and issues its
// invoice if one is due.
func (s *Signups) seatResult(ctx context.Context, out *Registration) *Result {
	res := &Result{ID: out.ID, Status: out.Status}
	if out.Payment != nil {
		res.PaymentStatus, res.CheckoutURL = out.Payment.Status, out.Payment.CheckoutURL
		s.issueInvoice(ctx, res)
	}
	return res
}

// ErrGuardianDone: the guardian confirmed already, or the hold ran out.
var ErrGuardianDone = errors.New("nothing for the guardian to confirm")

// ConfirmGuardian records a guardian's confirmation of a minor's
// registration, through the link mailed to them, with their consent to
// the text the sign-up showed. A registration that held its seat for the
// guardian takes it, and its payment becomes due as for an accepted
// offer: by invoice it is confirmed and the invoice issued; by card it
// waits for payment on a Stripe page whose URL the result carries (the
// guardian pays). One on the waiting list can now be offered a seat.
func (s *Signups) ConfirmGuardian(ctx context.Context, reg *Registration) (*Result, error) {
	ev, err := s.d.events.Get(ctx, reg.Event)
	if err != nil {
		return nil, err
	}
	now := s.d.clock()
	if reg.Guardian == nil || reg.Guardian.ConfirmedAt != nil || !now.Before(reg.Guardian.HoldUntil) ||
		(reg.Status != PendingGuardian && reg.Status != Waitlisted) {
		return nil, ErrGuardianDone
	}
	due := SeatDue{}
	if reg.Status == PendingGuardian {
		// The page is opened before anything changes: if Stripe does not
		// answer, the guardian can try again.
		if due, err = s.seatDue(ctx, reg, ev, "a guardian"); err != nil {
			return nil, err
		}
	}
	// The guardian consents to the text the sign-up showed, not to what
	// the event says now.
	consent := Consent{Purpose: privacy.ConsentGuardian, Given: true, At: now, Channel: GuardianLink, ByGuardian: true}
	if c, ok := reg.Consent(privacy.ConsentGuardian); ok {
		consent.TextVersion, consent.TextSHA256 = c.TextVersion, c.TextSHA256
	} else {
		t, _ := ev.ConsentText(privacy.ConsentGuardian)
		consent.TextVersion, consent.TextSHA256 = t.Version, t.SHA256()
	}
	out, err := s.d.Store.confirmGuardian(ctx, reg.ID, reg.Status, due, consent, now)
	if errors.Is(err, ErrWrongState) {
		return nil, ErrGuardianDone
	}
	if err != nil {
		return nil, err
	}
	res := s.seatResult(ctx, out)
	if out.Status == Waitlisted && ev.Waitlist {
		// A seat freed while the guardian had not confirmed waits for
		// nobody now.
		if _, err := s.OfferFreeSeats(ctx, out.Event); err != nil {
			s.d.log.ErrorContext(ctx, "offer free seats", "event", out.Event, "err", err)
		}
	}
	return res, nil
}

// ExpireGuardianHolds ends minors' registrations whose guardian did not
// confirm in time: the seat is passed on, and the data erased (its keys
// destroyed first), since nobody who may consent did. It returns how many
// lapsed.
func (s *Signups) ExpireGuardianHolds(ctx context.Context) (int, error) {
	now := s.d.clock()
	due, err := s.d.Store.guardianHoldsDue(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	lapsed := 0
	_, err = mongodb.Sweep(ctx, s.d.log, "guardian holds", due, regID, func(ctx context.Context, reg Registration) error {
		if reg.Status != Expired {
			ok, err := s.lapse(ctx, &reg, now, false)
			if err != nil || !ok {
				return err // !ok: confirmed or cancelled meanwhile
			}
			lapsed++
			return nil
		}
		// Lapsed before, its data not yet erased (a crash in between).
		if err := s.d.Store.destroyAllKeys(ctx, reg.ID); err != nil {
			return err
		}
		return s.d.Store.eraseLapsed(ctx, reg.ID, now)
	})
	return lapsed, err
}

// DeclineGuardian is a guardian declining a minor's registration before
// confirming it: it lapses at once, as if the hold ran out.
func (s *Signups) DeclineGuardian(ctx context.Context, reg *Registration) error {
	ok, err := s.lapse(ctx, reg, s.d.clock(), true)
	if err == nil && !ok {
		err = ErrGuardianDone
	}
	return err
}

// lapse ends a minor's registration awaiting its guardian: expired, the
// seat passed on, then the data erased, its keys destroyed first.
func (s *Signups) lapse(ctx context.Context, reg *Registration, now time.Time, declined bool) (bool, error) {
	out, err := s.d.Store.lapseGuardianHold(ctx, reg.ID, now, declined)
	if errors.Is(err, ErrWrongState) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if reg.Seat {
		s.handOn(ctx, out)
	}
	if err := s.d.Store.destroyAllKeys(ctx, reg.ID); err != nil {
		return true, err
	}
	return true, s.d.Store.eraseLapsed(ctx, reg.ID, now)
}

// ExpireOffers ends offers whose time ran out and passes their seats on,
// one by one: a failing one is logged and the others go on. It returns
// how many ended.
func (s *Signups) ExpireOffers(ctx context.Context) (int, error) {
	now := s.d.clock()
	due, err := s.d.Store.offersDue(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	return mongodb.Sweep(ctx, s.d.log, "offers", due, regID, func(ctx context.Context, reg Registration) error {
		out, err := s.d.Store.expireOffer(ctx, reg.ID, now)
		if errors.Is(err, ErrWrongState) {
			return nil // accepted or cancelled meanwhile
		}
		if err != nil {
			return err
		}
		s.handOn(ctx, out)
		return nil
	})
}

func regID(r Registration) string { return r.ID }

// OfferFreeSeats offers seats left free (after a capacity grew, or the
// recount gave one back) to the waiting list, in its order, before anyone
// new can take them: each waiting registration whose category still has a
// seat is offered one. It returns how many were offered.
func (s *Signups) OfferFreeSeats(ctx context.Context, slug string) (int, error) {
	waiting, err := s.d.Store.waitlisted(ctx, slug, 1000)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, w := range waiting {
		ev, err := s.d.events.Get(ctx, slug)
		if err != nil {
			return n, err
		}
		var full *events.SoldOutError
		switch err := s.d.events.ClaimSeats(ctx, ev, events.Claim{w.Category: 1}); {
		case errors.As(err, &full) && full.Category == "":
			return n, nil // the event is full: nobody else can be offered one
		case errors.Is(err, events.ErrSoldOut), errors.Is(err, events.ErrNoCategory):
			continue // this category is full; a later one may not be
		case err != nil:
			return n, err
		}
		switch err := s.offer(ctx, w.ID, s.d.clock()); {
		case errors.Is(err, ErrWrongState):
			// Offered, cancelled or erased meanwhile: the seat goes back.
			if err := s.d.events.ReleaseSeats(ctx, slug, events.Claim{w.Category: 1}); err != nil {
				return n, err
			}
		case err != nil:
			return n, err
		default:
			n++
		}
	}
	return n, nil
}

// seatObservation is one look at a seat count that did not add up: the
// event's (capacity, seats left) or a category's (its seats taken).
type seatObservation struct {
	capacity, left, held int
	at                   time.Time
}

// RecountSeats compares every event's seats taken (capacity minus seats
// left), and each category's, with the seats its registrations hold, and
// repairs a difference: a seat claimed by a sign-up that died, or whose
// answer was lost, before its registration was stored; a seat freed by a
// cancellation or expiry whose hand-on failed. A sign-up between its
// claim and its insert is a difference for a moment, so a difference is
// repaired only once the same counts stood still for RecountGrace (two
// runs), with a conditional update on the count then read. quiet says
// nothing else runs (the embedded store's start-up): repair at once.
// Seats given back go to the waiting list first. It returns how many
// counts were repaired.
func (s *Signups) RecountSeats(ctx context.Context, quiet bool) (int, error) {
	evs, err := s.d.events.List(ctx)
	if err != nil {
		return 0, err
	}
	held, err := s.d.Store.seatsHeld(ctx)
	if err != nil {
		return 0, err
	}
	// Seats codes hold for their holders are taken too.
	if err := s.d.events.ReservedUnused(ctx, held); err != nil {
		return 0, err
	}
	now := s.d.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	repaired := 0
	// settled says whether a drift seen now may be repaired.
	settled := func(key string, obs seatObservation) bool {
		seen[key] = true
		prev, ok := s.suspects[key]
		same := ok && prev.capacity == obs.capacity && prev.left == obs.left && prev.held == obs.held
		if !quiet && (!same || now.Sub(prev.at) < s.cfg.RecountGrace) {
			if !same {
				s.suspects[key] = obs
			}
			return false
		}
		delete(s.suspects, key)
		return true
	}
	_, err = mongodb.Sweep(ctx, s.d.log, "seats", evs, func(e events.Event) string { return e.Slug }, func(ctx context.Context, e events.Event) error {
		freed := false
		obs := seatObservation{capacity: e.Capacity, left: e.SeatsLeft, held: held[e.Slug].Total(), at: now}
		if drift := (e.Capacity - e.SeatsLeft) - obs.held; drift != 0 && settled(e.Slug, obs) {
			done, err := s.d.events.AdjustSeats(ctx, e.Slug, e.Capacity, e.SeatsLeft, drift)
			if err != nil {
				return err
			}
			if done {
				repaired++
				freed = freed || drift > 0
				s.d.log.WarnContext(ctx, "seat count repaired", "event", e.Slug, "seatsLeft", e.SeatsLeft, "seatsHeld", obs.held, "given back", drift)
			}
		}
		for key, q := range e.Quota {
			obs := seatObservation{capacity: q.Capacity, left: q.Taken, held: held[e.Slug][key], at: now}
			drift := q.Taken - obs.held
			if drift == 0 || !settled(e.Slug+"\x00"+key, obs) {
				continue
			}
			done, err := s.d.events.AdjustTaken(ctx, e.Slug, key, q.Taken, -drift)
			if err != nil {
				return err
			}
			if done {
				repaired++
				freed = freed || drift > 0
				s.d.log.WarnContext(ctx, "category seat count repaired", "event", e.Slug, "category", key, "seatsTaken", q.Taken, "seatsHeld", obs.held)
			}
		}
		if freed && e.Waitlist {
			if _, err := s.OfferFreeSeats(ctx, e.Slug); err != nil {
				return err
			}
		}
		return nil
	})
	for key := range s.suspects {
		if !seen[key] {
			delete(s.suspects, key)
		}
	}
	return repaired, err
}
