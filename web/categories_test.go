package web_test

import (
	"strings"
	"testing"
)

// TestCategoriesAPI: an organiser sells two categories and a code-only
// guest category with a partner's guest quota; participants buy through
// the API; a full category is named in the 409.
func TestCategoriesAPI(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "konf", func(b map[string]any) {
		b["capacity"] = 10
		b["categories"] = []map[string]any{
			{"key": "full", "name": map[string]string{"nb": "Full billett", "en": "Full ticket"}, "price": 150000, "vatRate": 25, "capacity": 2},
			{"key": "dag", "name": map[string]string{"nb": "Dagsbillett", "en": "Day ticket"}, "price": 80000, "vatRate": 25},
			{"key": "gjest", "name": map[string]string{"nb": "Gjest", "en": "Guest"}, "visibility": "code"},
		}
	})
	r := e.do(t, "POST", "/api/v1/events/konf/codes", adminToken, map[string]any{"code": "acme-gjest", "percent": 100, "maxUses": 3, "reserve": true, "categories": []string{"gjest"}})
	if r.status != 201 || !strings.Contains(string(r.body), `"code":"ACME-GJEST"`) {
		t.Fatalf("create code: %d %s", r.status, r.body)
	}
	mustProblem(t, e.do(t, "POST", "/api/v1/events/konf/codes", adminToken, map[string]any{"code": "ACME-GJEST", "percent": 10, "maxUses": 1}), 409)
	p := mustProblem(t, e.do(t, "POST", "/api/v1/events/konf/codes", adminToken, map[string]any{"code": "x", "percent": 10, "maxUses": 0, "categories": []string{"nope"}}), 422)
	if !p.has("code", "invalid") || !p.has("maxUses", "required") || !p.has("categories[0]", "unknown") {
		t.Errorf("bad code: %+v", p)
	}

	// The public view lists the two public categories, the guest one not;
	// 3 of 10 seats are the guests'.
	var pub struct {
		SeatsLeft  int `json:"seatsLeft"`
		Categories []struct {
			Key       string `json:"key"`
			SeatsLeft int    `json:"seatsLeft"`
		} `json:"categories"`
	}
	e.do(t, "GET", "/api/v1/events/konf", "", nil).json(t, &pub)
	if pub.SeatsLeft != 7 || len(pub.Categories) != 2 || pub.Categories[0].Key != "full" || pub.Categories[0].SeatsLeft != 2 || pub.Categories[1].SeatsLeft != 7 {
		t.Errorf("public view %+v", pub)
	}

	buy := func(category, email, code string) response {
		b := person(email)
		b["category"] = category
		if code != "" {
			b["code"] = code
		}
		return e.do(t, "POST", "/api/v1/events/konf/registrations", "", b)
	}
	p = mustProblem(t, buy("", "a@example.no", ""), 422)
	if !p.has("category", "required") {
		t.Errorf("no category: %+v", p)
	}
	for i, email := range []string{"b@example.no", "c@example.no"} {
		if r := buy("full", email, ""); r.status != 201 {
			t.Fatalf("full %d: %d %s", i, r.status, r.body)
		}
	}
	p = mustProblem(t, buy("full", "d@example.no", ""), 409)
	if p.Code != "sold_out" || !p.has("category", "sold_out") {
		t.Errorf("third full ticket: %+v", p)
	}
	if p := mustProblem(t, buy("gjest", "e@example.no", ""), 422); !p.has("category", "not_on_sale") {
		t.Errorf("guest without code: %+v", p)
	}
	// A guest's ticket is free: no payment method is needed.
	g := e.do(t, "POST", "/api/v1/events/konf/registrations", "", map[string]any{"category": "gjest", "code": "acme-gjest",
		"fields": map[string]any{"name": "Gjest Gjestesen", "email": "g@example.no"}})
	if g.status != 201 || !strings.Contains(string(g.body), `"status":"confirmed"`) {
		t.Errorf("guest: %d %s", g.status, g.body)
	}
	var list struct {
		Codes []struct {
			Used int `json:"used"`
		} `json:"codes"`
	}
	e.do(t, "GET", "/api/v1/events/konf/codes", adminToken, nil).json(t, &list)
	if len(list.Codes) != 1 || list.Codes[0].Used != 1 {
		t.Errorf("codes %+v", list)
	}

	// The page offers the public categories, and the guest one with the
	// code.
	page := e.do(t, "GET", "/e/konf", "", nil)
	if !strings.Contains(string(page.body), `value="full"`) || strings.Contains(string(page.body), `value="gjest"`) || !strings.Contains(string(page.body), "fra") {
		t.Errorf("page without code:\n%s", page.body)
	}
	page = e.do(t, "GET", "/e/konf?code=acme-gjest", "", nil)
	if !strings.Contains(string(page.body), `value="gjest"`) || !strings.Contains(string(page.body), `name="code" value="ACME-GJEST"`) {
		t.Errorf("page with code:\n%s", page.body)
	}
}
