package payments

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// Anomalies the report flags.
const (
	AnomalyPaidButCancelled = "paid_but_cancelled"
	AnomalyOverdueInvoice   = "overdue_invoice"
	AnomalyAmountMismatch   = "amount_mismatch"
	AnomalyNoRegistration   = "stripe_payment_without_registration"
	AnomalyPaidAfterCredit  = "paid_after_credit"
	// AnomalyRefundedButLive: money refunded (in Stripe's dashboard, say)
	// for a registration that still holds its seat.
	AnomalyRefundedButLive = "refunded_but_live"
	// AnomalyUnbalanced: the row breaks the money model; a bug, shown
	// rather than hidden.
	AnomalyUnbalanced = "unbalanced"
)

// ReportRow is one registration's money. Finance sees name and
// organisation (their catalog recipients include finance), never
// dietary data, phone or e-mail.
//
// The amounts obey one model, checked on every row and on the totals:
//
//	due − paid + refunded − credited = outstanding − toRefund
//
// due is what stands to be paid: the invoice's total once one is issued
// (only a credit note takes it back), otherwise the price while the
// registration holds its seat or was cancelled after the refund deadline;
// paid is every øre received (card, or the bank's bookings, credited
// invoices included); refunded went back to the card; credited is what
// credit notes took back. outstanding is owed to the organiser, toRefund
// to the participant.
type ReportRow struct {
	Registration    string                     `json:"registration"`
	Event           string                     `json:"event"`
	Name            string                     `json:"name"`
	Organisation    string                     `json:"organisation"`
	Status          registration.Status        `json:"status"`
	Method          string                     `json:"method"`
	PaymentStatus   registration.PaymentStatus `json:"paymentStatus"`
	AmountDue       int64                      `json:"amountDue"`
	AmountPaid      int64                      `json:"amountPaid"`
	AmountRefunded  int64                      `json:"amountRefunded"`
	AmountCredited  int64                      `json:"amountCredited"`
	Outstanding     int64                      `json:"outstanding"`
	ToRefund        int64                      `json:"toRefund"`
	Currency        string                     `json:"currency"`
	SessionID       string                     `json:"stripeSession,omitempty"`
	PaymentIntentID string                     `json:"stripePaymentIntent,omitempty"`
	RefundID        string                     `json:"stripeRefund,omitempty"`
	InvoiceNumber   int64                      `json:"invoiceNumber,omitempty"`
	KID             string                     `json:"kid,omitempty"`
	CreditNote      int64                      `json:"creditNote,omitempty"`
	RegisteredAt    time.Time                  `json:"registeredAt"`
	// PaidAt is when the money was received: Stripe's confirmation, or
	// the bank's booking date of the last payment on the invoice.
	PaidAt    *time.Time `json:"paidAt,omitempty"`
	DueDate   *time.Time `json:"dueDate,omitempty"`
	Anomalies []string   `json:"anomalies"`
}

// balanced reports whether the row keeps the model.
func (r ReportRow) balanced() bool {
	return r.AmountDue-r.AmountPaid+r.AmountRefunded-r.AmountCredited == r.Outstanding-r.ToRefund &&
		r.Outstanding >= 0 && r.ToRefund >= 0 && (r.Outstanding == 0 || r.ToRefund == 0)
}

// Totals sums a report. Money that belongs to no registration is beside
// the rows: credits on the bank statement no invoice claimed (only in a
// report of every event), and Stripe payments no registration claims.
type Totals struct {
	Rows        int   `json:"rows"`
	Due         int64 `json:"due"`
	Paid        int64 `json:"paid"`
	Refunded    int64 `json:"refunded"`
	Credited    int64 `json:"credited"`
	Outstanding int64 `json:"outstanding"`
	ToRefund    int64 `json:"toRefund"`
	// UnmatchedBank is NOK credited to the account that no invoice
	// claimed; Orphans what Stripe took for no registration.
	UnmatchedBank int64 `json:"unmatchedBank"`
	Orphans       int64 `json:"orphans"`
	Anomalies     int   `json:"anomalies"`
}

// Balanced reports whether the totals keep the model of ReportRow.
func (t Totals) Balanced() bool {
	return t.Due-t.Paid+t.Refunded-t.Credited == t.Outstanding-t.ToRefund
}

