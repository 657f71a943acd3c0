// Package app puts pamelding together. New is the one wiring of the object
// graph (the server, every command and the tests build it the same way),
// and the package holds the use cases that span domains: cancelling a
// registration with its money settled, erasure, an organiser changing or
// cancelling an event, and the privacy contact acting on a request. A
// handler decodes, calls one of these (or one domain service), and
// encodes.
package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/metrics"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
	"github.com/pamelding/pamelding/webhooks"
)

// Config is what the services are built with.
type Config struct {
	Registration registration.Config
	Payments     payments.Config
	// AdminToken, when set, is accepted as an admin bearer token.
	AdminToken string
	// PublicURL is where links in mail point.
	PublicURL string
	// Sender delivers mail; nil keeps it waiting in the outbox.
	Sender registration.Sender
	// JobInterval is how often the sweeping jobs run.
	JobInterval time.Duration
	// Webhooks are the outgoing webhooks' development settings.
	Webhooks webhooks.Options
	// AllowLoopbackWebhooks turns both of them on (tests: receivers on
	// 127.0.0.1 over plain HTTP).
	AllowLoopbackWebhooks bool
	// Version names this build in metrics.
	Version string
	// PartnerObjectionWindow is how long participants told of a partner
	// added after they signed up may object before the partner gets
	// their name (default 14 days).
	PartnerObjectionWindow time.Duration
}

// App is every service of pamelding, wired.
type App struct {
	Log   *slog.Logger
	Store *mongodb.Store
	// KeyStore holds the registrations' data keys, apart from the data.
	KeyStore *mongodb.Store
	Keys     *privacy.Keyring
	Metrics  *metrics.Metrics

	Events *events.Service
	Staff  *staff.Service

	// Domain is what the registration parts share; Registrations, its
	// store, is the one owner of registration documents, and the parts
	// below act through it.
	Domain        *registration.Domain
	Registrations *registration.Store
	Signups       *registration.Signups
	Rights        *registration.Rights
	Requests      *registration.Requests
	Lists         *registration.Lists
	CheckIns      *registration.CheckIns
	Retention     *registration.Retention
	Mailer        *registration.Mailer

	Invoices *payments.Invoices
	Payments *payments.Service
	Webhooks *webhooks.Service

	// Runner runs the background jobs (RunJobs), each on one instance at
	// a time; it keeps real time whatever the services' clock.
	Runner *mongodb.Jobs

	cfg Config
	now func() time.Time
}

// Now is the services' time (tests move it).
func (a *App) Now() time.Time { return a.now() }

// New builds the object graph on an open data store and key store. now
// is the clock every service reads (tests move it).
func New(store, keyStore *mongodb.Store, keys *privacy.Keyring, log *slog.Logger, now func() time.Time, cfg Config) *App {
	if cfg.JobInterval == 0 {
		cfg.JobInterval = time.Minute
	}
	a := &App{Log: log, Store: store, KeyStore: keyStore, Keys: keys, cfg: cfg, now: now}
	a.Events = events.NewService(store, now)
	// A seller outside the VAT register may not charge VAT: an event's
	// rate is refused rather than dropped on its invoices.
	a.Events.NoVAT = cfg.Payments.Seller.OrgNumber != "" && !cfg.Payments.Seller.VATRegistered
	a.Staff = staff.NewService(store, a.Events, cfg.AdminToken, now)

	d := registration.NewDomain(store, keyStore, a.Events, keys, log, now)
	a.Domain, a.Registrations = d, d.Store
	a.Invoices = payments.NewInvoices(store, a.Events, d.Store, log, now, cfg.Payments)
	// Interfaces hold nil only when nothing is configured: a nil pointer
	// in an interface would not be.
	var checkout registration.Checkout
	if c := payments.NewCheckout(cfg.Payments, now); c != nil {
		checkout = c
	}
	var invoicer registration.Invoicer
	if a.Invoices.Enabled() {
		invoicer = a.Invoices
	}
	a.Signups = registration.NewSignups(d, cfg.Registration, checkout, invoicer)
	a.Rights = registration.NewRights(d, a.Signups)
	a.Requests = registration.NewRequests(d, cfg.Sender)
	a.Lists = registration.NewLists(d, cfg.PartnerObjectionWindow)
	a.CheckIns = registration.NewCheckIns(d)
	a.Retention = registration.NewRetention(d)
	a.Mailer = registration.NewMailer(d, cfg.Sender, cfg.PublicURL)
	if a.Invoices.Enabled() {
		a.Mailer.Documents = a.Invoices
	}
	a.Payments = payments.NewService(store, a.Events, d.Store, a.Signups, a.Invoices, log, now, cfg.Payments)
	if cfg.AllowLoopbackWebhooks {
		cfg.Webhooks = webhooks.Options{AllowHTTP: true, AllowPrivate: true}
	}
	a.Webhooks = webhooks.NewService(store, d.Store, keys, log, now, cfg.Webhooks)
	a.Runner = store.NewJobs(log, time.Now)
	a.Metrics = metrics.New(cfg.Version, a.seatsLeft, a.Runner.Status)
	a.Runner.OnRun = a.Metrics.JobRun
	return a
}

// Close closes the stores.
func (a *App) Close(ctx context.Context) error {
	return errors.Join(a.KeyStore.Close(ctx), a.Store.Close(ctx))
}

// CardPayments says whether Stripe is configured.
func (a *App) CardPayments() bool { return a.cfg.Payments.StripeKey != "" }

func (a *App) seatsLeft(ctx context.Context) (map[string]int, error) {
	evs, err := a.Events.List(ctx)
	left := map[string]int{}
	for _, e := range evs {
		left[e.Slug] = e.SeatsLeft
	}
	return left, err
}
