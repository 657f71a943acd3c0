package registration

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
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
}

// Service runs sign-ups and the operations on registrations.
type Service struct {
	store       store
	disclosures *mongodb.Collection
	chunks      *mongodb.Collection
	requests    *mongodb.Collection
	purges      *mongodb.Collection
	events      *events.Service
	keys        *privacy.Keyring
	log         *slog.Logger
	now         func() time.Time
	cfg         Config
	checkout    Checkout
	invoicer    Invoicer
	// mailDue hints the mailer at registrations with new mail, so it need
	// not scan for them (a scan reads every document in embedded mode).
	mailDue chan string
}

// NewService returns the registration service.
func NewService(db *mongodb.Store, ev *events.Service, keys *privacy.Keyring, log *slog.Logger, now func() time.Time, cfg Config) *Service {
	if cfg.DigitalConsentAge == 0 {
		cfg.DigitalConsentAge = 13
	}
	if cfg.OfferTTL == 0 {
		cfg.OfferTTL = 48 * time.Hour
	}
	return &Service{store: store{c: db.Collection(mongodb.Registrations)}, events: ev, keys: keys, log: log, now: now, cfg: cfg,
		disclosures: db.Collection(mongodb.Disclosures), chunks: db.Collection(mongodb.DisclosureChunks),
		requests: db.Collection(mongodb.PrivacyRequests), purges: db.Collection(mongodb.PurgeReceipts),
		mailDue: make(chan string, 4096)}
}

// UsePayments connects the payment processor and the invoicer (package
// payments). Either may be nil: that method is then refused (422).
func (s *Service) UsePayments(c Checkout, i Invoicer) {
	s.checkout, s.invoicer = c, i
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
}

// Signup registers a participant. On any error nothing is stored and no
// seat is held; once it returns a result, the registration and its
// confirmation mail are in the store.
func (s *Service) Signup(ctx context.Context, slug string, r SignupRequest, ch Channel) (*Result, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	ev, err := s.events.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	if !ev.RegistrationOpen(now) {
		return nil, ErrRegistrationClosed
	}
	c, err := check(ev, &r, now, ch, s.cfg.DigitalConsentAge, map[string]bool{Card: s.checkout != nil, Invoice: s.invoicer != nil})
	if err != nil {
		return nil, err
	}

	reg, token, err := s.newRegistration(ev, c, r, ch, now)
	if err != nil {
		return nil, err
	}

	// Seat first, then the registration: a crash between the two leaves a
	// seat unsold (counted again at start-up), never a seat sold twice.
	switch err := s.events.ClaimSeat(ctx, ev.Slug); {
	case err == nil:
		reg.Seat = true
		reg.Status = Confirmed
	case errors.Is(err, events.ErrSoldOut) && ev.Waitlist:
		reg.Status = Waitlisted
	default:
		return nil, err
	}
	if ev.Price.Amount > 0 {
		reg.Payment = &Payment{Method: r.Payment.Method, Amount: ev.Price.Amount, Currency: ev.Price.Currency}
		switch {
		case reg.Status == Waitlisted:
			reg.Payment.Status = PaymentNotDue
		case r.Payment.Method == Invoice:
			// Organisations pay by invoice: the seat is theirs now.
			reg.Payment.Status = PaymentInvoicing
		default:
			reg.Status = PendingPayment
			reg.Payment.Status = PaymentPending
			if err := s.startCheckout(ctx, reg, ev); err != nil {
				if rerr := s.events.ReleaseSeat(context.WithoutCancel(ctx), ev.Slug); rerr != nil {
					s.log.ErrorContext(ctx, "release seat after failed checkout", "event", ev.Slug, "err", rerr)
				}
				return nil, err
			}
		}
	}
	reg.Outbox = map[string]Mail{"confirmation": s.mailWithToken(mailConfirmation, now, token)}
	if reg.Status == Confirmed {
		k, h := HookSet(HookConfirmed, now)
		reg.Hooks = map[string]HookEvent{strings.TrimPrefix(k, "hooks."): h}
		reg.HooksAt = &now
	}
	reg.OutboxNextAt = &now

	if err := s.store.insert(ctx, reg); err != nil {
		if reg.Seat {
			if rerr := s.events.ReleaseSeat(context.WithoutCancel(ctx), ev.Slug); rerr != nil {
				s.log.ErrorContext(ctx, "release seat after failed insert", "event", ev.Slug, "err", rerr)
			}
		}
		return nil, err
	}
	s.notifyMail(reg.ID)
	res := &Result{ID: reg.ID, Status: reg.Status, ManageToken: token}
	if p := reg.Payment; p != nil {
		res.CheckoutURL, res.PaymentStatus = p.CheckoutURL, p.Status
		s.issueInvoice(ctx, res)
	}
	return res, nil
}

