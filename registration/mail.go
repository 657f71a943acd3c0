package registration

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// Kinds of mail.
const (
	mailConfirmation = "confirmation"
	mailOffer        = "offer"
	// mailPartner tells of a partner added after the participant signed
	// up, and how to object before it gets their name.
	mailPartner = "partner"
	// mailGuardian asks a minor's guardian to confirm the registration.
	mailGuardian = "guardian"
	// mailGuardianWithdrawn tells the organiser a guardian withdrew the
	// consents they gave, and which fields were erased.
	mailGuardianWithdrawn = "guardian-withdrawn"
	// mailEmailChange asks a new address to confirm it.
	mailEmailChange = "email-change"
	// mailNewLink carries a new manage link, after the old ones were
	// revoked from /me.
	mailNewLink = "new-link"
	// mailLostLink carries one more manage link to an address that asked
	// for it (the confirmation was lost); the others keep working.
	mailLostLink = "lost-link"
	// mailCancelled tells the participant their registration is cancelled
	// (by them, the buyer, the organiser, or with the event), and what
	// becomes of their money; mailPaid, that the payment was received.
	mailCancelled = "cancelled"
	mailPaid      = "paid"
	// mailRefund tells the participant that the card payment is on its
	// way back (Stripe took the refund); mailCreditNote, that the invoice
	// was credited. Both state the amount.
	mailRefund     = "refund"
	mailCreditNote = "credit-note"
)

// Message is one rendered e-mail.
type Message struct {
	To      string
	Subject string
	Text    string
	// Attachments, such as a ticket's QR code.
	Attachments []Attachment
}

// Attachment is a file sent with a message.
type Attachment struct {
	Name, ContentType string
	Data              []byte
}

// Sender delivers a message (SMTP in production).
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrNoSender: no SMTP is configured; mail waits in the outbox.
var ErrNoSender = errors.New("no mail sender configured")

//go:embed mailtemplates/*.tmpl
var mailFS embed.FS

var mailTemplates = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, kind := range []string{mailConfirmation, mailOffer, mailPartner, mailGuardian, mailGuardianWithdrawn, mailEmailChange, mailNewLink, mailLostLink, mailRefund, mailCreditNote, mailCancelled, mailPaid} {
		for _, lang := range []string{"nb", "en"} {
			name := kind + "." + lang + ".tmpl"
			m[kind+"."+lang] = template.Must(template.ParseFS(mailFS, "mailtemplates/"+name))
		}
	}
	return m
}()

// mailData is everything a template may use. It holds no field of the
// registration but the status: the address is the envelope's, and health
// data never goes into a mail.
type mailData struct {
	Title, When, Venue, StatusText, ManageLink, OfferExpires, Organiser, PrivacyEmail string
	// Partners are the partners named in the participant's promise;
	// Objected, whether they objected to partner sharing.
	Partners string
	Objected bool
	// Partner and ObjectBy, in a partner notice: who, and until when the
	// participant may object before it gets their name.
	Partner, ObjectBy string
	// For a guardian: the participant's name (to know whose registration
	// it is), the age below which a guardian confirms, and until when.
	// HoldUntil is in the participant's confirmation too.
	Participant, HoldUntil string
	GuardianAge            int
	// For the organiser: the registration's id and the fields erased.
	Registration, Fields string
	// Others, in a confirmation: the other live registrations the address
	// holds for the event.
	Others int
	// For a refund or credit note: the amount, written for the mail's
	// language, and the invoice and credit note numbers.
	Amount              string
	Invoice, CreditNote int64
	// Ticket, in a confirmation of a confirmed registration: its ticket
	// code (its QR code is attached). Ordered: who registered the
	// participant, when a buyer did.
	Ticket, Ordered string
	// In a cancellation: whether the event was cancelled, and what comes
	// of the money.
	EventCancelled bool
	Money          string
}

// cancelMoney says what a cancellation does to the money, as its
// payment status says: refunded or credited (a mail of its own follows
// when it is done), nothing was due, or it stands (cancelled after the
// refund deadline).
func cancelMoney(p *Payment, lang string) string {
	if p == nil {
		return ""
	}
	nb := map[PaymentStatus]string{
		PaymentRefundDue: "Betalingen refunderes til kortet ditt; du får en e-post når det er gjort.",
		PaymentCreditDue: "Fakturaen krediteres; du får en e-post med kreditnotaen når det er gjort.",
		PaymentNotDue:    "Ingenting skulle betales.",
	}
	en := map[PaymentStatus]string{
		PaymentRefundDue: "The payment is refunded to your card; you get an e-mail when it is done.",
		PaymentCreditDue: "The invoice is credited; you get an e-mail with the credit note when it is done.",
		PaymentNotDue:    "Nothing was to be paid.",
	}
	m := nb
	if lang == "en" {
		m = en
	}
	if s, ok := m[p.Status]; ok {
		return s
	}
	if lang == "en" {
		return "The cancellation came after the refund deadline: what was paid or invoiced stands."
	}
	return "Avmeldingen kom etter fristen for refusjon: det som er betalt eller fakturert, står ved lag."
}

