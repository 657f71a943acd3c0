// Package payments is the money side: Stripe Checkout for cards, Stripe's
// signed webhooks, holds that never hear back, refunds, invoices with KID,
// bank statements (camt.053/054) and the reconciliation report. No card
// data ever reaches this service: the card is entered on Stripe's page.
package payments

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/registration"
)

// Errors of the payments domain.
var (
	ErrBadSignature    = errors.New("bad webhook signature")
	ErrBadPayload      = errors.New("bad webhook payload")
	ErrInvoiceNotFound = errors.New("invoice not found")
	ErrBadStatement    = errors.New("bad bank statement")
	// ErrUnsupportedAPIVersion: a webhook whose signature holds but whose
	// object cannot be read as rendered by its Stripe API version. It is
	// a bad payload too, more precisely told.
	ErrUnsupportedAPIVersion = fmt.Errorf("%w: unsupported Stripe API version", ErrBadPayload)
)

// Seller is who issues invoices (bokføringsforskriften § 5-1-1: name, org
// number, "MVA" when VAT-registered).
type Seller struct {
	Name          string
	OrgNumber     string
	VATRegistered bool
	// Foretaksregisteret: the seller is registered there, which an AS
	// must print on its invoices (foretaksregisterloven § 10-2).
	Foretaksregisteret bool
	Address            string
	BankAccount        string
}

// Config holds the payment settings.
type Config struct {
	// StripeKey is the secret API key; StripeAPIBase points elsewhere than
	// api.stripe.com (stripe-mock in tests).
	StripeKey     string
	StripeAPIBase string
	// WebhookSecret verifies webhook signatures (whsec_...).
	WebhookSecret string
	// Hold is how long a card sign-up holds its seat (Stripe's minimum
	// session lifetime is 30 minutes).
	Hold time.Duration
	// PublicURL is where Stripe sends the participant back.
	PublicURL string
	Seller    Seller
	// InvoiceDueDays: the due date is this many days after issue.
	InvoiceDueDays int
	// ReminderAfterDays: an invoice unpaid this many days after its due
	// date is reminded once (0: never); ReminderDays is the new deadline
	// the reminder gives, at least 14 days (inkassoloven § 9).
	ReminderAfterDays, ReminderDays int
	// ReminderFee is the fee a reminder charges (øre; 0: none), when it
	// may (see RemindOverdue); more than MaxReminderFee is not charged.
	ReminderFee int64
}

// Registrations is what payments asks of the registrations' owner
// (package registration): reads, and the named transitions of a
// registration's money. *registration.Store satisfies it.
type Registrations interface {
	Get(ctx context.Context, id string) (*registration.Registration, error)
	ByPaymentIntent(ctx context.Context, pi string) (*registration.Registration, error)
	PaidByIntents(ctx context.Context, pis []string) ([]registration.Registration, error)
	WithPayment(ctx context.Context, q registration.PaymentQuery) iter.Seq2[*registration.Registration, error]
	HoldsPastEnd(ctx context.Context, t time.Time, limit int64) ([]registration.Registration, error)
	SettlementsDue(ctx context.Context, t time.Time, limit int64) ([]registration.Registration, error)
	MarkPaid(ctx context.Context, id string, p registration.CardPayment) (registration.PaidOutcome, error)
	OrderOf(ctx context.Context, id string) (*registration.Order, error)
	OrderRegistrations(ctx context.Context, o *registration.Order) ([]registration.Registration, error)
	RecordRefund(ctx context.Context, id string, total int64, full bool) (bool, error)
	RefundIssued(ctx context.Context, id, refundID string, amount int64, succeeded bool) error
	LeaseSettlement(ctx context.Context, reg *registration.Registration, until time.Time) (bool, error)
	SettlementFailed(ctx context.Context, id string, status registration.PaymentStatus, next time.Time, class string) error
	MarkCredited(ctx context.Context, id string, creditNote int64) error
	RecordInvoicePayment(ctx context.Context, id string, invoice, paidTotal int64, st registration.PaymentStatus, at time.Time) error
	Open(ctx context.Context, reg *registration.Registration, fields ...string) (map[string]string, error)
	Disclosed(ctx context.Context, event, recipient, token string, fields, ids []string) error
}

