package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pamelding/pamelding/mail"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/web"
	"github.com/pamelding/pamelding/webhooks"
)

// setting is one environment variable pamelding reads.
type setting struct {
	name   string
	def    string
	secret bool
	help   string
	check  func(string) error
	set    func(*config, string)
}

// config is the service's configuration, read from the environment.
type config struct {
	Addr string
	// MetricsAddr serves /metrics without a token on a second listener;
	// MetricsToken opens /metrics on the public one.
	MetricsAddr  string
	MetricsToken string
	DataDir      string
	MongoURI     string
	Database     string
	AdminToken   string
	PublicURL    string
	LogLevel     slog.Level
	// EncryptionKey is the master key (32 bytes); nil: use KeyFile
	// (embedded mode only).
	EncryptionKey []byte
	// KeyFile holds the master key when EncryptionKey is unset.
	KeyFile string
	// KeyStoreDir (embedded) and KeyStoreURI (MongoDB) say where the data
	// keys are kept.
	KeyStoreDir       string
	KeyStoreURI       string
	SMTPURL           string
	SMTPFrom          string
	DigitalConsentAge int
	OfferTTL          time.Duration
	GuardianHold      time.Duration
	// Processors are the data processors the record of processing names.
	Processors  []privacy.Processor
	JobInterval time.Duration
	// PartnerObjectionWindow: see app.Config.
	PartnerObjectionWindow time.Duration
	StripeKey              string
	StripeAPIBase          string
	StripeWebhook          string
	PaymentHold            time.Duration
	Seller                 payments.Seller
	InvoiceDueDays         int
	ReminderAfterDays      int
	ReminderDays           int
	ReminderFee            int64 // øre
	Limits                 web.Limits
	Webhooks               webhooks.Options
}

