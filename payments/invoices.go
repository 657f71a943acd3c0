package payments

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// Kinds of invoice document.
const (
	KindInvoice    = "invoice"
	KindCreditNote = "credit_note"
	// KindVoid keeps a number no document could use (see storeInvoice).
	KindVoid = "void"
)

// Invoice statuses.
const (
	InvoiceOpen          = "open"
	InvoicePaid          = "paid"
	InvoicePartiallyPaid = "partially_paid"
	InvoiceOverpaid      = "overpaid"
	InvoiceCredited      = "credited"
	InvoiceVoid          = "void"
)

// Party is the seller or the buyer on an invoice.
type Party struct {
	Name          string `bson:"name" json:"name"`
	Organisation  string `bson:"organisation,omitempty" json:"organisation,omitempty"`
	OrgNumber     string `bson:"orgNumber,omitempty" json:"orgNumber,omitempty"`
	VATRegistered bool   `bson:"vatRegistered,omitempty" json:"vatRegistered,omitempty"`
	// Foretaksregisteret: a seller registered there says so.
	Foretaksregisteret bool   `bson:"foretaksregisteret,omitempty" json:"foretaksregisteret,omitempty"`
	Address            string `bson:"address,omitempty" json:"address,omitempty"`
	Reference          string `bson:"reference,omitempty" json:"reference,omitempty"`
	// Contact is who ordered for the buyer: their reference on an EHF
	// invoice when they gave none.
	Contact     string `bson:"contact,omitempty" json:"contact,omitempty"`
	BankAccount string `bson:"bankAccount,omitempty" json:"bankAccount,omitempty"`
}

// Line is one invoice line; amounts in øre. The price includes VAT:
// VAT = gross × rate / (100 + rate), rounded half up to the øre, and
// net = gross − VAT, so the lines always add up to what was charged.
type Line struct {
	Description string `bson:"description" json:"description"`
	Quantity    int64  `bson:"quantity" json:"quantity"`
	UnitGross   int64  `bson:"unitGross" json:"unitGross"`
	VATRate     int    `bson:"vatRate" json:"vatRate"`
	Net         int64  `bson:"net" json:"net"`
	VAT         int64  `bson:"vat" json:"vat"`
	Gross       int64  `bson:"gross" json:"gross"`
	// Discount is what a code took off the unit price (VAT included),
	// Code which: UnitGross is the price paid.
	Discount int64  `bson:"discount,omitempty" json:"discount,omitempty"`
	Code     string `bson:"code,omitempty" json:"code,omitempty"`
	// Registration is the participant an order's line is for.
	Registration string `bson:"registration,omitempty" json:"-"`
}

// BankPayment is money received against an invoice.
type BankPayment struct {
	Ref    string    `bson:"ref" json:"ref"`
	Amount int64     `bson:"amount" json:"amount"`
	Date   time.Time `bson:"date" json:"date"`
}