// Holds ends card holds (package registration's sign-ups): the
// registration expires and its seat passes on.
type Holds interface {
	ExpireHold(ctx context.Context, id, session string) (bool, error)
}

// Service runs the money after sign-up: Stripe's webhooks, holds that
// never hear back, refunds and credit notes due, bank statements and the
// reconciliation report. Checkout (the payment page at sign-up) and
// Invoices (the series) are parts of their own, which sign-up uses.
type Service struct {
	stripe   *client.API
	cfg      Config
	store    store
	regs     Registrations
	holds    Holds
	invoices *Invoices
	events   *events.Service
	log      *slog.Logger
	now      func() time.Time
}

// NewService returns the payments service.
func NewService(db *mongodb.Store, ev *events.Service, regs Registrations, holds Holds, inv *Invoices, log *slog.Logger, now func() time.Time, cfg Config) *Service {
	cfg = cfg.withDefaults()
	return &Service{
		stripe: newStripe(cfg), cfg: cfg, store: newStore(db),
		regs: regs, holds: holds, invoices: inv, events: ev, log: log, now: now,
	}
}

func (c Config) withDefaults() Config {
	if c.Hold < 30*time.Minute {
		c.Hold = 30 * time.Minute
	}
	if c.InvoiceDueDays == 0 {
		c.InvoiceDueDays = 14
	}
	c.ReminderDays = max(c.ReminderDays, 14)
	return c
}

// newStripe is a Stripe client with explicit backends: never the global
// key.
func newStripe(cfg Config) *client.API {
	backendCfg := &stripe.BackendConfig{
		HTTPClient:        &http.Client{Timeout: 20 * time.Second},
		MaxNetworkRetries: stripe.Int64(2),
		// Stripe's own logger would print request errors to stderr.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.StripeAPIBase != "" {
		backendCfg.URL = stripe.String(cfg.StripeAPIBase)
	}
	backends := &stripe.Backends{
		API:     stripe.GetBackendWithConfig(stripe.APIBackend, backendCfg),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, backendCfg),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, backendCfg),
	}
	return client.New(cfg.StripeKey, backends)
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Checkout opens Stripe Checkout Sessions for sign-ups (it satisfies
// registration.Checkout).
type Checkout struct {
	stripe *client.API
	cfg    Config
	now    func() time.Time
}

// NewCheckout returns the checkout part, or nil when no Stripe key is
// configured (card payment is then not offered).
func NewCheckout(cfg Config, now func() time.Time) *Checkout {
	if cfg.StripeKey == "" {
		return nil
	}
	cfg = cfg.withDefaults()
	return &Checkout{stripe: newStripe(cfg), cfg: cfg, now: now}
}

// Start opens a Stripe Checkout Session for a registration about to be
// stored: a line per thing bought, priced as at sign-up (øre, NOK), the registration id
// as client reference, an idempotency key from it (Stripe replays the
// first answer per key), and an expiry at the end of the seat's hold.
// Nothing personal goes to Stripe unless PrefillEmail is on.
func (s *Checkout) Start(ctx context.Context, reg *registration.Registration, ev *events.Event) (*registration.CheckoutSession, error) {
	email := ""
	if ev.PrefillEmail { // shown to participants: email lists payment_processor
		email = reg.Plain["email"]
	}
	return s.open(ctx, ev, "registration", reg.ID, reg.Lang, email, checkoutLines(reg, ev))
}

// StartOrder opens one Stripe Checkout Session for an order about to be
// stored: a line per participant's ticket (no participant's name goes to
// Stripe), the order id as client reference, each participant's share
// recorded on their own registration when it is paid.
func (s *Checkout) StartOrder(ctx context.Context, o *registration.Order, regs []*registration.Registration, ev *events.Event) (*registration.CheckoutSession, error) {
	// Like lines are one line of several (Stripe takes at most 100).
	var items []*stripe.CheckoutSessionLineItemParams
	for _, reg := range regs {
		if reg.Payment == nil {
			continue
		}
		for _, l := range checkoutLines(reg, ev) {
			i := slices.IndexFunc(items, func(x *stripe.CheckoutSessionLineItemParams) bool {
				return *x.PriceData.ProductData.Name == *l.PriceData.ProductData.Name && *x.PriceData.UnitAmount == *l.PriceData.UnitAmount
			})
			if i < 0 {
				items = append(items, l)
				continue
			}
			*items[i].Quantity += *l.Quantity
		}
	}
	return s.open(ctx, ev, "order", o.ID, o.Lang, "", items)
}

// open creates a Checkout Session for what kind ("registration" or
// "order") id names: id as client reference and in the metadata, the
// idempotency key from it, an expiry at the end of the hold.
func (s *Checkout) open(ctx context.Context, ev *events.Event, kind, id, lang, email string, items []*stripe.CheckoutSessionLineItemParams) (*registration.CheckoutSession, error) {
	expires := s.now().Add(s.cfg.Hold)
	params := &stripe.CheckoutSessionParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		ClientReferenceID: stripe.String(id),
		LineItems:         items,
		PaymentIntentData: &stripe.CheckoutSessionPaymentIntentDataParams{
			Metadata: map[string]string{kind: id, "event": ev.Slug},
		},
		ExpiresAt:  stripe.Int64(expires.Unix()),
		SuccessURL: stripe.String(s.cfg.PublicURL + "/e/" + ev.Slug + "/paid"),
		CancelURL:  stripe.String(s.cfg.PublicURL + "/e/" + ev.Slug),
		Locale:     stripe.String(locale(lang)),
	}
	params.AddMetadata(kind, id)
	params.AddMetadata("event", ev.Slug)
	if email != "" {
		params.CustomerEmail = stripe.String(email)
	}
	key := "checkout-" + id // as before orders, so a retry across the upgrade is replayed
	if kind != "registration" {
		key = "checkout-" + kind + "-" + id
	}
	params.SetIdempotencyKey(key)
	params.Context = ctx
	cs, err := s.stripe.CheckoutSessions.New(params)
	if err != nil {
		return nil, stripeErr("create checkout session", err)
	}
	return &registration.CheckoutSession{ID: cs.ID, URL: cs.URL, ExpiresAt: expires}, nil
}