// settings declares every variable with its default, in one table. A
// secret may also be read from the file named by NAME_FILE.
var settings = []setting{
	{name: "PAMELDING_ADDR", def: ":8080", help: "address to listen on (host:port)",
		check: checkAddr, set: func(c *config, v string) { c.Addr = v }},
	{name: "PAMELDING_METRICS_ADDR", def: "", help: "a second listener (host:port, e.g. 127.0.0.1:9090) that serves /metrics without a token; bind it where only the scraper reaches",
		check: checkAddr, set: func(c *config, v string) { c.MetricsAddr = v }},
	{name: "PAMELDING_METRICS_TOKEN", def: "", secret: true, help: "bearer token that opens /metrics on the public listener (at least 32 characters); without it /metrics is not served there",
		check: func(v string) error { return boolErr(len(v) >= 32, "want at least 32 characters") }, set: func(c *config, v string) { c.MetricsToken = v }},
	{name: "PAMELDING_DATA_DIR", def: "./data", help: "embedded store's directory (when MONGODB_URI is unset)",
		check: nonEmpty, set: func(c *config, v string) { c.DataDir = v }},
	{name: "MONGODB_URI", def: "", secret: true, help: "MongoDB to use; unset runs the embedded store",
		check: checkMongoURI, set: func(c *config, v string) { c.MongoURI = v }},
	{name: "MONGODB_DATABASE", def: "pamelding", help: "database name",
		check: checkDatabase, set: func(c *config, v string) { c.Database = v }},
	{name: "PAMELDING_ADMIN_TOKEN", def: "", secret: true, help: "accepted as an admin bearer token (at least 32 characters)",
		check: checkAdminToken, set: func(c *config, v string) { c.AdminToken = v }},
	{name: "PAMELDING_PUBLIC_URL", def: "http://localhost:8080", help: "the service's public base URL, for links in e-mails and payment redirects",
		check: checkPublicURL, set: func(c *config, v string) { c.PublicURL = strings.TrimRight(v, "/") }},
	{name: "PAMELDING_KEYSTORE_DIR", def: "", help: "the embedded key store's directory, apart from the data (default: DATA_DIR with -keys appended)",
		set: func(c *config, v string) { c.KeyStoreDir = v }},
	{name: "PAMELDING_KEYSTORE_URI", def: "", secret: true, help: "MongoDB holding the data keys (default: MONGODB_URI), in database MONGODB_DATABASE_keys",
		check: checkMongoURI, set: func(c *config, v string) { c.KeyStoreURI = v }},
	{name: "PAMELDING_KEY_FILE", def: "", help: "file of the master key when PAMELDING_ENCRYPTION_KEY is unset (embedded store only; default: pamelding.key beside DATA_DIR, never inside it); created 0600 if missing",
		set: func(c *config, v string) { c.KeyFile = v }},
	{name: "PAMELDING_ENCRYPTION_KEY", def: "", secret: true, help: "master key wrapping every data key: base64 of 32 random bytes (openssl rand -base64 32); required with MONGODB_URI, else read from PAMELDING_KEY_FILE",
		check: func(v string) error { _, err := privacy.ParseMasterKey(v); return err },
		set:   func(c *config, v string) { c.EncryptionKey, _ = privacy.ParseMasterKey(v) }},
	{name: "SMTP_URL", def: "", secret: true, help: "smtp://user:pass@host:587 (STARTTLS) or smtps://...; unset: mail waits in the outbox",
		check: func(v string) error { _, err := mail.Parse(v, "check@example.org"); return err },
		set:   func(c *config, v string) { c.SMTPURL = v }},
	{name: "SMTP_FROM", def: "", help: "From address of mail, e.g. Janteloppet <pamelding@example.no>",
		check: checkAddress, set: func(c *config, v string) { c.SMTPFrom = v }},
	{name: "PAMELDING_DIGITAL_CONSENT_AGE", def: "13", help: "age below which a child's consents need a guardian (GDPR art. 8; Norway 13)",
		check: intBetween(13, 16), set: func(c *config, v string) { c.DigitalConsentAge, _ = strconv.Atoi(v) }},
	{name: "PAMELDING_OFFER_TTL", def: "48h", help: "how long a seat offered from the waiting list is held",
		check: durationBetween(time.Minute, 30*24*time.Hour), set: func(c *config, v string) { c.OfferTTL, _ = time.ParseDuration(v) }},
	processorSetting("hosting", "PAMELDING_PROCESSOR_HOSTING", "", "who hosts the service, for the record of processing (art. 30): name|country|transfer basis, e.g. Hetzner Online GmbH|DE, or none when you host it yourself"),
	processorSetting("mail", "PAMELDING_PROCESSOR_MAIL", "", "who relays the mail SMTP_URL names, e.g. Mailgun Technologies, Inc.|US|EU-US Data Privacy Framework; none for your own relay"),
	processorSetting("payments", "PAMELDING_PROCESSOR_PAYMENTS", "Stripe Payments Europe, Limited|IE|US: EU-US Data Privacy Framework and standard contractual clauses (Stripe's data processing agreement)",
		"the card payment processor, listed where card payments are on"),
	{name: "PAMELDING_GUARDIAN_HOLD", def: "72h", help: "how long a minor's seat is held for the guardian to confirm through the link mailed to them; then the registration lapses and its data is erased",
		check: durationBetween(time.Hour, 30*24*time.Hour), set: func(c *config, v string) { c.GuardianHold, _ = time.ParseDuration(v) }},
	{name: "PAMELDING_PARTNER_OBJECTION_WINDOW", def: "336h", help: "how long participants told of a partner added after they signed up may object before it gets their name (default 14 days)",
		check: durationBetween(time.Hour, 90*24*time.Hour), set: func(c *config, v string) { c.PartnerObjectionWindow, _ = time.ParseDuration(v) }},
	{name: "PAMELDING_JOB_INTERVAL", def: "1m", help: "how often background jobs sweep for due mail and ended offers (new mail goes out at once)",
		check: durationBetween(10*time.Millisecond, time.Hour), set: func(c *config, v string) { c.JobInterval, _ = time.ParseDuration(v) }},
	{name: "STRIPE_SECRET_KEY", def: "", secret: true, help: "Stripe secret key (sk_live_... or sk_test_...); unset: card payment is not offered",
		check: checkStripeKey, set: func(c *config, v string) { c.StripeKey = v }},
	{name: "STRIPE_API_BASE", def: "", help: "Stripe API base URL; set only to use stripe-mock, e.g. http://localhost:12111",
		check: checkHTTPURL, set: func(c *config, v string) { c.StripeAPIBase = strings.TrimRight(v, "/") }},
	{name: "STRIPE_WEBHOOK_SECRET", def: "", secret: true, help: "signing secret of the webhook endpoint (whsec_...); best create the endpoint with API version 2023-10-16 (others are read where their objects allow)",
		check: func(v string) error { return prefixed(v, "whsec_") }, set: func(c *config, v string) { c.StripeWebhook = v }},
	{name: "PAMELDING_PAYMENT_HOLD", def: "30m", help: "how long a card sign-up holds its seat while the participant pays (Stripe's minimum: 30m)",
		check: durationBetween(30*time.Minute, 24*time.Hour), set: func(c *config, v string) { c.PaymentHold, _ = time.ParseDuration(v) }},
	{name: "PAMELDING_SELLER_NAME", def: "", help: "the invoicing seller's name; with PAMELDING_SELLER_ORG_NUMBER it turns on payment by invoice",
		set: func(c *config, v string) { c.Seller.Name = v }},
	{name: "PAMELDING_SELLER_ORG_NUMBER", def: "", help: "the seller's organisation number (9 digits, MOD11); its invoice series is gapless",
		check: func(v string) error {
			return boolErr(privacy.ValidOrgNumber(v), "want 9 digits with a valid MOD11 check digit")
		},
		set: func(c *config, v string) { c.Seller.OrgNumber = v }},
	{name: "PAMELDING_SELLER_VAT_REGISTERED", def: "false", help: "true: invoices show \"MVA\" after the org number",
		check: checkBool, set: func(c *config, v string) { c.Seller.VATRegistered, _ = strconv.ParseBool(v) }},
	{name: "PAMELDING_SELLER_FORETAKSREGISTERET", def: "false", help: "true: the seller is in Foretaksregisteret (an AS, ASA or branch of a foreign company must say so on invoices, foretaksregisterloven § 10-2)",
		check: checkBool, set: func(c *config, v string) { c.Seller.Foretaksregisteret, _ = strconv.ParseBool(v) }},
	{name: "PAMELDING_SELLER_ADDRESS", def: "", help: "the seller's address on invoices",
		set: func(c *config, v string) { c.Seller.Address = v }},
	{name: "PAMELDING_SELLER_BANK_ACCOUNT", def: "", help: "the account invoices are paid to (11 digits)",
		check: func(v string) error {
			return boolErr(payments.ValidAccountNumber(v), "want an 11-digit account number with a valid MOD11 check digit (dots allowed)")
		},
		set: func(c *config, v string) { c.Seller.BankAccount = v }},
	{name: "PAMELDING_INVOICE_DUE_DAYS", def: "14", help: "days from issue to due date",
		check: intBetween(1, 90), set: func(c *config, v string) { c.InvoiceDueDays, _ = strconv.Atoi(v) }},
	{name: "PAMELDING_INVOICE_REMINDER_AFTER_DAYS", def: "7", help: "days after the due date an unpaid invoice is reminded, once, by mail with the invoice attached; 0 turns reminders off",
		check: intBetween(0, 365), set: func(c *config, v string) { c.ReminderAfterDays, _ = strconv.Atoi(v) }},
	{name: "PAMELDING_INVOICE_REMINDER_DAYS", def: "14", help: "the new deadline a reminder gives, in days (at least 14: inkassoloven § 9)",
		check: intBetween(14, 90), set: func(c *config, v string) { c.ReminderDays, _ = strconv.Atoi(v) }},
	{name: "PAMELDING_INVOICE_REMINDER_FEE", def: "0", help: "the reminder fee in whole kroner (0: none; at most 70, a tenth of the inkassosats), charged only by a reminder sent at least 14 days after the due date (inkassoforskriften § 1-2)",
		check: intBetween(0, int(payments.MaxReminderFee/100)), set: func(c *config, v string) { n, _ := strconv.Atoi(v); c.ReminderFee = int64(n) * 100 }},
	{name: "PAMELDING_TRUSTED_PROXIES", def: "", help: "reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed; from anyone else it is ignored",
		check: func(v string) error { _, err := web.ParseProxies(v); return err },
		set:   func(c *config, v string) { c.Limits.TrustedProxies, _ = web.ParseProxies(v) }},
	{name: "PAMELDING_SIGNUP_RATE", def: "60", help: "sign-ups (form posts) per minute per client address and instance; 0 turns the limit off",
		check: intBetween(0, 100000), set: func(c *config, v string) { c.Limits.SignupsPerMinute, _ = strconv.Atoi(v) }},
	{name: "PAMELDING_AUTH_FAILURE_RATE", def: "20", help: "failed token authentications per minute per client address before 429",
		check: intBetween(1, 100000), set: func(c *config, v string) { c.Limits.AuthFailuresPerMinute, _ = strconv.Atoi(v) }},
	{name: "PAMELDING_WEBHOOKS_ALLOW_HTTP", def: "false", help: "development only: true accepts outgoing webhook destinations over plain http (otherwise https is required)",
		check: checkBool, set: func(c *config, v string) { c.Webhooks.AllowHTTP, _ = strconv.ParseBool(v) }},
	{name: "PAMELDING_WEBHOOKS_ALLOW_PRIVATE", def: "false", help: "development only: true accepts outgoing webhook destinations on loopback, private, link-local and other non-public addresses (turns the SSRF protection off)",
		check: checkBool, set: func(c *config, v string) { c.Webhooks.AllowPrivate, _ = strconv.ParseBool(v) }},
	{name: "PAMELDING_LOG_LEVEL", def: "info", help: "debug, info, warn or error",
		check: checkLogLevel, set: func(c *config, v string) { _ = c.LogLevel.UnmarshalText([]byte(v)) }},
}