// Invoice is an invoice or a credit note, as stored. Never deleted: a
// cancelled invoice is answered by a credit note.
//
// IssueDate, DeliveryDate and DueDate are calendar dates in Norway
// (Europe/Oslo), stored as 00:00 UTC of that date: JSON shows the date
// itself ("2027-01-01T00:00:00Z" is 1 January), they compare and add up
// in whole days (the due date is the issue date + InvoiceDueDays, also
// across a change to summer time), and they read as the same date in
// Oslo. An invoice issued at 00:30 on 1 January in Oslo is dated
// 1 January, in the new fiscal year and VAT term; its delivery date is
// the day the event starts in Oslo.
type Invoice struct {
	ID     string `bson:"_id" json:"-"`
	Kind   string `bson:"kind" json:"kind"`
	Number int64  `bson:"number" json:"number"`
	// KID: the number with its MOD10 check digit.
	KID string `bson:"kid" json:"kid"`
	// Credits is the invoice a credit note cancels, CreditsDate that
	// invoice's date (printed on the credit note; credit notes stored
	// before it was kept have none, see Render).
	Credits     int64     `bson:"credits" json:"credits,omitempty"`
	CreditsDate time.Time `bson:"creditsDate,omitempty" json:"-"`
	// Registration is the registration invoiced or credited; an order's
	// invoice is "order:" and the order's id (Order).
	Registration string `bson:"registration" json:"registration"`
	Order        string `bson:"order,omitempty" json:"order,omitempty"`
	// SendEHF: the buyer asked for it as an EHF e-invoice too; its mail
	// carries both.
	SendEHF      bool      `bson:"ehf,omitempty" json:"ehf,omitempty"`
	Event        string    `bson:"event" json:"event"`
	Seller       Party     `bson:"seller" json:"seller"`
	Buyer        Party     `bson:"buyer" json:"buyer"`
	Lines        []Line    `bson:"lines" json:"lines"`
	Currency     string    `bson:"currency" json:"currency"`
	Net          int64     `bson:"net" json:"net"`
	VAT          int64     `bson:"vat" json:"vat"`
	Total        int64     `bson:"total" json:"total"`
	IssueDate    time.Time `bson:"issueDate" json:"issueDate"`
	DeliveryDate time.Time `bson:"deliveryDate" json:"deliveryDate"`
	DueDate      time.Time `bson:"dueDate" json:"dueDate"`
	// Status, PaidAmount and Payments: what the bank statements said.
	Status     string        `bson:"status" json:"status"`
	PaidAmount int64         `bson:"paidAmount" json:"paidAmount"`
	Payments   []BankPayment `bson:"payments" json:"payments"`
	CreditedBy int64         `bson:"creditedBy,omitempty" json:"creditedBy,omitempty"`
	// Credited is what credit notes took back of it (positive), and
	// CreditNotes which: an order's invoice is credited a participant at
	// a time; it is credited (Status) once nothing is left.
	Credited    int64   `bson:"credited,omitempty" json:"credited,omitempty"`
	CreditNotes []int64 `bson:"creditNotes,omitempty" json:"creditNotes,omitempty"`
	// RemindedAt is when the buyer was reminded of it, unpaid after its
	// due date; ReminderDue the new deadline the reminder gave.
	RemindedAt  *time.Time `bson:"remindedAt,omitempty" json:"remindedAt,omitempty"`
	ReminderDue *time.Time `bson:"reminderDue,omitempty" json:"reminderDue,omitempty"`
	// ReminderFee is the fee the reminder charged (øre; 0: none). What
	// is paid beyond Due, up to it, pays the fee, not an overpayment.
	ReminderFee int64 `bson:"reminderFee,omitempty" json:"reminderFee,omitempty"`
}

// Due is what is left to pay of it once credit notes took their part.
func (inv *Invoice) Due() int64 { return inv.Total - inv.Credited }

// FeePaid is the part of what was paid that paid the reminder fee: what
// came in beyond Due, up to the fee.
func (inv *Invoice) FeePaid() int64 { return inv.feeOf(inv.PaidAmount) }

// feeOf is what of paid, paid on the invoice in all, pays the reminder
// fee.
func (inv *Invoice) feeOf(paid int64) int64 { return min(max(paid-inv.Due(), 0), inv.ReminderFee) }

// splitPayment divides a payment of amount, made when before had been
// paid, into what it paid of the invoice (and any overpayment) and what
// it paid of the reminder fee: the invoice is paid first.
func (inv *Invoice) splitPayment(before, amount int64) (invoice, fee int64) {
	fee = inv.feeOf(before+amount) - inv.feeOf(before)
	return amount - fee, fee
}

// TotalOf is what an order's invoice bills for one participant (the
// whole invoice for a registration's own).
func (inv *Invoice) TotalOf(reg string) int64 {
	if inv.Order == "" {
		return inv.Total
	}
	var t int64
	for _, l := range inv.Lines {
		if l.Registration == reg {
			t += l.Gross
		}
	}
	return t
}

