package registration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// An order is one buyer registering several participants in one request
// (a company its employees, a municipality its staff, a relay captain a
// team): every seat or none, one payment. Each participant is a data
// subject of their own, with a registration, a manage link, a
// confirmation and the event's notice of their own; the buyer sees only
// what the order needs (names, tickets, payment). What needs a
// participant's consent (health data, a custom consent field, marketing)
// only the participant can give, through their own link: a buyer's order
// carrying it is refused whole.
//
// All or nothing across documents: the order document is written first,
// open; the code's uses and the seats are claimed; the registrations are
// inserted, their mail held; one conditional update places the order and
// only then is it answered 201 and the mail released. An order that is
// still open past OpenUntil (its request died) is aborted by the order
// sweep, which deletes what it had inserted; the recount gives back seats
// claimed for registrations never inserted.

// OrderRequest is the body of POST /api/v1/events/{slug}/orders.
type OrderRequest struct {
	// Buyer holds the buyer's own values: of BuyerFields, those the
	// event's form asks (name and e-mail always; the invoice's buyer for
	// an invoice).
	Buyer        map[string]string    `json:"buyer"`
	Participants []ParticipantRequest `json:"participants"`
	// Code is a discount code, or one that unlocks a category sold only
	// with one; it applies to each participant whose category it covers.
	Code    string         `json:"code"`
	Payment PaymentRequest `json:"payment"`
	Lang    string         `json:"lang"`
	// Team names a relay team: required, and only, for a category with a
	// team size, whose order is the whole team.
	Team string `json:"team"`
	// SubmissionKey makes the order idempotent (the Idempotency-Key).
	SubmissionKey string `json:"-"`
}

// ParticipantRequest is one participant of an order: their ticket and
// the fields the buyer may give for them.
type ParticipantRequest struct {
	Category string            `json:"category"`
	Fields   map[string]string `json:"fields"`
	// Consents are refused when given: only the participant consents.
	Consents ConsentsRequest `json:"consents"`
	Addons   []AddonChoice   `json:"addons"`
}

// BuyerFields are the catalog fields a buyer gives of themself.
var BuyerFields = []string{"name", "email", "phone", "organisation", "invoice_org_number", "invoice_address", "invoice_reference"}

// invoiceFields are the buyer's in an order: its participants do not
// give them.
var invoiceFields = []string{"invoice_org_number", "invoice_address", "invoice_reference"}

// MaxOrder is the most participants one order registers.
const MaxOrder = 50

// orderWindow is how long an order may stay open: its request has then
// died, and the order sweep aborts it.
const orderWindow = time.Minute

// CodeParticipantOnly: a value or consent only the participant can give
// (through their own link), sent by a buyer.
const CodeParticipantOnly = "participant_only"

// OrderStatus is where an order stands.
type OrderStatus string

// The order statuses.
const (
	OrderOpen    OrderStatus = "open"
	OrderPlaced  OrderStatus = "placed"
	OrderAborted OrderStatus = "aborted"
)

// Order is an order as stored. The buyer's values are sealed as a
// registration's are, under keys of their own in the key store.
type Order struct {
	ID           string      `bson:"_id"`
	Event        string      `bson:"event"`
	Status       OrderStatus `bson:"status"`
	Participants []string    `bson:"participants"`
	Method       string      `bson:"method,omitempty"`
	// EHF: the buyer asked for the invoice as EHF too.
	EHF      bool                      `bson:"ehf,omitempty"`
	Amount   int64                     `bson:"amount"`
	Currency string                    `bson:"currency,omitempty"`
	Sealed   map[string]privacy.Sealed `bson:"sealed,omitempty"`
	// PurgeAt is when the buyer's values go: the latest of their
	// event-end deadlines (the invoice keeps what bookkeeping needs).
	PurgeAt   *time.Time `bson:"purgeAt,omitempty"`
	TokenHash string     `bson:"tokenHash"`
	// Submission is unique per event: the hash of the order's
	// Idempotency-Key, else the id.
	Submission string `bson:"submission"`
	// Code is the code's id; CodeUses how many of its uses the order
	// redeemed (recorded once redeemed, given back once if the order is
	// aborted: CodeReturned).
	Code          string     `bson:"code,omitempty"`
	CodeUses      int        `bson:"codeUses,omitempty"`
	CodeReturned  bool       `bson:"codeReturned,omitempty"`
	OpenUntil     time.Time  `bson:"openUntil"`
	MailsReleased bool       `bson:"mailsReleased"`
	Lang          string     `bson:"lang"`
	CreatedAt     time.Time  `bson:"createdAt"`
	PlacedAt      *time.Time `bson:"placedAt,omitempty"`
	PurgedAt      *time.Time `bson:"purgedAt,omitempty"`
	// InvoiceNumber is the order's one invoice, once issued; InvoiceClaim
	// is held by the one issuer making it.
	InvoiceNumber int64  `bson:"invoiceNumber,omitempty"`
	InvoiceClaim  *Claim `bson:"invoiceClaim,omitempty"`
}