// loadConfig reads every setting; an invalid value is an error that names
// its variable (and never echoes a secret).
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var errs []error
	for _, s := range settings {
		v, err := value(s, getenv)
		if err == nil && v != "" && s.check != nil {
			err = s.check(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			continue
		}
		s.set(&c, v)
	}
	if c.SMTPURL != "" && c.SMTPFrom == "" {
		errs = append(errs, errors.New("SMTP_FROM: required when SMTP_URL is set"))
	}
	if (c.Seller.OrgNumber == "") != (c.Seller.Name == "") {
		errs = append(errs, errors.New("PAMELDING_SELLER_NAME and PAMELDING_SELLER_ORG_NUMBER: set both or neither"))
	}
	if c.Seller.OrgNumber != "" {
		// An invoice without the seller's address and account cannot be
		// paid: invoicing does not start without them.
		if err := c.Seller.CheckInvoicing(); err != nil {
			errs = append(errs, fmt.Errorf("PAMELDING_SELLER_ADDRESS and PAMELDING_SELLER_BANK_ACCOUNT: required to invoice (%w)", err))
		}
	}
	if c.StripeKey != "" && c.StripeWebhook == "" {
		errs = append(errs, errors.New("STRIPE_WEBHOOK_SECRET: required with STRIPE_SECRET_KEY (payments are confirmed by webhooks)"))
	}
	if c.MongoURI != "" && c.EncryptionKey == nil {
		errs = append(errs, errors.New("PAMELDING_ENCRYPTION_KEY: required with MONGODB_URI (every instance must share it)"))
	}
	if c.KeyStoreDir == "" {
		c.KeyStoreDir = strings.TrimRight(c.DataDir, "/") + "-keys"
	}
	if c.KeyStoreURI == "" {
		c.KeyStoreURI = c.MongoURI
	}
	if c.KeyFile == "" {
		abs, err := filepath.Abs(c.DataDir)
		if err == nil {
			c.KeyFile = filepath.Join(filepath.Dir(abs), "pamelding.key")
		}
	}
	return c, errors.Join(errs...)
}