// vatOf splits a VAT-inclusive amount.
func vatOf(gross int64, rate int) (net, vat int64) {
	if rate == 0 {
		return gross, 0
	}
	num := gross * int64(rate)
	den := int64(100 + rate)
	vat = (2*num + den) / (2 * den) // half up
	return gross - vat, vat
}

// Invoicing is what issuing asks of the registrations' owner: the claim
// that makes one issuer at a time, and the link to the invoice issued.
// *registration.Store satisfies it.
type Invoicing interface {
	OrderOf(ctx context.Context, id string) (*registration.Order, error)
	OrderRegistrations(ctx context.Context, o *registration.Order) ([]registration.Registration, error)
	OpenBuyer(ctx context.Context, o *registration.Order, fields ...string) (map[string]string, error)
	ClaimOrderInvoicing(ctx context.Context, id, nonce string, until time.Time) (bool, error)
	ReleaseOrderInvoicing(ctx context.Context, id, nonce string) error
	MarkOrderInvoiced(ctx context.Context, id, nonce string, billed []string, number int64, kid string) error
	AwaitingInvoice(ctx context.Context, limit int64) ([]registration.Registration, error)
	ClaimInvoicing(ctx context.Context, id, nonce string, until time.Time) (*registration.Registration, bool, error)
	ReleaseInvoicing(ctx context.Context, id, nonce string) error
	Open(ctx context.Context, reg *registration.Registration, fields ...string) (map[string]string, error)
	MarkInvoiced(ctx context.Context, id, nonce string, number int64, kid string) (creditDue bool, err error)
	QueueInvoiceReminder(ctx context.Context, id string, number int64, due time.Time, fee int64) (bool, error)
}

// Invoices keeps the seller's gapless series of invoices and credit
// notes (it satisfies registration.Invoicer).
type Invoices struct {
	store  store
	regs   Invoicing
	events *events.Service
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	// series serialises this process's issuers, so the series' compare-
	// and-set rarely retries (other instances still may race it).
	series sync.Mutex
}

// NewInvoices returns the invoices part. A seller configured to invoice
// without what makes an invoice payable (CheckInvoicing) is logged as an
// error; refusing such a configuration is start-up's job.
func NewInvoices(db *mongodb.Store, ev *events.Service, regs Invoicing, log *slog.Logger, now func() time.Time, cfg Config) *Invoices {
	s := &Invoices{store: newStore(db), regs: regs, events: ev, cfg: cfg.withDefaults(), log: log, now: now}
	if s.Enabled() {
		if err := cfg.Seller.CheckInvoicing(); err != nil {
			log.Error("invoicing is on but its invoices cannot be paid", "err", err)
		}
	}
	return s
}

// ErrSellerIncomplete: the seller lacks what an invoice must show to be
// payable.
var ErrSellerIncomplete = errors.New("invoice seller incomplete")

// CheckInvoicing says what the seller lacks for its invoices to be
// payable and lawful (bokføringsforskriften § 5-1-1): a name, an org
// number, an address and a valid bank account. The error names the
// missing settings, never their values.
func (s Seller) CheckInvoicing() error {
	var missing []string
	if s.Name == "" {
		missing = append(missing, "name")
	}
	if s.OrgNumber == "" {
		missing = append(missing, "org number")
	}
	if strings.TrimSpace(s.Address) == "" {
		missing = append(missing, "address")
	}
	if !ValidAccountNumber(s.BankAccount) {
		missing = append(missing, "bank account")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s missing or invalid", ErrSellerIncomplete, strings.Join(missing, ", "))
	}
	return nil
}

