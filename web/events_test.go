package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestCreateEvent(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "POST", "/api/v1/events", adminToken, eventBody("jante-2027"))
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/events/jante-2027" {
		t.Errorf("Location %q", loc)
	}
	var staffView map[string]any
	r.json(t, &staffView)
	if staffView["notes"] != "internal: VIP list in the shared drive" || staffView["seatsLeft"] != float64(300) {
		t.Errorf("staff view %v", staffView)
	}

	t.Run("PublicViewHidesStaffSettings", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/events/jante-2027", "", nil)
		if r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		if strings.Contains(string(r.body), "VIP list") || strings.Contains(string(r.body), "acme") {
			t.Errorf("public view shows staff-only settings: %s", r.body)
		}
		var pub struct {
			Slug     string                    `json:"slug"`
			Notes    *string                   `json:"notes"`
			Partners []map[string]string       `json:"partners"`
			Fields   []map[string]any          `json:"fields"`
			Extra    map[string]map[string]any `json:"-"`
		}
		r.json(t, &pub)
		if pub.Notes != nil || pub.Slug != "jante-2027" {
			t.Errorf("public view %s", r.body)
		}
		if len(pub.Partners) != 1 || pub.Partners[0]["name"] != "Acme AS" {
			t.Errorf("partners %v", pub.Partners)
		}
		if len(pub.Fields) != 4 {
			t.Fatalf("fields %v", pub.Fields)
		}
		for _, f := range pub.Fields {
			for _, tag := range []string{"key", "label", "category", "legalBasis", "purposes", "recipients", "retention"} {
				if _, ok := f[tag]; !ok {
					t.Errorf("field %v lacks %s", f["key"], tag)
				}
			}
		}
		diet := pub.Fields[3]
		if diet["key"] != "dietary" || diet["legalBasis"] != "explicit_consent" || diet["consentPurpose"] != "health" {
			t.Errorf("dietary %v", diet)
		}
	})

	t.Run("StaffView", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/events/jante-2027/staff", adminToken, nil)
		if r.status != 200 || !strings.Contains(string(r.body), "VIP list") {
			t.Errorf("staff view: %d %s", r.status, r.body)
		}
		mustProblem(t, e.do(t, "GET", "/api/v1/events/jante-2027/staff", "", nil), 401)
	})
	t.Run("List", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/events", "", nil)
		var out struct {
			Events []map[string]any `json:"events"`
		}
		r.json(t, &out)
		if len(out.Events) != 1 || out.Events[0]["slug"] != "jante-2027" || out.Events[0]["notes"] != nil {
			t.Errorf("list %s", r.body)
		}
	})
}

