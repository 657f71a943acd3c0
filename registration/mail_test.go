package registration_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pamelding/pamelding/app"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/events/eventstest"
	"github.com/pamelding/pamelding/mail"
	"github.com/pamelding/pamelding/mail/mailtest"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/mongodb/mongotest"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

type fixture struct {
	db   *mongodb.Store
	ev   *events.Service
	app  *app.App
	logs *bytes.Buffer
	smtp *mailtest.Server
	now  time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{db: mongotest.Open(t), logs: &bytes.Buffer{}, smtp: mailtest.Start(t), now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	keys, _ := privacy.NewKeyring(bytes.Repeat([]byte{1}, 32))
	f.app = app.New(f.db, mongotest.OpenKeys(t), keys, slog.New(slog.NewJSONHandler(f.logs, nil)), clock, app.Config{})
	f.ev = f.app.Events
	_, err := f.ev.Create(context.Background(), eventstest.Request("gala", events.Settings{Kind: events.Conference, Title: privacy.Text{NB: "Gallamiddag", EN: "Gala dinner"},
		StartsAt: f.now.Add(30 * 24 * time.Hour), EndsAt: f.now.Add(30*24*time.Hour + 4*time.Hour), Capacity: 100,
		Fields:    []events.FormField{{Key: "name", Required: true}, {Key: "email", Required: true}, {Key: "dietary"}},
		Organiser: events.Organiser{Name: "Janteloppet AS", PrivacyEmail: "personvern@example.no"},
	}), "test")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) sender(t testing.TB) *mail.Sender {
	s, err := mail.Parse(f.smtp.URL(), "Janteloppet <pamelding@example.no>")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConfirmationMail(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	res, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{
		Fields:   map[string]string{"name": "Kari Nordmann", "email": "kari@example.no", "dietary": "skalldyrallergi"},
		Consents: registration.ConsentsRequest{privacy.ConsentHealth: true},
	}, registration.API)
	if err != nil {
		t.Fatal(err)
	}
	m := registration.NewMailer(f.app.Domain, f.sender(t), "https://pamelding.example.no")
	n, err := m.SendDue(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sent %d, %v", n, err)
	}
	got := f.smtp.Mail()
	if len(got) != 1 || got[0].To[0] != "kari@example.no" {
		t.Fatalf("received %+v", got)
	}
	body := got[0].Body()
	if !strings.Contains(got[0].Header("Subject"), "Gallamiddag") || !strings.Contains(body, "bekreftet") {
		t.Errorf("subject %q, body:\n%s", got[0].Header("Subject"), body)
	}
	if !strings.Contains(body, "https://pamelding.example.no/m/"+res.ManageToken) {
		t.Errorf("no manage link in:\n%s", body)
	}
	if strings.Contains(got[0].Data, "skalldyr") || strings.Contains(body, "skalldyr") {
		t.Error("the mail carries dietary data")
	}
	// The ticket: its code in the text and as a QR code attached.
	code := f.app.Domain.TicketCode(res.ID)
	if !strings.Contains(body, "billettkoden: "+code) {
		t.Errorf("no ticket code in:\n%s", body)
	}
	if att := got[0].Attachments(); len(att) != 1 || att[0].Filename != "billett.png" || !strings.HasPrefix(att[0].ContentType, "image/png") {
		t.Errorf("attachments %+v", att)
	} else if img, err := png.Decode(bytes.NewReader(att[0].Data)); err != nil || img.Bounds().Dx() < 100 {
		t.Errorf("the attached QR code is not a PNG: %v", err)
	}

	t.Run("SentOnce", func(t *testing.T) {
		if n, _ := m.SendDue(ctx); n != 0 {
			t.Errorf("sent again: %d", n)
		}
	})
	t.Run("TokenNotKeptAfterSending", func(t *testing.T) {
		var raw bson.Raw
		if err := f.db.Collection(mongodb.Registrations).FindOne(ctx, bson.M{"_id": res.ID}, &raw); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Outbox map[string]struct {
				Token  any        `bson:"token"`
				SentAt *time.Time `bson:"sentAt"`
			} `bson:"outbox"`
			OutboxNextAt *time.Time `bson:"outboxNextAt"`
		}
		_ = bson.Unmarshal(raw, &doc)
		c := doc.Outbox["confirmation"]
		if c.Token != nil || c.SentAt == nil || doc.OutboxNextAt != nil {
			t.Errorf("after sending: %+v, next %v", c, doc.OutboxNextAt)
		}
	})
	if strings.Contains(f.logs.String(), "kari@") || strings.Contains(f.logs.String(), res.ManageToken) {
		t.Errorf("log has personal data:\n%s", f.logs)
	}
}