// OrderResult is what an order answers, and what its buyer sees of it
// afterwards: the participants' names and tickets and the payment, never
// more of any participant.
type OrderResult struct {
	ID     string      `json:"id"`
	Event  string      `json:"event"`
	Status OrderStatus `json:"status"`
	// OrderToken opens the order's view (GET /api/v1/orders/me); given
	// once, in the 201.
	OrderToken   string             `json:"orderToken,omitempty"`
	Participants []OrderParticipant `json:"participants"`
	Payment      *OrderPayment      `json:"payment,omitempty"`
	Resubmitted  bool               `json:"resubmitted,omitempty"`
}

// OrderParticipant is a participant as the buyer sees them.
type OrderParticipant struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Category string `json:"category,omitempty"`
	Status   Status `json:"status"`
}

// OrderPayment is the order's money: its lines, each naming the
// participant it is for.
type OrderPayment struct {
	Method        string        `json:"method"`
	Status        PaymentStatus `json:"status"`
	Amount        int64         `json:"amount"`
	Currency      string        `json:"currency"`
	Lines         []OrderLine   `json:"lines"`
	InvoiceNumber int64         `json:"invoiceNumber,omitempty"`
	KID           string        `json:"kid,omitempty"`
	CheckoutURL   string        `json:"checkoutUrl,omitempty"`
}

// OrderLine is a line of the order's payment and whose it is.
type OrderLine struct {
	Participant string `json:"participant"`
	Line
}

// ErrOrderAborted: the order took too long and was aborted; nothing of
// it was kept.
var ErrOrderAborted = errors.New("order aborted")

// ErrOrderPaymentPending: one participant of an order cannot leave while
// the order's one card payment page is open.
var ErrOrderPaymentPending = errors.New("order payment pending")

// orderToken is "pmo_" + the order id + "." + 256 random bits, as a
// manage token; it opens the order's view only.
const orderTokenPrefix = "pmo_"