// amountText says an amount of øre as the pages do: "1500,00 NOK" in nb,
// "1500.00 NOK" in en.
func amountText(øre int64, currency, lang string) string {
	sep := ","
	if lang == "en" {
		sep = "."
	}
	if currency == "" {
		currency = "NOK"
	}
	sign := ""
	if øre < 0 {
		sign, øre = "-", -øre
	}
	return fmt.Sprintf("%s%d%s%02d %s", sign, øre/100, sep, øre%100, currency)
}

var statusText = map[string]map[Status]string{
	"nb": {Confirmed: "bekreftet", PendingPayment: "venter på betaling", Waitlisted: "på venteliste", Offered: "plass tilbudt", Cancelled: "avmeldt", Expired: "utløpt", PendingGuardian: "venter på bekreftelse fra foresatt"},
	"en": {Confirmed: "confirmed", PendingPayment: "awaiting payment", Waitlisted: "on the waiting list", Offered: "seat offered", Cancelled: "cancelled", Expired: "expired", PendingGuardian: "awaiting the guardian's confirmation"},
}

// StatusText says a status in words, in nb or en, as mails and pages do.
func StatusText(lang string, st Status) string {
	if lang != "en" {
		lang = "nb"
	}
	return statusText[lang][st]
}

var oslo = privacy.Oslo

func render(kind, lang string, d mailData) (subject, body string, err error) {
	t, ok := mailTemplates[kind+"."+lang]
	if !ok {
		return "", "", fmt.Errorf("no template %s.%s", kind, lang)
	}
	var sb, bb bytes.Buffer
	if err := t.ExecuteTemplate(&sb, "subject", d); err != nil {
		return "", "", err
	}
	if err := t.ExecuteTemplate(&bb, "body", d); err != nil {
		return "", "", err
	}
	return sb.String(), bb.String(), nil
}

// Mailer sends what waits in registrations' outboxes. Several instances
// may run: each registration's mail is leased before it is sent.
type Mailer struct {
	d         *Domain
	sender    Sender
	publicURL string
	// Lease is how long one instance owns a registration's outbox.
	Lease time.Duration
	// MaxAttempts before a mail is given up (and logged).
	MaxAttempts int
}

// NewMailer returns a mailer; sender may be nil (mail then waits).
func NewMailer(d *Domain, sender Sender, publicURL string) *Mailer {
	return &Mailer{d: d, sender: sender, publicURL: publicURL, Lease: 2 * time.Minute, MaxAttempts: 12}
}

// backoff is the wait before attempt n+1: 30 s doubling, at most 6 h, so
// 12 attempts span about a day.
func backoff(attempts int) time.Duration {
	d := 30 * time.Second << min(attempts, 10)
	return min(d, 6*time.Hour)
}

// SendDue sends the mail that is due and returns how many were sent.
func (m *Mailer) SendDue(ctx context.Context) (int, error) {
	now := m.d.now().UTC().Truncate(time.Millisecond)
	if m.sender == nil {
		n, err := m.d.Store.countOutboxDue(ctx, now)
		if err == nil && n > 0 {
			m.d.log.WarnContext(ctx, "mail waiting in the outbox: SMTP_URL is not set", "registrations", n)
		}
		return 0, err
	}
	due, err := m.d.Store.outboxDue(ctx, now, 50)
	if err != nil {
		return 0, err
	}
	sent := 0
	_, err = mongodb.Sweep(ctx, m.d.log, "mailer", due, regID, func(ctx context.Context, reg Registration) error {
		n, err := m.sendOutbox(ctx, &reg, now)
		sent += n
		return err
	})
	return sent, err
}