// TestCreateEventRefused: each bad request gets its 4xx problem and
// writes nothing.
func TestCreateEventRefused(t *testing.T) {
	e := newEnv(t)
	if r := e.do(t, "POST", "/api/v1/events", adminToken, eventBody("taken")); r.status != 201 {
		t.Fatalf("setup: %d %s", r.status, r.body)
	}
	organiser := e.token(t, staff.CreateRequest{Role: staff.Organiser, Name: "org"})
	scopedOrganiser := e.token(t, staff.CreateRequest{Role: staff.Organiser, Name: "scoped", Events: []string{"taken"}})
	finance := e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "fin"})
	partner := e.token(t, staff.CreateRequest{Role: staff.Partner, Name: "p", Events: []string{"taken"}, Partner: "acme"})

	with := func(change func(map[string]any)) map[string]any {
		b := eventBody("new-event")
		change(b)
		return b
	}
	custom := func(drop string) map[string]any {
		c := map[string]any{
			"key": "tshirt", "label": map[string]string{"nb": "T-skjorte", "en": "T-shirt"},
			"category": "identity", "legalBasis": "contract", "purposes": []string{"registration"},
			"recipients": []string{}, "retention": "event_end+30d",
		}
		delete(c, drop)
		return c
	}
	for _, tc := range []struct {
		name   string
		token  string
		body   any
		header []string
		status int
		code   string
		field  string
		fcode  string
	}{
		{"NoToken", "", eventBody("x"), nil, 401, "unauthenticated", "", ""},
		{"UnknownToken", "pmd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", eventBody("x"), nil, 401, "unauthenticated", "", ""},
		{"NotBearer", "", eventBody("x"), []string{"Authorization", "Basic " + adminToken}, 401, "unauthenticated", "", ""},
		{"FinanceRole", finance, eventBody("x"), nil, 403, "forbidden", "", ""},
		{"PartnerRole", partner, eventBody("x"), nil, 403, "forbidden", "", ""},
		{"ScopedOrganiser", scopedOrganiser, eventBody("x"), nil, 403, "forbidden", "", ""},
		{"NotJSON", adminToken, nil, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", "", ""},
		{"MalformedJSON", adminToken, `{"slug": `, nil, 400, "malformed_json", "", ""},
		{"TwoValues", adminToken, `{} {}`, nil, 400, "malformed_json", "", ""},
		{"WrongType", adminToken, with(func(b map[string]any) { b["capacity"] = "many" }), nil, 400, "wrong_type", "capacity", "wrong_type"},
		{"BadTime", adminToken, with(func(b map[string]any) { b["startsAt"] = "tomorrow" }), nil, 400, "malformed_json", "", ""},
		{"UnknownProperty", adminToken, with(func(b map[string]any) { b["ssn"] = "x" }), nil, 422, "validation", "ssn", "unknown"},
		{"TooLarge", adminToken, with(func(b map[string]any) { b["notes"] = strings.Repeat("x", 70<<10) }), nil, 413, "too_large", "", ""},
		{"SlugTaken", organiser, eventBody("taken"), nil, 409, "slug_taken", "", ""},
		{"TitleWithLineBreak", adminToken, with(func(b map[string]any) {
			b["title"] = map[string]string{"nb": "Janteloppet\r\nBcc: x@example.no", "en": "Janteloppet"}
		}), nil, 422, "validation", "title.nb", "invalid"},
		{"TitleWithBidiOverride", adminToken, with(func(b map[string]any) {
			b["title"] = map[string]string{"nb": "Faktura \u202egnp.exe", "en": "Janteloppet"}
		}), nil, 422, "validation", "title.nb", "invalid"},
		{"SlugInvalid", adminToken, with(func(b map[string]any) { b["slug"] = "Not A Slug" }), nil, 422, "validation", "slug", "invalid"},
		{"KindInvalid", adminToken, with(func(b map[string]any) { b["kind"] = "party" }), nil, 422, "validation", "kind", "invalid"},
		{"TitleMissing", adminToken, with(func(b map[string]any) { delete(b, "title") }), nil, 422, "validation", "title.nb", "required"},
		{"EndsBeforeStart", adminToken, with(func(b map[string]any) { b["endsAt"] = "2027-02-01T09:00:00Z" }), nil, 422, "validation", "endsAt", "invalid"},
		{"CapacityZero", adminToken, with(func(b map[string]any) { b["capacity"] = 0 }), nil, 422, "validation", "capacity", "required"},
		{"PriceNegative", adminToken, with(func(b map[string]any) { b["price"] = map[string]any{"amount": -1} }), nil, 422, "validation", "price.amount", "invalid"},
		{"CurrencyNotNOK", adminToken, with(func(b map[string]any) { b["price"] = map[string]any{"amount": 1, "currency": "EUR"} }), nil, 422, "validation", "price.currency", "invalid"},
		{"OrgNumberCheckDigit", adminToken, with(func(b map[string]any) {
			b["organiser"] = map[string]string{"name": "X", "orgNumber": "923609017", "privacyEmail": "a@example.no"}
		}), nil, 422, "validation", "organiser.orgNumber", "invalid"},
		{"PrivacyEmailMissing", adminToken, with(func(b map[string]any) { b["organiser"] = map[string]string{"name": "X"} }), nil, 422, "validation", "organiser.privacyEmail", "required"},
		{"UndeclaredField", adminToken, with(func(b map[string]any) {
			b["fields"] = []map[string]any{{"key": "email", "required": true}, {"key": "shoe_size"}}
		}), nil, 422, "validation", "fields[1].key", "undeclared"},
		{"DuplicateField", adminToken, with(func(b map[string]any) {
			b["fields"] = []map[string]any{{"key": "email", "required": true}, {"key": "email"}}
		}), nil, 422, "validation", "fields[1].key", "duplicate"},
		{"InvoiceFieldOnFreeEvent", adminToken, with(func(b map[string]any) {
			delete(b, "price")
			b["fields"] = []map[string]any{{"key": "email", "required": true}, {"key": "invoice_address"}}
		}), nil, 422, "validation", "fields[1].key", "no_purpose_for_event"},
		{"BadgeTitleAtARace", adminToken, with(func(b map[string]any) {
			b["kind"] = "race"
			b["fields"] = []map[string]any{{"key": "email", "required": true}, {"key": "title"}}
		}), nil, 422, "validation", "fields[1].key", "no_purpose_for_event"},
		{"NoRequiredEmail", adminToken, with(func(b map[string]any) { b["fields"] = []map[string]any{{"key": "name", "required": true}} }), nil, 422, "validation", "fields", "email_required"},
		{"DuplicatePartner", adminToken, with(func(b map[string]any) {
			b["partners"] = []map[string]string{{"id": "a", "name": "A"}, {"id": "a", "name": "B"}}
		}), nil, 422, "validation", "partners[1].id", "duplicate"},
		{"CustomFieldWithoutRetention", adminToken, with(func(b map[string]any) { b["customFields"] = []any{custom("retention")} }), nil, 422, "validation", "customFields[0].retention", "required"},
		{"CustomFieldWithoutLegalBasis", adminToken, with(func(b map[string]any) { b["customFields"] = []any{custom("legalBasis")} }), nil, 422, "validation", "customFields[0].legalBasis", "required"},
		{"CustomFieldWithoutRecipients", adminToken, with(func(b map[string]any) { b["customFields"] = []any{custom("recipients")} }), nil, 422, "validation", "customFields[0].recipients", "required"},
		{"CustomFieldWithoutPurposes", adminToken, with(func(b map[string]any) { b["customFields"] = []any{custom("purposes")} }), nil, 422, "validation", "customFields[0].purposes", "required"},
		{"CustomFieldWithoutCategory", adminToken, with(func(b map[string]any) { b["customFields"] = []any{custom("category")} }), nil, 422, "validation", "customFields[0].category", "required"},
		{"CustomFieldWithoutLabel", adminToken, with(func(b map[string]any) { b["customFields"] = []any{custom("label")} }), nil, 422, "validation", "customFields[0].label.nb", "required"},
		{"CustomFieldWithoutKey", adminToken, with(func(b map[string]any) { b["customFields"] = []any{custom("key")} }), nil, 422, "validation", "customFields[0].key", "required"},
		{"CustomFieldToPartners", adminToken, with(func(b map[string]any) {
			c := custom("")
			c["recipients"] = []string{"partners"}
			b["customFields"] = []any{c}
		}), nil, 422, "validation", "customFields[0].recipients[0]", "recipient_not_allowed"},
		// A custom health field could be put under the marketing consent
		// text, shown to the public and kept 999 years.
		{"CustomHealthUnderMarketingConsent", adminToken, with(func(b map[string]any) {
			c := custom("")
			c["category"], c["legalBasis"], c["consentPurpose"], c["recipients"] = "health", "explicit_consent", "marketing", []string{"catering"}
			c["consentText"] = map[string]string{"nb": "Ja", "en": "Yes"}
			b["customFields"] = []any{c}
		}), nil, 422, "validation", "customFields[0].consentPurpose", "own_consent_required"},
		{"CustomHealthWithoutOwnConsentText", adminToken, with(func(b map[string]any) {
			c := custom("")
			c["category"], c["legalBasis"], c["recipients"] = "health", "explicit_consent", []string{"catering"}
			b["customFields"] = []any{c}
		}), nil, 422, "validation", "customFields[0].consentText", "own_consent_required"},
		{"CustomHealthToPublic", adminToken, with(func(b map[string]any) {
			c := custom("")
			c["category"], c["legalBasis"], c["recipients"] = "health", "explicit_consent", []string{"public"}
			c["consentText"] = map[string]string{"nb": "Ja", "en": "Yes"}
			b["customFields"] = []any{c}
		}), nil, 422, "validation", "customFields[0].recipients[0]", "recipient_not_allowed"},
		{"CustomHealth999Years", adminToken, with(func(b map[string]any) {
			c := custom("")
			c["category"], c["legalBasis"], c["recipients"], c["retention"] = "health", "explicit_consent", []string{"catering"}, "event_end+999y"
			c["consentText"] = map[string]string{"nb": "Ja", "en": "Yes"}
			b["customFields"] = []any{c}
		}), nil, 422, "validation", "customFields[0].retention", "retention_too_long"},
		{"CustomFieldOverAYear", adminToken, with(func(b map[string]any) {
			c := custom("")
			c["retention"] = "event_end+2y"
			b["customFields"] = []any{c}
		}), nil, 422, "validation", "customFields[0].retention", "retention_too_long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.count(t, mongodb.Events)
			var r response
			if tc.body == nil {
				r = e.do(t, "POST", "/api/v1/events", tc.token, "slug=x", tc.header...)
			} else {
				r = e.do(t, "POST", "/api/v1/events", tc.token, tc.body, tc.header...)
			}
			p := mustProblem(t, r, tc.status)
			if p.Code != tc.code {
				t.Errorf("code %q, want %q", p.Code, tc.code)
			}
			if tc.field != "" && !p.has(tc.field, tc.fcode) {
				t.Errorf("errors %+v, want {%s %s}", p.Errors, tc.field, tc.fcode)
			}
			if after := e.count(t, mongodb.Events); after != before {
				t.Errorf("%d events written", after-before)
			}
		})
	}
}

