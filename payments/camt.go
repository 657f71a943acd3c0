package payments

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/registration"
)

// MaxStatement is the largest bank statement file taken.
const MaxStatement = 10 << 20

// BankEntry is one credit transaction from a statement, as stored: the
// record that makes importing the same file again change nothing.
type BankEntry struct {
	// ID is the account (BBAN) and the bank's reference of the
	// transaction (see camtReader.ref).
	ID       string    `bson:"_id" json:"id"`
	Account  string    `bson:"account" json:"account"`
	Ref      string    `bson:"ref" json:"ref"`
	KID      string    `bson:"kid" json:"kid"`
	Amount   int64     `bson:"amount" json:"amount"`
	Currency string    `bson:"currency" json:"currency"`
	Date     time.Time `bson:"date" json:"date"`
	Matched  bool      `bson:"matched" json:"matched"`
	Invoice  int64     `bson:"invoice,omitempty" json:"invoice,omitempty"`
	// Outcome: paid, partially_paid, overpaid, unmatched.
	Outcome    string    `bson:"outcome" json:"outcome"`
	ImportedAt time.Time `bson:"importedAt" json:"importedAt"`
	// MatchedByHand: finance matched it to Invoice (MatchEntry); Claim
	// is the invoice a match by hand claimed it for.
	MatchedByHand bool  `bson:"matchedByHand,omitempty" json:"matchedByHand,omitempty"`
	Claim         int64 `bson:"claim,omitempty" json:"-"`
}

// ImportResult is what an import did.
type ImportResult struct {
	// Entries counts the credits read (a transaction, or each part of a
	// transaction split by its creditor references).
	Entries   int         `json:"entries"`
	Matched   int         `json:"matched"`
	Unmatched []BankEntry `json:"unmatched"`
	// Duplicates were imported before and changed nothing.
	Duplicates int `json:"duplicates"`
	// Ignored counts IgnoredLines.
	Ignored int `json:"ignored"`
	// OutOfScope are credits an import by a token limited to some events
	// did not apply: they pay an invoice of another event, or none of its
	// events. Nothing of them is recorded; a token of every event imports
	// them.
	OutOfScope []BankEntry `json:"outOfScope"`
	// IgnoredLines are the lines not applied, each with its reason: debits,
	// entries not booked, reversals, other currencies than NOK, other
	// accounts than the seller's, amounts in fractions of an øre, batches
	// whose transactions cannot be told apart or add up to more than the
	// entry.
	IgnoredLines []StatementLine `json:"ignoredLines"`
	// Anomalies are lines applied with a remark for finance.
	Anomalies []StatementLine `json:"anomalies"`
}

// ImportStatement reads a camt.053 or camt.054 file (versions .001.02,
// .04, .06, .08) for the seller's account and matches each booked NOK
// credit transaction on the KID of its structured creditor reference.
// scope limits it to invoices of those events (nil: all): other credits
// are reported as out of scope and change nothing. A file it cannot
// read is refused whole with a *StatementError naming the element and
// the rule, before anything is written.
func (s *Service) ImportStatement(ctx context.Context, r io.Reader, scope []string) (*ImportResult, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxStatement+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxStatement {
		return nil, refuse("Document", "larger than %d bytes", MaxStatement)
	}
	seller, ok := normalizeBBAN(s.cfg.Seller.BankAccount)
	if !ok {
		return nil, refuse("Acct/Id", "no seller bank account is configured (PAMELDING_SELLER_BANK_ACCOUNT, 11 digits): a statement cannot be checked against it")
	}
	plan, err := parseStatement(raw, seller)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Unmatched: []BankEntry{}, OutOfScope: []BankEntry{},
		IgnoredLines: plan.ignored, Anomalies: plan.anomalies, Ignored: len(plan.ignored)}
	if res.IgnoredLines == nil {
		res.IgnoredLines = []StatementLine{}
	}
	if res.Anomalies == nil {
		res.Anomalies = []StatementLine{}
	}
	// Checked whole before anything is written: a bad file changes nothing.
	for _, c := range plan.credits {
		res.Entries++
		applied, err := s.applyEntry(ctx, c.entry, c.legacy, scope)
		switch {
		case errors.Is(err, errOutOfScope):
			res.OutOfScope = append(res.OutOfScope, c.entry)
		case err != nil:
			return res, err
		case applied == nil:
			res.Duplicates++
		case applied.Matched:
			res.Matched++
		default:
			res.Unmatched = append(res.Unmatched, *applied)
		}
	}
	return res, nil
}

