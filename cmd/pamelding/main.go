// Command pamelding is the event-registration service.
//
//	pamelding [serve]            run the HTTP service (the default)
//	pamelding token create ...   create a staff token and print it once
//	pamelding config             print the effective configuration, secrets masked
//	pamelding loadtest ...       a rush of sign-ups at the real HTTP server
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mail"
	"github.com/pamelding/pamelding/metrics"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
	"github.com/pamelding/pamelding/web"
	"github.com/pamelding/pamelding/webhooks"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pamelding:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  pamelding [serve]                 run the service
  pamelding token create --role ROLE --name NAME [--event SLUG]... [--partner ID]
                                    create a staff token and print it once
  pamelding config                  print the configuration, secrets masked
  pamelding loadtest [-seats N] [-clients M] [-url URL]
                                    a rush of sign-ups at the real HTTP server
`

// run is the whole program; ctx ends it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 1 {
		cmd = args[1]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stderr)
	case "token":
		return tokenCmd(ctx, args[2:], getenv, stdout, stderr)
	case "retention":
		return retentionCmd(ctx, args[2:], getenv, stdout, stderr)
	case "loadtest":
		return loadtestCmd(ctx, args[2:], getenv, stdout, stderr)
	case "config":
		printConfig(stdout, getenv)
		_, err := loadConfig(getenv)
		return err
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

type app struct {
	log           *slog.Logger
	store         *mongodb.Store
	events        *events.Service
	staff         *staff.Service
	registrations *registration.Service
	payments      *payments.Service
	webhooks      *webhooks.Service
}

// open reads the configuration and opens the store and the services.
func open(ctx context.Context, getenv func(string) string, stderr io.Writer, attach bool) (*app, config, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return nil, cfg, fmt.Errorf("configuration: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	store, err := mongodb.Open(ctx, mongodb.Options{
		URI: cfg.MongoURI, DataDir: cfg.DataDir, Database: cfg.Database, Logger: log, Attach: attach,
	})
	if err != nil {
		return nil, cfg, err
	}
	keys, err := keyring(cfg, log)
	if err != nil {
		_ = store.Close(ctx)
		return nil, cfg, err
	}
	now := time.Now
	ev := events.NewService(store, now)
	regs := registration.NewService(store, ev, keys, log, now, registration.Config{
		DigitalConsentAge: cfg.DigitalConsentAge, OfferTTL: cfg.OfferTTL,
	})
	pay := payments.NewService(store, ev, regs, log, now, payments.Config{
		StripeKey: cfg.StripeKey, StripeAPIBase: cfg.StripeAPIBase, WebhookSecret: cfg.StripeWebhook,
		Hold: cfg.PaymentHold, PublicURL: cfg.PublicURL, Seller: cfg.Seller, InvoiceDueDays: cfg.InvoiceDueDays,
	})
	return &app{
		log: log, store: store, events: ev,
		staff:         staff.NewService(store, ev, cfg.AdminToken, now),
		registrations: regs, payments: pay,
		webhooks: webhooks.NewService(store, keys, log, now),
	}, cfg, nil
}

// keyring is the master key of PAMELDING_ENCRYPTION_KEY, or in embedded
// mode the key file in the data directory (created on first start).
func keyring(cfg config, log *slog.Logger) (*privacy.Keyring, error) {
	key := cfg.EncryptionKey
	if key == nil {
		path := filepath.Join(cfg.DataDir, "encryption.key")
		var created bool
		var err error
		key, created, err = privacy.LoadOrCreateKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("encryption key: %w", err)
		}
		if created {
			log.Warn("PAMELDING_ENCRYPTION_KEY is not set: created a key file in the data directory; back it up, health data cannot be read without it", "file", path)
		}
	}
	return privacy.NewKeyring(key)
}

func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	a, cfg, err := open(ctx, getenv, stderr, false)
	if err != nil {
		return err
	}
	defer a.store.Close(context.WithoutCancel(ctx))

	if a.store.Embedded() {
		// Only this process writes the embedded store, and it serves
		// nothing yet: the one moment a seat count can be recounted.
		if err := a.registrations.ReconcileSeats(ctx); err != nil {
			return fmt.Errorf("reconcile seats: %w", err)
		}
	}
	var sender registration.Sender
	if cfg.SMTPURL != "" {
		s, err := mail.Parse(cfg.SMTPURL, cfg.SMTPFrom)
		if err != nil {
			return fmt.Errorf("SMTP_URL: %w", err)
		}
		sender = s
	}
	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var jobs sync.WaitGroup
	runner := a.store.NewJobs(a.log, time.Now)
	m := metrics.New(func(ctx context.Context) (map[string]int, error) {
		evs, err := a.events.List(ctx)
		left := map[string]int{}
		for _, e := range evs {
			left[e.Slug] = e.SeatsLeft
		}
		return left, err
	})
	runner.OnRun = m.JobRun
	mailer := a.registrations.NewMailer(sender, cfg.PublicURL)
	jobs.Go(func() { mailer.Run(jobsCtx, runner, cfg.JobInterval) })
	jobs.Go(func() {
		runner.Loop(jobsCtx, "offers", cfg.JobInterval, func(ctx context.Context) error {
			_, err := a.registrations.ExpireOffers(ctx)
			return err
		})
	})
	jobs.Go(func() {
		runner.Loop(jobsCtx, "payment-holds", cfg.JobInterval, func(ctx context.Context) error {
			_, err := a.payments.ReleaseHolds(ctx)
			return err
		})
	})
	jobs.Go(func() {
		runner.Loop(jobsCtx, "invoices", cfg.JobInterval, func(ctx context.Context) error {
			_, err := a.payments.IssuePending(ctx)
			return err
		})
	})
	jobs.Go(func() {
		runner.Loop(jobsCtx, "retention", time.Hour, func(ctx context.Context) error {
			rec, err := a.registrations.RunRetention(ctx, false)
			if err != nil {
				return err
			}
			for _, v := range rec.Values {
				m.Purged.WithLabelValues(v.Rule).Add(float64(v.Count))
			}
			m.Purged.WithLabelValues("registration").Add(float64(rec.RegistrationsDeleted))
			docs, err := a.payments.PurgeInvoices(ctx, false)
			if rec.RegistrationsDeleted > 0 || len(rec.Values) > 0 || docs > 0 {
				a.log.InfoContext(ctx, "retention run", "receipt", rec.ID, "registrationsDeleted", rec.RegistrationsDeleted, "rules", len(rec.Values), "bookkeepingDocumentsDeleted", docs)
			}
			return err
		})
	})
	jobs.Go(func() { a.webhooks.Run(jobsCtx, runner, cfg.JobInterval) })
	defer func() { stopJobs(); jobs.Wait() }()

	srv := web.New(web.Deps{Metrics: m, Limits: cfg.Limits, Webhooks: a.webhooks, Log: a.log, Store: a.store, Events: a.events, Staff: a.staff, Registrations: a.registrations, Payments: a.payments,
		StateCollection: a.store.Collection(mongodb.WebState),
		Config:          web.Config{PublicURL: cfg.PublicURL, DigitalConsentAge: cfg.DigitalConsentAge, CardPayments: cfg.StripeKey != ""}})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	store := "mongodb"
	if a.store.Embedded() {
		store = "embedded"
	}
	a.log.Info("listening", "addr", ln.Addr().String(), "store", store, "publicUrl", cfg.PublicURL)

	errc := make(chan error, 1)
	go func() { errc <- srv.Listener(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	if err := srv.ShutdownWithTimeout(15 * time.Second); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