func value(s setting, getenv func(string) string) (string, error) {
	v := getenv(s.name)
	if s.secret {
		if file := getenv(s.name + "_FILE"); file != "" {
			if v != "" {
				return "", fmt.Errorf("set either %s or %s_FILE, not both", s.name, s.name)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("read %s_FILE: %w", s.name, err)
			}
			v = strings.TrimSpace(string(b))
		}
	}
	if v == "" {
		v = s.def
	}
	return v, nil
}

// printConfig writes the effective configuration with secrets masked.
func printConfig(w io.Writer, getenv func(string) string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tVALUE\tDESCRIPTION")
	for _, s := range settings {
		v, err := value(s, getenv)
		switch {
		case err != nil:
			v = "(error: " + err.Error() + ")"
		case s.secret && v != "":
			v = mask(v)
		case v == "":
			v = "(unset)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.name, v, s.help)
	}
	tw.Flush()
}

// mask hides a secret: a URL (MongoDB, SMTP) keeps its scheme and hosts,
// without credentials or query; anything else is stars.
func mask(v string) string {
	if u, err := url.Parse(v); err == nil && u.Scheme != "" && u.Host != "" {
		if u.User != nil {
			u.User = url.UserPassword("***", "***")
		}
		u.RawQuery = ""
		return u.Redacted()
	}
	return "***"
}

func nonEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func checkAddr(v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return errors.New("want host:port, e.g. :8080 or 127.0.0.1:8080")
	}
	return nil
}

