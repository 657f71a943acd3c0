package payments

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/registration"
)

// Account is a general-ledger account of the journal: the number posted
// to (NS 4102, the Norwegian standard chart most systems start from) and
// the SAF-T Financial standard account it maps to.
type Account struct {
	Number   string `json:"number"`
	Name     string `json:"name"`
	Standard string `json:"saftStandardAccount"`
}

// The accounts the journal posts to. Tripletex, Fiken, Visma and
// PowerOffice start from NS 4102; an accountant whose chart differs maps
// these numbers once on import.
var (
	AccountReceivables = Account{"1500", "Kundefordringer", "1500"}
	// AccountStripe is money Stripe holds for the seller: card payments
	// less refunds, until a payout takes it to the bank.
	AccountStripe    = Account{"1570", "Stripe, til utbetaling", "1570"}
	AccountBank      = Account{"1920", "Bankinnskudd", "1920"}
	AccountOutputVAT = Account{"2700", "Utgående merverdiavgift", "2700"}
	AccountSales     = Account{"3000", "Salgsinntekt, avgiftspliktig", "3000"}
	// AccountCardFees is what Stripe keeps of what it pays out.
	AccountCardFees   = Account{"7770", "Bank- og kortgebyr", "7770"}
	AccountSalesNoVAT = Account{"3200", "Salgsinntekt, utenfor merverdiavgiftsloven", "3200"}
	// AccountReminderFees is reminder fees paid: compensation, outside
	// the VAT act, booked when paid.
	AccountReminderFees = Account{"8070", "Annen finansinntekt (purregebyr)", "8070"}
)

// SAF-T standard VAT codes (Skatteetaten's "standard MVA-koder") of the
// sales the journal posts.
const (
	VATCodeNone    = "0"  // no VAT treatment: a seller not registered
	VATCodeHigh    = "3"  // output VAT, 25 %
	VATCodeMedium  = "31" // output VAT, 15 % (food)
	VATCodeLow     = "33" // output VAT, 12 % (transport, culture, sport)
	VATCodeExempt  = "6"  // turnover outside the VAT act (courses, sport)
	VATCodeRawFish = "32" // output VAT, 11.11 %
)

// vatCode is the SAF-T code of a sale at rate by a seller registered or
// not.
func vatCode(rate int, registered bool) string {
	switch {
	case !registered:
		return VATCodeNone
	case rate == 25:
		return VATCodeHigh
	case rate == 15:
		return VATCodeMedium
	case rate == 12:
		return VATCodeLow
	case rate == 11:
		return VATCodeRawFish
	default:
		return VATCodeExempt
	}
}

// Kinds of journal entry.
const (
	EntryInvoice     = "invoice"
	EntryCreditNote  = "credit_note"
	EntryBankPayment = "bank_payment"
	EntryCardPayment = "card_payment"
	EntryCardRefund  = "card_refund"
	EntryPayout      = "payout"
)

// JournalLine is one posting: an amount in øre on the debit or the credit
// side of an account. The lines of a voucher add up to zero.
type JournalLine struct {
	Date    time.Time `json:"date"`
	Voucher string    `json:"voucher"`
	Kind    string    `json:"kind"`
	Account
	// VATCode and VATRate are a sale's (revenue and VAT lines).
	VATCode  string `json:"vatCode,omitempty"`
	VATRate  *int   `json:"vatRate,omitempty"`
	Debit    int64  `json:"debit"`
	Credit   int64  `json:"credit"`
	Currency string `json:"currency"`
	Event    string `json:"event,omitempty"`
	// Reference is the document or payment behind it: the invoice or
	// credit note number, the bank's entry reference, Stripe's payment
	// intent or refund. No name: the journal carries no personal data.
	Reference   string `json:"reference"`
	Description string `json:"description"`
}

// Journal is the period's postings, dated and in voucher order, with
// each account's movement.
type Journal struct {
	From     time.Time         `json:"from"`
	To       time.Time         `json:"to"`
	Lines    []JournalLine     `json:"lines"`
	Balances []AccountMovement `json:"balances"`
}

// AccountMovement is what the period moved on one account: debit −
// credit, in øre.
type AccountMovement struct {
	Account
	Debit  int64 `json:"debit"`
	Credit int64 `json:"credit"`
}

// voucher builds one voucher's lines.
type voucher struct {
	date                  time.Time
	id, kind, event, ref  string
	currency, description string
	lines                 []JournalLine
}

func (v *voucher) post(a Account, amount int64, code string, rate *int) {
	if amount == 0 {
		return
	}
	l := JournalLine{Date: v.date, Voucher: v.id, Kind: v.kind, Account: a, VATCode: code, VATRate: rate,
		Currency: v.currency, Event: v.event, Reference: v.ref, Description: v.description}
	if amount > 0 {
		l.Debit = amount
	} else {
		l.Credit = -amount
	}
	v.lines = append(v.lines, l)
}

