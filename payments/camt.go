package payments

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/registration"
)

// MaxStatement is the largest bank statement file taken.
const MaxStatement = 10 << 20

// The parts of ISO 20022 camt.053.001.02 (statement) and camt.054.001.02
// (debit/credit notification) that matching needs, as Norwegian banks
// send them. Own structs: the Go library for these is deprecated.
type camtDocument struct {
	XMLName xml.Name        `xml:"Document"`
	Stmt    []camtStatement `xml:"BkToCstmrStmt>Stmt"`
	Ntfctn  []camtStatement `xml:"BkToCstmrDbtCdtNtfctn>Ntfctn"`
}

type camtStatement struct {
	ID   string      `xml:"Id"`
	Acct camtAccount `xml:"Acct"`
	Ntry []camtEntry `xml:"Ntry"`
}

type camtAccount struct {
	IBAN  string `xml:"Id>IBAN"`
	Other string `xml:"Id>Othr>Id"`
}

type camtAmount struct {
	Value string `xml:",chardata"`
	Ccy   string `xml:"Ccy,attr"`
}

type camtEntry struct {
	NtryRef     string       `xml:"NtryRef"`
	Amt         camtAmount   `xml:"Amt"`
	CdtDbtInd   string       `xml:"CdtDbtInd"`
	Sts         string       `xml:"Sts"`
	BookgDt     camtDate     `xml:"BookgDt"`
	ValDt       camtDate     `xml:"ValDt"`
	AcctSvcrRef string       `xml:"AcctSvcrRef"`
	TxDtls      []camtTxDtls `xml:"NtryDtls>TxDtls"`
}

type camtDate struct {
	Dt   string `xml:"Dt"`
	DtTm string `xml:"DtTm"`
}

type camtTxDtls struct {
	AcctSvcrRef string     `xml:"Refs>AcctSvcrRef"`
	EndToEndID  string     `xml:"Refs>EndToEndId"`
	Amt         camtAmount `xml:"Amt"`
	CdtrRef     string     `xml:"RmtInf>Strd>CdtrRefInf>Ref"`
}

// BankEntry is one credit transaction from a statement, as stored: the
// record that makes importing the same file again change nothing.
type BankEntry struct {
	// ID is the account and the bank's reference of the transaction.
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
}

// ImportResult is what an import did.
type ImportResult struct {
	Entries   int         `json:"entries"`
	Matched   int         `json:"matched"`
	Unmatched []BankEntry `json:"unmatched"`
	// Duplicates were imported before and changed nothing.
	Duplicates int `json:"duplicates"`
	// Ignored: debits and entries not booked.
	Ignored int `json:"ignored"`
}