// Report is the reconciliation report.
type Report struct {
	Event string      `json:"event,omitempty"`
	From  *time.Time  `json:"from,omitempty"`
	To    *time.Time  `json:"to,omitempty"`
	Rows  []ReportRow `json:"rows"`
	// Orphans are Stripe payments for no registration we know.
	Orphans []Orphan `json:"orphans"`
	Totals  Totals   `json:"totals"`
	// Sold breaks what stands sold (due, less what credit notes took
	// back) down by item: each category's tickets and each add-on, with
	// what codes took off; Discounts by code.
	Sold      []SoldRow     `json:"sold"`
	Discounts []DiscountRow `json:"discounts"`
}

// SoldRow is one kind of item sold: a category's tickets ("" for an
// event without categories) or an add-on, in øre, VAT included.
type SoldRow struct {
	Event    string `json:"event"`
	Item     string `json:"item"`
	Key      string `json:"key"`
	Quantity int64  `json:"quantity"`
	// Gross is before discounts; Discount what codes took off; Net what
	// is due for them.
	Gross    int64 `json:"gross"`
	Discount int64 `json:"discount"`
	Net      int64 `json:"net"`
}

// DiscountRow is what one code took off.
type DiscountRow struct {
	Event  string `json:"event"`
	Code   string `json:"code"`
	Uses   int64  `json:"uses"`
	Amount int64  `json:"amount"`
}

// breakdown adds a row's lines to what was sold, if its money stands.
func (rep *Report) breakdown(reg *registration.Registration, row *ReportRow, ev *events.Event) {
	if row.AmountDue-row.AmountCredited <= 0 || ev == nil {
		return
	}
	for _, l := range linesOf(reg, ev) {
		i := slices.IndexFunc(rep.Sold, func(s SoldRow) bool { return s.Event == reg.Event && s.Item == l.Item && s.Key == l.Key })
		if i < 0 {
			rep.Sold = append(rep.Sold, SoldRow{Event: reg.Event, Item: l.Item, Key: l.Key})
			i = len(rep.Sold) - 1
		}
		s := &rep.Sold[i]
		s.Quantity += l.Quantity
		s.Gross += l.Quantity * l.UnitGross
		s.Discount += l.Quantity * l.Discount
		s.Net += l.Gross()
		if l.DiscountCode == "" {
			continue
		}
		j := slices.IndexFunc(rep.Discounts, func(d DiscountRow) bool { return d.Event == reg.Event && d.Code == l.DiscountCode })
		if j < 0 {
			rep.Discounts = append(rep.Discounts, DiscountRow{Event: reg.Event, Code: l.DiscountCode})
			j = len(rep.Discounts) - 1
		}
		rep.Discounts[j].Uses += l.Quantity
		rep.Discounts[j].Amount += l.Quantity * l.Discount
	}
}

// Orphan is a Stripe payment no registration claims.
type Orphan struct {
	Event     string    `json:"stripeEvent"`
	Session   string    `json:"stripeSession"`
	Reference string    `json:"clientReference"`
	Amount    int64     `json:"amount"`
	At        time.Time `json:"at"`
	Anomaly   string    `json:"anomaly"`
}

// ReportQuery selects registrations by event and registration time. By
// names the staff token that asks: the names it opens are logged as
// disclosed to finance.
type ReportQuery struct {
	Event    string
	From, To *time.Time
	By       string
}