// Order registers an order's participants: all of them or none. The
// result carries the order token; each participant's manage link goes
// to them by mail.
func (s *Signups) Order(ctx context.Context, slug string, r OrderRequest, ch Channel) (*OrderResult, error) {
	ev, code, now, err := s.open(ctx, slug, r.Code, nil)
	if err != nil {
		return nil, err
	}
	o, err := s.checkOrder(ev, &r, now, code)
	if err != nil {
		return nil, err
	}
	if code != nil && o.codeUses == 0 {
		// A code none of the tickets takes.
		return nil, privacy.Errors{{Field: "code", Code: privacy.CodeInvalid}}
	}

	order, keys, token, err := s.newOrder(ev, &r, o, now)
	if err != nil {
		return nil, err
	}
	switch err := s.d.Store.insertOrder(ctx, order, keys); {
	case errors.Is(err, ErrSubmitted):
		prev, err := s.d.Store.orderBySubmission(ctx, ev.Slug, order.Submission)
		if err != nil {
			return nil, err
		}
		res, err := s.orderView(ctx, prev)
		if err == nil {
			res.Resubmitted = true
		}
		return res, err
	case err != nil:
		return nil, err
	}

	regs, tokens := make([]*Registration, len(o.people)), make([]string, len(o.people))
	regKeys := make([]*keyDoc, len(o.people))
	claim := events.Claim{}
	for i, c := range o.people {
		reg, k, t, err := s.newRegistration(ev, c, SignupRequest{Lang: r.Lang}, ch, now, order.Participants[i])
		if err != nil {
			s.abortOrder(ctx, order, nil)
			return nil, err
		}
		reg.Order, reg.Category, reg.Addons, reg.Status, reg.Seat = order.ID, c.ticket.Category, c.addons, Confirmed, true
		reg.Team = r.Team
		var pcode *events.Code
		if o.codeFor[i] {
			reg.Code, pcode = code.ID, code
		}
		for key, n := range reg.claim(!o.codeFor[i] || !code.Reserve) {
			claim[key] += n
		}
		if lines := c.paymentLines(pcode); LinesTotal(lines) > 0 {
			reg.Payment = &Payment{Method: r.Payment.Method, EHF: r.Payment.EHF, Amount: LinesTotal(lines), Currency: c.ticket.Currency, Lines: lines}
			switch r.Payment.Method {
			case Invoice:
				reg.Payment.Status = PaymentInvoicing
			default:
				reg.Status, reg.Payment.Status = PendingPayment, PaymentPending
			}
		}
		// The participant's own confirmation and link, held until the
		// order is placed.
		reg.Outbox = map[string]Mail{"confirmation": s.d.mailWithToken(mailConfirmation, now, t)}
		if reg.Status == Confirmed {
			k, h := HookSet(HookConfirmed, now)
			reg.Hooks = map[string]HookEvent{k[len("hooks."):]: h}
			reg.HooksAt = &now
		}
		regs[i], regKeys[i], tokens[i] = reg, k, t
	}

	// The code's uses, then every seat in one conditional update.
	if o.codeUses > 0 {
		if err := s.d.events.Redeem(ctx, code, o.codeUses); err != nil {
			s.abortOrder(ctx, order, nil)
			return nil, err
		}
		if err := s.d.Store.orderRedeemed(ctx, order, o.codeUses); err != nil {
			if uerr := s.d.events.Unredeem(context.WithoutCancel(ctx), code, o.codeUses); uerr != nil {
				s.d.log.ErrorContext(ctx, "order code uses not given back", "order", order.ID, "err", uerr)
			}
			s.abortOrder(ctx, order, nil)
			return nil, err
		}
	}
	if err := s.claimAll(ctx, ev, claim); err != nil {
		s.abortOrder(ctx, order, nil)
		return nil, err
	}
	if order.Method == Card && order.Amount > 0 {
		if err := s.startOrderCheckout(ctx, ev, order, regs); err != nil {
			s.abortOrder(ctx, order, claim)
			return nil, err
		}
	}
	s.numberBibs(ctx, ev, regs...)
	// The participants' keys in one insert, their registrations in
	// another (as a sign-up group's).
	failed, err := s.d.Store.insertGroup(ctx, regs, func(i int) *keyDoc { return regKeys[i] })
	for _, e := range failed {
		err = errors.Join(err, e)
	}
	if err != nil {
		// Every registration of the order is deleted, one whose insert
		// answer was lost included; then nothing holds the seats.
		s.abortOrder(ctx, order, claim)
		return nil, err
	}
	if err := s.d.Store.placeOrder(ctx, order.ID, now); err != nil {
		if errors.Is(err, ErrWrongState) {
			// The sweep aborted it meanwhile: it deletes the
			// registrations, the recount gives the seats back.
			s.abortOrder(ctx, order, nil)
			return nil, ErrOrderAborted
		}
		return nil, err
	}
	order.Status = OrderPlaced
	if err := s.releaseOrderMail(ctx, order); err != nil {
		s.d.log.ErrorContext(ctx, "order mail not released; the order sweep releases it", "order", order.ID, "err", err)
	}
	res := placedView(order, regs, o)
	if order.Method == Invoice && order.Amount > 0 && s.invoicer != nil {
		if err := s.invoicer.IssueInvoice(context.WithoutCancel(ctx), regs[0].ID); err != nil {
			s.d.log.ErrorContext(ctx, "issue order invoice", "order", order.ID, "err", err)
		} else if v, err := s.orderView(ctx, order); err == nil {
			res = v // with the invoice's number and KID
		}
	}
	res.OrderToken = token
	return res, nil
}

// placedView is the order as just placed, from what was stored (no read
// back).
func placedView(order *Order, regs []*Registration, o *checkedOrder) *OrderResult {
	res := &OrderResult{ID: order.ID, Event: order.Event, Status: order.Status, Participants: []OrderParticipant{}}
	if order.Amount > 0 {
		res.Payment = &OrderPayment{Method: order.Method, Currency: order.Currency, Lines: []OrderLine{}}
	}
	for i, reg := range regs {
		res.Participants = append(res.Participants, OrderParticipant{ID: reg.ID, Name: o.people[i].values["name"], Category: reg.Category, Status: reg.Status})
		if res.Payment != nil && reg.Payment != nil {
			res.Payment.add(reg)
		}
	}
	return res
}