// applyEntry records a bank entry and, when its KID names an invoice of
// ours, adds the money to it. nil: the entry was imported before. The
// invoice update is idempotent too (it only adds a payment whose reference
// it does not hold), so a crash between the two writes double-counts
// nothing. legacy is the id an import before issue 18 gave the same
// transaction ("" when it is the same): found, it is a duplicate too.
func (s *Service) applyEntry(ctx context.Context, be BankEntry, legacy string, scope []string) (*BankEntry, error) {
	be.ImportedAt = s.clock()
	be.Outcome = "unmatched"
	var inv *Invoice
	if be.KID != "" && ValidKID(be.KID) {
		n, _ := strconv.ParseInt(be.KID[:len(be.KID)-1], 10, 64)
		if i, err := s.invoices.Invoice(ctx, n); err == nil && i.Kind == KindInvoice && i.KID == be.KID {
			inv = i
		} else if err != nil && !errors.Is(err, ErrInvoiceNotFound) {
			return nil, err
		}
	}
	if scope != nil && (inv == nil || !slices.Contains(scope, inv.Event)) {
		return nil, errOutOfScope
	}
	if inv != nil {
		be.Matched, be.Invoice = true, inv.Number
	}
	ids := []string{be.ID}
	if legacy != "" && legacy != be.ID {
		ids = append(ids, legacy)
	}
	for _, id := range ids { // one by one: a lookup by _id alone is by the primary key
		var prev BankEntry
		if err := s.store.bankEntries.FindOne(ctx, bson.M{"_id": id}, &prev); err == nil {
			return nil, nil
		} else if !errors.Is(err, mongodb.ErrNotFound) {
			return nil, err
		}
	}
	if inv != nil {
		var err error
		if be.Outcome, err = s.pay(ctx, inv, be, ids); err != nil {
			return nil, err
		}
	}
	if err := s.store.bankEntries.InsertOne(ctx, be); errors.Is(err, mongodb.ErrDuplicate) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return &be, nil
}

// pay adds a bank entry's money to an invoice, once (refs are the ids
// the entry may have been recorded under: an invoice holding a payment of
// one of them has it already), and settles the invoice.
func (s *Service) pay(ctx context.Context, inv *Invoice, be BankEntry, refs []string) (string, error) {
	var after Invoice
	err := s.store.invoices.FindOneAndUpdate(ctx,
		bson.M{"_id": inv.ID, "payments.ref": bson.M{"$nin": refs}},
		bson.M{"$inc": bson.M{"paidAmount": be.Amount}, "$push": bson.M{"payments": BankPayment{Ref: be.ID, Amount: be.Amount, Date: be.Date}}},
		&after)
	switch {
	case errors.Is(err, mongodb.ErrNotFound):
		after = *inv // applied before
	case err != nil:
		return "", err
	}
	return s.settleInvoice(ctx, &after)
}

// settleInvoice sets an invoice's status, and its registration's payment,
// from what has been paid. Both writes only move forward, so an import
// that failed between them is completed by importing the file again.
func (s *Service) settleInvoice(ctx context.Context, inv *Invoice) (string, error) {
	status := InvoicePaid
	regStatus := registration.PaymentPaid
	switch {
	case inv.PaidAmount < inv.Due():
		status, regStatus = InvoicePartiallyPaid, registration.PaymentPartiallyPaid
	case inv.PaidAmount > inv.Due()+inv.ReminderFee:
		status, regStatus = InvoiceOverpaid, registration.PaymentOverpaid
	}
	if inv.Status == InvoiceCredited {
		status = InvoiceCredited // money for a credited invoice: flagged in reconciliation
	}
	// Conditional on the amount read, so a concurrent import's later write
	// wins with its own (larger) amount.
	if _, err := s.store.invoices.UpdateOne(ctx, bson.M{"_id": inv.ID, "paidAmount": inv.PaidAmount}, bson.M{"$set": bson.M{"status": status}}); err != nil {
		return "", err
	}
	// Paid when the bank booked the money, not when the file came in.
	paidAt := time.Time{}
	for _, bp := range inv.Payments {
		if bp.Date.After(paidAt) {
			paidAt = bp.Date
		}
	}
	if paidAt.IsZero() {
		paidAt = s.clock()
	}
	if inv.Order != "" {
		if err := s.allocate(ctx, inv, paidAt); err != nil {
			return "", err
		}
	} else if err := s.regs.RecordInvoicePayment(ctx, inv.Registration, inv.Number, inv.PaidAmount-inv.FeePaid(), regStatus, paidAt); err != nil {
		return "", err
	}
	return map[string]string{InvoicePaid: "paid", InvoicePartiallyPaid: "partially_paid", InvoiceOverpaid: "overpaid", InvoiceCredited: "paid_after_credit"}[status], nil
}

