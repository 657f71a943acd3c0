package web_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pamelding/pamelding/mail/mailtest"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
)

// TestMailEveryKind follows two participants of a paid course through
// every state change that mails them, with a mail catcher: sign-up
// (confirmation, with amount and the invoice), the invoice with its PDF,
// the reminder the organiser asked for, the payment, the cancellation
// and its credit note with its PDF, the waiting list's offer and its
// acceptance. Each mail is from the organiser's name at the instance's
// address, answered to the organiser's, carries an HTML part, has no
// unresolved key or formatting error, and says nothing of the other
// participant.
func TestMailEveryKind(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	starts := e.clock.now().Add(10 * 24 * time.Hour) // the reminder (14 days before) is due at once
	e.kursEvent(t, "kurs", func(b map[string]any) {
		b["startsAt"], b["endsAt"] = starts.Format(time.RFC3339), starts.Add(6*time.Hour).Format(time.RFC3339)
		b["capacity"], b["waitlist"], b["reminderDays"] = 1, true, 14
	})
	kari := e.mustSignup(t, "kurs", invoiceBuyer("kari@example.no"))
	olaBody := invoiceBuyer("ola@example.no")
	olaBody["fields"].(map[string]any)["name"] = "Ola Venteliste"
	ola := e.mustSignup(t, "kurs", olaBody)
	if kari.Status != "confirmed" || ola.Status != "waitlisted" || e.reg(t, kari.ID).Payment.InvoiceNumber != 1 {
		t.Fatalf("precondition: kari %s, ola %s, invoice %+v", kari.Status, ola.Status, e.reg(t, kari.ID).Payment)
	}
	if n, err := e.a.Mailer.QueueReminders(ctx); err != nil || n != 1 {
		t.Fatalf("reminders queued: %d, %v (want Kari's only: Ola is waiting)", n, err)
	}
	if n, err := e.a.Mailer.QueueReminders(ctx); err != nil || n != 0 {
		t.Errorf("reminders queued again: %d, %v", n, err)
	}
	got := e.sendMail(t)

	finance := e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "regnskap"})
	if r := e.do(t, "POST", "/api/v1/finance/bank-statements", finance, camtCredits("MAIL1", 150000, e.reg(t, kari.ID).Payment.KID), "Content-Type", "application/xml"); r.status != 200 {
		t.Fatalf("bank statement: %d %s", r.status, r.body)
	}
	got = append(got, e.sendMail(t)...)
	if r := e.do(t, "DELETE", "/api/v1/me/registration", kari.ManageToken, nil); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	got = append(got, e.sendMail(t)...)
	// Ola was offered the seat; the offer's mail carries a new link.
	var offerLink string
	for _, m := range got {
		if m.To[0] == "ola@example.no" && strings.HasPrefix(m.Header("Subject"), "Ledig plass") {
			_, offerLink, _ = strings.Cut(m.Body(), "https://pamelding.example.no/m/")
			offerLink, _, _ = strings.Cut(offerLink, "\n")
		}
	}
	if offerLink == "" {
		t.Fatal("no offer mail with a link to Ola")
	}
	if r := e.do(t, "POST", "/api/v1/me/offer/accept", offerLink, nil); r.status != 200 {
		t.Fatalf("accept: %d %s", r.status, r.body)
	}
	if _, err := e.a.Invoices.IssuePending(ctx); err != nil {
		t.Fatal(err)
	}
	got = append(got, e.sendMail(t)...)

	type want struct {
		to, subject, attachment, body string
	}
	for _, w := range []want{
		{"kari@example.no", "Påmelding: Kurs i arkivlov", "billett.png", "faktura nr. 1 (KID 18)"},
		{"kari@example.no", "Faktura nr. 1: Kurs i arkivlov", "faktura-1.pdf", "Forfallsdato: "},
		{"kari@example.no", "Påminnelse: Kurs i arkivlov", "billett.png", "https://pamelding.example.no/m?event=kurs"},
		{"kari@example.no", "Betaling mottatt: Kurs i arkivlov", "", "1\u00a0500\u00a0kr"},
		{"kari@example.no", "Avmeldt: Kurs i arkivlov", "", "Fakturaen krediteres"},
		{"kari@example.no", "Fakturaen er kreditert: Kurs i arkivlov", "kreditnota-2.pdf", "kreditnota nr. 2"},
		{"ola@example.no", "Påmelding: Kurs i arkivlov", "", "på venteliste"},
		{"ola@example.no", "Ledig plass: Kurs i arkivlov", "", "https://pamelding.example.no/m/"},
		{"ola@example.no", "Du har fått plass: Kurs i arkivlov", "billett.png", "Status: bekreftet"},
		{"ola@example.no", "Faktura nr. 3: Kurs i arkivlov", "faktura-3.pdf", "1\u00a0500\u00a0kr"},
	} {
		var found []mailtest.Mail
		for _, m := range got {
			if m.To[0] == w.to && strings.HasPrefix(m.Header("Subject"), w.subject) {
				found = append(found, m)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s: %d mails %q, want 1", w.to, len(found), w.subject)
			continue
		}
		m := found[0]
		body := m.Body()
		if from := m.Header("From"); !strings.Contains(from, "Kongsvingerregionen IKS") || !strings.Contains(from, "<pamelding@example.no>") {
			t.Errorf("%q: From %q, want the organiser's name at the instance's address", w.subject, from)
		}
		if rt := m.Header("Reply-To"); !strings.Contains(rt, "kurs@kongsvinger.example.no") {
			t.Errorf("%q: Reply-To %q, want the organiser's", w.subject, rt)
		}
		if !strings.Contains(body, w.body) {
			t.Errorf("%q does not say %q:\n%s", w.subject, w.body, body)
		}
		if h := m.HTML(); !strings.Contains(h, `<html lang="nb">`) || !strings.Contains(h, "Kongsvingerregionen IKS") || strings.Contains(h, "<script") {
			t.Errorf("%q: HTML part %q", w.subject, h)
		}
		for _, bad := range []string{"%!", "{{", "<no value>", "me.", "mail."} {
			if strings.Contains(body, bad) {
				t.Errorf("%q contains %q:\n%s", w.subject, bad, body)
			}
		}
		other := map[string][]string{"kari@example.no": {"Ola", "ola@"}, "ola@example.no": {"Kari", "kari@"}}[w.to]
		for _, o := range other {
			if strings.Contains(body, o) || strings.Contains(m.Data, o) {
				t.Errorf("%q to %s mentions %q", w.subject, w.to, o)
			}
		}
		var names []string
		for _, a := range m.Attachments() {
			names = append(names, a.Filename)
			if strings.HasSuffix(a.Filename, ".pdf") && !bytes.HasPrefix(a.Data, []byte("%PDF-")) {
				t.Errorf("%q: %s is not a PDF", w.subject, a.Filename)
			}
		}
		if w.attachment != "" && !strings.Contains(strings.Join(names, " "), w.attachment) || w.attachment == "" && len(names) > 0 {
			t.Errorf("%q: attachments %v, want %q", w.subject, names, w.attachment)
		}
	}
	// The confirmation says, per value held, what for and who gets it, for
	// this event: finance (it is paid), no partner (it has none).
	for _, m := range got {
		if m.To[0] == "kari@example.no" && strings.HasPrefix(m.Header("Subject"), "Påmelding") {
			if b := m.Body(); !strings.Contains(b, "Navn: ") || !strings.Contains(b, "økonomi") || strings.Contains(b, "partnere") || strings.Contains(b, "servering") {
				t.Errorf("the confirmation's uses: %s", b)
			}
		}
	}
}