func checkMongoURI(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "mongodb" && u.Scheme != "mongodb+srv") || u.Host == "" {
		return errors.New("want a mongodb:// or mongodb+srv:// URI")
	}
	return nil
}

var databaseRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

func checkDatabase(v string) error {
	if !databaseRE.MatchString(v) {
		return errors.New("want 1-63 letters, digits, _ or -")
	}
	return nil
}

func checkAdminToken(v string) error {
	if len(v) < 32 {
		return errors.New("too short: use at least 32 random characters (e.g. openssl rand -base64 32)")
	}
	return nil
}

func checkPublicURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want an absolute http(s) URL without query, e.g. https://pamelding.example.no")
	}
	return nil
}

func checkLogLevel(v string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		return errors.New("want debug, info, warn or error")
	}
	return nil
}

func checkAddress(v string) error {
	if _, err := netmail.ParseAddress(v); err != nil {
		return errors.New("want an e-mail address, e.g. Name <user@example.no>")
	}
	return nil
}

func intBetween(lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want a whole number from %d to %d", lo, hi)
		}
		return nil
	}
}

func durationBetween(lo, hi time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("want a duration from %s to %s, e.g. 48h", lo, hi)
		}
		return nil
	}
}

func checkStripeKey(v string) error {
	if !strings.HasPrefix(v, "sk_") && !strings.HasPrefix(v, "rk_") {
		return errors.New("want a secret key (sk_...) or restricted key (rk_...)")
	}
	return nil
}

func checkHTTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http(s) URL")
	}
	return nil
}

func prefixed(v, prefix string) error {
	if !strings.HasPrefix(v, prefix) {
		return fmt.Errorf("want a value starting with %s", prefix)
	}
	return nil
}

func checkBool(v string) error {
	_, err := strconv.ParseBool(v)
	return boolErr(err == nil, "want true or false")
}

func boolErr(ok bool, msg string) error {
	if ok {
		return nil
	}
	return errors.New(msg)
}

// processorSetting reads a processor for the record of processing; a
// country outside the EEA needs the transfer's basis.
func processorSetting(role, name, def, help string) setting {
	return setting{name: name, def: def, help: help,
		check: func(v string) error { _, err := privacy.ParseProcessor(role, name, v); return err },
		set: func(c *config, v string) {
			p, _ := privacy.ParseProcessor(role, name, v)
			c.Processors = append(c.Processors, p)
		}}
}