// sale posts what a sale of lines earned: revenue net of VAT per VAT
// code and the VAT, each with sign (−1: credit, the sale; +1: debit, its
// reversal), and returns the gross.
func (v *voucher) sale(lines []Line, registered bool, sign int64) int64 {
	type key struct {
		rate int
		code string
	}
	var keys []key
	net, vat := map[key]int64{}, map[key]int64{}
	var gross int64
	for _, l := range lines {
		k := key{l.VATRate, vatCode(l.VATRate, registered)}
		if _, ok := net[k]; !ok {
			keys = append(keys, k)
		}
		net[k] += l.Net
		vat[k] += l.VAT
		gross += l.Gross
	}
	for _, k := range keys {
		rate := k.rate
		revenue := AccountSales
		if k.code == VATCodeNone || k.code == VATCodeExempt {
			revenue = AccountSalesNoVAT
		}
		v.post(revenue, sign*net[k], k.code, &rate)
		v.post(AccountOutputVAT, sign*vat[k], k.code, &rate)
	}
	return gross
}

// JournalQuery is the period: posting dates from From to To, both Oslo
// calendar dates, inclusive.
type JournalQuery struct {
	From, To time.Time
}

// Journal builds the period's postings from what the service recorded:
//
//   - an invoice: receivables debited, revenue per VAT code and the VAT
//     credited (the invoice's lines, as billed); a credit note reverses
//     its share;
//   - a bank payment matched to an invoice: bank debited, receivables
//     credited, on the bank's booking date; what it paid of a reminder
//     fee is credited to reminder fees instead (a fee is income when
//     paid: it is not chased);
//   - a card payment: Stripe's clearing account debited, revenue and VAT
//     credited as for an invoice; a card refund reverses it, in
//     proportion when partial;
//   - a Stripe payout, on its arrival date: bank debited with what came,
//     card fees debited with what Stripe kept, Stripe's clearing account
//     credited with both (what the payout cleared). A payout Stripe has
//     not reconciled (a manual one) clears only its amount.
//
// Every voucher balances to the øre.
func (s *Service) Journal(ctx context.Context, q JournalQuery) (*Journal, error) {
	from, to := osloDate(q.From), osloDate(q.To).AddDate(0, 0, 1)
	in := func(t time.Time) bool { d := osloDate(t); return !d.Before(from) && d.Before(to) }
	j := &Journal{From: from, To: to.AddDate(0, 0, -1), Lines: []JournalLine{}, Balances: []AccountMovement{}}
	var vouchers []voucher

	invs, err := s.invoices.List(ctx, InvoiceQuery{})
	if err != nil {
		return nil, err
	}
	for _, inv := range invs {
		number := strconv.FormatInt(inv.Number, 10)
		if in(inv.IssueDate) && (inv.Kind == KindInvoice || inv.Kind == KindCreditNote) {
			v := voucher{date: osloDate(inv.IssueDate), id: "F" + number, kind: EntryInvoice, event: inv.Event, ref: "faktura " + number,
				currency: inv.Currency, description: "Faktura " + number}
			if inv.Kind == KindCreditNote {
				v.id, v.kind, v.ref = "K"+number, EntryCreditNote, "kreditnota "+number
				v.description = fmt.Sprintf("Kreditnota %d for faktura %d", inv.Number, inv.Credits)
			}
			gross := v.sale(inv.Lines, inv.Seller.VATRegistered, -1)
			v.post(AccountReceivables, gross, "", nil)
			vouchers = append(vouchers, v)
		}
		var before int64
		for i, p := range inv.Payments {
			paid, fee := inv.splitPayment(before, p.Amount)
			before += p.Amount
			if !in(p.Date) || p.Amount == 0 {
				continue
			}
			v := voucher{date: osloDate(p.Date), id: fmt.Sprintf("B%s-%d", number, i+1), kind: EntryBankPayment, event: inv.Event,
				ref: p.Ref, currency: inv.Currency, description: "Innbetaling på faktura " + number + " (KID " + inv.KID + ")"}
			v.post(AccountBank, p.Amount, "", nil)
			v.post(AccountReceivables, -paid, "", nil)
			v.post(AccountReminderFees, -fee, "", nil)
			vouchers = append(vouchers, v)
		}
	}

	evs := map[string]*events.Event{}
	for reg, err := range s.regs.WithPayment(ctx, registration.PaymentQuery{}) {
		if err != nil {
			return nil, err
		}
		p := reg.Payment
		if p.Method != registration.Card || p.PaidAmount <= 0 || p.PaidAt == nil {
			continue
		}
		ev, ok := evs[reg.Event]
		if !ok {
			if ev, err = s.events.Get(ctx, reg.Event); err != nil {
				return nil, err
			}
			evs[reg.Event] = ev
		}
		sold := s.invoices.saleLines(reg, ev, p.PaidAmount)
		if in(*p.PaidAt) {
			v := voucher{date: osloDate(*p.PaidAt), id: "S" + reg.ID, kind: EntryCardPayment, event: reg.Event, ref: p.PaymentIntentID,
				currency: p.Currency, description: "Kortbetaling, påmelding " + reg.ID}
			gross := v.sale(sold, s.invoices.cfg.Seller.VATRegistered, -1)
			v.post(AccountStripe, gross, "", nil)
			vouchers = append(vouchers, v)
		}
		if p.RefundedAmount > 0 && p.RefundedAt != nil && in(*p.RefundedAt) {
			v := voucher{date: osloDate(*p.RefundedAt), id: "R" + reg.ID, kind: EntryCardRefund, event: reg.Event, ref: p.RefundID,
				currency: p.Currency, description: "Refusjon til kort, påmelding " + reg.ID}
			gross := v.sale(share(sold, p.RefundedAmount), s.invoices.cfg.Seller.VATRegistered, 1)
			v.post(AccountStripe, -gross, "", nil)
			vouchers = append(vouchers, v)
		}
	}

	pos, err := s.Payouts(ctx, PayoutQuery(q))
	if err != nil {
		return nil, err
	}
	for _, po := range pos {
		if po.Status != string(stripe.PayoutStatusPaid) {
			continue
		}
		v := voucher{date: po.ArrivalDate, id: "U" + po.ID, kind: EntryPayout, ref: po.ID, currency: po.Currency,
			description: "Utbetaling fra Stripe"}
		v.post(AccountBank, po.Amount, "", nil)
		v.post(AccountCardFees, po.Fees, "", nil)
		v.post(AccountStripe, -(po.Amount + po.Fees), "", nil)
		vouchers = append(vouchers, v)
	}

	slices.SortStableFunc(vouchers, func(a, b voucher) int { return a.date.Compare(b.date) })
	for _, v := range vouchers {
		var sum int64
		for _, l := range v.lines {
			sum += l.Debit - l.Credit
			j.move(l)
		}
		if sum != 0 {
			// Cannot happen: every voucher is built to balance.
			return nil, fmt.Errorf("journal: voucher %s does not balance (%d øre)", v.id, sum)
		}
		j.Lines = append(j.Lines, v.lines...)
	}
	return j, nil
}

