package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/staff"
)

// TestIdempotencyKey: a POST that creates something, retried with the
// same Idempotency-Key after a lost answer, gets the first answer again
// (secrets included) and creates nothing more; the key is scoped to who
// asks and to the body, and the kept answer is sealed in the store.
func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })

	t.Run("Token", func(t *testing.T) {
		req := map[string]any{"role": "organiser", "name": "kari"}
		first := e.do(t, "POST", "/api/v1/tokens", adminToken, req, "Idempotency-Key", "tok-1")
		again := e.do(t, "POST", "/api/v1/tokens", adminToken, req, "Idempotency-Key", "tok-1")
		if first.status != 201 || again.status != 201 || string(first.body) != string(again.body) {
			t.Fatalf("retry: %d %s / %d %s", first.status, first.body, again.status, again.body)
		}
		if !strings.Contains(string(first.body), "pmd_") {
			t.Fatalf("precondition: the answer carries the token: %s", first.body)
		}
		other := e.do(t, "POST", "/api/v1/tokens", adminToken, map[string]any{"role": "organiser", "name": "ola"}, "Idempotency-Key", "tok-1")
		if other.status != 201 || string(other.body) == string(first.body) {
			t.Errorf("the same key with another body replayed the first answer: %s", other.body)
		}
		var list struct{ Tokens []struct{ Name string } }
		e.do(t, "GET", "/api/v1/tokens", adminToken, nil).json(t, &list)
		n := 0
		for _, tk := range list.Tokens {
			if tk.Name == "kari" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d tokens named kari, want 1", n)
		}
		// Kept sealed: no token in clear in the store.
		var docs []bson.M
		if err := e.store.Collection(mongodb.WebState).All(context.Background(), bson.M{}, &docs); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(fmt.Sprint(docs), "pmd_") {
			t.Error("a kept answer holds a token in clear")
		}
	})

	t.Run("Event", func(t *testing.T) {
		body := eventBody("retried")
		first := e.do(t, "POST", "/api/v1/events", adminToken, body, "Idempotency-Key", "ev-1")
		again := e.do(t, "POST", "/api/v1/events", adminToken, body, "Idempotency-Key", "ev-1")
		if first.status != 201 || again.status != 201 || again.header.Get("Location") != first.header.Get("Location") {
			t.Errorf("event retry: %d / %d %s", first.status, again.status, again.body)
		}
		mustProblem(t, e.do(t, "POST", "/api/v1/events", adminToken, body), 409) // without the key: taken
	})

	t.Run("Signup", func(t *testing.T) {
		body := person("kari@example.no")
		first := e.do(t, "POST", "/api/v1/events/free/registrations", "", body, "Idempotency-Key", "signup-7f3a")
		again := e.do(t, "POST", "/api/v1/events/free/registrations", "", body, "Idempotency-Key", "signup-7f3a")
		if first.status != 201 || again.status != 201 || string(first.body) != string(again.body) || !strings.Contains(string(again.body), "pmr_") {
			t.Errorf("sign-up retry: %d %s / %d %s", first.status, first.body, again.status, again.body)
		}
		if n := e.count(t, mongodb.Registrations); n != 1 {
			t.Errorf("%d registrations, want 1", n)
		}
	})

	t.Run("OtherStaff", func(t *testing.T) {
		org := e.token(t, staff.CreateRequest{Role: staff.Organiser, Name: "org"})
		a := e.do(t, "POST", "/api/v1/events", adminToken, eventBody("mine"), "Idempotency-Key", "shared")
		b := e.do(t, "POST", "/api/v1/events", org, eventBody("mine"), "Idempotency-Key", "shared")
		if a.status != 201 || b.status != 409 {
			t.Errorf("another principal's key replayed an answer: %d then %d %s", a.status, b.status, b.body)
		}
	})
}