// Reconciliation builds the report: one row per registration with a
// payment, totals, and anomalies flagged.
func (s *Service) Reconciliation(ctx context.Context, q ReportQuery) (*Report, error) {
	invoices := map[int64]Invoice{}
	invs, err := s.invoices.List(ctx, InvoiceQuery{Event: q.Event})
	if err != nil {
		return nil, err
	}
	for _, inv := range invs {
		invoices[inv.Number] = inv
	}
	evs, err := s.events.List(ctx)
	if err != nil {
		return nil, err
	}
	deadline := map[string]time.Time{}
	byEvent := map[string]*events.Event{}
	for _, e := range evs {
		byEvent[e.Slug] = &e
		deadline[e.Slug] = e.RefundDeadline
		if e.CancelledAt != nil {
			deadline[e.Slug] = *e.CancelledAt // everything was to be refunded
		}
	}
	now := s.clock()
	rep := &Report{Event: q.Event, From: q.From, To: q.To, Rows: []ReportRow{}, Orphans: []Orphan{}, Sold: []SoldRow{}, Discounts: []DiscountRow{}}
	opened := map[string][]string{} // by event, the registrations whose names finance sees
	for reg, err := range s.regs.WithPayment(ctx, registration.PaymentQuery{Event: q.Event, From: q.From, To: q.To}) {
		if err != nil {
			return nil, err
		}
		p := reg.Payment
		values, err := s.regs.Open(ctx, reg, "name", "organisation")
		if err != nil {
			return nil, err
		}
		if len(values) > 0 {
			opened[reg.Event] = append(opened[reg.Event], reg.ID)
		}
		row := ReportRow{
			Registration: reg.ID, Event: reg.Event, Name: values["name"], Organisation: values["organisation"],
			Status: reg.Status, Method: p.Method, PaymentStatus: p.Status,
			AmountPaid: p.PaidAmount, AmountRefunded: p.RefundedAmount, Currency: p.Currency,
			SessionID: p.SessionID, PaymentIntentID: p.PaymentIntentID, RefundID: p.RefundID,
			InvoiceNumber: p.InvoiceNumber, KID: p.KID, CreditNote: p.CreditNote,
			RegisteredAt: reg.CreatedAt, PaidAt: p.PaidAt, Anomalies: []string{},
		}
		row.money(reg, invoices, deadline[reg.Event], now)
		rep.breakdown(reg, &row, byEvent[reg.Event])
		rep.Totals.Rows++
		rep.Totals.Due += row.AmountDue
		rep.Totals.Paid += row.AmountPaid
		rep.Totals.Refunded += row.AmountRefunded
		rep.Totals.Credited += row.AmountCredited
		rep.Totals.Outstanding += row.Outstanding
		rep.Totals.ToRefund += row.ToRefund
		rep.Totals.Anomalies += len(row.Anomalies)
		rep.Rows = append(rep.Rows, row)
	}
	for event, ids := range opened {
		if err := s.regs.Disclosed(ctx, event, "finance", q.By, []string{"name", "organisation"}, ids); err != nil {
			return nil, err
		}
	}
	var orphans []stripeEvent
	if err := s.store.stripeEvents.All(ctx, bson.M{"orphan": true}, &orphans); err != nil {
		return nil, err
	}
	for _, o := range orphans {
		rep.Orphans = append(rep.Orphans, Orphan{Event: o.ID, Session: o.Session, Reference: o.Registration, Amount: o.Amount, At: o.HandledAt, Anomaly: AnomalyNoRegistration})
		rep.Totals.Orphans += o.Amount
		rep.Totals.Anomalies++
	}
	if q.Event == "" {
		unmatched, err := s.UnmatchedEntries(ctx)
		if err != nil {
			return nil, err
		}
		for _, be := range unmatched {
			if be.Currency == "" || be.Currency == "NOK" {
				rep.Totals.UnmatchedBank += be.Amount
			}
		}
	}
	if !rep.Totals.Balanced() {
		// Cannot happen while every row balances; say so loudly if it does.
		return nil, fmt.Errorf("reconciliation: totals break due − paid + refunded − credited = outstanding − toRefund")
	}
	return rep, nil
}

// money fills the row's amounts by the model (see ReportRow) and flags
// what finance must look at.
func (row *ReportRow) money(reg *registration.Registration, invoices map[int64]Invoice, deadline, now time.Time) {
	p := reg.Payment
	live := reg.Status.WithSeat()
	waived := false // the participant no longer owes it: refunded or credited, or to be
	switch p.Status {
	case registration.PaymentRefundDue, registration.PaymentRefunding, registration.PaymentRefunded,
		registration.PaymentCreditDue, registration.PaymentCredited, registration.PaymentExpired, registration.PaymentNotDue:
		waived = true
	}
	// Cancelled after the refund deadline: what was invoiced, or paid by
	// card, stands.
	standing := reg.Status == registration.Cancelled && reg.CancelledAt != nil && !reg.CancelledAt.Before(deadline) &&
		!waived && (p.Method == "invoice" || p.PaidAmount > 0)
	row.AmountPaid, row.AmountRefunded = p.PaidAmount, p.RefundedAmount
	inv, invoiced := invoices[p.InvoiceNumber]
	invoiced = invoiced && p.InvoiceNumber != 0
	switch {
	case invoiced:
		// A price changed later does not change an invoice; an order's
		// bills this participant their own lines, and what was paid on it
		// is shared among them (see allocate).
		row.AmountDue = inv.TotalOf(reg.ID)
		if inv.Order == "" {
			row.AmountPaid = max(row.AmountPaid, inv.PaidAmount-inv.FeePaid())
		}
		if cn, ok := invoices[p.CreditNote]; ok && p.CreditNote != 0 {
			row.AmountCredited = -cn.Total
		}
	case live || standing:
		row.AmountDue = p.Amount
	}
	if net := row.AmountDue - row.AmountPaid + row.AmountRefunded - row.AmountCredited; net >= 0 {
		row.Outstanding = net
	} else {
		row.ToRefund = -net
	}
	refunding := p.Status == registration.PaymentRefundDue || p.Status == registration.PaymentRefunding
	switch {
	case row.ToRefund > 0 && invoiced && inv.Status == InvoiceCredited:
		row.Anomalies = append(row.Anomalies, AnomalyPaidAfterCredit)
	case row.ToRefund > 0 && !live && !standing && !refunding:
		row.Anomalies = append(row.Anomalies, AnomalyPaidButCancelled)
	}
	if live && p.RefundedAmount > 0 {
		row.Anomalies = append(row.Anomalies, AnomalyRefundedButLive)
	}
	if (live || standing) && row.AmountPaid > 0 && row.AmountPaid != row.AmountDue {
		row.Anomalies = append(row.Anomalies, AnomalyAmountMismatch)
	}
	if invoiced {
		// An Oslo calendar date (stored as 00:00 UTC of it): midnight in Oslo.
		due := time.Date(inv.DueDate.Year(), inv.DueDate.Month(), inv.DueDate.Day(), 0, 0, 0, 0, privacy.Oslo)
		row.DueDate = &due
		if (live || standing) && row.Outstanding > 0 && (inv.Status == InvoiceOpen || inv.Status == InvoicePartiallyPaid) && now.After(inv.DueDate.Add(24*time.Hour)) {
			row.Anomalies = append(row.Anomalies, AnomalyOverdueInvoice)
		}
	}
	if !row.balanced() {
		row.Anomalies = append(row.Anomalies, AnomalyUnbalanced)
	}
}