// sendOutbox leases one registration's outbox (a conditional update on the
// due time it was read with: of several instances, one wins), sends what
// is unsent, and records each outcome.
func (m *Mailer) sendOutbox(ctx context.Context, reg *Registration, now time.Time) (int, error) {
	leased, err := m.d.Store.leaseOutbox(ctx, reg.ID, reg.OutboxNextAt, now.Add(m.Lease))
	if err != nil || !leased {
		return 0, err
	}
	ev, err := m.d.events.Get(ctx, reg.Event)
	if err != nil {
		return 0, err
	}
	keys := make([]string, 0, len(reg.Outbox))
	for k, mail := range reg.Outbox {
		if mail.SentAt == nil && mail.Attempts < m.MaxAttempts {
			keys = append(keys, k)
		}
	}
	if reg.Restricted {
		// Restricted processing (art. 18): no mail until lifted. The
		// lease is released below with nothing due.
		keys = nil
	}
	sort.Slice(keys, func(i, j int) bool { return reg.Outbox[keys[i]].CreatedAt.Before(reg.Outbox[keys[j]].CreatedAt) })

	sent := 0
	var next *time.Time
	for _, k := range keys {
		mail := reg.Outbox[k]
		err := m.sendOne(ctx, ev, reg, mail)
		now := m.d.now().UTC().Truncate(time.Millisecond)
		if err == nil {
			sent++
			if err := m.d.Store.mailSent(ctx, reg.ID, k, now); err != nil {
				return sent, err
			}
			continue
		}
		attempts := mail.Attempts + 1
		class := "send"
		if errors.Is(err, errRender) {
			class = "render"
		}
		m.d.log.WarnContext(ctx, "mail not sent", "registration", reg.ID, "kind", mail.Kind, "attempt", attempts, "class", class)
		if attempts >= m.MaxAttempts {
			m.d.log.ErrorContext(ctx, "mail given up", "registration", reg.ID, "kind", mail.Kind)
		} else if at := now.Add(backoff(attempts)); next == nil || at.Before(*next) {
			next = &at
		}
		if err := m.d.Store.mailFailed(ctx, reg.ID, k, attempts, class); err != nil {
			return sent, err
		}
	}
	// Release the lease: due again at the earliest retry, or not at all.
	// Mail queued meanwhile set outboxNextAt to its own time, which the
	// lease filter protects.
	if err := m.d.Store.releaseOutbox(ctx, reg.ID, now.Add(m.Lease), next); err != nil {
		return sent, err
	}
	return sent, nil
}

var errRender = errors.New("render mail")

