package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/staff"
)

// mustEvent creates an event from eventBody(slug), changed by change.
func (e *env) mustEvent(t testing.TB, slug string, change func(map[string]any)) {
	t.Helper()
	b := eventBody(slug)
	if change != nil {
		change(b)
	}
	if r := e.do(t, "POST", "/api/v1/events", adminToken, b); r.status != 201 {
		t.Fatalf("create event: %d %s", r.status, r.body)
	}
}

type signup struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	ManageToken string `json:"manageToken"`
}

func (e *env) mustSignup(t testing.TB, slug string, body map[string]any) signup {
	t.Helper()
	r := e.do(t, "POST", "/api/v1/events/"+slug+"/registrations", "", body)
	if r.status != 201 {
		t.Fatalf("sign-up: %d %s", r.status, r.body)
	}
	var s signup
	r.json(t, &s)
	return s
}

func person(email string) map[string]any {
	return map[string]any{"fields": map[string]any{"name": "Kari Nordmann", "email": email}, "payment": map[string]any{"method": "card"}}
}

func (e *env) seatsLeft(t *testing.T, slug string) int {
	t.Helper()
	var ev struct {
		SeatsLeft int `bson:"seatsLeft"`
	}
	if err := e.store.Collection(mongodb.Events).FindOne(context.Background(), bson.M{"slug": slug}, &ev); err != nil {
		t.Fatal(err)
	}
	return ev.SeatsLeft
}

func TestSignup(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "paid", nil)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })

	t.Run("Free", func(t *testing.T) {
		s := e.mustSignup(t, "free", map[string]any{"fields": map[string]any{"name": "Ola", "email": "ola@example.no"}})
		if s.Status != "confirmed" || !strings.HasPrefix(s.ManageToken, "pmr_") || len(s.ManageToken) != len("pmr_")+26+1+43 || !strings.HasPrefix(s.ManageToken, "pmr_"+s.ID+".") || s.ID == "" {
			t.Errorf("sign-up %+v", s)
		}
	})
	t.Run("Paid", func(t *testing.T) {
		s := e.mustSignup(t, "paid", person("kari@example.no"))
		if s.Status != "pending_payment" {
			t.Errorf("status %s", s.Status)
		}
		if left := e.seatsLeft(t, "paid"); left != 299 {
			t.Errorf("seats left %d, want 299", left)
		}
	})
	t.Run("ValuesNormalised", func(t *testing.T) {
		s := e.mustSignup(t, "free", map[string]any{"fields": map[string]any{"name": "  Per  ", "email": "per@example.no", "organisation": " Acme AS "}})
		if v := e.values(t, s.ID); v["name"] != "Per" || v["organisation"] != "Acme AS" {
			t.Errorf("stored %v", v)
		}
	})
}

