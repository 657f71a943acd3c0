package payments

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Payout is a Stripe payout to the seller's bank, reconciled against the
// balance transactions it paid out: the card payments and refunds it
// cleared, and what Stripe kept as fees. It holds ids and amounts only,
// no person.
type Payout struct {
	ID     string `bson:"_id" json:"id"`
	Status string `bson:"status" json:"status"`
	// ArrivalDate is when the bank was to have the money (an Oslo
	// calendar date); the journal books the payout on it.
	ArrivalDate time.Time `bson:"arrivalDate" json:"arrivalDate"`
	Amount      int64     `bson:"amount" json:"amount"`
	Currency    string    `bson:"currency" json:"currency"`
	// Cleared is what the payout took off Stripe's clearing account:
	// the card payments less refunds (and any other movement) it paid
	// out, gross. Fees is what Stripe kept of them. Amount = Cleared −
	// Fees when Stripe's list is whole: Difference says by how much it
	// is not (0 when it is).
	Cleared    int64 `bson:"cleared" json:"cleared"`
	Fees       int64 `bson:"fees" json:"fees"`
	Difference int64 `bson:"difference" json:"difference"`
	// Transactions are the balance transactions it paid out; Unmatched
	// counts those that are not a payment or refund recorded here with
	// the same amount.
	Transactions []PayoutTransaction `bson:"transactions" json:"transactions"`
	Unmatched    int                 `bson:"unmatched" json:"unmatched"`
	// Reconciled: Stripe had listed its transactions (automatic
	// payouts are listed once Stripe's reconciliation completed).
	Reconciled bool      `bson:"reconciled" json:"reconciled"`
	RecordedAt time.Time `bson:"recordedAt" json:"recordedAt"`
}

// PayoutTransaction is one balance transaction a payout paid out.
type PayoutTransaction struct {
	ID     string `bson:"id" json:"id"`
	Type   string `bson:"type" json:"type"`
	Source string `bson:"source,omitempty" json:"source,omitempty"`
	// PaymentIntent is a charge's or refund's payment intent, which
	// names the registrations it paid.
	PaymentIntent string   `bson:"paymentIntent,omitempty" json:"paymentIntent,omitempty"`
	Registrations []string `bson:"registrations,omitempty" json:"registrations,omitempty"`
	Amount        int64    `bson:"amount" json:"amount"`
	Fee           int64    `bson:"fee" json:"fee"`
	Net           int64    `bson:"net" json:"net"`
	// Problem says why it is not matched: PayoutNoPayment,
	// PayoutAmountDiffers or PayoutOtherType; empty when it is (a fee
	// transaction is a fee, and matched).
	Problem string `bson:"problem,omitempty" json:"problem,omitempty"`
}

// Why a payout's transaction is not matched.
const (
	// PayoutNoPayment: a charge or refund no registration here was paid
	// or refunded by.
	PayoutNoPayment = "no_payment"
	// PayoutAmountDiffers: a charge of another amount than its
	// registrations were recorded as paying.
	PayoutAmountDiffers = "amount_differs"
	// PayoutOtherType: a movement this service does not make (a
	// dispute, an adjustment, a transfer): booked to Stripe's clearing
	// account for finance to look at.
	PayoutOtherType = "other_type"
)

// Balance transaction types, as Stripe names them.
var (
	chargeTypes = []string{"charge", "payment"}
	refundTypes = []string{"refund", "payment_refund", "payment_failure_refund"}
	// feeTypes are Stripe's own fees charged as transactions of their
	// own (Radar, currency conversion, tax on fees): their amount is a
	// fee.
	feeTypes = []string{"stripe_fee", "stripe_fx_fee", "tax_fee"}
)