// add counts a participant's payment in the order's.
func (pay *OrderPayment) add(reg *Registration) {
	rp := reg.Payment
	for _, l := range rp.Lines {
		pay.Lines = append(pay.Lines, OrderLine{Participant: reg.ID, Line: l})
	}
	if rp.Status.Live() {
		pay.Amount += rp.Amount
	}
	pay.Status = orderPaymentStatus(pay.Status, rp.Status)
	if rp.InvoiceNumber != 0 {
		pay.InvoiceNumber, pay.KID = rp.InvoiceNumber, rp.KID
	}
	if reg.Status == PendingPayment {
		pay.CheckoutURL = rp.CheckoutURL
	}
}

// checkedOrder is an order request that passed every rule.
type checkedOrder struct {
	people   []*checked
	codeFor  []bool // the code applies to the participant's ticket
	codeUses int
	buyer    map[string]string
	total    int64
}

// checkOrder applies the event's form and the privacy rules to every
// participant and to the buyer, collecting every fault ("participants[1].fields.email").
func (s *Signups) checkOrder(ev *events.Event, r *OrderRequest, now time.Time, code *events.Code) (*checkedOrder, error) {
	var errs privacy.Errors
	o := &checkedOrder{buyer: map[string]string{}}
	if n := len(r.Participants); n == 0 || n > MaxOrder {
		errs.Add("participants", privacy.CodeInvalid)
		return nil, errs
	}
	for i, p := range r.Participants {
		var pe privacy.Errors
		fields := map[string]string{}
		for k, v := range p.Fields {
			f, ok := ev.Field(k)
			switch {
			case ok && ev.Asks(k) && f.LegalBasis.NeedsConsent():
				pe.Add("fields."+k, CodeParticipantOnly)
			case slices.Contains(invoiceFields, k):
				pe.Add("fields."+k, privacy.CodeUndeclared) // the buyer's
			default:
				fields[k] = v
			}
		}
		for pur, given := range p.Consents {
			if given {
				pe.Add("consents."+string(pur), CodeParticipantOnly)
			}
		}
		var pcode *events.Code
		if code != nil && code.For(p.Category) {
			pcode = code
		}
		c, _ := checkPerson(ev, &SignupRequest{Category: p.Category, Fields: fields, Addons: p.Addons, Lang: r.Lang}, now, s.cfg.DigitalConsentAge, pcode, &pe)
		for _, e := range pe {
			errs.Add("participants["+strconv.Itoa(i)+"]."+e.Field, e.Code)
		}
		o.people = append(o.people, c)
		o.codeFor = append(o.codeFor, pcode != nil)
		if pcode != nil {
			o.codeUses++
		}
		o.total += LinesTotal(c.paymentLines(pcode))
	}
	checkTeam(ev, r, &errs)
	// The buyer's own values: what the form asks, of the buyer's fields.
	for k := range r.Buyer {
		if !slices.Contains(BuyerFields, k) || !ev.Asks(k) {
			errs.Add("buyer."+k, privacy.CodeUndeclared)
		}
	}
	for _, df := range ev.Form() {
		if !slices.Contains(BuyerFields, df.Key) {
			continue
		}
		v, code := df.Validation.Check(r.Buyer[df.Key], now)
		switch {
		case code != "":
			errs.Add("buyer."+df.Key, code)
		case v != "":
			o.buyer[df.Key] = v
		case df.Key == "name" || df.Key == "email":
			errs.Add("buyer."+df.Key, privacy.CodeRequired)
		}
	}
	if !ev.Asks("email") {
		errs.Add("buyer.email", privacy.CodeRequired) // the order's view and mail need it
	}
	checkPayment(ev, r.Payment, o.total > 0, s.PaymentMethods(), o.buyer, "buyer.", &errs)
	switch r.Lang {
	case "", "nb", "en":
	default:
		errs.Add("lang", privacy.CodeInvalid)
	}
	if err := errs.Err(); err != nil {
		return nil, dedupe(err.(privacy.Errors))
	}
	return o, nil
}

// checkTeam checks a relay team: a category with a team size is ordered
// a whole team at a time, by its captain, under a team name.
func checkTeam(ev *events.Event, r *OrderRequest, errs *privacy.Errors) {
	r.Team = strings.TrimSpace(r.Team)
	size := 0
	for _, p := range r.Participants {
		if c, ok := ev.Category(p.Category); ok && c.TeamSize > 0 {
			size = c.TeamSize
		}
	}
	switch {
	case size == 0 && r.Team != "":
		errs.Add("team", privacy.CodeUndeclared)
	case size == 0:
	case r.Team == "":
		errs.Add("team", privacy.CodeRequired)
	case len(r.Team) > 80:
		errs.Add("team", privacy.CodeTooLong)
	case len(r.Participants) != size || slices.ContainsFunc(r.Participants, func(p ParticipantRequest) bool { return p.Category != r.Participants[0].Category }):
		errs.Add("participants", "team_size")
	}
}

