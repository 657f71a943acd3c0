package payments

import (
	"context"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

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
)

// ReportRow is one registration's money. Finance sees name and
// organisation (their catalog recipients include finance), never
// dietary data, phone or e-mail.
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
	Currency        string                     `json:"currency"`
	SessionID       string                     `json:"stripeSession,omitempty"`
	PaymentIntentID string                     `json:"stripePaymentIntent,omitempty"`
	RefundID        string                     `json:"stripeRefund,omitempty"`
	InvoiceNumber   int64                      `json:"invoiceNumber,omitempty"`
	KID             string                     `json:"kid,omitempty"`
	CreditNote      int64                      `json:"creditNote,omitempty"`
	RegisteredAt    time.Time                  `json:"registeredAt"`
	PaidAt          *time.Time                 `json:"paidAt,omitempty"`
	DueDate         *time.Time                 `json:"dueDate,omitempty"`
	Anomalies       []string                   `json:"anomalies"`
}

// Totals sums a report.
type Totals struct {
	Rows     int   `json:"rows"`
	Due      int64 `json:"due"`
	Paid     int64 `json:"paid"`
	Refunded int64 `json:"refunded"`
	// Outstanding is what is due on live registrations and not yet paid.
	Outstanding int64 `json:"outstanding"`
	Anomalies   int   `json:"anomalies"`
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
	for _, e := range evs {
		deadline[e.Slug] = e.RefundDeadline
		if e.CancelledAt != nil {
			deadline[e.Slug] = *e.CancelledAt // everything was to be refunded
		}
	}
	now := s.clock()
	rep := &Report{Event: q.Event, From: q.From, To: q.To, Rows: []ReportRow{}, Orphans: []Orphan{}}
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
		live := reg.Status.WithSeat()
		kept := p.PaidAmount - p.RefundedAmount
		// A cancellation after the refund deadline keeps what was paid or
		// invoiced: still due. Money kept on a registration that never had
		// its seat, or was cancelled in time, is to be returned.
		standing := reg.Status == registration.Cancelled && reg.CancelledAt != nil &&
			!reg.CancelledAt.Before(deadline[reg.Event]) && (p.PaidAt == nil || p.PaidAt.Before(*reg.CancelledAt)) && p.Due()
		if live || standing {
			row.AmountDue = p.Amount
		}
		refunding := p.Status == registration.PaymentRefundDue || p.Status == registration.PaymentRefunding
		if !live && !standing && kept > 0 && !refunding {
			row.Anomalies = append(row.Anomalies, AnomalyPaidButCancelled)
		}
		if live && p.RefundedAmount > 0 {
			row.Anomalies = append(row.Anomalies, AnomalyRefundedButLive)
		}
		if (live || standing) && p.PaidAmount > 0 && p.PaidAmount != p.Amount {
			row.Anomalies = append(row.Anomalies, AnomalyAmountMismatch)
		}
		if inv, ok := invoices[p.InvoiceNumber]; ok && p.InvoiceNumber != 0 {
			due := inv.DueDate
			row.DueDate = &due
			if (live || standing) && (inv.Status == InvoiceOpen || inv.Status == InvoicePartiallyPaid) && now.After(inv.DueDate.Add(24*time.Hour)) {
				row.Anomalies = append(row.Anomalies, AnomalyOverdueInvoice)
			}
			if inv.Status == InvoiceCredited && inv.PaidAmount > 0 {
				row.Anomalies = append(row.Anomalies, AnomalyPaidAfterCredit)
			}
		}
		rep.Totals.Rows++
		rep.Totals.Due += row.AmountDue
		rep.Totals.Paid += row.AmountPaid
		rep.Totals.Refunded += row.AmountRefunded
		if (live || standing) && row.AmountDue > kept {
			rep.Totals.Outstanding += row.AmountDue - kept
		}
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
		rep.Totals.Anomalies++
	}
	return rep, nil
}

// ReportColumns are the CSV and XLSX columns, in order.
var ReportColumns = []string{"registration", "event", "name", "organisation", "status", "method", "payment_status",
	"amount_due", "amount_paid", "amount_refunded", "currency", "stripe_session", "stripe_payment_intent", "stripe_refund",
	"invoice_number", "kid", "credit_note", "registered_at", "paid_at", "due_date", "anomalies"}

// TotalsRecord is the totals as a last CSV or XLSX row.
func (t Totals) Record() []string {
	rec := make([]string, len(ReportColumns))
	rec[0], rec[7], rec[8], rec[9] = "TOTAL", Kroner(t.Due), Kroner(t.Paid), Kroner(t.Refunded)
	return rec
}

// Record is a row as strings for CSV and XLSX; amounts in kroner with two
// decimals.
func (r ReportRow) Record() []string {
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	num := func(n int64) string {
		if n == 0 {
			return ""
		}
		return itoa(n)
	}
	anomalies := ""
	for i, a := range r.Anomalies {
		if i > 0 {
			anomalies += " "
		}
		anomalies += a
	}
	reg := r.RegisteredAt
	return []string{r.Registration, r.Event, r.Name, r.Organisation, string(r.Status), r.Method, string(r.PaymentStatus),
		Kroner(r.AmountDue), Kroner(r.AmountPaid), Kroner(r.AmountRefunded), r.Currency, r.SessionID, r.PaymentIntentID, r.RefundID,
		num(r.InvoiceNumber), r.KID, num(r.CreditNote), ts(&reg), ts(r.PaidAt), ts(r.DueDate), anomalies}
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