// TestInvoiceReminder: an invoice not paid in full 7 days after its due
// date is listed as overdue and reminded once, by mail with the invoice
// attached, what is left to pay and a new deadline 14 days on; one paid
// meanwhile is neither listed nor reminded, and a reminder queued for an
// invoice paid before it went out is dropped.
func TestInvoiceReminder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.kursEvent(t, "kurs", func(b map[string]any) {
		b["startsAt"], b["endsAt"] = "2027-03-01T09:00:00+01:00", "2027-03-01T15:00:00+01:00"
	})
	late := e.mustSignup(t, "kurs", invoiceBuyer("sen@example.no"))
	paid := e.mustSignup(t, "kurs", invoiceBuyer("betalt@example.no"))
	dropped := e.mustSignup(t, "kurs", invoiceBuyer("snart@example.no"))
	finance := e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "regnskap"})
	pay := func(ref string, amount int64, id string) { e.payByBank(t, finance, ref, amount, id) }
	pay("R1", 150000, paid.ID)
	pay("R2", 50000, late.ID) // a part
	e.sendMail(t)             // confirmations and invoices out of the way

	if n, err := e.a.Invoices.RemindOverdue(ctx); err != nil || n != 0 {
		t.Fatalf("reminded before the due date: %d, %v", n, err)
	}
	overdue := func() []int64 {
		var list struct{ Invoices []struct{ Number int64 } }
		e.do(t, "GET", "/api/v1/finance/invoices?status=overdue", finance, nil).json(t, &list)
		var out []int64
		for _, i := range list.Invoices {
			out = append(out, i.Number)
		}
		return out
	}
	e.clock.add(15 * 24 * time.Hour) // a day past due (14 days)
	if got := overdue(); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("overdue: %v, want invoices 1 and 3", got)
	}
	if n, _ := e.a.Invoices.RemindOverdue(ctx); n != 0 {
		t.Errorf("reminded within the grace: %d", n)
	}
	e.clock.add(7 * 24 * time.Hour)
	if n, err := e.a.Invoices.RemindOverdue(ctx); err != nil || n != 2 {
		t.Fatalf("reminders: %d, %v (want the part-paid and the unpaid)", n, err)
	}
	if n, _ := e.a.Invoices.RemindOverdue(ctx); n != 0 {
		t.Errorf("reminded twice: %d", n)
	}
	pay("R3", 150000, dropped.ID) // paid before its reminder went out
	got := e.sendMail(t)
	if len(got) != 2 { // the payment's own mail, and the one reminder
		t.Fatalf("%d mails, want the reminder of invoice 1 and the payment of invoice 3", len(got))
	}
	var reminder mailtest.Mail
	for _, m := range got {
		if strings.HasPrefix(m.Header("Subject"), "Betalingspåminnelse") {
			reminder = m
		}
	}
	b := reminder.Body()
	if reminder.To == nil || reminder.To[0] != "sen@example.no" || !strings.Contains(b, "faktura nr. 1") ||
		!strings.Contains(b, "Gjenstår å betale: 1\u00a0000\u00a0kr") || !strings.Contains(b, "Ny betalingsfrist: 27.12.2026") ||
		!strings.Contains(b, "Forfallsdatoen var 05.12.2026") || !strings.Contains(b, "ikke noe gebyr") || strings.Contains(b, "Purregebyr") {
		t.Errorf("the reminder to %v (8 days after the due date: no fee although one is configured):\n%s", reminder.To, b)
	}
	if as := reminder.Attachments(); len(as) != 1 || as[0].Filename != "faktura-1.pdf" || !bytes.HasPrefix(as[0].Data, []byte("%PDF-")) {
		t.Errorf("the reminder's attachment: %+v", as)
	}
	var inv struct {
		RemindedAt, ReminderDue *time.Time
	}
	e.do(t, "GET", "/api/v1/finance/invoices/1", finance, nil).json(t, &inv)
	if inv.RemindedAt == nil || inv.ReminderDue == nil || !inv.ReminderDue.Equal(time.Date(2026, 12, 27, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("invoice 1: reminded %v, new deadline %v", inv.RemindedAt, inv.ReminderDue)
	}
}