// dedupe drops repeated faults (each participant reports lang too).
func dedupe(errs privacy.Errors) privacy.Errors {
	out := privacy.Errors{}
	for _, e := range errs {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// newOrder builds the order document, the buyer's values sealed, and the
// buyer's order token.
func (s *Signups) newOrder(ev *events.Event, r *OrderRequest, o *checkedOrder, now time.Time) (*Order, *keyDoc, string, error) {
	id := newID(now)
	token := newToken(orderTokenPrefix, id)
	lang := r.Lang
	if lang == "" {
		lang = "nb"
	}
	order := &Order{ID: id, Event: ev.Slug, Status: OrderOpen, Method: r.Payment.Method, EHF: r.Payment.EHF, Amount: o.total,
		Currency: ev.Price.Currency, TokenHash: hashToken(token), Submission: id,
		OpenUntil: now.Add(orderWindow), Lang: lang, CreatedAt: now}
	if o.total == 0 {
		order.Method = ""
	}
	if o.codeUses > 0 {
		order.Code = ev.Slug + "/" + events.NormalizeCode(r.Code)
	}
	for range o.people {
		order.Participants = append(order.Participants, newID(now))
	}
	if r.SubmissionKey != "" {
		sum := sha256.Sum256([]byte(r.SubmissionKey))
		order.Submission = "submission:" + hex.EncodeToString(sum[:])
	}
	for _, at := range deadlines(ev, o.buyer) {
		if order.PurgeAt == nil || at.After(*order.PurgeAt) {
			order.PurgeAt = &at
		}
	}
	if order.PurgeAt == nil {
		at := ev.EndsAt.AddDate(1, 0, 0)
		order.PurgeAt = &at
	}
	sealed, keys, err := s.d.Store.vault.seal(id, ev.Slug, now, o.buyer)
	if err != nil {
		return nil, nil, "", err
	}
	order.Sealed = sealed
	return order, keys, token, nil
}

// abortOrder ends an order that failed before it was placed: aborted, its
// registrations deleted and its code's uses given back, then the seats it
// claimed (claim nil when none were, or it is not known: the recount
// decides).
func (s *Signups) abortOrder(ctx context.Context, order *Order, claim events.Claim) {
	ctx = context.WithoutCancel(ctx)
	if err := s.d.Store.abortOrder(ctx, order.ID); err != nil && !errors.Is(err, ErrWrongState) {
		s.d.log.ErrorContext(ctx, "order not aborted; the order sweep aborts it", "order", order.ID, "err", err)
		return
	}
	if err := s.clearOrder(ctx, order); err != nil {
		// Its registrations may still hold the seats: the sweep deletes
		// them, the recount then gives the seats back.
		s.d.log.ErrorContext(ctx, "aborted order not cleared; the order sweep clears it", "order", order.ID, "err", err)
		return
	}
	if len(claim) > 0 {
		if err := s.d.events.ReleaseSeats(ctx, order.Event, claim); err != nil {
			s.d.log.ErrorContext(ctx, "order seats not given back; the recount repairs them", "order", order.ID, "err", err)
		}
	}
}

// clearOrder deletes what an aborted order inserted: its registrations
// (their keys first) and the buyer's keys. Seats the deleted
// registrations held go back through the recount.
func (s *Signups) clearOrder(ctx context.Context, order *Order) error {
	for _, id := range order.Participants {
		if err := s.d.Store.vault.destroyAll(ctx, id); err != nil {
			return err
		}
		if _, err := s.d.Store.c.DeleteOne(ctx, bson.M{"_id": id, "order": order.ID}); err != nil {
			return fmt.Errorf("delete aborted order's registration: %w", err)
		}
	}
	if err := s.d.Store.vault.destroyAll(ctx, order.ID); err != nil {
		return err
	}
	// The code's uses, once: the flag is set in the same update that
	// decides to give them back.
	if order.CodeUses > 0 {
		ok, err := s.d.Store.orders.UpdateOne(ctx, bson.M{"_id": order.ID, "status": OrderAborted, "codeReturned": bson.M{"$ne": true}},
			bson.M{"$set": bson.M{"codeReturned": true}})
		if err != nil {
			return err
		}
		if ok {
			if err := s.d.events.Unredeem(ctx, &events.Code{ID: order.Code}, order.CodeUses); err != nil {
				s.d.log.ErrorContext(ctx, "order code uses not given back", "order", order.ID, "err", err)
			}
		}
	}
	_, err := s.d.Store.orders.UpdateOne(ctx, bson.M{"_id": order.ID, "status": OrderAborted},
		bson.M{"$set": bson.M{"cleared": true}, "$unset": bson.M{"sealed": ""}})
	return err
}

// releaseOrderMail lets the participants' confirmations go, once the
// order is placed.
func (s *Signups) releaseOrderMail(ctx context.Context, order *Order) error {
	now := s.d.clock()
	// One by one, by primary key: the embedded store finds nothing else
	// without reading every registration.
	for _, id := range order.Participants {
		if _, err := s.d.Store.c.UpdateOne(ctx, bson.M{"_id": id, "order": order.ID, "outboxNextAt": bson.M{"$exists": false}},
			bson.M{"$set": bson.M{"outboxNextAt": now}}); err != nil {
			return fmt.Errorf("release order mail: %w", err)
		}
		s.d.notifyMail(id)
	}
	_, err := s.d.Store.orders.UpdateOne(ctx, bson.M{"_id": order.ID}, bson.M{"$set": bson.M{"mailsReleased": true}})
	return err
}

// SweepOrders aborts orders whose request died before placing them
// (clearing what they inserted), releases the mail of placed orders
// whose request died after, and purges buyers' values whose time ran
// out. It returns how many orders it handled.
func (s *Signups) SweepOrders(ctx context.Context) (int, error) {
	now := s.d.clock()
	var due []Order
	if err := s.d.Store.orders.All(ctx, bson.M{"$or": []bson.M{
		{"status": OrderOpen, "openUntil": bson.M{"$lt": now}},
		{"status": OrderAborted, "cleared": bson.M{"$ne": true}},
		{"status": OrderPlaced, "mailsReleased": false},
		{"purgeAt": bson.M{"$lte": now}, "purgedAt": bson.M{"$exists": false}},
	}}, &due, options.Find().SetLimit(200)); err != nil {
		return 0, fmt.Errorf("find orders due: %w", err)
	}
	return mongodb.Sweep(ctx, s.d.log, "orders", due, func(o Order) string { return o.ID }, func(ctx context.Context, o Order) error {
		switch {
		case o.Status == OrderOpen && o.OpenUntil.Before(now):
			if err := s.d.Store.abortOrder(ctx, o.ID); err != nil && !errors.Is(err, ErrWrongState) {
				return err
			}
			o.Status = OrderAborted
			return s.clearOrder(ctx, &o)
		case o.Status == OrderAborted:
			return s.clearOrder(ctx, &o)
		case o.Status == OrderPlaced && !o.MailsReleased:
			if o.PlacedAt != nil && now.Sub(*o.PlacedAt) < 30*time.Second {
				return nil // its request may be releasing it now
			}
			return s.releaseOrderMail(ctx, &o)
		}
		// The buyer's values have served their time.
		if err := s.d.Store.vault.destroyAll(ctx, o.ID); err != nil {
			return err
		}
		_, err := s.d.Store.orders.UpdateOne(ctx, bson.M{"_id": o.ID},
			bson.M{"$set": bson.M{"purgedAt": now}, "$unset": bson.M{"sealed": ""}})
		return err
	})
}

// OrderByToken returns the order a buyer's order token opens.
func (s *Signups) OrderByToken(ctx context.Context, token string) (*OrderResult, error) {
	id, ok := tokenID(orderTokenPrefix, token)
	if !ok {
		return nil, ErrInvalidManageToken
	}
	var o Order
	if err := s.d.Store.orders.FindOne(ctx, bson.M{"_id": id}, &o); errors.Is(err, mongodb.ErrNotFound) {
		return nil, ErrInvalidManageToken
	} else if err != nil {
		return nil, fmt.Errorf("get order: %w", err)
	}
	if o.Status != OrderPlaced || o.PurgedAt != nil || !oneOf(token, []string{o.TokenHash}) {
		return nil, ErrInvalidManageToken
	}
	return s.orderView(ctx, &o)
}

// orderView is what the buyer sees of an order now: each participant's
// name (erased: not shown), ticket and status, and the payment.
func (s *Signups) orderView(ctx context.Context, o *Order) (*OrderResult, error) {
	res := &OrderResult{ID: o.ID, Event: o.Event, Status: o.Status, Participants: []OrderParticipant{}}
	var pay *OrderPayment
	if o.Amount > 0 {
		pay = &OrderPayment{Method: o.Method, Currency: o.Currency, Lines: []OrderLine{}}
	}
	for _, id := range o.Participants {
		reg, err := s.d.Store.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		p := OrderParticipant{ID: reg.ID, Category: reg.Category, Status: reg.Status}
		if reg.ErasedAt == nil && !reg.Restricted {
			// A participant who restricted processing is not named.
			v, err := s.d.Store.Open(ctx, reg, "name")
			if err != nil {
				return nil, err
			}
			p.Name = v["name"]
		}
		res.Participants = append(res.Participants, p)
		if pay != nil && reg.Payment != nil {
			pay.add(reg)
		}
	}
	res.Payment = pay
	return res, nil
}

// orderPaymentStatus is the order's payment status: that of its live
// participants' (the first one's that differs from paid wins, so an
// order is paid only when every live part is).
func orderPaymentStatus(sofar, st PaymentStatus) PaymentStatus {
	switch {
	case sofar == "":
		return st
	case !st.Live():
		return sofar
	case !sofar.Live(), sofar == PaymentPaid:
		return st
	}
	return sofar
}

// claimAll claims an order's seats in one conditional update: all or
// none.
func (s *Signups) claimAll(ctx context.Context, ev *events.Event, claim events.Claim) error {
	if claim.Total() == 0 {
		return nil // every seat is a code's own
	}
	return s.d.events.ClaimSeats(ctx, ev, claim)
}

// startOrderCheckout opens the order's one payment page; each
// participant's registration holds it, with their own share.
func (s *Signups) startOrderCheckout(ctx context.Context, ev *events.Event, o *Order, regs []*Registration) error {
	if s.checkout == nil {
		return ErrPaymentUnavailable
	}
	cs, err := s.checkout.StartOrder(ctx, o, regs, ev)
	if err != nil {
		s.d.log.ErrorContext(ctx, "start order checkout", "order", o.ID, "err", err)
		return ErrPaymentUnavailable
	}
	exp := cs.ExpiresAt.UTC().Truncate(time.Millisecond)
	for _, reg := range regs {
		if reg.Payment != nil {
			reg.Payment.SessionID, reg.Payment.CheckoutURL, reg.Payment.SessionExpiresAt = cs.ID, cs.URL, &exp
		}
	}
	return nil
}

// ----- the store's part -----

// insertOrder stores a new order with the buyer's keys; ErrSubmitted if
// its submission key made one before.
func (s *Store) insertOrder(ctx context.Context, o *Order, keys *keyDoc) error {
	if err := s.vault.c.InsertOne(ctx, keys); err != nil {
		return fmt.Errorf("insert buyer keys: %w", err)
	}
	err := s.orders.InsertOne(ctx, o)
	if err == nil {
		return nil
	}
	if mongodb.NotApplied(err) {
		if derr := s.vault.destroyAll(context.WithoutCancel(ctx), o.ID); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	if errors.Is(err, mongodb.ErrDuplicate) {
		return fmt.Errorf("insert order: %w", ErrSubmitted)
	}
	return fmt.Errorf("insert order: %w", err)
}

func (s *Store) orderBySubmission(ctx context.Context, slug, submission string) (*Order, error) {
	var o Order
	if err := s.orders.FindOne(ctx, bson.M{"event": slug, "submission": submission}, &o); err != nil {
		return nil, fmt.Errorf("get order: %w", err)
	}
	return &o, nil
}

// placeOrder is the order's commit: open to placed, once.
func (s *Store) placeOrder(ctx context.Context, id string, now time.Time) error {
	ok, err := s.orders.UpdateOne(ctx, bson.M{"_id": id, "status": OrderOpen},
		bson.M{"$set": bson.M{"status": OrderPlaced, "placedAt": now}})
	if err != nil {
		return fmt.Errorf("place order: %w", err)
	}
	if !ok {
		return fmt.Errorf("place order: %w", ErrWrongState)
	}
	return nil
}

// orderRedeemed records on an open order the code uses it redeemed.
func (s *Store) orderRedeemed(ctx context.Context, o *Order, uses int) error {
	ok, err := s.orders.UpdateOne(ctx, bson.M{"_id": o.ID, "status": OrderOpen}, bson.M{"$set": bson.M{"codeUses": uses}})
	if err != nil {
		return fmt.Errorf("record order code: %w", err)
	}
	if !ok {
		return fmt.Errorf("record order code: %w", ErrOrderAborted)
	}
	o.CodeUses = uses
	return nil
}

// abortOrder moves an open order to aborted, freeing its submission key
// (a retry is a new order); ErrWrongState if it is not open (placed, or
// aborted before).
func (s *Store) abortOrder(ctx context.Context, id string) error {
	ok, err := s.orders.UpdateOne(ctx, bson.M{"_id": id, "status": OrderOpen},
		bson.M{"$set": bson.M{"status": OrderAborted, "submission": "aborted:" + id}})
	if err != nil {
		return fmt.Errorf("abort order: %w", err)
	}
	if !ok {
		return fmt.Errorf("abort order: %w", ErrWrongState)
	}
	return nil
}

// OrderOf returns a placed order by id, for payments.
func (s *Store) OrderOf(ctx context.Context, id string) (*Order, error) {
	var o Order
	err := s.orders.FindOne(ctx, bson.M{"_id": id}, &o)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get order: %w", err)
	}
	return &o, nil
}

// OpenBuyer opens an order's buyer values (those named).
func (s *Store) OpenBuyer(ctx context.Context, o *Order, fields ...string) (map[string]string, error) {
	return s.vault.open(ctx, &Registration{ID: o.ID, Event: o.Event, Sealed: o.Sealed}, fields...)
}

// OrderRegistrations returns an order's registrations, in the order's
// order.
func (s *Store) OrderRegistrations(ctx context.Context, o *Order) ([]Registration, error) {
	var out []Registration
	for _, id := range o.Participants {
		reg, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *reg)
	}
	return out, nil
}

// ClaimOrderInvoicing takes a placed order's invoicing for one issuer
// until until, as ClaimInvoicing a registration's; false when another
// holds it or the invoice is issued.
func (s *Store) ClaimOrderInvoicing(ctx context.Context, id, nonce string, until time.Time) (bool, error) {
	ok, err := s.orders.UpdateOne(ctx, bson.M{"_id": id, "status": OrderPlaced, "invoiceNumber": bson.M{"$exists": false}, "$or": bson.A{
		bson.M{"invoiceClaim": bson.M{"$exists": false}},
		bson.M{"invoiceClaim.until": bson.M{"$lt": s.clock()}},
	}}, bson.M{"$set": bson.M{"invoiceClaim": Claim{Nonce: nonce, Until: until}}})
	if err != nil {
		return false, fmt.Errorf("claim order invoicing: %w", err)
	}
	return ok, nil
}

// ReleaseOrderInvoicing gives up an order's invoicing claim whose issuer
// failed.
func (s *Store) ReleaseOrderInvoicing(ctx context.Context, id, nonce string) error {
	_, err := s.orders.UpdateOne(ctx, bson.M{"_id": id, "invoiceClaim.nonce": nonce}, bson.M{"$unset": bson.M{"invoiceClaim": ""}})
	return err
}

// MarkOrderInvoiced links an order's invoice to the participants it
// bills (invoiced; or credit due for one cancelled while it was made),
// then to the order. Each write only moves forward: a retry after a
// crash completes it.
func (s *Store) MarkOrderInvoiced(ctx context.Context, id, nonce string, billed []string, number int64, kid string) error {
	with := invoiceLink(number, kid, s.clock())
	if _, err := s.c.UpdateMany(ctx, bson.M{"order": id, "_id": bson.M{"$in": billed}, "payment.status": PaymentInvoicing}, with(PaymentInvoiced)); err != nil {
		return fmt.Errorf("mark order invoiced: %w", err)
	}
	if _, err := s.c.UpdateMany(ctx, bson.M{"order": id, "_id": bson.M{"$in": billed}, "payment.status": PaymentNotDue,
		"payment.invoiceNumber": bson.M{"$exists": false}}, with(PaymentCreditDue)); err != nil {
		return fmt.Errorf("mark order invoiced: %w", err)
	}
	if _, err := s.orders.UpdateOne(ctx, bson.M{"_id": id, "invoiceClaim.nonce": nonce},
		bson.M{"$set": bson.M{"invoiceNumber": number}, "$unset": bson.M{"invoiceClaim": ""}}); err != nil {
		return fmt.Errorf("mark order invoiced: %w", err)
	}
	return nil
}
