package web_test

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/registration"
)

// shape is an answer with the values that must differ stripped: its
// status and its members' names.
func shape(t *testing.T, r response) string {
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("%d %s", r.status, r.body)
	}
	keys := []string{}
	for k, v := range m {
		if k == "status" || k == "paymentStatus" {
			keys = append(keys, k+"="+v.(string))
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// TestNoEmailOracle: no answer tells whether another person's address is
// registered (finding 9: a second sign-up and an e-mail change answered
// 409 when it was). A sign-up with a registered address is answered like
// one with a fresh address, and the address's owner is told in the
// confirmation; an address change is answered the same either way and
// waits for confirmation from the new address.
func TestNoEmailOracle(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "konf", func(b map[string]any) { delete(b, "price") })
	victim := e.mustSignup(t, "konf", person("kari@example.no"))

	taken := e.do(t, "POST", "/api/v1/events/konf/registrations", "", person(" KARI@example.no"))
	fresh := e.do(t, "POST", "/api/v1/events/konf/registrations", "", person("nobody@example.no"))
	if taken.status != fresh.status || shape(t, taken) != shape(t, fresh) {
		t.Errorf("a registered address is answered otherwise: %d %s against %d %s", taken.status, taken.body, fresh.status, fresh.body)
	}
	var second signup
	taken.json(t, &second)
	if second.ID == victim.ID || strings.Contains(string(taken.body), victim.ID) {
		t.Fatal("the answer names the existing registration")
	}
	// The second registration is the new one's, with what was sent.
	var me struct{ Fields []struct{ Key, Value string } }
	e.do(t, "GET", "/api/v1/me", second.ManageToken, nil).json(t, &me)
	if len(me.Fields) == 0 {
		t.Fatal("the second registration holds nothing")
	}
	var doc registration.Registration
	_ = e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": second.ID}, &doc)
	if doc.Outbox["confirmation"].Others != 1 {
		t.Errorf("the owner is not told of the other registration: %+v", doc.Outbox["confirmation"])
	}

	// An address change: the same answer whoever holds the new address.
	other := e.mustSignup(t, "konf", person("ola@example.no"))
	toTaken := e.do(t, "PATCH", "/api/v1/me", other.ManageToken, map[string]any{"fields": map[string]any{"email": "kari@example.no"}})
	ola2 := e.mustSignup(t, "konf", person("ola2@example.no"))
	toFree := e.do(t, "PATCH", "/api/v1/me", ola2.ManageToken, map[string]any{"fields": map[string]any{"email": "free@example.no"}})
	if toTaken.status != 200 || toFree.status != 200 || shape(t, toTaken) != shape(t, toFree) {
		t.Errorf("address changes answered otherwise: %d %s against %d %s", toTaken.status, toTaken.body, toFree.status, toFree.body)
	}
	if v := e.values(t, other.ID); v["email"] != "ola@example.no" || v["pending_email"] != "kari@example.no" {
		t.Errorf("the new address took effect before it was confirmed: %v", v)
	}
}

// TestEmailChangeConfirmed: a new address is used once confirmed from the
// link mailed to it: the page asks first (a GET changes nothing), the
// old address's key is destroyed, and an unconfirmed one goes when its
// time runs out.
func TestEmailChangeConfirmed(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "konf", func(b map[string]any) { delete(b, "price") })
	s := e.mustSignup(t, "konf", person("kari@example.no"))
	if r := e.do(t, "PATCH", "/api/v1/me", s.ManageToken, map[string]any{"fields": map[string]any{"email": "kari.ny@example.no"}}); r.status != 200 ||
		!strings.Contains(string(r.body), `"pendingEmail":"kari.ny@example.no"`) {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	var doc registration.Registration
	_ = e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": s.ID}, &doc)
	m, ok := doc.Outbox["email-change"]
	if !ok || m.To != registration.ToPendingEmail || m.Token == nil {
		t.Fatalf("no confirmation mail to the new address: %+v", doc.Outbox)
	}
	token, err := e.keys.OpenSecret("mail-token:"+m.TokenHash, *m.Token)
	if err != nil || !strings.HasPrefix(token, "pmc_"+s.ID+".") {
		t.Fatalf("token %q %v", token, err)
	}
	// The manage token is no address-change token, nor the other way.
	mustProblem(t, e.do(t, "GET", "/api/v1/me", token, nil), 401)
	if r := e.do(t, "GET", "/c/"+s.ManageToken, "", nil); r.status != 404 {
		t.Errorf("a manage token opens the address change: %d", r.status)
	}
	if r := e.do(t, "GET", "/c/"+token, "", nil); r.status != 200 || !strings.Contains(string(r.body), "confirm-email") || e.values(t, s.ID)["email"] != "kari@example.no" {
		t.Fatalf("the page: %d, values %v", r.status, e.values(t, s.ID))
	}
	if _, err := e.a.Rights.ConfirmEmail(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	v := e.values(t, s.ID)
	if v["email"] != "kari.ny@example.no" || v["pending_email"] != "" || e.keysOf(t, s.ID)["pending_email"] || e.keysOf(t, s.ID)["email~prev"] {
		t.Errorf("after confirming: %v, keys %v", v, e.keysOf(t, s.ID))
	}
	if _, err := e.a.Rights.ConfirmEmail(context.Background(), token); err == nil {
		t.Error("the link confirmed twice")
	}

	// Unconfirmed, the new address goes when its time runs out.
	e.do(t, "PATCH", "/api/v1/me", s.ManageToken, map[string]any{"fields": map[string]any{"email": "typo@exmaple.no"}})
	if !e.keysOf(t, s.ID)["pending_email"] {
		t.Fatal("precondition: a new address waits")
	}
	e.clock.add(49 * time.Hour)
	if _, err := e.a.Retention.RunRetention(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if e.keysOf(t, s.ID)["pending_email"] || e.sealedOf(t, s.ID)["pending_email"] || e.values(t, s.ID)["email"] != "kari.ny@example.no" {
		t.Errorf("after the time ran out: keys %v", e.keysOf(t, s.ID))
	}
}