// TestInvoiceReminderFee: a reminder sent 14 days or more after the due
// date charges the configured fee (70 kr), says so and asks for it; what
// is paid beyond the invoice up to the fee pays the fee (the invoice is
// paid, not overpaid, and the registration paid its price), the journal
// books it as a reminder fee, and a payment of the invoice alone settles
// it too.
func TestInvoiceReminderFee(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.kursEvent(t, "kurs", func(b map[string]any) {
		b["startsAt"], b["endsAt"] = "2027-03-01T09:00:00+01:00", "2027-03-01T15:00:00+01:00"
	})
	withFee := e.mustSignup(t, "kurs", invoiceBuyer("gebyr@example.no"))
	without := e.mustSignup(t, "kurs", invoiceBuyer("uten@example.no"))
	finance := e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "regnskap"})
	e.sendMail(t)
	e.clock.add(28 * 24 * time.Hour) // due 05.12, now 19.12: 14 days after
	if n, err := e.a.Invoices.RemindOverdue(ctx); err != nil || n != 2 {
		t.Fatalf("reminders: %d, %v", n, err)
	}
	got := e.sendMail(t)
	if len(got) != 2 {
		t.Fatalf("%d mails, want two reminders", len(got))
	}
	for _, m := range got {
		b := m.Body()
		if !strings.Contains(b, "Purregebyr: 70\u00a0kr") || !strings.Contains(b, "Gjenstår å betale: 1\u00a0570\u00a0kr (med purregebyret)") ||
			!strings.Contains(b, "inkassoforskriften § 1-2") || strings.Contains(b, "ikke noe gebyr") {
			t.Errorf("the reminder with a fee:\n%s", b)
		}
	}
	var inv struct {
		ReminderFee int64
		Status      string
		PaidAmount  int64
	}
	e.do(t, "GET", "/api/v1/finance/invoices/1", finance, nil).json(t, &inv)
	if inv.ReminderFee != 7000 {
		t.Fatalf("invoice 1's reminder fee: %d øre, want 7000", inv.ReminderFee)
	}
	pay := func(ref string, amount int64, id string) { e.payByBank(t, finance, ref, amount, id) }
	pay("F1", 157000, withFee.ID)
	pay("F2", 150000, without.ID) // the invoice alone: settled, the fee not chased
	for n, id := range map[int64]string{1: withFee.ID, 2: without.ID} {
		e.do(t, "GET", fmt.Sprintf("/api/v1/finance/invoices/%d", n), finance, nil).json(t, &inv)
		p := e.reg(t, id).Payment
		if inv.Status != "paid" || p.Status != registration.PaymentPaid || p.PaidAmount != 150000 {
			t.Errorf("invoice %d: %s (paid %d); registration %s paid %d", n, inv.Status, inv.PaidAmount, p.Status, p.PaidAmount)
		}
	}
	var rep struct {
		Rows []struct {
			Registration string
			Anomalies    []string
		}
	}
	e.do(t, "GET", "/api/v1/finance/reconciliation?event=kurs", finance, nil).json(t, &rep)
	if len(rep.Rows) != 2 {
		t.Fatalf("reconciliation: %d rows", len(rep.Rows))
	}
	for _, row := range rep.Rows {
		if len(row.Anomalies) != 0 {
			t.Errorf("registration %s: anomalies %v after paying the invoice and the fee", row.Registration, row.Anomalies)
		}
	}
	var j journalJSON
	e.do(t, "GET", "/api/v1/finance/journal?from=2026-11-01&to=2026-12-31", finance, nil).json(t, &j)
	bal := map[string]int64{}
	for _, b := range j.Balances {
		bal[b.Number] = b.Debit - b.Credit
	}
	if bal["8070"] != -7000 || bal["1500"] != 0 || bal["1920"] != 307000 {
		t.Errorf("journal balances %v: want reminder fees 70 kr credited, receivables 0, bank 3 070 kr", bal)
	}

	// Paying beyond the invoice and the fee is an overpayment.
	pay("F3", 100, withFee.ID)
	e.do(t, "GET", "/api/v1/finance/invoices/1", finance, nil).json(t, &inv)
	if inv.Status != "overpaid" {
		t.Errorf("invoice 1 after 1 kr more: %s, want overpaid", inv.Status)
	}
}

// payByBank imports a bank statement with a credit of amount on the KID
// of registration id's invoice.
func (e *env) payByBank(t testing.TB, token, ref string, amount int64, id string) {
	t.Helper()
	if r := e.do(t, "POST", "/api/v1/finance/bank-statements", token, camtCredits(ref, amount, e.reg(t, id).Payment.KID), "Content-Type", "application/xml"); r.status != 200 {
		t.Fatalf("bank statement: %d %s", r.status, r.body)
	}
}
