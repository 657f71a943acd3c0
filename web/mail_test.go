package web_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pamelding/pamelding/mail/mailtest"
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
	pay := func(ref string, amount int64, id string) {
		t.Helper()
		if r := e.do(t, "POST", "/api/v1/finance/bank-statements", finance, camtCredits(ref, amount, e.reg(t, id).Payment.KID), "Content-Type", "application/xml"); r.status != 200 {
			t.Fatalf("bank statement: %d %s", r.status, r.body)
		}
	}
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
		!strings.Contains(b, "Forfallsdatoen var 05.12.2026") {
		t.Errorf("the reminder to %v:\n%s", reminder.To, b)
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