func TestCustomFieldAccepted(t *testing.T) {
	e := newEnv(t)
	b := eventBody("course-1")
	b["customFields"] = []any{map[string]any{
		"key": "tshirt", "label": map[string]string{"nb": "T-skjorte", "en": "T-shirt"},
		"category": "identity", "legalBasis": "contract", "purposes": []string{"registration"},
		"recipients": []string{}, "retention": "event_end+30d",
	}}
	b["fields"] = append(b["fields"].([]map[string]any), map[string]any{"key": "tshirt", "required": true})
	if r := e.do(t, "POST", "/api/v1/events", adminToken, b); r.status != 201 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	r := e.do(t, "GET", "/api/v1/events/course-1", "", nil)
	if !strings.Contains(string(r.body), `"key":"tshirt"`) || !strings.Contains(string(r.body), `"retention":"event_end+30d"`) {
		t.Errorf("public view lacks the custom field with its tags: %s", r.body)
	}
}

func TestPatchEvent(t *testing.T) {
	e := newEnv(t)
	if r := e.do(t, "POST", "/api/v1/events", adminToken, eventBody("jante")); r.status != 201 {
		t.Fatal(r.status)
	}
	if r := e.do(t, "POST", "/api/v1/events", adminToken, eventBody("other")); r.status != 201 {
		t.Fatal(r.status)
	}
	scoped := e.token(t, staff.CreateRequest{Role: staff.Organiser, Name: "scoped", Events: []string{"jante"}})

	t.Run("OK", func(t *testing.T) {
		r := e.do(t, "PATCH", "/api/v1/events/jante", scoped, map[string]any{"capacity": 250, "venue": "Rådhuset"})
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var ev map[string]any
		r.json(t, &ev)
		if ev["capacity"] != float64(250) || ev["seatsLeft"] != float64(250) || ev["venue"] != "Rådhuset" || ev["version"] != float64(2) {
			t.Errorf("after patch %v", ev)
		}
		if ev["title"].(map[string]any)["nb"] != "Janteloppet" {
			t.Errorf("a member left out changed: %v", ev["title"])
		}
	})
	for _, tc := range []struct {
		name   string
		slug   string
		token  string
		body   any
		status int
		field  string
		fcode  string
	}{
		{"OutOfScope", "other", scoped, map[string]any{"venue": "x"}, 403, "", ""},
		{"NoToken", "jante", "", map[string]any{"venue": "x"}, 401, "", ""},
		{"Unknown", "nope", adminToken, map[string]any{"venue": "x"}, 404, "", ""},
		{"SlugImmutable", "jante", adminToken, map[string]any{"slug": "new"}, 422, "slug", "unknown"},
		{"UndeclaredField", "jante", adminToken, map[string]any{"fields": []map[string]any{{"key": "email", "required": true}, {"key": "passport"}}}, 422, "fields[1].key", "undeclared"},
		{"EndsBeforeStart", "jante", adminToken, map[string]any{"endsAt": "2020-01-01T00:00:00Z"}, 422, "endsAt", "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.do(t, "GET", "/api/v1/events/jante", "", nil).body
			r := e.do(t, "PATCH", "/api/v1/events/"+tc.slug, tc.token, tc.body)
			p := mustProblem(t, r, tc.status)
			if tc.field != "" && !p.has(tc.field, tc.fcode) {
				t.Errorf("errors %+v, want {%s %s}", p.Errors, tc.field, tc.fcode)
			}
			if after := e.do(t, "GET", "/api/v1/events/jante", "", nil).body; string(after) != string(before) {
				t.Errorf("the event changed:\n%s\n%s", before, after)
			}
		})
	}
}