// RecordPayout reads a payout and the balance transactions it paid out
// from Stripe, matches each charge and refund to the registrations it
// paid, and stores the result (again, whole, on every call: Stripe's
// payout.* events may come twice or out of order). A payout not yet
// reconciled by Stripe is stored without its transactions and completed
// by its payout.reconciliation_completed event.
func (s *Service) RecordPayout(ctx context.Context, id string) (*Payout, error) {
	po, err := s.stripe.Payouts.Get(id, nil)
	if err != nil {
		return nil, fmt.Errorf("get payout: %w", err)
	}
	out := &Payout{
		ID: po.ID, Status: string(po.Status), Amount: po.Amount, Currency: strings.ToUpper(string(po.Currency)),
		ArrivalDate: osloDate(time.Unix(po.ArrivalDate, 0)), Transactions: []PayoutTransaction{}, RecordedAt: s.clock(),
		Reconciled: po.ReconciliationStatus == stripe.PayoutReconciliationStatusCompleted,
	}
	if out.Reconciled {
		params := &stripe.BalanceTransactionListParams{Payout: stripe.String(po.ID)}
		params.Filters.AddFilter("limit", "", "100")
		it := s.stripe.BalanceTransactions.List(params)
		for it.Next() {
			bt := it.BalanceTransaction()
			if bt.Type == stripe.BalanceTransactionTypePayout {
				continue // the payout itself
			}
			tx := PayoutTransaction{ID: bt.ID, Type: string(bt.Type), Amount: bt.Amount, Fee: bt.Fee, Net: bt.Net}
			if bt.Source != nil {
				tx.Source = bt.Source.ID
			}
			out.Transactions = append(out.Transactions, tx)
		}
		if err := it.Err(); err != nil {
			return nil, fmt.Errorf("list the payout's balance transactions: %w", err)
		}
		if err := s.matchPayout(ctx, out); err != nil {
			return nil, err
		}
	}
	_, err = s.store.payouts.UpdateOne(ctx, bson.M{"_id": out.ID}, bson.M{"$set": out}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return nil, fmt.Errorf("store payout: %w", err)
	}
	return out, nil
}

// matchPayout finds the payment intent behind each charge and refund,
// the registrations it paid, and sums the payout up.
func (s *Service) matchPayout(ctx context.Context, po *Payout) error {
	var pis []string
	for i := range po.Transactions {
		tx := &po.Transactions[i]
		switch {
		case slices.Contains(chargeTypes, tx.Type) && tx.Source != "":
			ch, err := s.stripe.Charges.Get(tx.Source, nil)
			if err != nil {
				return fmt.Errorf("get charge: %w", err)
			}
			if ch.PaymentIntent != nil {
				tx.PaymentIntent = ch.PaymentIntent.ID
			}
		case slices.Contains(refundTypes, tx.Type) && strings.HasPrefix(tx.Source, "re_"):
			re, err := s.stripe.Refunds.Get(tx.Source, nil)
			if err != nil {
				return fmt.Errorf("get refund: %w", err)
			}
			if re.PaymentIntent != nil {
				tx.PaymentIntent = re.PaymentIntent.ID
			}
		}
		if tx.PaymentIntent != "" {
			pis = append(pis, tx.PaymentIntent)
		}
	}
	regs, err := s.regs.PaidByIntents(ctx, pis)
	if err != nil {
		return err
	}
	var net int64
	po.Cleared, po.Fees, po.Unmatched = 0, 0, 0
	for i := range po.Transactions {
		tx := &po.Transactions[i]
		net += tx.Net
		po.Fees += tx.Fee
		if slices.Contains(feeTypes, tx.Type) {
			po.Fees -= tx.Amount // a fee of its own: negative
		} else {
			po.Cleared += tx.Amount
		}
		var paid, refunded int64
		for _, reg := range regs {
			if tx.PaymentIntent != "" && reg.Payment.PaymentIntentID == tx.PaymentIntent {
				tx.Registrations = append(tx.Registrations, reg.ID)
				paid += reg.Payment.PaidAmount
				refunded += reg.Payment.RefundedAmount
			}
		}
		switch {
		case slices.Contains(feeTypes, tx.Type):
		case slices.Contains(chargeTypes, tx.Type) && len(tx.Registrations) == 0,
			slices.Contains(refundTypes, tx.Type) && len(tx.Registrations) == 0:
			tx.Problem = PayoutNoPayment
		case slices.Contains(chargeTypes, tx.Type) && paid != tx.Amount,
			slices.Contains(refundTypes, tx.Type) && refunded < -tx.Amount:
			tx.Problem = PayoutAmountDiffers
		case !slices.Contains(chargeTypes, tx.Type) && !slices.Contains(refundTypes, tx.Type):
			tx.Problem = PayoutOtherType
		}
		if tx.Problem != "" {
			po.Unmatched++
		}
	}
	po.Difference = po.Amount - net
	return nil
}

// PayoutQuery lists payouts arriving from From to To (Oslo calendar
// dates, inclusive).
type PayoutQuery struct {
	From, To time.Time
}

// Payouts lists the payouts recorded, by arrival date.
func (s *Service) Payouts(ctx context.Context, q PayoutQuery) ([]Payout, error) {
	out := []Payout{}
	err := s.store.payouts.All(ctx, bson.M{"arrivalDate": bson.M{"$gte": osloDate(q.From), "$lt": osloDate(q.To).AddDate(0, 0, 1)}}, &out,
		options.Find().SetSort(bson.D{{Key: "arrivalDate", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list payouts: %w", err)
	}
	return out, nil
}
