package web_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/registration"
)

// TestManageTokenRotates: a participant replaces every link to their
// registration with a new one, mailed to them; the old ones stop working.
func TestManageTokenRotates(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	s := e.mustSignup(t, "free", person("kari@example.no"))
	if r := e.do(t, "GET", "/api/v1/me", s.ManageToken, nil); r.status != 200 {
		t.Fatalf("precondition: the first token works (%d)", r.status)
	}
	var out struct{ ManageToken string }
	r := e.do(t, "POST", "/api/v1/me/token", s.ManageToken, nil)
	r.json(t, &out)
	if r.status != 200 || out.ManageToken == "" || out.ManageToken == s.ManageToken {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	mustProblem(t, e.do(t, "GET", "/api/v1/me", s.ManageToken, nil), 401)
	if r := e.do(t, "GET", "/api/v1/me", out.ManageToken, nil); r.status != 200 {
		t.Errorf("the new token: %d", r.status)
	}
	var doc struct {
		Outbox map[string]registration.Mail `bson:"outbox"`
	}
	if err := e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": s.ID}, &doc); err != nil {
		t.Fatal(err)
	}
	if m, ok := doc.Outbox["new-link"]; !ok || m.TokenHash == "" {
		t.Errorf("no mail with the new link waits: %+v", doc.Outbox)
	}
}

// TestManageTokenExpires: a manage link stops working when the last of
// its registration's values is due for deletion.
func TestManageTokenExpires(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	s := e.mustSignup(t, "free", person("kari@example.no"))
	var doc struct {
		DeleteAt map[string]time.Time `bson:"deleteAt"`
	}
	if err := e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": s.ID}, &doc); err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for _, at := range doc.DeleteAt {
		if at.After(last) {
			last = at
		}
	}
	if last.IsZero() {
		t.Fatal("precondition: the values have deletion dates")
	}
	e.clock.add(last.Sub(e.clock.now()) - time.Hour)
	if r := e.do(t, "GET", "/api/v1/me", s.ManageToken, nil); r.status != 200 {
		t.Fatalf("an hour before the last deletion date: %d", r.status)
	}
	e.clock.add(2 * time.Hour)
	mustProblem(t, e.do(t, "GET", "/api/v1/me", s.ManageToken, nil), 401)
}
