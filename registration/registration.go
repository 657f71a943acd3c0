// Package registration is sign-up and what follows it: validation against
// the event's declared fields, consent, seats and the waiting list, minors,
// manage tokens, confirmation mail, and the data-subject operations on a
// registration.
package registration

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/privacy"
)

// Errors of the registration domain.
var (
	ErrNotFound = errors.New("registration not found")
	// ErrSubmitted: a sign-up with the same submission key was made
	// before (a retry); Signup answers with that registration.
	ErrSubmitted          = errors.New("submitted before")
	ErrRegistrationClosed = errors.New("registration closed")
	ErrNotCancellable     = errors.New("registration cannot be cancelled")
	ErrNoOffer            = errors.New("no open offer")
	ErrInvalidManageToken = errors.New("invalid manage token")
)

// Status is where a registration stands.
type Status string

// The statuses.
const (
	Confirmed      Status = "confirmed"
	PendingPayment Status = "pending_payment"
	Waitlisted     Status = "waitlisted"
	// Offered: a seat freed up and is held for this waitlisted registration
	// until OfferExpiresAt.
	Offered   Status = "offered"
	Cancelled Status = "cancelled"
	Expired   Status = "expired"
	// PendingGuardian: a minor's registration holds a seat until the
	// guardian confirms it through the link mailed to them, or the hold
	// runs out (Guardian.HoldUntil). Nothing is due before.
	PendingGuardian Status = "pending_guardian"
)

// Channel is how a registration or consent came in.
type Channel string

// The channels.
const (
	API Channel = "api"
	Web Channel = "web"
	// GuardianLink: given by a guardian through the link mailed to them.
	GuardianLink Channel = "guardian_link"
)

// Consent records one consent asked for: given or refused, when, through
// which channel, and exactly which text was shown (version and SHA-256).
type Consent struct {
	Purpose     privacy.ConsentPurpose `bson:"purpose" json:"purpose"`
	Given       bool                   `bson:"given" json:"given"`
	At          time.Time              `bson:"at" json:"at"`
	TextVersion string                 `bson:"textVersion" json:"textVersion"`
	TextSHA256  string                 `bson:"textSha256" json:"textSha256"`
	Channel     Channel                `bson:"channel" json:"channel"`
	// ByGuardian: given by the guardian of a minor.
	ByGuardian bool `bson:"byGuardian,omitempty" json:"byGuardian,omitempty"`
	// WithdrawnAt is set when a given consent was withdrawn.
	WithdrawnAt *time.Time `bson:"withdrawnAt,omitempty" json:"withdrawnAt,omitempty"`
}

// Objections are the participant's objections (GDPR art. 21).
type Objections struct {
	PartnerSharing bool `bson:"partnerSharing" json:"partnerSharing"`
	Marketing      bool `bson:"marketing" json:"marketing"`
}

// Mail is one message in a registration's outbox. Its content is rendered
// when it is sent; the manage link it may carry is kept sealed only until
// then.
type Mail struct {
	Kind      string     `bson:"kind"`
	CreatedAt time.Time  `bson:"createdAt"`
	Attempts  int        `bson:"attempts"`
	SentAt    *time.Time `bson:"sentAt,omitempty"`
	// Token is a manage token sealed until the mail is sent, then removed;
	// TokenHash (its stored hash) is the sealing context.
	Token     *privacy.Sealed `bson:"token,omitempty"`
	TokenHash string          `bson:"tokenHash,omitempty"`
	// LastError is the class of the last failure, never its text (an SMTP
	// reply can quote the address).
	LastError string `bson:"lastError,omitempty"`
	// Partner and ObjectBy, in a partner notice: which partner, and until
	// when the participant may object before it gets their name.
	Partner  string     `bson:"partner,omitempty"`
	ObjectBy *time.Time `bson:"objectBy,omitempty"`
	// To is who the mail goes to: the participant (""), the guardian
	// (ToGuardian: their address is a field of the registration) or the
	// organiser (ToOrganiser: the event's privacy address).
	To string `bson:"to,omitempty"`
	// Fields names fields a mail to the organiser is about (never their
	// values).
	Fields []string `bson:"fields,omitempty"`
	// Others, in a confirmation, counts the other live registrations the
	// address held for the event when this one was made.
	Others int `bson:"others,omitempty"`
	// EventCancelled, in a cancellation: the organiser cancelled the
	// event.
	EventCancelled bool `bson:"eventCancelled,omitempty"`
	// Money, in a cancellation: the payment status the cancellation
	// left (refund or credit due, nothing due, or as it stood), read
	// when it was made: the mail may go after the refund is done.
	Money PaymentStatus `bson:"money,omitempty"`
	// Due, in an invoice reminder: the new deadline it gives; Fee the
	// reminder fee it charges (øre).
	Due *time.Time `bson:"due,omitempty"`
	Fee int64      `bson:"fee,omitempty"`
	// Subject and Text, in an organiser's message: what they wrote,
	// dropped once it is sent.
	Subject string `bson:"subject,omitempty"`
	Text    string `bson:"text,omitempty"`
}