func (m *Mailer) sendOne(ctx context.Context, ev *events.Event, reg *Registration, mail Mail) error {
	values, err := m.d.Store.Open(ctx, reg, "email", "name", "guardian_email", pendingEmail)
	if err != nil {
		return fmt.Errorf("%w: %v", errRender, err)
	}
	to, lang, link := values["email"], reg.Lang, "/m/"
	switch mail.To {
	case ToGuardian:
		to, link = values["guardian_email"], "/g/"
	case ToOrganiser:
		to, lang = ev.Organiser.PrivacyEmail, "nb"
	case ToPendingEmail:
		to, link = values[pendingEmail], "/c/"
		if reg.EmailChange == nil || reg.EmailChange.TokenHash != mail.TokenHash {
			return fmt.Errorf("%w: address change superseded", errRender)
		}
	}
	if to == "" {
		return fmt.Errorf("%w: no address", errRender)
	}
	d := mailData{
		Title: ev.Title.NB, Venue: ev.Venue, Organiser: ev.Organiser.Name, PrivacyEmail: ev.Organiser.PrivacyEmail,
		When:       ev.StartsAt.In(oslo).Format("02.01.2006 15:04"),
		StatusText: StatusText(lang, reg.Status), GuardianAge: ev.GuardianAge,
		Registration: reg.ID, Fields: strings.Join(mail.Fields, ", "), Others: mail.Others,
	}
	if mail.Kind == mailGuardian {
		d.Participant = values["name"]
	}
	if p := reg.Payment; p != nil && (mail.Kind == mailRefund || mail.Kind == mailCreditNote) {
		// A cancellation's refund gives back all that was paid (the
		// amount left, after any refunded before); a credit note credits
		// the whole invoice.
		amount := p.PaidAmount
		if mail.Kind == mailCreditNote {
			amount = p.Amount
		}
		d.Amount, d.Invoice, d.CreditNote = amountText(amount, p.Currency, lang), p.InvoiceNumber, p.CreditNote
	}
	if p := reg.Payment; p != nil && mail.Kind == mailPaid {
		d.Amount, d.Invoice = amountText(p.PaidAmount, p.Currency, lang), p.InvoiceNumber
	}
	if mail.Kind == mailCancelled {
		d.EventCancelled, d.Money = mail.EventCancelled, cancelMoney(reg.Payment, lang)
	}
	if g := reg.Guardian; g != nil && g.ConfirmedAt == nil {
		d.HoldUntil = g.HoldUntil.In(oslo).Format("02.01.2006 15:04")
	}
	if c := reg.EmailChange; c != nil && mail.Kind == mailEmailChange {
		d.HoldUntil = c.Until.In(oslo).Format("02.01.2006 15:04")
	}
	if lang == "en" {
		d.Title = ev.Title.EN
		d.When = ev.StartsAt.In(oslo).Format("2 January 2006 15:04")
		if g := reg.Guardian; g != nil && g.ConfirmedAt == nil {
			d.HoldUntil = g.HoldUntil.In(oslo).Format("2 January 2006 15:04")
		}
	}
	if reg.OfferExpiresAt != nil {
		d.OfferExpires = reg.OfferExpiresAt.In(oslo).Format("02.01.2006 15:04")
	}
	// What the mail says of partners is what the participant was told.
	promise, err := m.d.promise(ctx, reg)
	if err != nil {
		return fmt.Errorf("%w: %v", errRender, err)
	}
	var names []string
	for _, p := range promise.Partners {
		names = append(names, p.Name)
	}
	d.Partners, d.Objected = strings.Join(names, ", "), reg.Objections.PartnerSharing
	if mail.Kind == mailPartner {
		i := slices.IndexFunc(ev.Partners, func(p events.Partner) bool { return p.ID == mail.Partner })
		if i < 0 || mail.ObjectBy == nil {
			return fmt.Errorf("%w: partner gone", errRender)
		}
		d.Partner, d.ObjectBy = ev.Partners[i].Name, mail.ObjectBy.In(oslo).Format("02.01.2006")
	}
	if mail.Token != nil {
		token, err := m.d.keys.OpenSecret("mail-token:"+mail.TokenHash, *mail.Token)
		if err != nil {
			return fmt.Errorf("%w: %v", errRender, err)
		}
		d.ManageLink = m.publicURL + link + token
	}
	msg := Message{To: to}
	if mail.Kind == mailConfirmation && reg.Status == Confirmed && reg.ErasedAt == nil {
		d.Ticket = m.d.TicketCode(reg.ID)
		png, err := TicketQR(d.Ticket)
		if err != nil {
			return fmt.Errorf("%w: %v", errRender, err)
		}
		name := "billett.png"
		if lang == "en" {
			name = "ticket.png"
		}
		msg.Attachments = append(msg.Attachments, Attachment{Name: name, ContentType: "image/png", Data: png})
	}
	if mail.Kind == mailConfirmation && reg.Order != "" {
		if o, err := m.d.Store.OrderOf(ctx, reg.Order); err == nil && o.PurgedAt == nil {
			if b, err := m.d.Store.OpenBuyer(ctx, o, "name"); err == nil {
				d.Ordered = b["name"]
			}
		}
	}
	subject, body, err := render(mail.Kind, lang, d)
	if err != nil {
		return fmt.Errorf("%w: %v", errRender, err)
	}
	msg.Subject, msg.Text = subject, body
	return m.sender.Send(ctx, msg)
}

// Run sends mail until ctx ends: at once for registrations this process
// hints at, and in a sweep every interval for everything due (retries,
// mail queued before a restart or by another instance). The sweep holds
// the "mailer" job lease, so one instance at a time scans; each outbox is
// leased too, so no mail goes out twice.
func (m *Mailer) Run(ctx context.Context, jobs *mongodb.Jobs, sweep time.Duration) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		jobs.Loop(ctx, "mailer", sweep, func(ctx context.Context) error {
			_, err := m.SendDue(ctx)
			return err
		})
	})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case id := <-m.d.mailDue:
					if err := m.sendHinted(ctx, id); err != nil && ctx.Err() == nil {
						m.d.log.ErrorContext(ctx, "mail", "registration", id, "err", err)
					}
				}
			}
		})
	}
}

// sendHinted sends a hinted registration's due mail, found by its id.
func (m *Mailer) sendHinted(ctx context.Context, id string) error {
	if m.sender == nil {
		return nil
	}
	reg, err := m.d.Store.Get(ctx, id)
	if err != nil {
		return err
	}
	now := m.d.now().UTC().Truncate(time.Millisecond)
	if reg.OutboxNextAt == nil || reg.OutboxNextAt.After(now) {
		return nil
	}
	_, err = m.sendOutbox(ctx, reg, now)
	return err
}
