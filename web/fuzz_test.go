package web_test

import (
	"testing"

	"github.com/pamelding/pamelding/mongodb"
)

// FuzzSignup sends arbitrary bodies to the sign-up route of the real app:
// no input may yield a 5xx, and an input that is refused stores nothing.
// The seed corpus (testdata/fuzz/FuzzSignup) runs with every go test;
// explore with: go test -fuzz FuzzSignup -fuzztime 60s ./web
func FuzzSignup(f *testing.F) {
	for _, seed := range []string{
		`{"fields":{"name":"Kari","email":"kari@example.no"}}`,
		`{"fields":{"name":"Kari","email":"kari@example.no","dietary":"nøtter"},"consents":{"health":true}}`,
		`{"fields":{"name":"Kari","email":"kari@example.no","dietary":"nøtter"}}`,
		`{"fields":{"name":"","email":"x"},"consents":{"marketing":"yes"}}`,
		`{"fields":{"phone":"+4791234567","date_of_birth":"2099-01-01"}}`,
		`{"fields":{"name":"A","email":"a@b.no","organisation":"=1+1"},"objections":{"partnerSharing":true},"lang":"en"}`,
		`{"fields":null}`, `[]`, `null`, `{"fields":{"name":{"$gt":""}}}`, `{"fields":{"__proto__":"x"}}`,
		"{\"fields\":{\"name\":\"\\u0000\"}}", `{"payment":{"method":"card"}} {}`,
	} {
		f.Add(seed)
	}
	e := newEnv(f)
	e.mustEvent(f, "fuzz", func(b map[string]any) {
		b["capacity"] = 1_000_000
		delete(b, "price")
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true},
			{"key": "organisation"}, {"key": "phone"}, {"key": "dietary"}}
	})
	f.Fuzz(func(t *testing.T, body string) {
		before := e.count(t, mongodb.Registrations)
		r := e.do(t, "POST", "/api/v1/events/fuzz/registrations", "", body)
		if r.status >= 500 {
			t.Fatalf("status %d for %q: %s", r.status, body, r.body)
		}
		after := e.count(t, mongodb.Registrations)
		if r.status != 201 && after != before {
			t.Fatalf("status %d stored a registration for %q", r.status, body)
		}
		if r.status == 201 && after != before+1 {
			t.Fatalf("201 but %d stored for %q", after-before, body)
		}
	})
}