// Recipients of a mail other than the participant.
const (
	ToGuardian  = "guardian"
	ToOrganiser = "organiser"
	// ToPendingEmail: the new address of an address change, to confirm it.
	ToPendingEmail = "pending_email"
)

// pendingEmail is the sealed value of a new address waiting to be
// confirmed; it is not a field of any form.
const pendingEmail = "pending_email"

// EmailChange is an address change waiting to be confirmed from the new
// address (the token's hash; until when).
type EmailChange struct {
	TokenHash string    `bson:"tokenHash" json:"-"`
	Until     time.Time `bson:"until" json:"until"`
}

// GuardianCheck is a minor's guardian's part in a registration: the
// guardian confirms through a link mailed to the address given for them,
// before HoldUntil, or the registration lapses and its data is erased;
// once confirmed, the guardian can withdraw the consents (their
// consent-based data is erased and the organiser told) or cancel.
type GuardianCheck struct {
	HoldUntil   time.Time  `bson:"holdUntil" json:"holdUntil"`
	ConfirmedAt *time.Time `bson:"confirmedAt,omitempty" json:"confirmedAt,omitempty"`
	WithdrawnAt *time.Time `bson:"withdrawnAt,omitempty" json:"withdrawnAt,omitempty"`
	// LapsedAt is set when the hold ran out unconfirmed and the data
	// was erased.
	LapsedAt *time.Time `bson:"lapsedAt,omitempty" json:"lapsedAt,omitempty"`
	// Tokens are the SHA-256 hashes of the guardian's link tokens: they
	// open the guardian's page only, never the participant's.
	Tokens []string `bson:"tokens" json:"-"`
}

