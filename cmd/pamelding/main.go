// Command pamelding is the event-registration service.
//
//	pamelding [serve]            run the HTTP service (the default)
//	pamelding token create ...   create a staff token and print it once
//	pamelding config             print the effective configuration, secrets masked
//	pamelding retention run      apply every retention rule now
//	pamelding loadtest ...       a rush of sign-ups at the real HTTP server
//	pamelding version            print the version
//
// `pamelding help [command]` and --help (-h) on any command print help.
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
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/mail"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pamelding:", err)
		os.Exit(1)
	}
}

// version is set at build time (-ldflags "-X main.version=v1.2.3"); left
// empty, it is read from the module and VCS information Go records.
var version = ""

// Version names this build.
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		v = rev[:min(12, len(rev))]
		if dirty {
			v += "-dirty"
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v
}

// run is the whole program; ctx ends it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Whatever the program creates (the store's files, the master key) is
	// readable by its user alone.
	syscall.Umask(0o077)
	root := commands(getenv, stdout, stderr)
	root.SetArgs(args[1:])
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

// commands is the command tree. Help goes to standard output and exits 0;
// errors are returned (main prints them), without the usage text.
func commands(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	serveRun := func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), getenv, stderr) }
	root := &cobra.Command{
		Use:   "pamelding",
		Short: "Event registration whose privacy promises hold by construction",
		Long: `pamelding is an event-registration service for conferences, courses and races.
Run without a command it serves (see "pamelding serve --help"); its
configuration comes from the environment (see "pamelding config").`,
		Args:          cobra.NoArgs,
		RunE:          serveRun,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version(),
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetVersionTemplate("pamelding {{.Version}}\n")

	root.AddCommand(&cobra.Command{
		Use:   "serve",
		Short: "Run the service (the default); SIGINT or SIGTERM shut it down gracefully",
		Long: `Run the HTTP service and its background jobs. With MONGODB_URI unset it
starts the embedded store in PAMELDING_DATA_DIR; a second serve on the same
data directory is refused. SIGINT or SIGTERM drain requests, stop the jobs
and give their leases up, so another instance takes them at once.`,
		Args: cobra.NoArgs,
		RunE: serveRun,
	})
	root.AddCommand(&cobra.Command{
		Use:   "config",
		Short: "Print the configuration from the environment, secrets masked",
		Long: `Print every environment variable pamelding reads, with its effective value
(secrets masked) and what it means; exit 1 if any value is invalid.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			printConfig(stdout, getenv)
			_, err := loadConfig(getenv)
			return err
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run:   func(*cobra.Command, []string) { fmt.Fprintln(stdout, "pamelding", Version()) },
	})
	root.AddCommand(tokenCommand(getenv, stdout, stderr), staffCommand(getenv, stdout), retentionCommand(getenv, stdout), loadtestCommand(getenv, stdout, stderr))
	return root
}

// open reads the configuration, opens the store and builds the services
// (app.New, the one wiring). attach, in embedded mode, connects to the
// socket of a server already running on the data directory.
func open(ctx context.Context, getenv func(string) string, stderr io.Writer, attach bool) (*app.App, config, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return nil, cfg, fmt.Errorf("configuration: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	var sender registration.Sender
	if cfg.SMTPURL != "" {
		s, err := mail.Parse(cfg.SMTPURL, cfg.SMTPFrom)
		if err != nil {
			return nil, cfg, fmt.Errorf("SMTP_URL: %w", err)
		}
		sender = s
	}
	keys, err := keyring(cfg, log)
	if err != nil {
		return nil, cfg, err
	}
	store, err := mongodb.Open(ctx, mongodb.Options{
		URI: cfg.MongoURI, DataDir: cfg.DataDir, Database: cfg.Database, Logger: log, Attach: attach,
	})
	if err != nil {
		return nil, cfg, err
	}
	keyStore, err := mongodb.Open(ctx, mongodb.Options{
		URI: cfg.KeyStoreURI, DataDir: cfg.KeyStoreDir, Database: cfg.Database + "_keys", Logger: log, Attach: attach, Keys: true,
	})
	if err != nil {
		_ = store.Close(ctx)
		return nil, cfg, fmt.Errorf("key store: %w", err)
	}
	return app.New(store, keyStore, keys, log, time.Now, appConfig(cfg, sender)), cfg, nil
}

// appConfig is what the services are built with, from the environment's
// configuration.
func appConfig(cfg config, sender registration.Sender) app.Config {
	return app.Config{
		Registration: registration.Config{DigitalConsentAge: cfg.DigitalConsentAge, OfferTTL: cfg.OfferTTL, GuardianHold: cfg.GuardianHold},
		Payments: payments.Config{
			StripeKey: cfg.StripeKey, StripeAPIBase: cfg.StripeAPIBase, WebhookSecret: cfg.StripeWebhook,
			Hold: cfg.PaymentHold, PublicURL: cfg.PublicURL, Seller: cfg.Seller, InvoiceDueDays: cfg.InvoiceDueDays,
			ReminderAfterDays: cfg.ReminderAfterDays, ReminderDays: cfg.ReminderDays, ReminderFee: cfg.ReminderFee,
		},
		AdminToken: cfg.AdminToken, PublicURL: cfg.PublicURL, Sender: sender,
		JobInterval: cfg.JobInterval, Version: Version(), PartnerObjectionWindow: cfg.PartnerObjectionWindow,
		Webhooks: cfg.Webhooks,
	}
}

// keyring is the master key of PAMELDING_ENCRYPTION_KEY, or in embedded
// mode of the key file, outside the data directory (created on first
// start; a key file an older version kept inside the data directory is
// moved out).
func keyring(cfg config, log *slog.Logger) (*privacy.Keyring, error) {
	key := cfg.EncryptionKey
	if key == nil {
		legacy := filepath.Join(cfg.DataDir, "encryption.key")
		if _, err := os.Stat(cfg.KeyFile); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(legacy); err == nil {
				if err := os.Rename(legacy, cfg.KeyFile); err != nil {
					return nil, fmt.Errorf("move the master key out of the data directory: %w", err)
				}
				log.Warn("moved the master key out of the data directory: a copy of the data directory alone no longer opens anything", "file", cfg.KeyFile)
			}
		}
		var created bool
		var err error
		key, created, err = privacy.LoadOrCreateKeyFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		if created {
			log.Warn("PAMELDING_ENCRYPTION_KEY is not set: created a master key file; back it up apart from the data, nothing personal can be read without it", "file", cfg.KeyFile)
		}
	}
	return privacy.NewKeyring(key)
}

func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	a, cfg, err := open(ctx, getenv, stderr, false)
	if err != nil {
		return err
	}
	defer a.Close(context.WithoutCancel(ctx))

	if n, err := a.Domain.MigrateLegacy(ctx); err != nil {
		return fmt.Errorf("migrate registrations to sealed values: %w", err)
	} else if n > 0 {
		a.Log.Info("registrations migrated: every value sealed under a key of its own", "count", n)
	}
	if a.Store.Embedded() {
		// Only this process writes the embedded store, and it serves
		// nothing yet: seat counts are repaired at once, not after the
		// recount job's grace.
		if _, err := a.Signups.RecountSeats(ctx, true); err != nil {
			return fmt.Errorf("recount seats: %w", err)
		}
	}
	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		a.RunJobs(jobsCtx, web.StateJob(a, cfg.JobInterval))
	}()
	defer func() { stopJobs(); <-jobsDone }()

	srv := web.New(web.Deps{App: a, Limits: cfg.Limits,
		Config: web.Config{PublicURL: cfg.PublicURL, DigitalConsentAge: cfg.DigitalConsentAge, CardPayments: a.CardPayments(), Processors: processors(&cfg), MetricsToken: cfg.MetricsToken}})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	store := "mongodb"
	if a.Store.Embedded() {
		store = "embedded"
	}
	a.Log.Info("listening", "addr", ln.Addr().String(), "store", store, "publicUrl", cfg.PublicURL, "version", Version())

	errc := make(chan error, 2)
	go func() { errc <- srv.Listener(ln) }()
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("listen for metrics: %w", err)
		}
		msrv := web.MetricsApp(a.Metrics)
		defer msrv.ShutdownWithTimeout(5 * time.Second) //nolint:errcheck // closing on the way out
		a.Log.Info("metrics listening", "addr", mln.Addr().String())
		go func() {
			if err := msrv.Listener(mln); err != nil && !errors.Is(err, net.ErrClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.Log.Info("shutting down")
	if err := srv.ShutdownWithTimeout(15 * time.Second); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// processors are the data processors the record of processing names: the
// mail relay only where mail is sent.
func processors(cfg *config) []privacy.Processor {
	var out []privacy.Processor
	for _, p := range cfg.Processors {
		if p.Role == "mail" && cfg.SMTPURL == "" {
			continue
		}
		out = append(out, p)
	}
	return out
}