// allocate shares what was paid on an order's invoice among the
// participants it still bills, in the invoice's order: each is paid up
// before the next gets any, so every share only grows as payments come
// in; what is paid beyond the whole is the last one's (overpaid).
func (s *Service) allocate(ctx context.Context, inv *Invoice, paidAt time.Time) error {
	left := inv.PaidAmount - inv.FeePaid() // the fee is the buyer's, no participant's
	billed := billedBy(inv)
	var live []*registration.Registration
	for _, id := range billed {
		reg, err := s.regs.Get(ctx, id)
		if errors.Is(err, registration.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		p := reg.Payment
		switch {
		case p == nil || p.InvoiceNumber != inv.Number:
		case p.Status == registration.PaymentCreditDue || p.Status == registration.PaymentCredited:
			// What was recorded on one credited since stays theirs (to be
			// paid back): the others share only the rest.
			left -= p.PaidAmount
		default:
			live = append(live, reg)
		}
	}
	left = max(left, 0)
	for i, reg := range live {
		owed := inv.TotalOf(reg.ID)
		share := min(left, owed)
		st := registration.PaymentPaid
		switch {
		case i == len(live)-1 && left > owed:
			share, st = left, registration.PaymentOverpaid
		case share < owed:
			st = registration.PaymentPartiallyPaid
		}
		left -= share
		if share == 0 {
			continue
		}
		if err := s.regs.RecordInvoicePayment(ctx, reg.ID, inv.Number, share, st, paidAt); err != nil {
			return err
		}
	}
	return nil
}

// errOutOfScope: a credit a scoped import leaves alone.
var errOutOfScope = errors.New("bank entry out of the token's scope")

// UnmatchedEntries lists credits no invoice claimed, for finance.
func (s *Service) UnmatchedEntries(ctx context.Context) ([]BankEntry, error) {
	out := []BankEntry{}
	err := s.store.bankEntries.All(ctx, bson.M{"matched": false}, &out)
	return out, err
}

// Errors of matching a bank entry by hand.
var (
	// ErrEntryNotFound: no bank entry has that id.
	ErrEntryNotFound = errors.New("bank entry not found")
	// ErrEntryMatched: the entry already pays an invoice.
	ErrEntryMatched = errors.New("bank entry already matched")
)

// MatchEntry applies a credit no invoice claimed (a wrong or missing KID)
// to the invoice finance says it pays, as an import would have: the
// entry is claimed for the invoice, the invoice gets the payment on the
// bank's date and settles, and the entry is recorded as matched by hand.
// Every write only goes forward, so the call repeated after a failure
// between them completes it and counts nothing twice; another invoice is
// refused once one has claimed the entry.
func (s *Service) MatchEntry(ctx context.Context, entryID string, number int64, scope []string) (*BankEntry, error) {
	var be BankEntry
	if err := s.store.bankEntries.FindOne(ctx, bson.M{"_id": entryID}, &be); errors.Is(err, mongodb.ErrNotFound) {
		return nil, ErrEntryNotFound
	} else if err != nil {
		return nil, err
	}
	if be.Matched {
		return nil, ErrEntryMatched
	}
	inv, err := s.invoices.Invoice(ctx, number)
	if err != nil {
		return nil, err
	}
	if inv.Kind != KindInvoice || (scope != nil && !slices.Contains(scope, inv.Event)) {
		return nil, ErrInvoiceNotFound
	}
	// The entry is claimed for this invoice first: two hands matching it
	// to two invoices at once cannot both pay one.
	claimed, err := s.store.bankEntries.UpdateOne(ctx, bson.M{"_id": be.ID, "matched": false,
		"$or": bson.A{bson.M{"claim": bson.M{"$exists": false}}, bson.M{"claim": number}}}, bson.M{"$set": bson.M{"claim": number}})
	if err != nil {
		return nil, err
	}
	if !claimed {
		return nil, ErrEntryMatched
	}
	outcome, err := s.pay(ctx, inv, be, []string{be.ID})
	if err != nil {
		return nil, err
	}
	ok, err := s.store.bankEntries.UpdateOne(ctx, bson.M{"_id": be.ID, "matched": false},
		bson.M{"$set": bson.M{"matched": true, "invoice": number, "outcome": outcome, "matchedByHand": true}})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrEntryMatched
	}
	be.Matched, be.Invoice, be.Outcome = true, number, outcome
	return &be, nil
}