// Registration is one person's registration for one event, as stored.
type Registration struct {
	ID     string `bson:"_id"`
	Event  string `bson:"event"`
	Status Status `bson:"status"`
	// Seat: the registration holds one of the event's seats (and one of
	// its category's).
	Seat bool `bson:"seat"`
	// Category is the key of the event's category (the kind of ticket);
	// "" for an event without categories.
	Category string `bson:"category,omitempty"`
	// Addons are the items bought with the ticket (held from the event's
	// add-on quotas while the registration holds its seat).
	Addons []AddonChoice `bson:"addons,omitempty"`
	// Bib is a race participant's start number, given once (see race.go).
	Bib int `bson:"bib,omitempty"`
	// Team is a relay team's name, for each of its members.
	Team string `bson:"team,omitempty"`
	// Order is the order that registered the participant, if a buyer
	// did (see Signups.Order).
	Order string `bson:"order,omitempty"`
	// Code names the discount code (or guest quota) the ticket was bought
	// with: the event's slug and the code.
	Code string `bson:"code,omitempty"`
	// Sealed holds every value, each sealed under a data key of its own
	// that lives in the key store (see Store): destroying the key destroys
	// the value, in this document and in every copy of it.
	Sealed map[string]privacy.Sealed `bson:"sealed,omitempty"`
	// DeleteAt is when each value's retention runs out, fixed at sign-up
	// from what the participant was told; a change to the event can only
	// bring it forward. A value with no date here goes with the
	// registration, on withdrawal of its consent, or (bookkeeping) at the
	// end of the fifth year after the fiscal year it was paid or invoiced.
	DeleteAt map[string]time.Time `bson:"deleteAt,omitempty"`
	// Plain holds the values opened for the use at hand (Store.Open); it
	// is never stored.
	Plain map[string]string `bson:"-" json:"-"`
	// Promise names what the participant was told at sign-up (see
	// events.Promise); every later use of the data obeys it.
	Promise string `bson:"promise,omitempty"`
	// PartnerNotices says when the participant was told of each partner
	// added after they signed up; such a partner gets their name only
	// once the objection window since has passed without an objection.
	PartnerNotices map[string]time.Time `bson:"partnerNotices,omitempty"`
	// EmailKey is the keyed hash of the e-mail. An address may hold
	// several registrations for one event: refusing a second would tell
	// anyone whether an address is registered (the owner is told of each
	// by mail instead). ActiveKey is unique per event: the hash of the
	// sign-up's submission key, so a retry finds the first registration,
	// or the id.
	EmailKey  string `bson:"emailKey"`
	ActiveKey string `bson:"activeKey"`
	// Consents is the record of every consent asked: given, refused or
	// withdrawn. ConsentState is where each purpose stands now.
	Consents     []Consent                       `bson:"consents"`
	ConsentState map[privacy.ConsentPurpose]bool `bson:"consentState"`
	Objections   Objections                      `bson:"objections"`
	Restricted   bool                            `bson:"restricted"`
	// ManageTokens are the SHA-256 hashes of the participant's manage
	// tokens (one per mail that carried a link); the tokens are not kept.
	// They expire with the data (ManageableUntil) and are replaced by one
	// new token when the participant asks (Rights.RotateManageToken).
	ManageTokens []string `bson:"manageTokens"`
	// LinkGeneration counts the rotations: a page session opened with a
	// link of an earlier generation ends with it.
	LinkGeneration int             `bson:"linkGeneration,omitempty"`
	Lang           string          `bson:"lang"`
	Channel        Channel         `bson:"channel"`
	Outbox         map[string]Mail `bson:"outbox"`
	OutboxNextAt   *time.Time      `bson:"outboxNextAt,omitempty"`
	OfferExpiresAt *time.Time      `bson:"offerExpiresAt,omitempty"`
	// Guardian is set for a minor's registration (see GuardianCheck).
	Guardian *GuardianCheck `bson:"guardian,omitempty"`
	// EmailChange is set while a new address waits to be confirmed.
	EmailChange *EmailChange `bson:"emailChange,omitempty"`
	// Payment is set for paid events; package payments moves it on.
	Payment *Payment `bson:"payment,omitempty"`
	// ErasedAt is set when the participant's data was erased (art. 17).
	ErasedAt *time.Time `bson:"erasedAt,omitempty"`
	// CancelledAt is when the registration was cancelled.
	CancelledAt *time.Time `bson:"cancelledAt,omitempty"`
	// CheckedIn is set when the participant was checked in at the door.
	CheckedIn *CheckIn `bson:"checkedIn,omitempty"`
	// Hooks are changes waiting to be told to organisers' systems;
	// HooksAt is set while any wait (see package webhooks).
	Hooks     map[string]HookEvent `bson:"hooks,omitempty"`
	HooksAt   *time.Time           `bson:"hooksAt,omitempty"`
	CreatedAt time.Time            `bson:"createdAt"`
	UpdatedAt time.Time            `bson:"updatedAt"`
}

// AddonChoice is an add-on bought, and the option picked (a size).
type AddonChoice struct {
	Key    string `bson:"key" json:"key"`
	Option string `bson:"option,omitempty" json:"option,omitempty"`
}

// claim is what the registration holds of the event's quotas: its seat
// in its category (unless a code's own seats hold it) and its add-ons.
func (r *Registration) claim(seat bool) events.Claim {
	c := events.Claim{}
	if seat {
		c[r.Category] = 1
	}
	for _, a := range r.Addons {
		c[events.AddonQuota(a.Key)]++
	}
	return c
}

// LogValue shows only what identifies the registration, never its data.
func (r *Registration) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", r.ID), slog.String("event", r.Event), slog.String("status", string(r.Status)))
}

// Which statuses count, defined once.
var (
	// SeatStatuses hold (or, offered, are held) one of the event's seats:
	// a payment is due for them.
	SeatStatuses = []Status{Confirmed, PendingPayment, Offered}
	// LiveStatuses hold a person's one registration for the event: those
	// with a seat, the waiting list and a minor's awaiting the guardian.
	// Cancelling, expiring or erasing ends it, and the person may sign up
	// again.
	LiveStatuses = append(slices.Clone(SeatStatuses), Waitlisted, PendingGuardian)
)

// Live reports whether the status holds the person's one registration for
// the event (see LiveStatuses).
func (st Status) Live() bool { return slices.Contains(LiveStatuses, st) }