func TestUnknownRoute(t *testing.T) {
	e := newEnv(t)
	mustProblem(t, e.do(t, "GET", "/api/v1/nope", "", nil), 404)
}

// TestEraseEvent: a free event made for a test goes with everything its
// sign-ups left (data keys first), and only that; an event that sells
// something keeps its records.
func TestEraseEvent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustEvent(t, "rush", func(b map[string]any) { delete(b, "price") })
	e.mustEvent(t, "konf", nil)
	var ids []string
	for _, addr := range []string{"a@example.no", "b@example.no", "c@example.no"} {
		ids = append(ids, e.mustSignup(t, "rush", person(addr)).ID)
	}
	kept := e.mustSignup(t, "konf", person("kari@example.no"))
	for _, id := range append(ids, kept.ID) {
		if len(e.keysOf(t, id)) == 0 {
			t.Fatalf("registration %s has no data keys to destroy", id)
		}
	}
	regs := e.store.Collection(mongodb.Registrations)
	countOf := func(slug string) int64 {
		n, err := regs.Count(ctx, bson.M{"event": slug})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// An organiser may not; an event that sells keeps everything.
	org := e.token(t, staff.CreateRequest{Name: "Org", Role: staff.Organiser})
	if r := e.do(t, "DELETE", "/api/v1/events/rush", org, nil); r.status != 403 {
		t.Errorf("organiser erased an event: %d %s", r.status, r.body)
	}
	mustProblem(t, e.do(t, "DELETE", "/api/v1/events/konf", adminToken, nil), 409)
	if r := e.do(t, "GET", "/api/v1/events/konf", "", nil); r.status != 200 || countOf("konf") != 1 || len(e.keysOf(t, kept.ID)) == 0 {
		t.Fatalf("a refused erasure changed something: %d, %d registrations", r.status, countOf("konf"))
	}

	r := e.do(t, "DELETE", "/api/v1/events/rush", adminToken, nil)
	if r.status != 200 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	var rec registration.PurgeReceipt
	r.json(t, &rec)
	if rec.RegistrationsDeleted != 3 || len(rec.Values) == 0 {
		t.Errorf("receipt %+v", rec)
	}
	for _, v := range rec.Values {
		if v.Rule != registration.RuleEventErased || v.Count != 3 || v.Event != "rush" {
			t.Errorf("receipt value %+v", v)
		}
	}
	for _, id := range ids {
		if k := e.keysOf(t, id); len(k) != 0 {
			t.Errorf("keys of %s left: %v", id, k)
		}
	}
	if n := countOf("rush"); n != 0 {
		t.Errorf("%d registrations left", n)
	}
	if r := e.do(t, "GET", "/api/v1/events/rush", "", nil); r.status != 404 {
		t.Errorf("erased event answers %d", r.status)
	}
	if r := e.do(t, "POST", "/api/v1/events/rush/registrations", "", person("d@example.no")); r.status != 404 {
		t.Errorf("sign-up to an erased event: %d %s", r.status, r.body)
	}
	// The other event is untouched, and the slug can be used again.
	if countOf("konf") != 1 || len(e.keysOf(t, kept.ID)) == 0 {
		t.Error("erasing one event touched another")
	}
	e.mustEvent(t, "rush", func(b map[string]any) { delete(b, "price") })
	if n := countOf("rush"); n != 0 {
		t.Errorf("a new event of the slug has %d registrations", n)
	}
}
