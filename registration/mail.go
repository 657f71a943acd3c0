package registration

import (
	"bytes"
	"context"
	"crypto/rand"
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
	// mailAccepted confirms an accepted waiting-list offer, with the
	// ticket; mailInvoice carries the invoice's PDF; mailReminder is sent
	// the organiser's chosen number of days before the event.
	mailAccepted = "accepted"
	mailInvoice  = "invoice"
	mailReminder = "reminder"
	// mailInvoiceReminder reminds of an invoice unpaid after its due
	// date, with the invoice and a new deadline.
	mailInvoiceReminder = "invoice-reminder"
	// mailMessage is the organiser's own message to the participants of
	// an event (the back office's "e-mail the participants").
	mailMessage = "message"
)

// mailKinds are every kind of mail, each with a template in nb and en.
var mailKinds = []string{mailConfirmation, mailOffer, mailPartner, mailGuardian, mailGuardianWithdrawn, mailEmailChange,
	mailNewLink, mailLostLink, mailRefund, mailCreditNote, mailCancelled, mailPaid, mailAccepted, mailInvoice, mailReminder,
	mailInvoiceReminder, mailMessage}

// Message is one rendered e-mail.
type Message struct {
	To      string
	Subject string
	Text    string
	// HTML is the same text as a simple HTML part.
	HTML string
	// FromName is who the mail is from (the organiser); the address is
	// the instance's. ReplyTo is where an answer goes (the organiser's).
	FromName, ReplyTo string
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

// Documents renders the documents mail carries as files: an invoice or
// a credit note, by number (payments).
type Documents interface {
	Document(ctx context.Context, number int64) (Document, error)
}

// Document is an invoice or credit note as a mail carries it.
type Document struct {
	PDF []byte
	// EHF is the same document as an EHF e-invoice, where the buyer
	// asked for one.
	EHF []byte
	// Due is an invoice's due date (zero for a credit note).
	Due time.Time
}

// ErrNoSender: no SMTP is configured; mail waits in the outbox.
var ErrNoSender = errors.New("no mail sender configured")

//go:embed mailtemplates/*.tmpl
var mailFS embed.FS

var mailTemplates = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, kind := range mailKinds {
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
	// Payment, in a confirmation, says what is due and how it is paid;
	// Due and KID, in an invoice mail, its due date and payment id.
	Payment, Due, KID string
	// Uses, in a confirmation: each value held, what for and who gets
	// it, as the participant was promised (never the value).
	Uses []string
	// LostLink is the page that sends a new manage link (for mail that
	// carries none).
	LostLink string
	// Attached: the invoice or credit note is attached.
	Attached bool
	// Subject and Message, in an organiser's message: what they wrote.
	Subject, Message string
	// NewDue, in an invoice reminder: the new deadline; Fee the reminder
	// fee it charges ("" for none), included in Amount.
	NewDue, Fee string
}

// cancelMoney says what a cancellation did to the money, as the payment
// status it left says (Mail.Money): refunded or credited (a mail of its
// own follows when it is done), nothing was due, or it stands (cancelled
// after the refund deadline).
func cancelMoney(p *Payment, st PaymentStatus, lang string) string {
	if p == nil || p.Amount == 0 {
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
	if s, ok := m[st]; ok {
		return s
	}
	if lang == "en" {
		return "The cancellation came after the refund deadline: what was paid or invoiced stands."
	}
	return "Avmeldingen kom etter fristen for refusjon: det som er betalt eller fakturert, står ved lag."
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

// dateText writes a day (and its time) in Oslo as a mail in lang says
// it: 24.12.2026 15:04 in nb, 24 December 2026 15:04 in en.
func dateText(t time.Time, lang string, clock bool) string {
	layout := "02.01.2006"
	if lang == "en" {
		layout = "2 January 2006"
	}
	if clock {
		layout += " 15:04"
	}
	return t.In(oslo).Format(layout)
}

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

// paymentText says in a confirmation what is due and how: by card (paid,
// or to pay on /me), or an invoice to follow in its own mail.
func PaymentText(p *Payment, lang string) string {
	if p == nil || p.Amount == 0 {
		return ""
	}
	amount := events.Money(p.Amount, p.Currency, lang)
	en := lang == "en"
	switch {
	case p.Method == Invoice && p.InvoiceNumber != 0 && en:
		return fmt.Sprintf("Price: %s, paid by invoice no. %d (KID %s), sent in a separate e-mail with its due date.", amount, p.InvoiceNumber, p.KID)
	case p.Method == Invoice && p.InvoiceNumber != 0:
		return fmt.Sprintf("Pris: %s, betales med faktura nr. %d (KID %s), sendt i en egen e-post med forfallsdato.", amount, p.InvoiceNumber, p.KID)
	case p.Method == Invoice && en:
		return "Price: " + amount + ", paid by invoice. The invoice follows in a separate e-mail, with its due date and KID."
	case p.Method == Invoice:
		return "Pris: " + amount + ", betales med faktura. Fakturaen kommer i en egen e-post, med forfallsdato og KID."
	case p.Status == PaymentPaid && en:
		return "Price: " + amount + ", paid by card."
	case p.Status == PaymentPaid:
		return "Pris: " + amount + ", betalt med kort."
	case en:
		return "Price: " + amount + ", by card: pay on the link below if you have not finished."
	default:
		return "Pris: " + amount + ", med kort: betal på lenken under om du ikke fullførte."
	}
}

// usesOf says of each field the registration holds what it is used for
// and who gets it, as the promise says.
func usesOf(p *events.Promise, reg *Registration, lang string) []string {
	var out []string
	for _, df := range p.Fields {
		if _, ok := reg.Sealed[df.Key]; !ok {
			continue
		}
		label := df.Label.NB
		who := "mottakere"
		if lang == "en" {
			label, who = df.Label.EN, "recipients"
		}
		out = append(out, label+": "+privacy.WhyText(df.Field, lang)+" ("+who+": "+privacy.WhoText(df.Field, lang)+")")
	}
	return out
}

// Mailer sends what waits in registrations' outboxes. Several instances
// may run: each registration's mail is leased before it is sent.
type Mailer struct {
	d         *Domain
	sender    Sender
	publicURL string
	// Documents renders invoices and credit notes to attach (nil: none
	// is issued here).
	Documents Documents
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
		var err error
		if !outdated(reg, mail) {
			err = m.sendOne(ctx, ev, reg, mail)
			if err == nil {
				sent++
			}
		}
		now := m.d.now().UTC().Truncate(time.Millisecond)
		if err == nil {
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

// outdated says a mail no longer says what is true: a reminder of a
// registration cancelled before it went out, an invoice reminder of an
// invoice paid or credited meanwhile. It is dropped, recorded as done.
func outdated(reg *Registration, mail Mail) bool {
	switch mail.Kind {
	case mailReminder:
		return reg.Status != Confirmed
	case mailInvoiceReminder:
		p := reg.Payment
		return p == nil || (p.Status != PaymentInvoiced && p.Status != PaymentPartiallyPaid)
	case mailMessage:
		// Restricted since it was queued (art. 18), or no longer coming.
		return reg.Restricted || reg.ErasedAt != nil || !reg.Status.Live()
	}
	return false
}

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
		When:       dateText(ev.StartsAt, lang, true),
		StatusText: StatusText(lang, reg.Status), GuardianAge: ev.GuardianAge,
		Registration: reg.ID, Fields: strings.Join(mail.Fields, ", "), Others: mail.Others,
	}
	if mail.Kind == mailGuardian {
		d.Participant = values["name"]
	}
	if mail.Kind == mailMessage {
		d.Subject, d.Message = mail.Subject, mail.Text
	}
	if p := reg.Payment; p != nil && (mail.Kind == mailRefund || mail.Kind == mailCreditNote) {
		// A cancellation's refund gives back all that was paid (the
		// amount left, after any refunded before); a credit note credits
		// the whole invoice.
		amount := p.PaidAmount
		if mail.Kind == mailCreditNote {
			amount = p.Amount
		}
		d.Amount, d.Invoice, d.CreditNote = events.Money(amount, p.Currency, lang), p.InvoiceNumber, p.CreditNote
	}
	if p := reg.Payment; p != nil && mail.Kind == mailPaid {
		d.Amount, d.Invoice = events.Money(p.PaidAmount, p.Currency, lang), p.InvoiceNumber
	}
	if p := reg.Payment; p != nil && mail.Kind == mailInvoice {
		d.Amount, d.Invoice, d.KID = events.Money(p.Amount, p.Currency, lang), p.InvoiceNumber, p.KID
	}
	if p := reg.Payment; p != nil && mail.Kind == mailInvoiceReminder && mail.Due != nil {
		d.Amount, d.Invoice, d.KID = events.Money(p.Amount-p.PaidAmount+mail.Fee, p.Currency, lang), p.InvoiceNumber, p.KID
		d.NewDue = dateText(*mail.Due, lang, false)
		if mail.Fee > 0 {
			d.Fee = events.Money(mail.Fee, p.Currency, lang)
		}
	}
	if mail.Kind == mailConfirmation || mail.Kind == mailAccepted {
		d.Payment = PaymentText(reg.Payment, lang)
	}
	d.LostLink = m.publicURL + "/m?event=" + ev.Slug + "&lang=" + lang
	if mail.Kind == mailCancelled {
		st := mail.Money
		if st == "" && reg.Payment != nil {
			st = reg.Payment.Status // queued before the status was kept in the mail
		}
		d.EventCancelled, d.Money = mail.EventCancelled, cancelMoney(reg.Payment, st, lang)
	}
	if g := reg.Guardian; g != nil && g.ConfirmedAt == nil {
		d.HoldUntil = g.HoldUntil.In(oslo).Format("02.01.2006 15:04")
	}
	if c := reg.EmailChange; c != nil && mail.Kind == mailEmailChange {
		d.HoldUntil = c.Until.In(oslo).Format("02.01.2006 15:04")
	}
	if lang == "en" {
		d.Title = ev.Title.EN
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
	if mail.Kind == mailConfirmation {
		d.Uses = usesOf(promise, reg, lang)
	}
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
	if mail.To != ToOrganiser {
		// From the organiser (at the instance's address), answered to
		// the organiser.
		msg.FromName, msg.ReplyTo = ev.Organiser.Name, ev.Organiser.ReplyTo()
	}
	if err := m.attachDocument(ctx, &msg, &d, reg, mail.Kind, lang); err != nil {
		return err
	}
	if (mail.Kind == mailConfirmation || mail.Kind == mailAccepted || mail.Kind == mailReminder) && reg.Status == Confirmed && reg.ErasedAt == nil {
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
	msg.Subject, msg.Text, msg.HTML = subject, body, htmlPart(lang, subject, body)
	return m.sender.Send(ctx, msg)
}

// attachDocument attaches an invoice mail's invoice and a credit-note
// mail's credit note, as PDF (and EHF where the buyer asked), and reads the invoice's due date. An
// order's documents name every participant and its buyer: they are the
// buyer's, not attached to a participant's mail.
func (m *Mailer) attachDocument(ctx context.Context, msg *Message, d *mailData, reg *Registration, kind, lang string) error {
	p := reg.Payment
	if p == nil || m.Documents == nil || reg.Order != "" {
		return nil
	}
	number, name := p.InvoiceNumber, "faktura-%d.pdf"
	switch {
	case (kind == mailInvoice || kind == mailInvoiceReminder) && number != 0:
	case kind == mailCreditNote && p.CreditNote != 0:
		number, name = p.CreditNote, "kreditnota-%d.pdf"
	default:
		return nil
	}
	if lang == "en" {
		name = strings.NewReplacer("faktura", "invoice", "kreditnota", "credit-note").Replace(name)
	}
	doc, err := m.Documents.Document(ctx, number)
	if err != nil {
		return fmt.Errorf("%w: document %d: %v", errRender, number, err)
	}
	if !doc.Due.IsZero() {
		d.Due = dateText(doc.Due, lang, false)
	}
	msg.Attachments = append(msg.Attachments, Attachment{Name: fmt.Sprintf(name, number), ContentType: "application/pdf", Data: doc.PDF})
	if len(doc.EHF) > 0 {
		msg.Attachments = append(msg.Attachments, Attachment{Name: strings.TrimSuffix(fmt.Sprintf(name, number), ".pdf") + ".xml",
			ContentType: "application/xml", Data: doc.EHF})
	}
	d.Attached = true
	return nil
}

// QueueReminders queues the reminder mail of every event whose reminder
// is due (events.Event.ReminderDue), and returns how many were queued.
func (m *Mailer) QueueReminders(ctx context.Context) (int, error) {
	evs, err := m.d.events.List(ctx)
	if err != nil {
		return 0, err
	}
	now := m.d.now().UTC().Truncate(time.Millisecond)
	total := 0
	var errs []error
	for _, e := range evs {
		if !e.ReminderDue(now) {
			continue
		}
		n, err := m.d.Store.queueReminders(ctx, e.ID, now)
		total += int(n)
		if err == nil {
			err = m.d.events.Reminded(ctx, e.Slug)
		}
		if err != nil {
			m.d.log.ErrorContext(ctx, "job item failed", "job", "reminders", "item", e.Slug, "err", err)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return total, fmt.Errorf("reminders: %d events failed (see the log)", len(errs))
	}
	return total, nil
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

// MessageRequest is an organiser's message to an event's participants.
type MessageRequest struct {
	Subject string `json:"subject" validate:"required,max=150,singleline"`
	Text    string `json:"text" validate:"required,max=5000"`
	// To is who gets it: "confirmed" (holding a seat), or "live" (also
	// the waiting list and those awaiting payment or a guardian).
	To string `json:"to" validate:"required,oneof=confirmed live"`
}

// QueueMessage queues an organiser's message to an event's participants
// in each one's outbox: not to a registration whose processing is
// restricted (art. 18) or erased, and dropped if either happens before it
// goes. The text is the organiser's; it is sent from the organiser and
// answered to them. by names the staff member (logged, as is the count,
// never the text). It returns how many were queued.
func (m *Mailer) QueueMessage(ctx context.Context, slug string, r MessageRequest, by string) (int64, error) {
	r.Subject, r.Text = strings.TrimSpace(r.Subject), strings.TrimSpace(r.Text)
	if err := privacy.Struct("", &r).Err(); err != nil {
		return 0, err
	}
	statuses := []Status{Confirmed}
	if r.To == "live" {
		statuses = LiveStatuses
	}
	now := m.d.now().UTC().Truncate(time.Millisecond)
	n, err := m.d.Store.queueMessage(ctx, slug, statuses, "message-"+rand.Text()[:10],
		Mail{Kind: mailMessage, CreatedAt: now, Subject: r.Subject, Text: r.Text})
	if err != nil {
		return 0, err
	}
	m.d.log.InfoContext(ctx, "message queued", "event", slug, "recipients", n, "by", by)
	return n, nil
}