// issueInvoice issues the invoice of a result whose payment waits for one:
// now if it can be, else the invoice sweep does.
func (s *Service) issueInvoice(ctx context.Context, res *Result) {
	if res.PaymentStatus != PaymentInvoicing || s.invoicer == nil {
		return
	}
	if err := s.invoicer.IssueInvoice(context.WithoutCancel(ctx), res.ID); err != nil {
		s.log.ErrorContext(ctx, "issue invoice", "registration", res.ID, "err", err)
		return
	}
	res.PaymentStatus = PaymentInvoiced
}

// startCheckout opens the processor's payment page for a registration not
// yet stored; its session is stored with it.
func (s *Service) startCheckout(ctx context.Context, reg *Registration, ev *events.Event) error {
	if s.checkout == nil {
		return ErrPaymentUnavailable
	}
	cs, err := s.checkout.Start(ctx, reg, ev)
	if err != nil {
		s.log.ErrorContext(ctx, "start checkout", "registration", reg.ID, "err", err)
		return ErrPaymentUnavailable
	}
	reg.Payment.SessionID, reg.Payment.CheckoutURL = cs.ID, cs.URL
	exp := cs.ExpiresAt.UTC().Truncate(time.Millisecond)
	reg.Payment.SessionExpiresAt = &exp
	return nil
}

// newRegistration builds the document: values in clear but for those that
// need consent, which are sealed under a data key of their own.
func (s *Service) newRegistration(ev *events.Event, c *checked, r SignupRequest, ch Channel, now time.Time) (*Registration, string, error) {
	id := rand.Text()
	token := newManageToken(id)
	lang := r.Lang
	if lang == "" {
		lang = "nb"
	}
	reg := &Registration{
		ID: id, Event: ev.Slug, Fields: map[string]string{},
		EmailKey: s.keys.EmailKey(c.values["email"]), Consents: c.consents,
		Objections:   Objections{PartnerSharing: r.Objections.PartnerSharing},
		ManageTokens: []string{hashToken(token)}, Lang: lang, Channel: ch,
		CreatedAt: now, UpdatedAt: now,
	}
	reg.ActiveKey = reg.EmailKey
	reg.ConsentState = map[privacy.ConsentPurpose]bool{}
	for _, c := range c.consents {
		reg.ConsentState[c.Purpose] = c.Given
	}
	var dek []byte
	for key, v := range c.values {
		f, _ := ev.Field(key)
		if !f.LegalBasis.NeedsConsent() {
			reg.Fields[key] = v
			continue
		}
		if dek == nil {
			var wrapped privacy.Sealed
			dek, wrapped = s.keys.NewDataKey(reg.ID)
			reg.DataKey = &wrapped
			reg.Sealed = map[string]privacy.Sealed{}
		}
		sealed, err := privacy.SealValue(dek, reg.ID, key, v)
		if err != nil {
			return nil, "", err
		}
		reg.Sealed[key] = sealed
	}
	return reg, token, nil
}