// TestSignupRefused: every bad request gets its problem and stores nothing
// and holds no seat.
func TestSignupRefused(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "paid", func(b map[string]any) {
		b["fields"] = []map[string]any{
			{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "organisation"},
			{"key": "phone"}, {"key": "dietary"}, {"key": "invoice_org_number"},
		}
	})
	e.mustEvent(t, "closed", func(b map[string]any) {
		b["registrationClosesAt"] = "2026-11-21T11:00:00Z"
		b["registrationOpensAt"] = "2026-11-01T00:00:00Z"
	})
	e.mustEvent(t, "full", func(b map[string]any) { b["capacity"] = 1 })
	e.mustSignup(t, "full", person("first@example.no"))
	e.mustSignup(t, "paid", person("taken@example.no"))

	with := func(change func(fields map[string]any, body map[string]any)) map[string]any {
		b := person("new@example.no")
		change(b["fields"].(map[string]any), b)
		return b
	}
	for _, tc := range []struct {
		name   string
		slug   string
		body   any
		status int
		code   string
		field  string
		fcode  string
	}{
		{"UnknownEvent", "nope", person("a@example.no"), 404, "not_found", "", ""},
		{"Closed", "closed", person("a@example.no"), 409, "registration_closed", "", ""},
		{"SoldOut", "full", person("second@example.no"), 409, "sold_out", "", ""},
		{"Undeclared", "paid", with(func(f, _ map[string]any) { f["date_of_birth"] = "1990-01-01" }), 422, "validation", "fields.date_of_birth", "undeclared"},
		{"UndeclaredUnknownKey", "paid", with(func(f, _ map[string]any) { f["ssn"] = "01019012345" }), 422, "validation", "fields.ssn", "undeclared"},
		{"Required", "paid", with(func(f, _ map[string]any) { delete(f, "name") }), 422, "validation", "fields.name", "required"},
		{"EmptyIsMissing", "paid", with(func(f, _ map[string]any) { f["name"] = "   " }), 422, "validation", "fields.name", "required"},
		{"EmailInvalid", "paid", with(func(f, _ map[string]any) { f["email"] = "kari@" }), 422, "validation", "fields.email", "invalid"},
		{"PhoneInvalid", "paid", with(func(f, _ map[string]any) { f["phone"] = "123" }), 422, "validation", "fields.phone", "invalid"},
		{"OrgNumberCheckDigit", "paid", with(func(f, _ map[string]any) { f["invoice_org_number"] = "923609017" }), 422, "validation", "fields.invoice_org_number", "invalid"},
		{"TooLong", "paid", with(func(f, _ map[string]any) { f["name"] = strings.Repeat("x", 201) }), 422, "validation", "fields.name", "invalid"},
		{"ControlCharacter", "paid", with(func(f, _ map[string]any) { f["organisation"] = "Acme\u0007" }), 422, "validation", "fields.organisation", "invalid"},
		{"HealthWithoutConsent", "paid", with(func(f, _ map[string]any) { f["dietary"] = "nøtteallergi" }), 422, "validation", "fields.dietary", "consent_required"},
		{"HealthConsentFalse", "paid", with(func(f, b map[string]any) { f["dietary"] = "laktose"; b["consents"] = map[string]any{"health": false} }), 422, "validation", "fields.dietary", "consent_required"},
		{"PaymentMissing", "paid", with(func(_, b map[string]any) { delete(b, "payment") }), 422, "validation", "payment.method", "required"},
		{"PaymentInvalid", "paid", with(func(_, b map[string]any) { b["payment"] = map[string]any{"method": "bitcoin"} }), 422, "validation", "payment.method", "invalid"},
		{"UnknownTopLevel", "paid", with(func(_, b map[string]any) { b["referrer"] = "x" }), 422, "validation", "referrer", "unknown"},
		{"UnknownConsent", "paid", with(func(_, b map[string]any) { b["consents"] = map[string]any{"profiling": true} }), 422, "validation", "consents.profiling", "undeclared"},
		{"FieldNotString", "paid", with(func(f, _ map[string]any) { f["name"] = 42 }), 400, "wrong_type", "", ""},
		{"Malformed", "paid", `{"fields": `, 400, "malformed_json", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.count(t, mongodb.Registrations)
			seats := e.seatsLeft(t, "paid")
			p := mustProblem(t, e.do(t, "POST", "/api/v1/events/"+tc.slug+"/registrations", "", tc.body), tc.status)
			if p.Code != tc.code {
				t.Errorf("code %q, want %q", p.Code, tc.code)
			}
			if tc.field != "" && !p.has(tc.field, tc.fcode) {
				t.Errorf("errors %+v, want {%s %s}", p.Errors, tc.field, tc.fcode)
			}
			if after := e.count(t, mongodb.Registrations); after != before {
				t.Errorf("%d registrations stored", after-before)
			}
			if left := e.seatsLeft(t, "paid"); left != seats {
				t.Errorf("seats left %d, was %d", left, seats)
			}
		})
	}
	if left := e.seatsLeft(t, "full"); left != 0 {
		t.Errorf("full event: seats left %d", left)
	}
}