// ReportColumns are the CSV and XLSX columns, in order.
var ReportColumns = []string{"registration", "event", "name", "organisation", "status", "method", "payment_status",
	"amount_due", "amount_paid", "amount_refunded", "amount_credited", "outstanding", "to_refund", "currency",
	"stripe_session", "stripe_payment_intent", "stripe_refund",
	"invoice_number", "kid", "credit_note", "registered_at", "paid_at", "due_date", "anomalies"}

// Amount is money in a report cell: kroner, typed as a number in XLSX.
type Amount int64

// Kroner is the amount as a number of kroner.
func (a Amount) Kroner() float64 { return float64(a) / 100 }

// Cells is the row in ReportColumns order, typed: text as string, money
// as Amount, numbers as int64, times as time.Time in Europe/Oslo (nil
// where there is none).
func (r ReportRow) Cells() []any {
	ts := func(t *time.Time) any {
		if t == nil {
			return nil
		}
		return t.In(privacy.Oslo)
	}
	num := func(n int64) any {
		if n == 0 {
			return nil
		}
		return n
	}
	return []any{r.Registration, r.Event, r.Name, r.Organisation, string(r.Status), r.Method, string(r.PaymentStatus),
		Amount(r.AmountDue), Amount(r.AmountPaid), Amount(r.AmountRefunded), Amount(r.AmountCredited), Amount(r.Outstanding), Amount(r.ToRefund),
		r.Currency, r.SessionID, r.PaymentIntentID, r.RefundID,
		num(r.InvoiceNumber), r.KID, num(r.CreditNote), ts(&r.RegisteredAt), ts(r.PaidAt), ts(r.DueDate), strings.Join(r.Anomalies, " ")}
}

// Cells is the totals as a last row under the columns they sum.
func (t Totals) Cells() []any {
	cells := make([]any, len(ReportColumns))
	cells[0] = "TOTAL"
	cells[7], cells[8], cells[9], cells[10], cells[11], cells[12] = Amount(t.Due), Amount(t.Paid), Amount(t.Refunded), Amount(t.Credited), Amount(t.Outstanding), Amount(t.ToRefund)
	return cells
}

// Record is cells as CSV text: amounts in kroner with two decimals, a
// decimal comma for Norwegian Excel when decimalComma; times as RFC 3339
// in Europe/Oslo.
func Record(cells []any, decimalComma bool) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		switch v := c.(type) {
		case nil:
		case string:
			out[i] = v
		case Amount:
			out[i] = Kroner(int64(v))
			if decimalComma {
				out[i] = strings.Replace(out[i], ".", ",", 1)
			}
		case int64:
			out[i] = itoa(v)
		case time.Time:
			out[i] = v.Format(time.RFC3339)
		}
	}
	return out
}

// Kroner formats øre as kroner with two decimals: 150000 → "1500.00".
func Kroner(øre int64) string {
	sign := ""
	if øre < 0 {
		sign, øre = "-", -øre
	}
	frac := øre % 100
	f := itoa(frac)
	if frac < 10 {
		f = "0" + f
	}
	return sign + itoa(øre/100) + "." + f
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