// WithSeat reports whether the status holds a seat (see SeatStatuses).
func (st Status) WithSeat() bool { return slices.Contains(SeatStatuses, st) }

// Consent returns the latest record of a consent purpose.
func (r *Registration) Consent(p privacy.ConsentPurpose) (Consent, bool) {
	for i := len(r.Consents) - 1; i >= 0; i-- {
		if r.Consents[i].Purpose == p {
			return r.Consents[i], true
		}
	}
	return Consent{}, false
}

// PaymentStatus is where a registration's payment stands.
type PaymentStatus string

// The payment statuses.
const (
	// PaymentPending: waiting for the card payment on Stripe's page.
	PaymentPending PaymentStatus = "pending"
	PaymentPaid    PaymentStatus = "paid"
	// PaymentInvoicing: the invoice is to be issued (at once, or by the
	// sweep if issuing failed).
	PaymentInvoicing     PaymentStatus = "invoicing"
	PaymentInvoiced      PaymentStatus = "invoiced"
	PaymentPartiallyPaid PaymentStatus = "partially_paid"
	PaymentOverpaid      PaymentStatus = "overpaid"
	// PaymentRefundDue: cancelled in time; the refund waits for the
	// settlement job (or its first attempt, at once).
	PaymentRefundDue PaymentStatus = "refund_due"
	// PaymentRefunding: Stripe took the refund and has not finished it.
	PaymentRefunding PaymentStatus = "refunding"
	PaymentRefunded  PaymentStatus = "refunded"
	// PaymentCreditDue: an invoice to be credited by the settlement job.
	PaymentCreditDue PaymentStatus = "credit_due"
	PaymentCredited  PaymentStatus = "credited"
	PaymentExpired   PaymentStatus = "expired"
	// PaymentNotDue: cancelled before anything was paid.
	PaymentNotDue PaymentStatus = "not_due"
)

// Live reports whether a payment status still asks for (or holds) the
// money.
func (st PaymentStatus) Live() bool {
	switch st {
	case PaymentNotDue, PaymentExpired, PaymentCredited, PaymentCreditDue, PaymentRefunded, PaymentRefundDue, PaymentRefunding:
		return false
	}
	return true
}

// Payment is the money side of a registration. No card data: the card is
// entered on Stripe's page; only Stripe's ids are kept.
type Payment struct {
	Method string `bson:"method" json:"method"`
	// EHF: the invoice goes as an EHF e-invoice too (the buyer asked).
	EHF      bool          `bson:"ehf,omitempty" json:"ehf,omitempty"`
	Status   PaymentStatus `bson:"status" json:"status"`
	Amount   int64         `bson:"amount" json:"amount"` // due, in øre
	Currency string        `bson:"currency" json:"currency"`
	// Lines are what is paid for, priced when bought: what a later change
	// of the event's prices cannot change.
	Lines []Line `bson:"lines,omitempty" json:"lines,omitempty"`

	SessionID        string     `bson:"sessionId,omitempty" json:"sessionId,omitempty"`
	CheckoutURL      string     `bson:"checkoutUrl,omitempty" json:"checkoutUrl,omitempty"`
	SessionExpiresAt *time.Time `bson:"sessionExpiresAt,omitempty" json:"sessionExpiresAt,omitempty"`
	PaymentIntentID  string     `bson:"paymentIntentId,omitempty" json:"paymentIntentId,omitempty"`

	PaidAmount int64      `bson:"paidAmount" json:"paidAmount"`
	PaidAt     *time.Time `bson:"paidAt,omitempty" json:"paidAt,omitempty"`

	InvoiceNumber int64  `bson:"invoiceNumber,omitempty" json:"invoiceNumber,omitempty"`
	KID           string `bson:"kid,omitempty" json:"kid,omitempty"`
	CreditNote    int64  `bson:"creditNote,omitempty" json:"creditNote,omitempty"`

	RefundID       string     `bson:"refundId,omitempty" json:"refundId,omitempty"`
	RefundedAmount int64      `bson:"refundedAmount" json:"refundedAmount"`
	RefundedAt     *time.Time `bson:"refundedAt,omitempty" json:"refundedAt,omitempty"`

	// InvoiceClaim is held by the one issuer making this registration's
	// invoice: no number is taken without it. Claims counts them, so a
	// claim taken over from an issuer that died is known.
	InvoiceClaim *Claim `bson:"invoiceClaim,omitempty" json:"-"`
	Claims       int    `bson:"claims,omitempty" json:"-"`

	// Settlement of a refund or credit due: when the job tries next, how
	// often it tried, and the class of its last failure (never a text).
	SettleAt       *time.Time `bson:"settleAt,omitempty" json:"-"`
	SettleAttempts int        `bson:"settleAttempts,omitempty" json:"-"`
	SettleError    string     `bson:"settleError,omitempty" json:"-"`
	// SettleLeases counts the times a settler took it on: above zero, an
	// earlier one may have done part of the work before it died.
	SettleLeases int `bson:"settleLeases,omitempty" json:"-"`
}