// osloDate is the calendar date t falls on in Oslo, as invoices store
// dates: 00:00 UTC of that date.
func osloDate(t time.Time) time.Time {
	y, m, d := t.In(privacy.Oslo).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Enabled says whether invoicing is configured (a seller's org number).
func (s *Invoices) Enabled() bool { return s != nil && s.cfg.Seller.OrgNumber != "" }

func (s *Invoices) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// claimTerm is how long an issuer holds a registration's invoice claim.
// Issuing takes milliseconds; a claim runs out only when its issuer died.
const claimTerm = 10 * time.Minute

// counter is an invoice series: Next is the number the next document
// gets. Pending is the document that took the last number, written in the
// same atomic update that took it, so a crash before the document is
// stored leaves it here to be stored by the next issuer: the series has no
// gaps.
type counter struct {
	ID      string   `bson:"_id"`
	Next    int64    `bson:"next"`
	Pending *Invoice `bson:"pending,omitempty"`
}

func (s *Invoices) seriesKey() string { return "invoices:" + s.cfg.Seller.OrgNumber }

// number gives doc the next number of the seller's series, in the one
// atomic update that also stashes doc in the series, and stores it.
func (s *Invoices) number(ctx context.Context, doc *Invoice) error {
	s.series.Lock()
	defer s.series.Unlock()
	key := s.seriesKey()
	for range 1000 {
		c, err := s.readSeries(ctx)
		if err != nil {
			return err
		}
		doc.Number = c.Next
		doc.KID = KIDMod10(c.Next)
		doc.ID = s.cfg.Seller.OrgNumber + "-" + strconv.FormatInt(c.Next, 10)
		ok, err := s.store.counters.UpdateOne(ctx,
			bson.M{"_id": key, "next": c.Next},
			bson.M{"$set": bson.M{"next": c.Next + 1, "pending": doc}})
		if err != nil {
			return err
		}
		if !ok {
			continue // another instance took this number; read again
		}
		return s.storeInvoice(ctx, doc)
	}
	return errors.New("invoice series: too much contention")
}

// readSeries reads the series, creating it, and first stores the document
// that took the last number, if its issuer died before storing it.
func (s *Invoices) readSeries(ctx context.Context) (*counter, error) {
	key := s.seriesKey()
	for {
		var c counter
		err := s.store.counters.FindOne(ctx, bson.M{"_id": key}, &c)
		switch {
		case errors.Is(err, mongodb.ErrNotFound):
			if err := s.store.counters.InsertOne(ctx, counter{ID: key, Next: 1}); err != nil && !errors.Is(err, mongodb.ErrDuplicate) {
				return nil, err
			}
			continue
		case err != nil:
			return nil, err
		}
		if c.Pending != nil {
			if err := s.storeInvoice(ctx, c.Pending); err != nil {
				return nil, err
			}
		}
		return &c, nil
	}
}

// storeInvoice stores a numbered document; storing it twice is a no-op.
// A document for a registration that has one of its kind already (only
// an issuer whose claim ran out mid-way could make one) keeps its number
// as a void entry, so the series stays gapless and says why.
func (s *Invoices) storeInvoice(ctx context.Context, doc *Invoice) error {
	err := s.store.invoices.InsertOne(ctx, doc)
	if !errors.Is(err, mongodb.ErrDuplicate) {
		if err != nil {
			return fmt.Errorf("store invoice: %w", err)
		}
		return nil
	}
	if n, err := s.store.invoices.Count(ctx, bson.M{"_id": doc.ID}); err != nil || n > 0 {
		return err // stored before
	}
	s.log.ErrorContext(ctx, "invoice number voided: its registration had one already", "number", doc.Number)
	void := Invoice{ID: doc.ID, Kind: KindVoid, Number: doc.Number, KID: doc.KID, Registration: "void:" + doc.ID,
		Event: doc.Event, Seller: doc.Seller, Lines: []Line{}, Currency: doc.Currency, IssueDate: doc.IssueDate,
		Status: InvoiceVoid, Payments: []BankPayment{}}
	if err := s.store.invoices.InsertOne(ctx, void); err != nil && !errors.Is(err, mongodb.ErrDuplicate) {
		return fmt.Errorf("store void invoice: %w", err)
	}
	return nil
}

// find returns a registration's document of a kind (a credit note: the
// one crediting credits), or nil.
func (s *Invoices) find(ctx context.Context, reg, kind string, credits int64) (*Invoice, error) {
	filter := bson.M{"registration": reg, "kind": kind}
	if credits != 0 {
		filter["credits"] = credits
	}
	var inv Invoice
	err := s.store.invoices.FindOne(ctx, filter, &inv)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &inv, nil
}

// IssueInvoice issues the invoice of a registration that chose to pay by
// invoice, exactly once: the registration is claimed for invoicing before
// a number is taken, so two issuers (sign-up and the sweep, or two
// instances) never both take one. A registration cancelled in time while
// its invoice was issued gets the invoice credited by the settlement job.
//
// A participant of an order is billed on the order's one invoice (see
// issueOrder).
func (s *Invoices) IssueInvoice(ctx context.Context, id string) error {
	nonce := rand.Text()
	reg, ok, err := s.regs.ClaimInvoicing(ctx, id, nonce, s.clock().Add(claimTerm))
	if err != nil || !ok {
		return err // another issuer has it, or nothing is to be issued
	}
	if reg.Order != "" {
		// Billed on the order's invoice, under the order's claim; linking
		// it lifts this one, else it is given back.
		err := s.issueOrder(ctx, reg.Order)
		if rerr := s.regs.ReleaseInvoicing(context.WithoutCancel(ctx), id, nonce); rerr != nil {
			s.log.WarnContext(ctx, "invoice claim not released; it runs out", "registration", id, "err", rerr)
		}
		return err
	}
	if err := s.issue(ctx, reg, nonce); err != nil {
		if rerr := s.regs.ReleaseInvoicing(context.WithoutCancel(ctx), id, nonce); rerr != nil {
			s.log.WarnContext(ctx, "invoice claim not released; it runs out", "registration", id, "err", rerr)
		}
		return err
	}
	return nil
}

// issue issues a claimed registration's invoice, or links the one an
// issuer before this one numbered.
func (s *Invoices) issue(ctx context.Context, reg *registration.Registration, nonce string) error {
	id := reg.ID
	ev, err := s.events.Get(ctx, reg.Event)
	if err != nil {
		return err
	}
	var inv *Invoice
	if reg.Payment.Claims > 1 {
		// An issuer before this one may have died after numbering the
		// invoice: it is in the series or stored.
		if _, err := s.readSeries(ctx); err != nil {
			return err
		}
		if inv, err = s.find(ctx, id, KindInvoice, 0); err != nil {
			return err
		}
	}
	if inv == nil {
		// The buyer's fields, opened for the invoice that must carry them
		// (bokføringsforskriften § 5-1-1).
		if _, err := s.regs.Open(ctx, reg, "name", "organisation", "invoice_org_number", "invoice_address", "invoice_reference"); err != nil {
			return err
		}
		doc := s.newInvoice(reg, ev)
		if err := s.number(ctx, &doc); err != nil {
			return err
		}
		inv = &doc
	}
	_, err = s.regs.MarkInvoiced(ctx, id, nonce, inv.Number, inv.KID)
	return err
}

// issueOrder issues a placed order's one invoice, exactly once: the
// order is claimed before a number is taken, as a registration is. A
// line per participant's item, each naming the participant; the buyer is
// the order's. Participants cancelled before it are not billed; one
// cancelled while it is made is credited by the settlement job.
func (s *Invoices) issueOrder(ctx context.Context, id string) error {
	o, err := s.regs.OrderOf(ctx, id)
	if err != nil {
		return err
	}
	if o.Status != registration.OrderPlaced {
		return nil // aborted, or its request is placing it and issues then
	}
	var inv *Invoice
	if o.InvoiceNumber != 0 {
		// Issued; a participant still waiting was not linked yet (a crash).
		if inv, err = s.Invoice(ctx, o.InvoiceNumber); err != nil {
			return err
		}
		return s.regs.MarkOrderInvoiced(ctx, o.ID, "", billedBy(inv), inv.Number, inv.KID)
	}
	nonce := rand.Text()
	ok, err := s.regs.ClaimOrderInvoicing(ctx, o.ID, nonce, s.clock().Add(claimTerm))
	if err != nil || !ok {
		return err
	}
	release := func() {
		if rerr := s.regs.ReleaseOrderInvoicing(context.WithoutCancel(ctx), o.ID, nonce); rerr != nil {
			s.log.WarnContext(ctx, "order invoice claim not released; it runs out", "order", o.ID, "err", rerr)
		}
	}
	// An issuer before this one may have died after numbering it.
	if _, err := s.readSeries(ctx); err != nil {
		release()
		return err
	}
	if inv, err = s.find(ctx, "order:"+o.ID, KindInvoice, 0); err != nil {
		release()
		return err
	}
	if inv == nil {
		doc, err := s.newOrderInvoice(ctx, o)
		if err == nil {
			err = s.number(ctx, doc)
		}
		if err != nil {
			release()
			return err
		}
		inv = doc
	}
	return s.regs.MarkOrderInvoiced(ctx, o.ID, nonce, billedBy(inv), inv.Number, inv.KID)
}

// billedBy are the participants an order's invoice has lines for.
func billedBy(inv *Invoice) []string {
	var ids []string
	for _, l := range inv.Lines {
		if !slices.Contains(ids, l.Registration) {
			ids = append(ids, l.Registration)
		}
	}
	return ids
}

// newOrderInvoice builds an order's invoice: the order's buyer, a line
// per item of each participant still to be billed.
func (s *Invoices) newOrderInvoice(ctx context.Context, o *registration.Order) (*Invoice, error) {
	ev, err := s.events.Get(ctx, o.Event)
	if err != nil {
		return nil, err
	}
	buyer, err := s.regs.OpenBuyer(ctx, o, "name", "organisation", "invoice_org_number", "invoice_address", "invoice_reference")
	if err != nil {
		return nil, err
	}
	regs, err := s.regs.OrderRegistrations(ctx, o)
	if err != nil {
		return nil, err
	}
	inv := s.newInvoice(&registration.Registration{ID: "order:" + o.ID, Plain: buyer, Payment: &registration.Payment{Currency: o.Currency, EHF: o.EHF}}, ev)
	inv.Order = o.ID
	for _, reg := range regs {
		if reg.Payment == nil || reg.Payment.Status != registration.PaymentInvoicing {
			continue
		}
		v, err := s.regs.Open(ctx, &reg, "name")
		if err != nil {
			return nil, err
		}
		s.addLines(&inv, &reg, ev, v["name"])
	}
	if len(inv.Lines) == 0 {
		return nil, errors.New("issue order invoice: nothing left to bill")
	}
	return &inv, nil
}

// IssuePending issues the invoices that failed to issue at sign-up, one
// by one: a failing one is logged and the others go on.
func (s *Invoices) IssuePending(ctx context.Context) (int, error) {
	due, err := s.regs.AwaitingInvoice(ctx, 500)
	if err != nil {
		return 0, err
	}
	return mongodb.Sweep(ctx, s.log, "invoices", due, func(r registration.Registration) string { return r.ID },
		func(ctx context.Context, r registration.Registration) error { return s.IssueInvoice(ctx, r.ID) })
}

func (s *Invoices) newInvoice(reg *registration.Registration, ev *events.Event) Invoice {
	day := osloDate(s.clock())
	v := reg.Plain
	buyerName := v["organisation"]
	if buyerName == "" {
		buyerName = v["name"]
	}
	inv := Invoice{
		Kind: KindInvoice, Registration: reg.ID, Event: ev.Slug,
		Seller: Party{Name: s.cfg.Seller.Name, OrgNumber: s.cfg.Seller.OrgNumber, VATRegistered: s.cfg.Seller.VATRegistered,
			Foretaksregisteret: s.cfg.Seller.Foretaksregisteret,
			Address:            s.cfg.Seller.Address, BankAccount: s.cfg.Seller.BankAccount},
		Buyer: Party{Name: buyerName, Organisation: v["organisation"], OrgNumber: v["invoice_org_number"],
			Address: v["invoice_address"], Reference: v["invoice_reference"], Contact: v["name"]},
		Currency:  reg.Payment.Currency,
		IssueDate: day, DeliveryDate: osloDate(ev.StartsAt), DueDate: day.AddDate(0, 0, s.cfg.InvoiceDueDays),
		Status: InvoiceOpen, Payments: []BankPayment{}, SendEHF: reg.Payment.EHF,
	}
	if inv.Currency == "" {
		inv.Currency = ev.Price.Currency
	}
	if reg.Payment.Lines != nil || reg.Payment.Amount != 0 {
		s.addLines(&inv, reg, ev, v["name"])
	}
	return inv
}

// addLines bills a registration's items on an invoice, each line naming
// the participant.
func (s *Invoices) addLines(inv *Invoice, reg *registration.Registration, ev *events.Event, name string) {
	for _, l := range linesOf(reg, ev) {
		rate := l.VATRate
		if !s.cfg.Seller.VATRegistered {
			rate = 0 // a seller not registered for VAT may not charge it
		}
		what := "Deltakeravgift / registration fee: " + ev.Title.NB
		if l.Item == registration.ItemTicket && l.Key != "" {
			what += ", " + l.Name.NB
		} else if l.Item != registration.ItemTicket {
			what = l.Name.NB
		}
		what += " (" + name + ")"
		if l.Discount != 0 {
			what += "; rabatt " + l.DiscountCode + " " + amount(l.Discount) + " kr per stk."
		}
		gross := l.Gross()
		net, vat := vatOf(gross, rate)
		line := Line{Description: what, Quantity: l.Quantity, UnitGross: l.UnitGross - l.Discount,
			VATRate: rate, Net: net, VAT: vat, Gross: gross, Discount: l.Discount, Code: l.DiscountCode}
		if inv.Order != "" {
			line.Registration = reg.ID
		}
		inv.Lines = append(inv.Lines, line)
		inv.Net, inv.VAT, inv.Total = inv.Net+net, inv.VAT+vat, inv.Total+gross
	}
}

// credit answers a registration's invoice with a credit note, once: for
// the whole invoice, or on an order's invoice for that participant's
// lines only; look says an earlier attempt may have stored one already.
// The invoice is credited (its status) once credit notes took back all of
// it.
func (s *Invoices) credit(ctx context.Context, number int64, reg string, look bool) (*Invoice, error) {
	inv, err := s.Invoice(ctx, number)
	if err != nil {
		return nil, err
	}
	if inv.Kind != KindInvoice {
		return nil, fmt.Errorf("credit %d: not an invoice", number)
	}
	if inv.Order == "" {
		reg = inv.Registration
	}
	var cn *Invoice
	if look {
		if _, err := s.readSeries(ctx); err != nil {
			return nil, err
		}
		if cn, err = s.find(ctx, reg, KindCreditNote, number); err != nil {
			return nil, err
		}
	}
	if cn == nil {
		day := osloDate(s.clock())
		doc := *inv
		doc.Kind, doc.Credits, doc.CreditsDate, doc.IssueDate, doc.DueDate = KindCreditNote, number, inv.IssueDate, day, day
		doc.Registration, doc.Net, doc.VAT, doc.Total, doc.Lines = reg, 0, 0, 0, []Line{}
		doc.Credited, doc.CreditNotes = 0, nil
		for _, l := range inv.Lines {
			if inv.Order != "" && l.Registration != reg {
				continue
			}
			doc.Lines = append(doc.Lines, Line{Description: "Kreditnota for faktura " + strconv.FormatInt(number, 10) + ": " + l.Description,
				Quantity: -l.Quantity, UnitGross: l.UnitGross, VATRate: l.VATRate, Net: -l.Net, VAT: -l.VAT, Gross: -l.Gross,
				Discount: l.Discount, Code: l.Code, Registration: l.Registration})
			doc.Net, doc.VAT, doc.Total = doc.Net-l.Net, doc.VAT-l.VAT, doc.Total-l.Gross
		}
		if len(doc.Lines) == 0 {
			return nil, fmt.Errorf("credit %d: no line of that registration", number)
		}
		doc.Status, doc.PaidAmount, doc.Payments, doc.CreditedBy = InvoiceCredited, 0, []BankPayment{}, 0
		if err := s.number(ctx, &doc); err != nil {
			return nil, err
		}
		cn = &doc
	}
	var after Invoice
	err = s.store.invoices.FindOneAndUpdate(ctx, bson.M{"_id": inv.ID, "creditNotes": bson.M{"$ne": cn.Number}},
		bson.M{"$inc": bson.M{"credited": -cn.Total}, "$push": bson.M{"creditNotes": cn.Number}}, &after)
	switch {
	case errors.Is(err, mongodb.ErrNotFound):
		after = *inv // counted before
	case err != nil:
		return nil, err
	}
	if after.Credited >= after.Total {
		if _, err := s.store.invoices.UpdateOne(ctx, bson.M{"_id": inv.ID},
			bson.M{"$set": bson.M{"status": InvoiceCredited, "creditedBy": cn.Number}}); err != nil {
			return nil, err
		}
	}
	return cn, nil
}

// Invoice returns the seller's invoice or credit note with the number.
func (s *Invoices) Invoice(ctx context.Context, number int64) (*Invoice, error) {
	var inv Invoice
	err := s.store.invoices.FindOne(ctx, bson.M{"_id": s.cfg.Seller.OrgNumber + "-" + strconv.FormatInt(number, 10)}, &inv)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, ErrInvoiceNotFound
	}
	return &inv, err
}

// InvoiceQuery filters the invoice list.
type InvoiceQuery struct {
	Event string
	// Status is an invoice status, or "overdue": invoices not paid in
	// full whose due date has passed.
	Status string
}

// StatusOverdue lists the invoices not paid in full past their due date.
const StatusOverdue = "overdue"

// List lists invoices and credit notes by number.
func (s *Invoices) List(ctx context.Context, q InvoiceQuery) ([]Invoice, error) {
	filter := bson.M{}
	if q.Event != "" {
		filter["event"] = q.Event
	}
	switch q.Status {
	case "":
	case StatusOverdue:
		filter["kind"], filter["status"] = KindInvoice, bson.M{"$in": []string{InvoiceOpen, InvoicePartiallyPaid}}
		filter["dueDate"] = bson.M{"$lt": osloDate(s.clock())}
	default:
		filter["status"] = q.Status
	}
	out := []Invoice{}
	err := s.store.invoices.All(ctx, filter, &out, options.Find().SetSort(bson.D{{Key: "number", Value: 1}}))
	return out, err
}

// Purge deletes invoices and credit notes, and bank entries, whose
// bookkeeping period has ended: the end of the fifth year after the
// fiscal year they belong to (bokføringsloven § 13). It returns how many
// documents went.
func (s *Invoices) Purge(ctx context.Context, dryRun bool) (int, error) {
	now := s.clock()
	var invs []Invoice
	if err := s.store.invoices.All(ctx, bson.M{}, &invs, options.Find().SetProjection(bson.M{"_id": 1, "issueDate": 1})); err != nil {
		return 0, err
	}
	n := 0
	for _, inv := range invs {
		if at, _ := bookkeepingEnd(inv.IssueDate); now.Before(at) {
			continue
		}
		n++
		if !dryRun {
			if _, err := s.store.invoices.DeleteOne(ctx, bson.M{"_id": inv.ID}); err != nil {
				return n, err
			}
		}
	}
	var entries []BankEntry
	if err := s.store.bankEntries.All(ctx, bson.M{}, &entries, options.Find().SetProjection(bson.M{"_id": 1, "date": 1})); err != nil {
		return n, err
	}
	for _, be := range entries {
		if at, _ := bookkeepingEnd(be.Date); now.Before(at) {
			continue
		}
		n++
		if !dryRun {
			if _, err := s.store.bankEntries.DeleteOne(ctx, bson.M{"_id": be.ID}); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func bookkeepingEnd(t time.Time) (time.Time, bool) {
	return privacy.MustRetention("fiscal_year_end+5y").DeleteAt(privacy.Anchors{FiscalYearEnd: privacy.EndOfFiscalYear(t)})
}
