package payments

import (
	"github.com/pamelding/pamelding/mongodb"
)

// store holds the collections of payments. Registrations' payment state
// lives in the registration documents and is moved on there by
// conditional updates that only go forward.
type store struct {
	invoices     *mongodb.Collection
	counters     *mongodb.Collection
	stripeEvents *mongodb.Collection
	bankEntries  *mongodb.Collection
	payouts      *mongodb.Collection
}

func newStore(db *mongodb.Store) store {
	return store{
		invoices:     db.Collection(mongodb.Invoices),
		counters:     db.Collection(mongodb.Counters),
		stripeEvents: db.Collection(mongodb.StripeEvents),
		bankEntries:  db.Collection(mongodb.BankEntries),
		payouts:      db.Collection(mongodb.Payouts),
	}
}