// Line is one thing paid for, as priced when it was bought.
type Line struct {
	// Item is what it is: a ticket (of Key's category) or an add-on.
	Item     string       `bson:"item" json:"item"`
	Key      string       `bson:"key,omitempty" json:"key,omitempty"`
	Name     privacy.Text `bson:"name" json:"name"`
	Quantity int64        `bson:"quantity" json:"quantity"`
	// UnitGross is the price of one, VAT included, in øre; Discount is
	// what a code takes off each (DiscountCode names it).
	UnitGross    int64  `bson:"unitGross" json:"unitGross"`
	Discount     int64  `bson:"discount,omitempty" json:"discount,omitempty"`
	DiscountCode string `bson:"discountCode,omitempty" json:"discountCode,omitempty"`
	VATRate      int    `bson:"vatRate" json:"vatRate"`
}

// Gross is what the line costs, VAT included, after its discount.
func (l Line) Gross() int64 { return l.Quantity * (l.UnitGross - l.Discount) }

// The items a line can be.
const (
	ItemTicket = "ticket"
	ItemAddOn  = "addon"
)

// LinesTotal is what the lines cost together.
func LinesTotal(lines []Line) int64 {
	var n int64
	for _, l := range lines {
		n += l.Gross()
	}
	return n
}

// Claim is a short exclusive right to act on a registration.
type Claim struct {
	Nonce string    `bson:"nonce"`
	Until time.Time `bson:"until"`
}

// Due reports whether the payment is owed: not settled the other way
// (refunded, credited, expired, never due).
func (p *Payment) Due() bool {
	switch p.Status {
	case PaymentNotDue, PaymentExpired, PaymentRefundDue, PaymentRefunding, PaymentRefunded, PaymentCreditDue, PaymentCredited:
		return false
	}
	return true
}

// CheckoutSession is a payment page at the processor.
type CheckoutSession struct {
	ID        string
	URL       string
	ExpiresAt time.Time
}

// Checkout opens a payment page for a registration before it is stored
// (package payments satisfies it with Stripe Checkout), so a card sign-up
// stays one seat claim and one insert.
type Checkout interface {
	Start(ctx context.Context, reg *Registration, ev *events.Event) (*CheckoutSession, error)
	// StartOrder opens one page for an order's participants.
	StartOrder(ctx context.Context, o *Order, regs []*Registration, ev *events.Event) (*CheckoutSession, error)
}

// Invoicer issues the invoice of a registration that chose to pay by
// invoice, after it is stored.
type Invoicer interface {
	IssueInvoice(ctx context.Context, id string) error
}

// Types of the events organisers' systems are told of (outgoing webhooks).
const (
	HookConfirmed = "registration.confirmed"
	HookCancelled = "registration.cancelled"
	HookPaid      = "registration.paid"
)

// HookEvent is a change to tell organisers' systems of. It is written in
// the same single-document update as the change itself (an outbox), so a
// crash can lose neither; package webhooks delivers it.
type HookEvent struct {
	Type string    `bson:"type"`
	At   time.Time `bson:"at"`
}

// HookSet is the update that queues a hook event on a registration.
func HookSet(typ string, at time.Time) (key string, value HookEvent) {
	return "hooks." + strings.ReplaceAll(typ, ".", "_") + "-" + strconv.FormatInt(at.UnixMilli(), 10), HookEvent{Type: typ, At: at}
}

// ManageableUntil is when the registration's manage links stop working:
// when the last of its values is due for deletion. ok is false when no
// value has a date (they go with the registration).
func (r *Registration) ManageableUntil() (until time.Time, ok bool) {
	for _, at := range r.DeleteAt {
		if at.After(until) {
			until, ok = at, true
		}
	}
	return until, ok
}
