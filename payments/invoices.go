package payments

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
)

// Invoice statuses.
const (
	InvoiceOpen          = "open"
	InvoicePaid          = "paid"
	InvoicePartiallyPaid = "partially_paid"
	InvoiceOverpaid      = "overpaid"
	InvoiceCredited      = "credited"
)

// Party is the seller or the buyer on an invoice.
type Party struct {
	Name          string `bson:"name" json:"name"`
	Organisation  string `bson:"organisation,omitempty" json:"organisation,omitempty"`
	OrgNumber     string `bson:"orgNumber,omitempty" json:"orgNumber,omitempty"`
	VATRegistered bool   `bson:"vatRegistered,omitempty" json:"vatRegistered,omitempty"`
	Address       string `bson:"address,omitempty" json:"address,omitempty"`
	Reference     string `bson:"reference,omitempty" json:"reference,omitempty"`
	BankAccount   string `bson:"bankAccount,omitempty" json:"bankAccount,omitempty"`
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
}

// BankPayment is money received against an invoice.
type BankPayment struct {
	Ref    string    `bson:"ref" json:"ref"`
	Amount int64     `bson:"amount" json:"amount"`
	Date   time.Time `bson:"date" json:"date"`
}

// Invoice is an invoice or a credit note, as stored. Never deleted: a
// cancelled invoice is answered by a credit note.
type Invoice struct {
	ID     string `bson:"_id" json:"-"`
	Kind   string `bson:"kind" json:"kind"`
	Number int64  `bson:"number" json:"number"`
	// KID: the number with its MOD10 check digit.
	KID string `bson:"kid" json:"kid"`
	// Credits is the invoice a credit note cancels.
	Credits      int64     `bson:"credits,omitempty" json:"credits,omitempty"`
	Registration string    `bson:"registration" json:"registration"`
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

func (s *Service) seriesKey() string { return "invoices:" + s.cfg.Seller.OrgNumber }

// number gives doc the next number of the seller's series and stores it.
func (s *Service) number(ctx context.Context, doc *Invoice) error {
	key := s.seriesKey()
	for range 1000 {
		var c counter
		err := s.store.counters.FindOne(ctx, bson.M{"_id": key}, &c)
		switch {
		case errors.Is(err, mongodb.ErrNotFound):
			if err := s.store.counters.InsertOne(ctx, counter{ID: key, Next: 1}); err != nil && !errors.Is(err, mongodb.ErrDuplicate) {
				return err
			}
			continue
		case err != nil:
			return err
		}
		if c.Pending != nil {
			if err := s.storeInvoice(ctx, c.Pending); err != nil {
				return err
			}
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
			continue // another issuer took this number; read again
		}
		return s.storeInvoice(ctx, doc)
	}
	return errors.New("invoice series: too much contention")
}

// storeInvoice stores a numbered document; storing it twice is a no-op.
func (s *Service) storeInvoice(ctx context.Context, doc *Invoice) error {
	err := s.store.invoices.InsertOne(ctx, doc)
	if err != nil && !errors.Is(err, mongodb.ErrDuplicate) {
		return fmt.Errorf("store invoice: %w", err)
	}
	return nil
}

// IssueInvoice issues the invoice of a registration that chose to pay by
// invoice, once: a registration whose invoice exists only gets it linked.
func (s *Service) IssueInvoice(ctx context.Context, id string) error {
	var reg registration.Registration
	if err := s.regs.FindOne(ctx, bson.M{"_id": id}, &reg); err != nil {
		return err
	}
	if reg.Payment == nil || reg.Payment.Status != registration.PaymentInvoicing {
		return nil
	}
	ev, err := s.events.Get(ctx, reg.Event)
	if err != nil {
		return err
	}
	var inv Invoice
	err = s.store.invoices.FindOne(ctx, bson.M{"registration": id, "kind": KindInvoice}, &inv)
	if errors.Is(err, mongodb.ErrNotFound) {
		inv = s.newInvoice(&reg, ev)
		err = s.number(ctx, &inv)
	}
	if err != nil {
		return err
	}
	_, err = s.regs.UpdateOne(ctx,
		bson.M{"_id": id, "payment.status": registration.PaymentInvoicing},
		bson.M{"$set": bson.M{"payment.status": registration.PaymentInvoiced, "payment.invoiceNumber": inv.Number,
			"payment.kid": inv.KID, "updatedAt": s.clock()}})
	return err
}

// IssuePending issues the invoices that failed to issue at sign-up.
func (s *Service) IssuePending(ctx context.Context) (int, error) {
	var due []registration.Registration
	if err := s.regs.All(ctx, bson.M{"payment.status": registration.PaymentInvoicing}, &due); err != nil {
		return 0, err
	}
	for i, reg := range due {
		if err := s.IssueInvoice(ctx, reg.ID); err != nil {
			return i, err
		}
	}
	return len(due), nil
}

func (s *Service) newInvoice(reg *registration.Registration, ev *events.Event) Invoice {
	now := s.clock()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	rate := ev.VATRate
	if !s.cfg.Seller.VATRegistered {
		rate = 0 // a seller not registered for VAT may not charge it
	}
	net, vat := vatOf(ev.Price.Amount, rate)
	buyerName := reg.Fields["organisation"]
	if buyerName == "" {
		buyerName = reg.Fields["name"]
	}
	return Invoice{
		Kind: KindInvoice, Registration: reg.ID, Event: ev.Slug,
		Seller: Party{Name: s.cfg.Seller.Name, OrgNumber: s.cfg.Seller.OrgNumber, VATRegistered: s.cfg.Seller.VATRegistered,
			Address: s.cfg.Seller.Address, BankAccount: s.cfg.Seller.BankAccount},
		Buyer: Party{Name: buyerName, Organisation: reg.Fields["organisation"], OrgNumber: reg.Fields["invoice_org_number"],
			Address: reg.Fields["invoice_address"], Reference: reg.Fields["invoice_reference"]},
		Lines: []Line{{
			Description: "Deltakeravgift / registration fee: " + ev.Title.NB + " (" + reg.Fields["name"] + ")",
			Quantity:    1, UnitGross: ev.Price.Amount, VATRate: rate, Net: net, VAT: vat, Gross: ev.Price.Amount,
		}},
		Currency: ev.Price.Currency, Net: net, VAT: vat, Total: ev.Price.Amount,
		IssueDate: day, DeliveryDate: ev.StartsAt, DueDate: day.AddDate(0, 0, s.cfg.InvoiceDueDays),
		Status: InvoiceOpen, Payments: []BankPayment{},
	}
}

// creditInvoice answers an invoice with a credit note for its whole
// amount, once.
func (s *Service) creditInvoice(ctx context.Context, number int64) (*Invoice, error) {
	inv, err := s.Invoice(ctx, number)
	if err != nil {
		return nil, err
	}
	if inv.Kind != KindInvoice {
		return nil, fmt.Errorf("credit %d: not an invoice", number)
	}
	var cn Invoice
	err = s.store.invoices.FindOne(ctx, bson.M{"registration": inv.Registration, "kind": KindCreditNote, "credits": number}, &cn)
	if errors.Is(err, mongodb.ErrNotFound) {
		now := s.clock()
		day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		cn = *inv
		cn.Kind, cn.Credits, cn.IssueDate, cn.DueDate = KindCreditNote, number, day, day
		cn.Net, cn.VAT, cn.Total = -inv.Net, -inv.VAT, -inv.Total
		cn.Lines = make([]Line, len(inv.Lines))
		for i, l := range inv.Lines {
			cn.Lines[i] = Line{Description: "Kreditnota for faktura " + strconv.FormatInt(number, 10) + ": " + l.Description,
				Quantity: -l.Quantity, UnitGross: l.UnitGross, VATRate: l.VATRate, Net: -l.Net, VAT: -l.VAT, Gross: -l.Gross}
		}
		cn.Status, cn.PaidAmount, cn.Payments, cn.CreditedBy = InvoiceCredited, 0, []BankPayment{}, 0
		err = s.number(ctx, &cn)
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.store.invoices.UpdateOne(ctx, bson.M{"_id": inv.ID},
		bson.M{"$set": bson.M{"status": InvoiceCredited, "creditedBy": cn.Number}}); err != nil {
		return nil, err
	}
	return &cn, nil
}

// Invoice returns the seller's invoice or credit note with the number.
func (s *Service) Invoice(ctx context.Context, number int64) (*Invoice, error) {
	var inv Invoice
	err := s.store.invoices.FindOne(ctx, bson.M{"_id": s.cfg.Seller.OrgNumber + "-" + strconv.FormatInt(number, 10)}, &inv)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, ErrInvoiceNotFound
	}
	return &inv, err
}

// InvoiceQuery filters the invoice list.
type InvoiceQuery struct {
	Event  string
	Status string
}

// Invoices lists invoices and credit notes by number.
func (s *Service) Invoices(ctx context.Context, q InvoiceQuery) ([]Invoice, error) {
	filter := bson.M{}
	if q.Event != "" {
		filter["event"] = q.Event
	}
	if q.Status != "" {
		filter["status"] = q.Status
	}
	out := []Invoice{}
	err := s.store.invoices.All(ctx, filter, &out, options.Find().SetSort(bson.D{{Key: "number", Value: 1}}))
	return out, err
}

// PurgeInvoices deletes invoices and credit notes, and bank entries, whose
// bookkeeping period has ended: the end of the fifth year after the
// fiscal year they belong to (bokføringsloven § 13). It returns how many
// documents went.
func (s *Service) PurgeInvoices(ctx context.Context, dryRun bool) (int, error) {
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
