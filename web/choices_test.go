package web_test

import (
	"strings"
	"testing"
)

func choiceField(key, kind string, options ...string) map[string]any {
	var opts []map[string]any
	for _, o := range options {
		opts = append(opts, map[string]any{"value": o, "label": map[string]string{"nb": "Valg " + o, "en": "Option " + o}})
	}
	return map[string]any{
		"key": key, "label": map[string]string{"nb": "Spor " + key, "en": "Track " + key},
		"category": "professional", "legalBasis": "contract", "purposes": []string{"registration"},
		"recipients": []string{}, "retention": "event_end+30d",
		"validation": map[string]any{"kind": kind, "options": opts},
	}
}

// TestChoiceFields: a single and a multiple choice field, declared with
// the tags of any custom field; the answer is one of the organiser's
// options (several kept in the options' order), anything else refused;
// the form shows radios and checkboxes, and an event's description with
// its links.
func TestChoiceFields(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "POST", "/api/v1/events", adminToken, func() map[string]any {
		b := eventBody("bad")
		b["customFields"] = []any{choiceField("spor", "choice", "a")}
		return b
	}())
	e.mustRefuse(t, r, "customFields[0].validation.options", "invalid")
	e.mustEvent(t, "konf", func(b map[string]any) {
		delete(b, "price")
		b["description"] = map[string]string{"nb": "Program: https://janteloppet.example.no/program\n\nVelkommen!", "en": "Programme: https://janteloppet.example.no/program"}
		b["customFields"] = []any{choiceField("dag", "choice", "tor", "fre"), choiceField("spor", "choices", "ai", "sky", "data")}
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "dag", "required": true}, {"key": "spor"}}
	})
	bad := e.do(t, "POST", "/api/v1/events/konf/registrations", "", map[string]any{"fields": map[string]any{"name": "Kari", "email": "kari@example.no", "dag": "lør", "spor": "ai,blockchain"}})
	e.mustRefuse(t, bad, "fields.dag", "invalid")
	s := e.mustSignup(t, "konf", map[string]any{"fields": map[string]any{"name": "Kari", "email": "kari@example.no", "dag": "fre", "spor": "data, ai"}})
	if v := e.values(t, s.ID); v["dag"] != "fre" || v["spor"] != "ai,data" {
		t.Errorf("stored %v", v)
	}
	page := e.do(t, "GET", "/e/konf", "", nil)
	body := string(page.body)
	for _, want := range []string{`type="radio" id="f-dag-tor" name="f_dag" value="tor"`, `type="checkbox" id="f-spor-sky" name="f_spor" value="sky"`,
		`<a href="https://janteloppet.example.no/program">https://janteloppet.example.no/program</a>`, "Velkommen!",
		"<dt>Arrangør</dt><dd>Janteloppet AS</dd>", "<dt>Påmelding åpen</dt>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the form lacks %s", want)
		}
	}
}
