package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/registration"
)

// guardianToken is the token of the guardian's link in a registration's
// outbox, as the mailer would open it to send the guardian's mail.
func (e *env) guardianToken(t testing.TB, id string) string {
	t.Helper()
	var reg registration.Registration
	if err := e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": id}, &reg); err != nil {
		t.Fatal(err)
	}
	m, ok := reg.Outbox["guardian"]
	if !ok || m.Token == nil || m.To != registration.ToGuardian {
		t.Fatalf("no guardian mail queued: %+v", reg.Outbox)
	}
	tok, err := e.keys.OpenSecret("mail-token:"+m.TokenHash, *m.Token)
	if err != nil || !strings.HasPrefix(tok, "pmg_"+id+".") {
		t.Fatalf("guardian token %q, %v", tok, err)
	}
	return tok
}

// minorsEvent is a free race for minors, with dietary data under the
// health consent and the given capacity.
func (e *env) minorsEvent(t testing.TB, slug string, capacity int) {
	e.mustEvent(t, slug, func(b map[string]any) {
		delete(b, "price")
		b["capacity"] = capacity
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true},
			{"key": "date_of_birth", "required": true}, {"key": "guardian_name"}, {"key": "guardian_email"}, {"key": "dietary"}}
	})
}

func child(email string) map[string]any {
	return map[string]any{
		"fields": map[string]any{"name": "Emma Nordmann", "email": email, "date_of_birth": "2012-06-01",
			"guardian_name": "Kari Nordmann", "guardian_email": "kari@example.no", "dietary": "nøtteallergi"},
		"consents": map[string]any{"guardian": true, "health": true},
	}
}