func (j *Journal) move(l JournalLine) {
	i := slices.IndexFunc(j.Balances, func(m AccountMovement) bool { return m.Number == l.Number })
	if i < 0 {
		j.Balances = append(j.Balances, AccountMovement{Account: l.Account})
		i = len(j.Balances) - 1
	}
	j.Balances[i].Debit += l.Debit
	j.Balances[i].Credit += l.Credit
}

// saleLines are a card payment's lines as an invoice would bill them:
// VAT split per line as on an invoice; paid is what was paid, which the
// lines add up to.
func (s *Invoices) saleLines(reg *registration.Registration, ev *events.Event, paid int64) []Line {
	inv := Invoice{}
	s.addLines(&inv, reg, ev, "")
	if inv.Total != paid && len(inv.Lines) > 0 {
		// Paid other than priced (a price without lines, stored before
		// lines were kept): the payment is the truth.
		inv.Lines = share(inv.Lines, paid)
	}
	return inv.Lines
}

// share is part of lines' gross, split over them in proportion (the last
// takes what rounding leaves), each part's VAT at its line's rate.
func share(lines []Line, part int64) []Line {
	var total int64
	for _, l := range lines {
		total += l.Gross
	}
	if total == part {
		return lines
	}
	out := make([]Line, len(lines))
	left := part
	for i, l := range lines {
		g := left
		if i < len(lines)-1 && total != 0 {
			g = part * l.Gross / total
		}
		left -= g
		rate := l.VATRate
		net, vat := vatOf(g, rate)
		out[i] = Line{Description: l.Description, Quantity: l.Quantity, VATRate: rate, Net: net, VAT: vat, Gross: g}
	}
	return out
}

// journalHeader is the CSV layout (README: "Journal export").
var journalHeader = []string{"date", "voucher", "kind", "account", "account_name", "saft_standard_account",
	"vat_code", "vat_rate", "debit", "credit", "currency", "event", "reference", "description"}

// WriteCSV writes the journal in its documented layout: one posting a
// row, dates as YYYY-MM-DD, amounts in kroner with a decimal point.
func (j *Journal) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(journalHeader); err != nil {
		return err
	}
	for _, l := range j.Lines {
		rate := ""
		if l.VATRate != nil {
			rate = strconv.Itoa(*l.VATRate)
		}
		if err := cw.Write([]string{l.Date.Format("2006-01-02"), l.Voucher, l.Kind, l.Number, l.Name, l.Standard,
			l.VATCode, rate, Kroner(l.Debit), Kroner(l.Credit), l.Currency, l.Event, l.Reference, l.Description}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