// TestHealthDataAtRest reads the raw documents from the store: no dietary
// plaintext anywhere, and destroying the data key makes it unrecoverable.
func TestHealthDataAtRest(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "gala", nil)
	const secret = "alvorlig peanøttallergi, har EpiPen"
	b := person("kari@example.no")
	b["fields"].(map[string]any)["dietary"] = secret
	b["consents"] = map[string]any{"health": true}
	s := e.mustSignup(t, "gala", b)

	var raw bson.Raw
	if err := e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": s.ID}, &raw); err != nil {
		t.Fatal(err)
	}
	for _, needle := range []string{secret, "peanøtt", "EpiPen"} {
		if strings.Contains(string(raw), needle) {
			t.Fatalf("raw document holds %q in clear", needle)
		}
	}
	ext, _ := bson.MarshalExtJSON(raw, false, false)
	if strings.Contains(string(ext), "peanøtt") {
		t.Fatal("extended JSON of the document shows the plaintext")
	}

	r := e.do(t, "GET", "/api/v1/me", s.ManageToken, nil)
	if !strings.Contains(string(r.body), secret) {
		t.Fatalf("the participant cannot read their own dietary data: %s", r.body)
	}
	var me struct {
		Consents []struct {
			Purpose, TextVersion, TextSha256, Channel string
			Given                                     bool
		} `json:"consents"`
	}
	r.json(t, &me)
	health, _ := privacy.ConsentTextFor(privacy.ConsentHealth)
	found := false
	for _, c := range me.Consents {
		if c.Purpose == "health" {
			found = c.Given && c.TextVersion == health.Version && c.TextSha256 == health.SHA256() && c.Channel == "api"
		}
		if c.Purpose == "marketing" && c.Given {
			t.Error("marketing consent recorded as given though not sent")
		}
	}
	if !found {
		t.Errorf("health consent not recorded with its text version and hash: %+v", me.Consents)
	}

	t.Run("DataKeyDestroyed", func(t *testing.T) {
		if !e.keysOf(t, s.ID)["dietary"] {
			t.Fatal("no key of dietary in the key store")
		}
		if _, err := e.a.KeyStore.Collection(mongodb.DataKeys).UpdateOne(context.Background(), bson.M{"_id": s.ID}, bson.M{"$unset": bson.M{"keys.dietary": ""}}); err != nil {
			t.Fatal(err)
		}
		r := e.do(t, "GET", "/api/v1/me", s.ManageToken, nil)
		if strings.Contains(string(r.body), secret) {
			t.Error("dietary readable without its data key")
		}
	})
}