// TestGuardianConfirms: a minor's registration holds its seat until the
// guardian confirms through their own link (finding 6: the box was
// unchecked); the participant's link cannot confirm; the guardian's
// withdrawal erases the consent-based data and tells the organiser.
func TestGuardianConfirms(t *testing.T) {
	e := newEnv(t)
	e.minorsEvent(t, "race", 10)
	s := e.mustSignup(t, "race", child("emma@example.no"))
	if s.Status != "pending_guardian" || e.seatsLeft(t, "race") != 9 {
		t.Fatalf("sign-up %+v, seats left %d", s, e.seatsLeft(t, "race"))
	}
	g := e.guardianToken(t, s.ID)

	// The child's link is not the guardian's, and the other way round.
	mustProblem(t, e.do(t, "POST", "/api/v1/guardian/confirm", s.ManageToken, nil), 401)
	mustProblem(t, e.do(t, "GET", "/api/v1/me", g, nil), 401)
	var rep struct {
		Status   string
		Guardian struct {
			HoldUntil   time.Time
			ConfirmedAt *time.Time
		}
		Fields []struct{ Key, Value string }
	}
	e.do(t, "GET", "/api/v1/guardian", g, nil).json(t, &rep)
	if rep.Status != "pending_guardian" || !rep.Guardian.HoldUntil.Equal(e.clock.now().Add(72*time.Hour)) || len(rep.Fields) == 0 {
		t.Fatalf("guardian's view %+v", rep)
	}
	mustProblem(t, e.do(t, "POST", "/api/v1/guardian/withdraw", g, nil), 409) // nothing confirmed yet

	r := e.do(t, "POST", "/api/v1/guardian/confirm", g, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"status":"confirmed"`) {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	mustProblem(t, e.do(t, "POST", "/api/v1/guardian/confirm", g, nil), 409)
	me := e.do(t, "GET", "/api/v1/me", s.ManageToken, nil)
	if !strings.Contains(string(me.body), `"channel":"guardian_link","byGuardian":true`) {
		t.Errorf("the guardian's own consent is not recorded: %s", me.body)
	}

	if !e.keysOf(t, s.ID)["dietary"] {
		t.Fatal("precondition: the dietary value's key is in the key store")
	}
	var w registration.GuardianWithdrawal
	r = e.do(t, "POST", "/api/v1/guardian/withdraw", g, nil)
	r.json(t, &w)
	if r.status != 200 || len(w.Erased) != 1 || w.Erased[0] != "dietary" || !w.OrganiserTold {
		t.Fatalf("withdraw: %d %s", r.status, r.body)
	}
	if e.keysOf(t, s.ID)["dietary"] || e.sealedOf(t, s.ID)["dietary"] || e.values(t, s.ID)["name"] != "Emma Nordmann" {
		t.Errorf("after withdrawal: keys %v, sealed %v", e.keysOf(t, s.ID), e.sealedOf(t, s.ID))
	}
	var reg registration.Registration
	_ = e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": s.ID}, &reg)
	m, ok := reg.Outbox["guardian-withdrawn"]
	if !ok || m.To != registration.ToOrganiser || len(m.Fields) != 1 || reg.ConsentState["health"] || reg.ConsentState["guardian"] || reg.Status != registration.Confirmed {
		t.Errorf("after withdrawal: outbox %+v, consents %v, status %s", reg.Outbox, reg.ConsentState, reg.Status)
	}
	mustProblem(t, e.do(t, "POST", "/api/v1/guardian/withdraw", g, nil), 409)
	if r := e.do(t, "POST", "/api/v1/guardian/cancel", g, nil); r.status != 200 || e.seatsLeft(t, "race") != 10 {
		t.Errorf("cancel: %d %s, seats left %d", r.status, r.body, e.seatsLeft(t, "race"))
	}
}

// TestGuardianHoldLapses: unconfirmed when the hold runs out, or declined,
// a minor's registration ends, the seat goes to the next, and the data is
// gone with its keys.
func TestGuardianHoldLapses(t *testing.T) {
	e := newEnv(t)
	e.minorsEvent(t, "race", 1)
	e.do(t, "PATCH", "/api/v1/events/race", adminToken, map[string]any{"waitlist": true})
	first := e.mustSignup(t, "race", child("emma@example.no"))
	second := e.mustSignup(t, "race", child("nora@example.no"))
	if first.Status != "pending_guardian" || second.Status != "waitlisted" {
		t.Fatalf("statuses %s %s", first.Status, second.Status)
	}
	if len(e.keysOf(t, first.ID)) == 0 {
		t.Fatal("precondition: keys in the key store")
	}
	ctx := context.Background()
	e.clock.add(71 * time.Hour)
	if n, err := e.a.Signups.ExpireGuardianHolds(ctx); err != nil || n != 0 {
		t.Fatalf("before the hold ran out: %d, %v", n, err)
	}
	e.clock.add(2 * time.Hour)
	if n, err := e.a.Signups.ExpireGuardianHolds(ctx); err != nil || n != 2 {
		t.Fatalf("lapsed %d, %v", n, err)
	}
	for _, id := range []string{first.ID, second.ID} {
		reg, err := e.a.Registrations.Get(ctx, id)
		if err != nil || reg.Status != registration.Expired || reg.Seat || reg.ErasedAt == nil || len(reg.Sealed) != 0 || len(e.keysOf(t, id)) != 0 {
			t.Errorf("lapsed %+v, keys %v", reg, e.keysOf(t, id))
		}
	}
	if e.seatsLeft(t, "race") != 1 {
		t.Errorf("the seat was not given back: %d left", e.seatsLeft(t, "race"))
	}
	mustProblem(t, e.do(t, "GET", "/api/v1/guardian", e.guardianTokenGone(t, first.ID), nil), 401)

	// Declined: at once. A waitlisted minor is offered a seat only once
	// the guardian confirmed.
	third := e.mustSignup(t, "race", child("ida@example.no"))
	fourth := e.mustSignup(t, "race", child("siri@example.no"))
	if third.Status != "pending_guardian" || fourth.Status != "waitlisted" {
		t.Fatalf("statuses %s %s", third.Status, fourth.Status)
	}
	g3, g4 := e.guardianToken(t, third.ID), e.guardianToken(t, fourth.ID)
	if r := e.do(t, "POST", "/api/v1/guardian/decline", g3, nil); r.status != 200 {
		t.Fatalf("decline: %d %s", r.status, r.body)
	}
	if reg, _ := e.a.Registrations.Get(ctx, fourth.ID); reg.Status != registration.Waitlisted || e.seatsLeft(t, "race") != 1 {
		t.Errorf("an unconfirmed minor was offered the seat: %s, %d left", reg.Status, e.seatsLeft(t, "race"))
	}
	if len(e.keysOf(t, third.ID)) != 0 {
		t.Error("a declined registration's keys stay")
	}
	if r := e.do(t, "POST", "/api/v1/guardian/confirm", g4, nil); r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if reg, _ := e.a.Registrations.Get(ctx, fourth.ID); reg.Status != registration.Offered {
		t.Errorf("once confirmed, the waiting minor is not offered the free seat: %s", reg.Status)
	}
}

// guardianTokenGone makes a guardian token of the right shape for an id
// whose tokens were revoked (a lapsed registration keeps none).
func (e *env) guardianTokenGone(t testing.TB, id string) string {
	return "pmg_" + id + "." + strings.Repeat("A", 43)
}

// TestGuardianPays: for a paid event, nothing is due until the guardian
// confirms; then the card payment page opens for the guardian.
func TestGuardianPays(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "paid", func(b map[string]any) {
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true},
			{"key": "date_of_birth", "required": true}, {"key": "guardian_name"}, {"key": "guardian_email"}, {"key": "dietary"}}
	})
	body := child("emma@example.no")
	body["payment"] = map[string]any{"method": "card"}
	r := e.do(t, "POST", "/api/v1/events/paid/registrations", "", body)
	var s struct {
		ID, Status, CheckoutURL, PaymentStatus string
	}
	r.json(t, &s)
	if r.status != 201 || s.Status != "pending_guardian" || s.CheckoutURL != "" || s.PaymentStatus != "not_due" {
		t.Fatalf("sign-up: %d %s", r.status, r.body)
	}
	r = e.do(t, "POST", "/api/v1/guardian/confirm", e.guardianToken(t, s.ID), nil)
	r.json(t, &s)
	if r.status != 200 || s.Status != "pending_payment" || s.CheckoutURL == "" || s.PaymentStatus != "pending" {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if d := e.reg(t, s.ID); d.Payment.SessionID == "" {
		t.Errorf("no checkout session stored: %+v", d.Payment)
	}
}

// TestParentRegistersTwoChildren: a parent signs up two children with the
// parent's own address (a minor is identified by the address with name and
// date of birth): both are registered, each with a link of their own.
func TestParentRegistersTwoChildren(t *testing.T) {
	e := newEnv(t)
	e.minorsEvent(t, "race", 10)
	emma := child("kari@example.no")
	jonas := child("kari@example.no")
	jonas["fields"].(map[string]any)["name"] = "Jonas Nordmann"
	jonas["fields"].(map[string]any)["date_of_birth"] = "2014-03-02"
	a := e.mustSignup(t, "race", emma)
	b := e.mustSignup(t, "race", jonas)
	if a.ID == b.ID || a.ManageToken == b.ManageToken || a.ManageToken == "" {
		t.Fatalf("two children, one registration: %+v %+v", a, b)
	}
	if n := e.count(t, "registrations"); n != 2 {
		t.Errorf("%d registrations, want 2", n)
	}
}