func locale(lang string) string {
	if lang == "en" {
		return "en"
	}
	return "nb"
}

// stripeErr keeps Stripe's error type and code, not its message.
func stripeErr(op string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		return errors.New(op + ": stripe " + string(se.Type) + " " + string(se.Code))
	}
	return errors.New(op + ": stripe unreachable")
}

// linesOf are what the registration pays for: its lines, or for one from
// before lines were kept, one ticket at the event's price.
func linesOf(reg *registration.Registration, ev *events.Event) []registration.Line {
	if len(reg.Payment.Lines) > 0 {
		return reg.Payment.Lines
	}
	return []registration.Line{{Item: registration.ItemTicket, Name: ev.Title, Quantity: 1, UnitGross: ev.Price.Amount, VATRate: ev.VATRate}}
}

// checkoutLines are the registration's lines as Stripe's: a code's
// discount is taken off the unit price (Checkout has no negative line),
// and named in the line.
func checkoutLines(reg *registration.Registration, ev *events.Event) []*stripe.CheckoutSessionLineItemParams {
	lines := linesOf(reg, ev)
	out := make([]*stripe.CheckoutSessionLineItemParams, 0, len(lines))
	for _, l := range lines {
		name := l.Name.In(reg.Lang)
		if l.Item == registration.ItemTicket && l.Key != "" {
			name = ev.Title.In(reg.Lang) + ": " + name
		}
		if l.DiscountCode != "" {
			name += " (" + l.DiscountCode + ")"
		}
		out = append(out, &stripe.CheckoutSessionLineItemParams{
			Quantity: stripe.Int64(l.Quantity),
			PriceData: &stripe.CheckoutSessionLineItemPriceDataParams{
				Currency:    stripe.String("nok"),
				UnitAmount:  stripe.Int64(l.UnitGross - l.Discount),
				ProductData: &stripe.CheckoutSessionLineItemPriceDataProductDataParams{Name: stripe.String(name)},
			},
		})
	}
	return out
}