// ImportStatement reads a camt.053 or camt.054 file and matches each
// booked credit on the KID of its structured creditor reference.
func (s *Service) ImportStatement(ctx context.Context, r io.Reader) (*ImportResult, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxStatement+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxStatement {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadStatement, MaxStatement)
	}
	if bytes.Contains(raw, []byte("<!DOCTYPE")) || bytes.Contains(raw, []byte("<!ENTITY")) {
		// encoding/xml expands no external entities, but a statement has
		// no use for a DTD: refuse it outright.
		return nil, fmt.Errorf("%w: DTDs are not accepted", ErrBadStatement)
	}
	var doc camtDocument
	dec := xml.NewDecoder(bytes.NewReader(raw))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadStatement, err)
	}
	stmts := append(doc.Stmt, doc.Ntfctn...)
	if len(stmts) == 0 {
		return nil, fmt.Errorf("%w: neither camt.053 BkToCstmrStmt nor camt.054 BkToCstmrDbtCdtNtfctn", ErrBadStatement)
	}
	var entries []BankEntry
	res := &ImportResult{Unmatched: []BankEntry{}}
	for _, st := range stmts {
		acct := st.Acct.IBAN
		if acct == "" {
			acct = st.Acct.Other
		}
		for i, e := range st.Ntry {
			if e.CdtDbtInd != "CRDT" || (e.Sts != "" && e.Sts != "BOOK") {
				res.Ignored++
				continue
			}
			date, err := e.date()
			if err != nil {
				return nil, fmt.Errorf("%w: entry %d: %v", ErrBadStatement, i+1, err)
			}
			txs := e.TxDtls
			if len(txs) == 0 {
				txs = []camtTxDtls{{Amt: e.Amt}}
			}
			for j, tx := range txs {
				amt := tx.Amt
				if amt.Value == "" {
					amt = e.Amt
				}
				øre, err := parseAmount(amt.Value)
				if err != nil {
					return nil, fmt.Errorf("%w: entry %d: %v", ErrBadStatement, i+1, err)
				}
				ref := firstNonEmpty(tx.AcctSvcrRef, e.AcctSvcrRef+"/"+strconv.Itoa(j), e.NtryRef+"/"+strconv.Itoa(j))
				if strings.HasPrefix(ref, "/") {
					return nil, fmt.Errorf("%w: entry %d has no reference", ErrBadStatement, i+1)
				}
				entries = append(entries, BankEntry{
					ID: acct + ":" + ref, Account: acct, Ref: ref, KID: strings.TrimSpace(tx.CdtrRef),
					Amount: øre, Currency: amt.Ccy, Date: date,
				})
			}
		}
	}
	// Checked whole before anything is written: a bad file changes nothing.
	for _, be := range entries {
		res.Entries++
		applied, err := s.applyEntry(ctx, be)
		switch {
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

func (e camtEntry) date() (time.Time, error) {
	for _, d := range []camtDate{e.BookgDt, e.ValDt} {
		if d.Dt != "" {
			return time.Parse(time.DateOnly, d.Dt)
		}
		if d.DtTm != "" {
			if t, err := time.Parse(time.RFC3339, d.DtTm); err == nil {
				return t.UTC(), nil
			}
			return time.Parse("2006-01-02T15:04:05", d.DtTm)
		}
	}
	return time.Time{}, errors.New("no booking date")
}

// parseAmount reads "1500.00" into øre.
func parseAmount(v string) (int64, error) {
	v = strings.TrimSpace(v)
	whole, frac, _ := strings.Cut(v, ".")
	if len(frac) > 2 || whole == "" {
		return 0, fmt.Errorf("amount %q", v)
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || w < 0 {
		return 0, fmt.Errorf("amount %q", v)
	}
	return w*100 + f, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" && !strings.HasPrefix(v, "/") {
			return v
		}
	}
	return vs[len(vs)-1]
}

// applyEntry records a bank entry and, when its KID names an invoice of
// ours, adds the money to it. nil: the entry was imported before. The
// invoice update is idempotent too (it only adds a payment whose reference
// it does not hold), so a crash between the two writes double-counts
// nothing.
func (s *Service) applyEntry(ctx context.Context, be BankEntry) (*BankEntry, error) {
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
	if inv != nil {
		be.Matched, be.Invoice = true, inv.Number
	}
	var prev BankEntry
	if err := s.store.bankEntries.FindOne(ctx, bson.M{"_id": be.ID}, &prev); err == nil {
		return nil, nil
	} else if !errors.Is(err, mongodb.ErrNotFound) {
		return nil, err
	}
	if inv != nil {
		var after Invoice
		err := s.store.invoices.FindOneAndUpdate(ctx,
			bson.M{"_id": inv.ID, "payments.ref": bson.M{"$ne": be.ID}},
			bson.M{"$inc": bson.M{"paidAmount": be.Amount}, "$push": bson.M{"payments": BankPayment{Ref: be.ID, Amount: be.Amount, Date: be.Date}}},
			&after)
		switch {
		case errors.Is(err, mongodb.ErrNotFound):
			after = *inv // applied before
		case err != nil:
			return nil, err
		}
		if be.Outcome, err = s.settleInvoice(ctx, &after); err != nil {
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

// settleInvoice sets an invoice's status, and its registration's payment,
// from what has been paid. Both writes only move forward, so an import
// that failed between them is completed by importing the file again.
func (s *Service) settleInvoice(ctx context.Context, inv *Invoice) (string, error) {
	status := InvoicePaid
	regStatus := registration.PaymentPaid
	switch {
	case inv.PaidAmount < inv.Total:
		status, regStatus = InvoicePartiallyPaid, registration.PaymentPartiallyPaid
	case inv.PaidAmount > inv.Total:
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
	if err := s.regs.RecordInvoicePayment(ctx, inv.Registration, inv.Number, inv.PaidAmount, regStatus, s.clock()); err != nil {
		return "", err
	}
	return map[string]string{InvoicePaid: "paid", InvoicePartiallyPaid: "partially_paid", InvoiceOverpaid: "overpaid", InvoiceCredited: "paid_after_credit"}[status], nil
}

// UnmatchedEntries lists credits no invoice claimed, for finance.
func (s *Service) UnmatchedEntries(ctx context.Context) ([]BankEntry, error) {
	out := []BankEntry{}
	err := s.store.bankEntries.All(ctx, bson.M{"matched": false}, &out)
	return out, err
}