func TestMailRetry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{Fields: map[string]string{"name": "Ola", "email": "ola@example.no"}}, registration.API); err != nil {
		t.Fatal(err)
	}
	f.smtp.FailNext(1)
	m := registration.NewMailer(f.app.Domain, f.sender(t), "https://x.example")
	if n, err := m.SendDue(ctx); err != nil || n != 0 {
		t.Fatalf("first attempt sent %d, %v", n, err)
	}
	if n, _ := m.SendDue(ctx); n != 0 {
		t.Fatal("retried before its backoff")
	}
	f.now = f.now.Add(time.Minute)
	if n, err := m.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("retry sent %d, %v", n, err)
	}
	if strings.Contains(f.logs.String(), "ola@") {
		t.Error("the failure log names the address")
	}
	if !strings.Contains(f.logs.String(), `"msg":"mail not sent"`) {
		t.Error("the failure is not logged")
	}
}

// TestMailersShareOutbox: two mailers (as on two instances) sending at
// once deliver every mail exactly once.
func TestMailersShareOutbox(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const n = 20
	for i := range n {
		if _, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{Fields: map[string]string{"name": "P", "email": fmt.Sprintf("p%d@example.no", i)}}, registration.API); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 2 {
		m := registration.NewMailer(f.app.Domain, f.sender(t), "https://x.example")
		wg.Go(func() {
			for range 3 {
				if _, err := m.SendDue(ctx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := f.smtp.Mail()
	seen := map[string]int{}
	for _, m := range got {
		seen[m.To[0]]++
	}
	if len(got) != n || len(seen) != n {
		t.Errorf("%d mails to %d addresses, want %d each once", len(got), len(seen), n)
	}
}

func TestNoSender(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{Fields: map[string]string{"name": "Ola", "email": "ola@example.no"}}, registration.API); err != nil {
		t.Fatal(err)
	}
	m := registration.NewMailer(f.app.Domain, nil, "https://x.example")
	if n, err := m.SendDue(ctx); err != nil || n != 0 {
		t.Fatalf("%d, %v", n, err)
	}
	if !strings.Contains(f.logs.String(), "SMTP_URL is not set") || strings.Contains(f.logs.String(), "ola@") {
		t.Errorf("log:\n%s", f.logs)
	}
	// The mail waits and goes out once a sender is configured.
	if n, err := registration.NewMailer(f.app.Domain, f.sender(t), "https://x.example").SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("later: %d, %v", n, err)
	}
}

// TestRestrictedGetsNoMail: no mail while processing is restricted; the
// mail held back goes out once the restriction is lifted.
func TestRestrictedGetsNoMail(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	res, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{Fields: map[string]string{"name": "Ola", "email": "ola@example.no"}}, registration.API)
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := f.app.Registrations.Get(ctx, res.ID)
	if _, err := f.app.Rights.Restrict(ctx, reg, true); err != nil {
		t.Fatal(err)
	}
	m := registration.NewMailer(f.app.Domain, f.sender(t), "https://x.example")
	if n, _ := m.SendDue(ctx); n != 0 {
		t.Fatalf("sent %d to a restricted registration", n)
	}
	if _, err := f.app.Rights.Restrict(ctx, reg, false); err != nil {
		t.Fatal(err)
	}
	if n, err := m.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("after lifting: sent %d, %v", n, err)
	}
}

// TestSweepsGoOn: one registration the mailer cannot handle (its event is
// gone) is logged by id and the sweep sends the others' mail; it used to
// stop at the first failure.
func TestSweepsGoOn(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var ids []string
	for _, who := range []string{"a", "b", "c"} {
		res, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{Fields: map[string]string{"name": who, "email": who + "@example.no"}}, registration.API)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	if _, err := f.db.Collection(mongodb.Registrations).UpdateOne(ctx, bson.M{"_id": ids[0]}, bson.M{"$set": bson.M{"event": "gone"}}); err != nil {
		t.Fatal(err)
	}
	n, err := registration.NewMailer(f.app.Domain, f.sender(t), "https://x.example").SendDue(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 items failed") {
		t.Fatalf("err %v", err)
	}
	if n != 2 || len(f.smtp.Mail()) != 2 {
		t.Errorf("sent %d (%d received), want the 2 others", n, len(f.smtp.Mail()))
	}
	if !strings.Contains(f.logs.String(), ids[0]) || strings.Contains(f.logs.String(), "a@example.no") {
		t.Errorf("the failing item is not logged by id alone: %s", f.logs.String())
	}
}

// TestPartnerMail: the confirmation says who the partners are and how to
// refuse (Janteloppet's notice promises it), and a partner added later is
// announced by a mail of its own with a link to object.
func TestPartnerMail(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.app.Events.Patch(ctx, "gala", events.PatchRequest{Partners: &[]events.Partner{{ID: "bank", Name: "Sparebanken Øst"}}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{Fields: map[string]string{"name": "Kari", "email": "kari@example.no"}}, registration.API); err != nil {
		t.Fatal(err)
	}
	m := registration.NewMailer(f.app.Domain, f.sender(t), "https://x.example")
	if n, err := m.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("sent %d, %v", n, err)
	}
	body := f.smtp.Mail()[0].Body()
	if !strings.Contains(body, "Sparebanken Øst") || !strings.Contains(body, "reservere deg") {
		t.Errorf("the confirmation does not state partner sharing and how to refuse:\n%s", body)
	}
	if _, err := f.app.Events.Patch(ctx, "gala", events.PatchRequest{Partners: &[]events.Partner{{ID: "bank", Name: "Sparebanken Øst"}, {ID: "kommune", Name: "Kongsvinger kommune"}}}, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := f.app.NoticePartners(ctx); err != nil || n != 1 {
		t.Fatalf("noticed %d, %v", n, err)
	}
	if n, err := m.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("sent %d, %v", n, err)
	}
	got := f.smtp.Mail()[1]
	if !strings.Contains(got.Header("Subject"), "Ny partner") || !strings.Contains(got.Body(), "Kongsvinger kommune") || !strings.Contains(got.Body(), "https://x.example/m/pmr_") {
		t.Errorf("partner notice:\n%s\n%s", got.Header("Subject"), got.Body())
	}
}

// TestGuardianMail: a minor's sign-up mails the guardian's address a link
// of its own (the participant's confirmation says a guardian must
// confirm, and by when); a guardian's withdrawal mails the organiser's
// privacy address the registration and the fields, never a value or name.
func TestGuardianMail(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.app.Events.Patch(ctx, "gala", events.PatchRequest{Fields: &[]events.FormField{{Key: "name", Required: true}, {Key: "email", Required: true},
		{Key: "date_of_birth", Required: true}, {Key: "guardian_name"}, {Key: "guardian_email"}, {Key: "dietary"}}}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{
		Fields: map[string]string{"name": "Emma Nordmann", "email": "emma@example.no", "date_of_birth": "2012-06-01",
			"guardian_name": "Kari Nordmann", "guardian_email": "kari@example.no", "dietary": "nøtteallergi"},
		Consents: registration.ConsentsRequest{privacy.ConsentGuardian: true, privacy.ConsentHealth: true},
	}, registration.API)
	if err != nil || res.Status != registration.PendingGuardian {
		t.Fatalf("sign-up %+v, %v", res, err)
	}
	m := registration.NewMailer(f.app.Domain, f.sender(t), "https://x.example")
	if n, err := m.SendDue(ctx); err != nil || n != 2 {
		t.Fatalf("sent %d, %v", n, err)
	}
	var toChild, toGuardian mailtest.Mail
	for _, got := range f.smtp.Mail() {
		switch got.To[0] {
		case "emma@example.no":
			toChild = got
		case "kari@example.no":
			toGuardian = got
		}
	}
	if b := toGuardian.Body(); !strings.Contains(b, "Emma Nordmann") || !strings.Contains(b, "https://x.example/g/pmg_"+res.ID+".") ||
		!strings.Contains(b, "24.11.2026 13:00") || strings.Contains(b, "nøtteallergi") || strings.Contains(b, "/m/pmr_") {
		t.Errorf("the guardian's mail:\n%s", b)
	}
	if b := toChild.Body(); !strings.Contains(b, "en foresatt bekrefte påmeldingen") || !strings.Contains(b, "24.11.2026 13:00") || strings.Contains(b, "pmg_") {
		t.Errorf("the participant's confirmation:\n%s", b)
	}

	reg, _ := f.app.Registrations.Get(ctx, res.ID)
	if _, err := f.app.Signups.ConfirmGuardian(ctx, reg); err != nil {
		t.Fatal(err)
	}
	reg, _ = f.app.Registrations.Get(ctx, res.ID)
	if _, err := f.app.Rights.GuardianWithdraw(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if n, err := m.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("sent %d, %v", n, err)
	}
	got := f.smtp.Mail()[2]
	if b := got.Body(); got.To[0] != "personvern@example.no" || !strings.Contains(b, res.ID) || !strings.Contains(b, "dietary") ||
		strings.Contains(b, "Emma") || strings.Contains(b, "nøtteallergi") || strings.Contains(b, "kari@") {
		t.Errorf("the organiser's notice to %v:\n%s", got.To, b)
	}
}

// TestLostLink: an address that lost its confirmation asks for its link:
// a new one goes to that address only, beside the old (which keeps
// working); an unknown address is answered the same and sent nothing; a
// second ask within ten minutes sends nothing more.
func TestLostLink(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	res, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{
		Fields: map[string]string{"name": "Kari Nordmann", "email": "kari@example.no"}}, registration.API)
	if err != nil {
		t.Fatal(err)
	}
	m := registration.NewMailer(f.app.Domain, f.sender(t), "https://pamelding.example.no")
	if _, err := m.SendDue(ctx); err != nil || len(f.smtp.Mail()) != 1 {
		t.Fatalf("precondition: the confirmation was sent: %v %d", err, len(f.smtp.Mail()))
	}
	if n, err := f.app.Rights.SendLink(ctx, "nobody@example.no", "gala"); err != nil || n != 0 {
		t.Errorf("an unknown address: %d %v", n, err)
	}
	if n, err := f.app.Rights.SendLink(ctx, " KARI@example.no ", "gala"); err != nil || n != 1 {
		t.Fatalf("Kari's address: %d %v", n, err)
	}
	if n, _ := f.app.Rights.SendLink(ctx, "kari@example.no", ""); n != 0 {
		t.Errorf("a second ask within ten minutes sent %d", n)
	}
	if _, err := m.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
	got := f.smtp.Mail()
	if len(got) != 2 || got[1].To[0] != "kari@example.no" || !strings.Contains(got[1].Header("Subject"), "Lenken til påmeldingen din") {
		t.Fatalf("mail %+v", got)
	}
	link := regexp.MustCompile(`/m/(pmr_\S+)`).FindStringSubmatch(got[1].Body())
	if link == nil {
		t.Fatalf("no link in:\n%s", got[1].Body())
	}
	for _, tok := range []string{link[1], res.ManageToken} {
		if reg, err := f.app.Domain.Store.ByToken(ctx, tok); err != nil || reg.ID != res.ID {
			t.Errorf("token %.8s… does not open the registration: %v", tok, err)
		}
	}
	if _, err := f.app.Rights.SendLink(ctx, "not an address", ""); err == nil {
		t.Error("an invalid address was taken")
	}
}