// ByToken returns the registration a manage token belongs to.
func (s *Service) ByToken(ctx context.Context, token string) (*Registration, error) {
	id, ok := tokenID(token)
	if !ok {
		return nil, ErrInvalidManageToken
	}
	reg, err := s.store.get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidManageToken
	}
	if err != nil {
		return nil, err
	}
	if !reg.holds(token) {
		return nil, ErrInvalidManageToken
	}
	return reg, nil
}

// Get returns a registration of an event.
func (s *Service) Get(ctx context.Context, slug, id string) (*Registration, error) {
	reg, err := s.store.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if reg.Event != slug {
		return nil, ErrNotFound
	}
	return reg, nil
}

// Value returns a field's value, opening sealed ones.
func (s *Service) Value(reg *Registration, key string) (string, error) {
	if v, ok := reg.Fields[key]; ok {
		return v, nil
	}
	sealed, ok := reg.Sealed[key]
	if !ok {
		return "", nil
	}
	if reg.DataKey == nil {
		return "", errHealthKeyDestroyed
	}
	dek, err := s.keys.UnwrapDataKey(reg.ID, *reg.DataKey)
	if err != nil {
		return "", err
	}
	return privacy.OpenValue(dek, reg.ID, key, sealed)
}

// Cancel cancels a live registration. A seat it held goes to the first
// registration on the waiting list, or back to the event.
func (s *Service) Cancel(ctx context.Context, reg *Registration) (*Registration, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	out, heldSeat, err := s.store.cancel(ctx, reg.ID, now)
	if err != nil {
		return nil, err
	}
	if heldSeat {
		if err := s.PassSeatOn(context.WithoutCancel(ctx), reg.Event); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PassSeatOn offers a freed seat to the first on the waiting list, or
// gives it back to the event.
func (s *Service) PassSeatOn(ctx context.Context, slug string) error {
	now := s.now().UTC().Truncate(time.Millisecond)
	if ev, err := s.events.Get(ctx, slug); err != nil {
		return err
	} else if ev.CancelledAt != nil || !now.Before(ev.StartsAt) {
		// Nobody is offered a seat of a cancelled or started event.
		return s.events.ReleaseSeat(ctx, slug)
	}
	// The first on the list, read then taken by a conditional update; if
	// another instance took that one meanwhile, the next.
	for range 10 {
		first, err := s.store.firstWaitlisted(ctx, slug)
		if errors.Is(err, ErrNotFound) {
			return s.events.ReleaseSeat(ctx, slug)
		}
		if err != nil {
			return err
		}
		m := s.mailWithToken(mailOffer, now, newManageToken(first.ID))
		offered, err := s.store.offer(ctx, first.ID, now, now.Add(s.cfg.OfferTTL), m)
		if err != nil {
			return err
		}
		if offered {
			s.notifyMail(first.ID)
			return nil
		}
	}
	return errors.New("offer seat: the waiting list kept changing")
}

// AcceptOffer takes the seat offered from the waiting list.
//
// For a paid event the registration's payment becomes due: by invoice it
// is confirmed and the invoice issued; by card it waits for payment on a
// new Stripe page, whose URL the result carries.
func (s *Service) AcceptOffer(ctx context.Context, reg *Registration) (*Result, error) {
	ev, err := s.events.Get(ctx, reg.Event)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	status, pay := Confirmed, PaymentStatus("")
	if ev.Price.Amount > 0 && reg.Payment != nil {
		status, pay = PendingPayment, PaymentPending
		if reg.Payment.Method == Invoice {
			status, pay = Confirmed, PaymentInvoicing
		}
	}
	var checkout *CheckoutSession
	if pay == PaymentPending {
		if s.checkout == nil {
			return nil, ErrPaymentUnavailable
		}
		// The page is opened before the seat is taken: if Stripe does not
		// answer, the offer still stands.
		if checkout, err = s.checkout.Start(ctx, reg, ev); err != nil {
			s.log.ErrorContext(ctx, "start checkout for an offer", "registration", reg.ID, "err", err)
			return nil, ErrPaymentUnavailable
		}
	}
	out, err := s.store.acceptOffer(ctx, reg.ID, status, pay, checkout, now)
	if err != nil {
		return nil, err
	}
	res := &Result{ID: out.ID, Status: out.Status}
	if out.Payment != nil {
		res.PaymentStatus, res.CheckoutURL = out.Payment.Status, out.Payment.CheckoutURL
		s.issueInvoice(ctx, res)
	}
	return res, nil
}

// ExpireOffers ends offers whose time ran out and passes their seats on.
// It returns how many ended.
func (s *Service) ExpireOffers(ctx context.Context) (int, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	due, err := s.store.offersDue(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, reg := range due {
		ok, err := s.store.expireOffer(ctx, reg.ID, now)
		if err != nil {
			return n, err
		}
		if !ok {
			continue // accepted or cancelled meanwhile
		}
		n++
		if err := s.PassSeatOn(ctx, reg.Event); err != nil {
			return n, err
		}
	}
	return n, nil
}

// ReconcileSeats sets every event's seats left to its capacity minus the
// seats its registrations hold. It repairs a seat left claimed by a crash
// between claiming it and storing the registration, and is safe only
// while no sign-up runs: the embedded store's start-up.
func (s *Service) ReconcileSeats(ctx context.Context) error {
	evs, err := s.events.List(ctx)
	if err != nil {
		return err
	}
	for i := range evs {
		taken, err := s.store.seatsHeld(ctx, evs[i].Slug)
		if err != nil {
			return err
		}
		if evs[i].Capacity-taken != evs[i].SeatsLeft {
			s.log.WarnContext(ctx, "seat count repaired", "event", evs[i].Slug, "seatsLeft", evs[i].SeatsLeft, "counted", evs[i].Capacity-taken)
			if err := s.events.SetSeatsTaken(ctx, &evs[i], taken); err != nil {
				return err
			}
		}
	}
	return nil
}

// notifyMail tells this process's mailer that a registration has mail
// due. When the hint queue is full the hint is dropped: the mailer's
// periodic sweep finds the mail.
func (s *Service) notifyMail(id string) {
	select {
	case s.mailDue <- id:
	default:
	}
}

// mailWithToken is an outbox entry carrying a new manage token, sealed
// until the mail is sent.
func (s *Service) mailWithToken(kind string, now time.Time, token string) Mail {
	h := hashToken(token)
	sealed := s.keys.SealSecret("mail-token:"+h, token)
	return Mail{Kind: kind, CreatedAt: now, Token: &sealed, TokenHash: h}
}

// ByID returns a registration by its id.
func (s *Service) ByID(ctx context.Context, id string) (*Registration, error) {
	return s.store.get(ctx, id)
}

// Event returns the event of a registration.
func (s *Service) Event(ctx context.Context, slug string) (*events.Event, error) {
	return s.events.Get(ctx, slug)
}

// PaymentMethods says which payment methods are offered.
func (s *Service) PaymentMethods() map[string]bool {
	return map[string]bool{Card: s.checkout != nil, Invoice: s.invoicer != nil}
}

// OfferFreeSeats offers seats left free (after the capacity grew) to the
// waiting list, in order, before anyone new can take them. It returns how
// many were offered.
func (s *Service) OfferFreeSeats(ctx context.Context, slug string) (int, error) {
	n := 0
	for {
		if _, err := s.store.firstWaitlisted(ctx, slug); errors.Is(err, ErrNotFound) {
			return n, nil
		} else if err != nil {
			return n, err
		}
		if err := s.events.ClaimSeat(ctx, slug); errors.Is(err, events.ErrSoldOut) {
			return n, nil
		} else if err != nil {
			return n, err
		}
		// PassSeatOn gives the claimed seat to the first on the list, or
		// back to the event if the list emptied meanwhile.
		if err := s.PassSeatOn(ctx, slug); err != nil {
			return n, err
		}
		n++
	}
}
