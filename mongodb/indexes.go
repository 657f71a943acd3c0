package mongodb

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Collection names, one place for all of them.
const (
	Events        = "events"
	Tokens        = "tokens"
	Registrations = "registrations"
	Leases        = "leases"
	Invoices      = "invoices"
	Counters      = "counters"
	StripeEvents  = "stripe_events"
	BankEntries   = "bank_entries"
	// Payouts are Stripe's payouts to the seller's bank, each with the
	// balance transactions it paid out (ids and amounts, no person).
	Payouts = "payouts"
	// Disclosures log every partner export; DisclosureChunks list the
	// registrations each one disclosed, 5,000 to a document.
	Disclosures      = "disclosures"
	DisclosureChunks = "disclosure_chunks"
	PrivacyRequests  = "privacy_requests"
	PurgeReceipts    = "purge_receipts"
	// HookEndpoints are organisers' webhook receivers; HookDeliveries the
	// delivery log (no bodies).
	HookEndpoints  = "hook_endpoints"
	HookDeliveries = "hook_deliveries"
	// WebState holds the pages' CSRF tokens and sessions, keyed by hash.
	WebState = "web_state"
	// Seats is a scratch collection used by the lock test and the load
	// command; no domain code writes it.
	Seats = "seats"
	// Promises are what participants were told at sign-up, each stored
	// once, never changed.
	Promises = "promises"
	// RetentionChanges record every deletion date an event change brought
	// forward.
	RetentionChanges = "retention_changes"
	// DataKeys, in the key store, holds each registration's data keys
	// (wrapped by the master key), apart from the data they open.
	DataKeys = "data_keys"
	// Codes are events' discount codes and guest quotas, keyed by event
	// and code.
	Codes = "codes"
	// Orders are orders of several participants by one buyer.
	Orders = "orders"
	// StaffAccounts are the back office's staff, who sign in by e-mail
	// link.
	StaffAccounts = "staff_accounts"
)

// Index is one index the service relies on.
type Index struct {
	Collection string
	Name       string
	Keys       bson.D
	Unique     bool
	// Why says which rule the index enforces or which query it serves.
	Why string
}

// Indexes is every index pamelding creates at start-up. A unique index here
// is a domain rule: the store refuses the second document, so the rule holds
// without a read before the write.
var Indexes = []Index{
	{Events, "slug_unique", bson.D{{Key: "slug", Value: 1}}, true, "an event's slug is its public address"},
	{Events, "starts_at", bson.D{{Key: "startsAt", Value: 1}}, false, "event lists in date order"},
	{Tokens, "role", bson.D{{Key: "role", Value: 1}}, false, "token listings by role"},
	{StaffAccounts, "email_unique", bson.D{{Key: "email", Value: 1}}, true, "one account per address: the address is what signs in"},
	{StaffAccounts, "link", bson.D{{Key: "linkHash", Value: 1}}, false, "a sign-in link finds its account"},
	{Registrations, "one_per_person", bson.D{{Key: "event", Value: 1}, {Key: "activeKey", Value: 1}}, true,
		"one registration per submission: activeKey is the hash of a sign-up's Idempotency-Key (or the form's one-time field), else the id; a retry finds the first. (The name is from when it held one registration per address: an address may now hold several, so that no answer tells whether it is registered.)"},
	{Registrations, "email_key", bson.D{{Key: "emailKey", Value: 1}}, false, "a person's registrations across events, for privacy requests"},
	{Registrations, "event_status", bson.D{{Key: "event", Value: 1}, {Key: "status", Value: 1}, {Key: "createdAt", Value: 1}}, false, "organiser lists, the waiting list in order, seat counts"},
	{Registrations, "outbox_due", bson.D{{Key: "outboxNextAt", Value: 1}}, false, "the mail worker finds registrations with mail due"},
	{Invoices, "one_per_registration", bson.D{{Key: "registration", Value: 1}, {Key: "kind", Value: 1}, {Key: "credits", Value: 1}}, true,
		"invoices exactly once: one invoice per registration, one credit note per invoice it credits"},
	{Invoices, "event", bson.D{{Key: "event", Value: 1}}, false, "reconciliation by event"},
	{BankEntries, "matched", bson.D{{Key: "matched", Value: 1}}, false, "unmatched bank entries for finance"},
	{Disclosures, "event", bson.D{{Key: "event", Value: 1}, {Key: "at", Value: 1}}, false, "an event's disclosure log"},
	{DisclosureChunks, "registrations", bson.D{{Key: "registrations", Value: 1}}, false, "the disclosures of one registration, for its access report"},
	{PrivacyRequests, "open", bson.D{{Key: "closedAt", Value: 1}, {Key: "deadline", Value: 1}}, false, "open requests by deadline"},
	{HookDeliveries, "due", bson.D{{Key: "nextAt", Value: 1}}, false, "the delivery worker finds what is due"},
	{HookDeliveries, "endpoint", bson.D{{Key: "endpoint", Value: 1}}, false, "an endpoint's delivery log"},
	{Registrations, "hooks_due", bson.D{{Key: "hooksAt", Value: 1}}, false, "the dispatcher finds registrations with hook events waiting"},
	{Codes, "event", bson.D{{Key: "event", Value: 1}}, false, "an event's codes"},
	{Orders, "submission", bson.D{{Key: "event", Value: 1}, {Key: "submission", Value: 1}}, true, "one order per submission: a retry with the same Idempotency-Key finds the first"},
	{Orders, "status", bson.D{{Key: "status", Value: 1}, {Key: "openUntil", Value: 1}}, false, "the order sweep finds orders whose request died"},
	{Registrations, "order", bson.D{{Key: "order", Value: 1}}, false, "an order's registrations"},
	{WebState, "expires", bson.D{{Key: "expiresAt", Value: 1}}, false, "expired CSRF tokens and sessions are swept"},
	{Registrations, "offer_expiry", bson.D{{Key: "status", Value: 1}, {Key: "offerExpiresAt", Value: 1}}, false, "the offer job finds offers that ran out"},
}

// ensureIndexes creates the indexes of the table that are missing. It asks
// for the existing ones first: FerretDB v1 fails on createIndexes for an
// index that already exists.
func (s *Store) ensureIndexes(ctx context.Context) error {
	existing := map[string]map[string]bool{}
	table := Indexes
	if s.keys {
		table = nil // the key store is read by _id only
	}
	for _, ix := range table {
		names, ok := existing[ix.Collection]
		if !ok {
			var err error
			if names, err = s.indexNames(ctx, ix.Collection); err != nil {
				return err
			}
			existing[ix.Collection] = names
		}
		if names[ix.Name] {
			continue
		}
		o := options.Index().SetName(ix.Name)
		if ix.Unique {
			o.SetUnique(true)
		}
		err := func() error {
			defer s.Collection(ix.Collection).write()() // index builds are writes too
			_, err := s.db.Collection(ix.Collection).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.Keys, Options: o})
			return err
		}()
		if err != nil {
			return fmt.Errorf("create index %s.%s: %w", ix.Collection, ix.Name, mapErr(err))
		}
	}
	return nil
}

func (s *Store) indexNames(ctx context.Context, coll string) (map[string]bool, error) {
	cur, err := s.db.Collection(coll).Indexes().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list indexes of %s: %w", coll, mapErr(err))
	}
	var specs []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &specs); err != nil {
		return nil, fmt.Errorf("list indexes of %s: %w", coll, mapErr(err))
	}
	names := map[string]bool{}
	for _, sp := range specs {
		names[sp.Name] = true
	}
	return names, nil
}
