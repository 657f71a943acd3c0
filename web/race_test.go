package web_test

import (
	"strings"
	"testing"
)

// raceEvent is a free local race with bibs and a public start list.
func (e *env) raceEvent(t testing.TB, slug string) {
	e.mustEvent(t, slug, func(b map[string]any) {
		b["kind"], b["publicList"] = "race", true
		delete(b, "price")
		delete(b, "partners")
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true},
			{"key": "date_of_birth", "required": true}, {"key": "club"}, {"key": "guardian_name"}, {"key": "guardian_email"}}
		b["categories"] = []map[string]any{{"key": "10k", "name": map[string]string{"nb": "10 km", "en": "10 km"}, "capacity": 100,
			"bibs": map[string]int{"from": 101, "to": 200}, "classes": []map[string]any{{"name": "Senior", "minAge": 18, "maxAge": 120}}}}
	})
}

// TestStartList: the public start list (JSON and CSV) lists name, club,
// class and bib of those who agreed, and nobody else.
func TestStartList(t *testing.T) {
	e := newEnv(t)
	e.raceEvent(t, "lop")
	runner := func(name, email string, agrees bool) {
		e.mustSignup(t, "lop", map[string]any{"category": "10k", "consents": map[string]any{"startlist": agrees},
			"fields": map[string]any{"name": name, "email": email, "date_of_birth": "1980-01-01", "club": "Kongsvinger IL"}})
	}
	runner("Kari Løper", "kari@example.no", true)
	runner("Ola Privat", "ola@example.no", false)

	r := e.do(t, "GET", "/api/v1/events/lop/startlist", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `{"bib":101,"name":"Kari Løper","club":"Kongsvinger IL","class":"Senior","category":"10k"}`) ||
		strings.Contains(string(r.body), "Ola") || strings.Contains(string(r.body), "@") {
		t.Fatalf("start list: %d %s", r.status, r.body)
	}
	csv := e.do(t, "GET", "/api/v1/events/lop/startlist?format=csv", "", nil)
	if !strings.Contains(string(csv.body), `"101","Kari Løper","Kongsvinger IL","Senior","10k"`) || strings.Contains(string(csv.body), "Ola") {
		t.Errorf("CSV start list: %s", csv.body)
	}
	e.mustEvent(t, "konf", nil)
	if r := e.do(t, "GET", "/api/v1/events/konf/startlist", "", nil); r.status != 404 {
		t.Errorf("a conference's start list: %d", r.status)
	}
}

// TestRaceFormAsksStartList: the race's form asks the start-list consent
// in a fieldset of its own, unticked.
func TestRaceFormAsksStartList(t *testing.T) {
	e := newEnv(t)
	e.raceEvent(t, "lop")
	r := e.do(t, "GET", "/e/lop", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), "Offentlig startliste") || !strings.Contains(string(r.body), `name="consent_startlist"`) ||
		strings.Contains(string(r.body), `name="consent_startlist" value="true" checked`) {
		t.Fatalf("race form: %d\n%s", r.status, r.body)
	}
}