// TestCancelledMail: cancelling is told by mail, in the same update as
// the cancellation; an event cancelled by the organiser says so.
func TestCancelledMail(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	signup := func(email string) *registration.Registration {
		res, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{
			Fields: map[string]string{"name": "Kari Nordmann", "email": email}}, registration.API)
		if err != nil {
			t.Fatal(err)
		}
		reg, _ := f.app.Domain.Store.Get(ctx, res.ID)
		return reg
	}
	kari, ola := signup("kari@example.no"), signup("ola@example.no")
	m := registration.NewMailer(f.app.Domain, f.sender(t), "https://pamelding.example.no")
	if _, err := m.SendDue(ctx); err != nil || len(f.smtp.Mail()) != 2 {
		t.Fatalf("precondition: two confirmations: %v %d", err, len(f.smtp.Mail()))
	}
	if _, err := f.app.Signups.Cancel(ctx, kari, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Signups.Cancel(ctx, ola, true); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
	got := f.smtp.Mail()[2:]
	if len(got) != 2 {
		t.Fatalf("%d mails after two cancellations", len(got))
	}
	for _, g := range got {
		body := g.Body()
		if !strings.HasPrefix(g.Header("Subject"), "Avmeldt: Gallamiddag") || !strings.Contains(body, "avmeldt.") || strings.Contains(body, "Kari") {
			t.Errorf("to %v: %q\n%s", g.To, g.Header("Subject"), body)
		}
		if byEvent := strings.Contains(body, "Arrangøren har avlyst"); byEvent != (g.To[0] == "ola@example.no") {
			t.Errorf("to %v: says the event was cancelled: %v", g.To, byEvent)
		}
	}
}