func TestManageToken(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "gala", nil)
	a := e.mustSignup(t, "gala", person("a@example.no"))
	b := e.mustSignup(t, "gala", person("b@example.no"))

	var raw bson.Raw
	if err := e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": a.ID}, &raw); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), a.ManageToken[4:]) {
		t.Fatal("the manage token is stored in clear")
	}

	r := e.do(t, "GET", "/api/v1/me", a.ManageToken, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"id":"`+a.ID+`"`) || strings.Contains(string(r.body), b.ID) {
		t.Fatalf("GET /me: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("participant data may be cached")
	}
	for _, tok := range []string{"", "pmr_nope", adminToken, a.ManageToken + "x"} {
		mustProblem(t, e.do(t, "GET", "/api/v1/me", tok, nil), 401)
	}
	if strings.Contains(e.logs.String(), a.ManageToken) {
		t.Error("a manage token is in the log")
	}
}

func TestWaitingList(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "small", func(b map[string]any) { b["capacity"] = 1; b["waitlist"] = true; delete(b, "price") })
	first := e.mustSignup(t, "small", person("first@example.no"))
	e.clock.add(time.Second) // the waiting list is in sign-up order
	w1 := e.mustSignup(t, "small", person("w1@example.no"))
	e.clock.add(time.Second)
	w2 := e.mustSignup(t, "small", person("w2@example.no"))
	if first.Status != "confirmed" || w1.Status != "waitlisted" || w2.Status != "waitlisted" {
		t.Fatalf("statuses %s %s %s", first.Status, w1.Status, w2.Status)
	}
	status := func(token string) string {
		var me struct{ Status string }
		e.do(t, "GET", "/api/v1/me", token, nil).json(t, &me)
		return me.Status
	}

	if r := e.do(t, "DELETE", "/api/v1/me/registration", first.ManageToken, nil); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if s := status(w1.ManageToken); s != "offered" {
		t.Fatalf("first on the list: %s, want offered", s)
	}
	if left := e.seatsLeft(t, "small"); left != 0 {
		t.Errorf("seats left %d: the freed seat should be held for the offer", left)
	}
	mustProblem(t, e.do(t, "POST", "/api/v1/me/offer/accept", w2.ManageToken, nil), 409)

	t.Run("OfferPassesOn", func(t *testing.T) {
		e.clock.add(49 * time.Hour)
		n, err := e.a.Signups.ExpireOffers(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("expired %d, %v", n, err)
		}
		if s := status(w1.ManageToken); s != "expired" {
			t.Errorf("w1 %s, want expired", s)
		}
		if s := status(w2.ManageToken); s != "offered" {
			t.Errorf("w2 %s, want offered", s)
		}
		if r := e.do(t, "POST", "/api/v1/me/offer/accept", w2.ManageToken, nil); r.status != 200 || !strings.Contains(string(r.body), "confirmed") {
			t.Errorf("accept: %d %s", r.status, r.body)
		}
	})
	t.Run("CancelAgainRefused", func(t *testing.T) {
		mustProblem(t, e.do(t, "DELETE", "/api/v1/me/registration", first.ManageToken, nil), 409)
	})
	t.Run("SignUpAgainAfterCancelling", func(t *testing.T) {
		if left := e.seatsLeft(t, "small"); left != 0 {
			t.Fatalf("seats left %d", left)
		}
		s := e.mustSignup(t, "small", person("first@example.no"))
		if s.Status != "waitlisted" {
			t.Errorf("status %s", s.Status)
		}
	})
	t.Run("LargerCapacityGoesToTheList", func(t *testing.T) {
		e.clock.add(time.Second)
		w3 := e.mustSignup(t, "small", person("w3@example.no"))
		if w3.Status != "waitlisted" {
			t.Fatalf("w3: %s", w3.Status)
		}
		r := e.do(t, "PATCH", "/api/v1/events/small", adminToken, map[string]any{"capacity": 3})
		if r.status != 200 {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}
		if s := status(w3.ManageToken); s != "offered" {
			t.Errorf("after the capacity grew, the list's next is %s, want offered", s)
		}
		// Two seats were added and two were waiting (first@, signed up
		// again, and w3): both are offered, none left for newcomers.
		if left := e.seatsLeft(t, "small"); left != 0 {
			t.Errorf("seats left %d, want 0", left)
		}
	})
	t.Run("OrganiserCancelReleasesSeat", func(t *testing.T) {
		e.mustEvent(t, "other", func(b map[string]any) { b["capacity"] = 2; delete(b, "price") })
		s := e.mustSignup(t, "other", person("x@example.no"))
		if r := e.do(t, "DELETE", "/api/v1/events/other/registrations/"+s.ID, adminToken, nil); r.status != 200 {
			t.Fatalf("organiser cancel: %d %s", r.status, r.body)
		}
		if left := e.seatsLeft(t, "other"); left != 2 {
			t.Errorf("seats left %d, want 2", left)
		}
		mustProblem(t, e.do(t, "DELETE", "/api/v1/events/small/registrations/"+s.ID, adminToken, nil), 404)
	})
}

func TestMinors(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "race", func(b map[string]any) {
		delete(b, "price")
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true},
			{"key": "date_of_birth", "required": true}, {"key": "guardian_name"}, {"key": "guardian_email"}}
	})
	kid := func(extra map[string]any, consents map[string]any) map[string]any {
		f := map[string]any{"name": "Emma", "email": "emma@example.no", "date_of_birth": "2012-06-01"}
		for k, v := range extra {
			f[k] = v
		}
		return map[string]any{"fields": f, "consents": consents}
	}
	guardian := map[string]any{"guardian_name": "Kari Nordmann", "guardian_email": "kari@example.no"}

	p := mustProblem(t, e.do(t, "POST", "/api/v1/events/race/registrations", "", kid(nil, nil)), 422)
	for _, want := range [][2]string{{"fields.guardian_name", "required"}, {"fields.guardian_email", "required"}, {"consents.guardian", "consent_required"}} {
		if !p.has(want[0], want[1]) {
			t.Errorf("errors %+v lack %v", p.Errors, want)
		}
	}
	p = mustProblem(t, e.do(t, "POST", "/api/v1/events/race/registrations", "", kid(guardian, nil)), 422)
	if !p.has("consents.guardian", "consent_required") {
		t.Errorf("errors %+v", p.Errors)
	}
	s := e.mustSignup(t, "race", kid(guardian, map[string]any{"guardian": true}))
	if s.Status != "pending_guardian" {
		t.Errorf("status %s", s.Status)
	}
	r := e.do(t, "GET", "/api/v1/me", s.ManageToken, nil)
	if !strings.Contains(string(r.body), `"purpose":"guardian","given":true`) {
		t.Errorf("guardian consent not recorded: %s", r.body)
	}
	adult := e.mustSignup(t, "race", map[string]any{"fields": map[string]any{"name": "Ola", "email": "ola@example.no", "date_of_birth": "1990-01-01"}})
	if adult.Status != "confirmed" {
		t.Errorf("adult: %s", adult.Status)
	}
	t.Run("ChildBelowDigitalConsentAge", func(t *testing.T) {
		// The event lets 10-year-olds sign up alone, but at 11 a child
		// cannot consent to marketing without a guardian (age 13).
		e.mustEvent(t, "kids", func(b map[string]any) {
			delete(b, "price")
			b["guardianAge"] = 10
			b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true},
				{"key": "date_of_birth", "required": true}, {"key": "guardian_name"}, {"key": "guardian_email"}}
		})
		child := map[string]any{"name": "Emma", "email": "emma11@example.no", "date_of_birth": "2015-06-01"}
		p := mustProblem(t, e.do(t, "POST", "/api/v1/events/kids/registrations", "", map[string]any{"fields": child, "consents": map[string]any{"marketing": true}}), 422)
		if !p.has("consents.guardian", "consent_required") {
			t.Errorf("errors %+v", p.Errors)
		}
		if s := e.mustSignup(t, "kids", map[string]any{"fields": child}); s.Status != "confirmed" {
			t.Errorf("without a consent: %s", s.Status)
		}
	})
	t.Run("EventNeedsGuardianFields", func(t *testing.T) {
		b := eventBody("bad")
		b["fields"] = []map[string]any{{"key": "email", "required": true}, {"key": "date_of_birth"}}
		p := mustProblem(t, e.do(t, "POST", "/api/v1/events", adminToken, b), 422)
		if !p.has("fields", "guardian_fields_required") {
			t.Errorf("errors %+v", p.Errors)
		}
	})
}

// TestNoOversell: many concurrent sign-ups for few seats through the real
// app: exactly the capacity gets seats, and the count matches the store.
func TestNoOversell(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "rush", func(b map[string]any) { b["capacity"] = 25; delete(b, "price") })
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 80 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do(t, "POST", "/api/v1/events/rush/registrations", "", person(fmt.Sprintf("p%d@example.no", i)))
			mu.Lock()
			codes[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[201] != 25 || codes[409] != 55 {
		t.Errorf("answers %v, want 25×201 and 55×409", codes)
	}
	n, _ := e.store.Collection(mongodb.Registrations).Count(context.Background(), bson.M{"event": "rush", "seat": true})
	if n != 25 || e.seatsLeft(t, "rush") != 0 {
		t.Errorf("%d seats held, %d left", n, e.seatsLeft(t, "rush"))
	}
}

func TestOrganiserLists(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "gala", func(b map[string]any) {
		// Paid: finance and invoice references exist only for paid events.
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true},
			{"key": "organisation"}, {"key": "dietary"}, {"key": "invoice_reference"}}
	})
	with := func(email, org, diet string) map[string]any {
		f := map[string]any{"name": "N " + email, "email": email, "organisation": org}
		b := map[string]any{"fields": f, "payment": map[string]any{"method": "card"}}
		if diet != "" {
			f["dietary"] = diet
			b["consents"] = map[string]any{"health": true}
		}
		return b
	}
	e.mustSignup(t, "gala", with("a@example.no", "=HYPERLINK(\"http://evil\")", "glutenfri"))
	e.clock.add(time.Second)
	e.mustSignup(t, "gala", with("b@example.no", "Acme", ""))
	e.mustEvent(t, "other", nil)

	catering := e.token(t, staff.CreateRequest{Role: staff.Catering, Name: "kjøkken", Events: []string{"gala"}})
	finance := e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "regnskap"})
	otherOrganiser := e.token(t, staff.CreateRequest{Role: staff.Organiser, Name: "o", Events: []string{"other"}})
	partner := e.token(t, staff.CreateRequest{Role: staff.Partner, Name: "p", Events: []string{"gala"}, Partner: "acme"})

	type page struct {
		Columns       []string
		Total         int
		Registrations []struct {
			Fields map[string]string `json:"fields"`
		}
	}
	get := func(token string) page {
		r := e.do(t, "GET", "/api/v1/events/gala/registrations", token, nil)
		if r.status != 200 {
			t.Fatalf("list: %d %s\n%s", r.status, r.body, e.logs)
		}
		var p page
		r.json(t, &p)
		return p
	}
	t.Run("Organiser", func(t *testing.T) {
		p := get(adminToken)
		if strings.Join(p.Columns, ",") != "name,email,organisation,invoice_reference" || p.Total != 2 || len(p.Registrations) != 2 {
			t.Errorf("organiser page %+v", p)
		}
		for _, r := range p.Registrations {
			if _, ok := r.Fields["dietary"]; ok {
				t.Error("an organiser list shows health data")
			}
		}
	})
	t.Run("Catering", func(t *testing.T) {
		p := get(catering)
		if strings.Join(p.Columns, ",") != "name,dietary" || len(p.Registrations) != 1 || p.Registrations[0].Fields["dietary"] != "glutenfri" {
			t.Errorf("catering page %+v", p)
		}
	})
	t.Run("Finance", func(t *testing.T) {
		p := get(finance)
		if strings.Join(p.Columns, ",") != "name,organisation,invoice_reference" {
			t.Errorf("finance columns %v", p.Columns)
		}
	})
	t.Run("Paginated", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/events/gala/registrations?limit=1&offset=1", adminToken, nil)
		var p page
		r.json(t, &p)
		if len(p.Registrations) != 1 || p.Total != 2 || p.Registrations[0].Fields["email"] != "b@example.no" {
			t.Errorf("page 2: %s", r.body)
		}
		mustProblem(t, e.do(t, "GET", "/api/v1/events/gala/registrations?limit=100000", adminToken, nil), 400)
	})
	t.Run("CSV", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/events/gala/registrations?format=csv", adminToken, nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %d %s", r.status, r.header.Get("Content-Type"))
		}
		recs, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(recs[0], ",") != "id,status,created_at,name,email,organisation,invoice_reference" || len(recs) != 3 {
			t.Errorf("csv %v", recs)
		}
		if recs[1][5] != `'=HYPERLINK("http://evil")` {
			t.Errorf("formula not defused: %q", recs[1][5])
		}
		if strings.Contains(string(r.body), "glutenfri") {
			t.Error("CSV for organisers has health data")
		}
	})
	t.Run("Forbidden", func(t *testing.T) {
		mustProblem(t, e.do(t, "GET", "/api/v1/events/gala/registrations", otherOrganiser, nil), 403)
		mustProblem(t, e.do(t, "GET", "/api/v1/events/gala/registrations", partner, nil), 403)
		mustProblem(t, e.do(t, "GET", "/api/v1/events/gala/registrations", "", nil), 401)
	})
}
