package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/xuri/excelize/v2"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
)

// allFields is a form with every built-in field a free conference with
// partners has a purpose for (not the invoice fields), and a value for
// each that must never reach a partner but name and organisation.
var allFields = map[string]string{
	"name": "Kari Nordmann", "email": "kari@example.no", "phone": "91234567", "organisation": "Acme AS",
	"title": "Daglig leder", "dietary": "nøtteallergi", "date_of_birth": "1980-02-03", "club": "Kongsvinger IL",
	"guardian_name": "Guro Verge", "guardian_email": "guro@example.no", "emergency_contact": "Per 99887766",
}

func (e *env) everyFieldEvent(t testing.TB, slug string) {
	e.mustEvent(t, slug, func(b map[string]any) {
		delete(b, "price")
		var fs []map[string]any
		for _, f := range privacy.Catalog() {
			if _, ok := allFields[f.Key]; ok {
				fs = append(fs, map[string]any{"key": f.Key, "required": f.Key == "name" || f.Key == "email"})
			}
		}
		b["fields"] = fs
		b["partners"] = []map[string]string{{"id": "acme", "name": "Acme AS"}, {"id": "bank", "name": "Sparebanken"}}
	})
}

func (e *env) signupWith(t testing.TB, slug, email string, extra map[string]string, objectPartners bool) signup {
	f := map[string]any{}
	for k, v := range allFields {
		f[k] = v
	}
	f["email"] = email
	for k, v := range extra {
		f[k] = v
	}
	return e.mustSignup(t, slug, map[string]any{"fields": f, "consents": map[string]any{"health": true},
		"objections": map[string]any{"partnerSharing": objectPartners}})
}

func (e *env) partnerCSV(t testing.TB, slug, token, query string) [][]string {
	t.Helper()
	r := e.do(t, "GET", "/api/v1/events/"+slug+"/partner-export"+query, token, nil)
	if r.status != 200 {
		t.Fatalf("export: %d %s", r.status, r.body)
	}
	recs, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, r.body)
	}
	return recs
}

func TestPartnerExport(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "konf")
	e.mustEvent(t, "other", nil)
	kari := e.signupWith(t, "konf", "kari@example.no", map[string]string{"organisation": "=HYPERLINK(\"http://x\")"}, false)
	e.clock.add(time.Second)
	objector := e.signupWith(t, "konf", "objector@example.no", map[string]string{"name": "Olav Objector"}, true)
	e.clock.add(time.Second)
	restricted := e.signupWith(t, "konf", "restricted@example.no", map[string]string{"name": "Rita Restricted"}, false)
	e.do(t, "POST", "/api/v1/me/restriction", restricted.ManageToken, map[string]any{"restricted": true})
	e.clock.add(time.Second)
	cancelled := e.signupWith(t, "konf", "cancelled@example.no", map[string]string{"name": "Carl Cancelled"}, false)
	e.do(t, "DELETE", "/api/v1/me/registration", cancelled.ManageToken, nil)

	acme := e.token(t, staff.CreateRequest{Role: staff.Partner, Name: "acme", Events: []string{"konf"}, Partner: "acme"})
	bank := e.token(t, staff.CreateRequest{Role: staff.Partner, Name: "bank", Events: []string{"konf"}, Partner: "bank"})

	recs := e.partnerCSV(t, "konf", acme, "")
	if strings.Join(recs[0], ",") != "name,organisation" {
		t.Fatalf("header %v, want exactly name,organisation", recs[0])
	}
	if len(recs) != 2 || recs[1][0] != "Kari Nordmann" || recs[1][1] != `'=HYPERLINK("http://x")` {
		t.Fatalf("rows %v: want Kari only, formula defused", recs)
	}

	t.Run("NothingElseInAnyFormat", func(t *testing.T) {
		var bodies []string
		for _, q := range []string{"", "?format=xlsx"} {
			r := e.do(t, "GET", "/api/v1/events/konf/partner-export"+q, acme, nil)
			bodies = append(bodies, string(r.body))
			if q == "?format=xlsx" {
				f, err := excelize.OpenReader(bytes.NewReader(r.body))
				if err != nil {
					t.Fatal(err)
				}
				rows, _ := f.GetRows("Deltakere")
				var cells []string
				for _, row := range rows {
					cells = append(cells, strings.Join(row, "\t"))
				}
				bodies = append(bodies, strings.Join(cells, "\n"))
				if strings.Join(rows[0], ",") != "name,organisation" || len(rows) != 2 {
					t.Errorf("xlsx rows %v", rows)
				}
			}
		}
		r := e.do(t, "GET", "/api/v1/events/konf/partner-export", acme, nil, "Accept", "application/json")
		var rows []map[string]string
		if err := json.Unmarshal(r.body, &rows); err != nil || len(rows) != 1 || len(rows[0]) != 2 || rows[0]["name"] != "Kari Nordmann" {
			t.Fatalf("json: %v %s", err, r.body)
		}
		bodies = append(bodies, string(r.body))
		for _, b := range bodies {
			for k, v := range allFields {
				if k == "name" || k == "organisation" {
					continue
				}
				if strings.Contains(b, v) {
					t.Errorf("a partner export holds %s (%q)", k, v)
				}
			}
			for _, who := range []string{"Olav Objector", "Rita Restricted", "Carl Cancelled"} {
				if strings.Contains(b, who) {
					t.Errorf("a partner export holds %s", who)
				}
			}
		}
	})
	t.Run("Disclosures", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/events/konf/disclosures", adminToken, nil)
		var log struct {
			Disclosures []struct {
				Partner, Format string
				Fields          []string
				Count           int
				Complete        bool
			}
		}
		r.json(t, &log)
		if len(log.Disclosures) != 4 || log.Disclosures[0].Partner != "acme" || strings.Join(log.Disclosures[0].Fields, ",") != "name,organisation" ||
			log.Disclosures[0].Count != 1 || !log.Disclosures[0].Complete {
			t.Fatalf("disclosure log %s", r.body)
		}
		var me struct {
			Disclosures []struct {
				To     string
				Fields []string
			}
		}
		e.do(t, "GET", "/api/v1/me", kari.ManageToken, nil).json(t, &me)
		if len(me.Disclosures) != 4 || me.Disclosures[0].To != "Acme AS" {
			t.Errorf("Kari's access report lists %+v", me.Disclosures)
		}
		e.do(t, "GET", "/api/v1/me", objector.ManageToken, nil).json(t, &me)
		if len(me.Disclosures) != 0 {
			t.Errorf("the objector's report lists disclosures: %+v", me.Disclosures)
		}
	})
	t.Run("Forbidden", func(t *testing.T) {
		mustProblem(t, e.do(t, "GET", "/api/v1/events/other/partner-export", acme, nil), 403)
		mustProblem(t, e.do(t, "GET", "/api/v1/events/konf/partner-export?partner=acme", bank, nil), 403)
		mustProblem(t, e.do(t, "GET", "/api/v1/events/konf/partner-export", "", nil), 401)
		mustProblem(t, e.do(t, "GET", "/api/v1/events/konf/partner-export", kari.ManageToken, nil), 401)
		mustProblem(t, e.do(t, "GET", "/api/v1/events/konf/partner-export", adminToken, nil), 400)
		if recs := e.partnerCSV(t, "konf", adminToken, "?partner=bank"); len(recs) != 2 {
			t.Errorf("organiser export for bank: %v", recs)
		}
	})
	t.Run("ObjectionAndRestrictionApplyToTheNextExport", func(t *testing.T) {
		e.do(t, "POST", "/api/v1/me/objections", objector.ManageToken, map[string]any{"partnerSharing": false})
		e.do(t, "POST", "/api/v1/me/restriction", restricted.ManageToken, map[string]any{"restricted": false})
		if recs := e.partnerCSV(t, "konf", acme, ""); len(recs) != 4 {
			t.Fatalf("after lifting: %v", recs)
		}
		e.do(t, "POST", "/api/v1/me/objections", kari.ManageToken, map[string]any{"partnerSharing": true})
		e.do(t, "POST", "/api/v1/me/restriction", objector.ManageToken, nil)
		recs := e.partnerCSV(t, "konf", acme, "")
		if len(recs) != 2 || recs[1][0] != "Rita Restricted" {
			t.Errorf("after objecting and restricting: %v", recs)
		}
	})
	t.Run("ErasureAfterExport", func(t *testing.T) {
		r := e.do(t, "DELETE", "/api/v1/me", kari.ManageToken, nil)
		if r.status != 200 {
			t.Fatalf("erase: %d %s", r.status, r.body)
		}
		var raw bson.Raw
		if err := e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": kari.ID}, &raw); err != nil {
			t.Fatal(err)
		}
		for k, v := range allFields {
			if strings.Contains(string(raw), v) {
				t.Errorf("erased registration still holds %s", k)
			}
		}
		n, _ := e.store.Collection(mongodb.DisclosureChunks).Count(context.Background(), bson.M{"registrations": kari.ID})
		if n == 0 {
			t.Error("the disclosure record went with the erasure")
		}
		mustProblem(t, e.do(t, "GET", "/api/v1/me", kari.ManageToken, nil), 401)
	})
}

func TestParticipantRights(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "konf")
	kari := e.signupWith(t, "konf", "kari@example.no", nil, false)
	ola := e.signupWith(t, "konf", "ola@example.no", nil, false)

	t.Run("AccessReport", func(t *testing.T) {
		var rep struct {
			Source     string
			Controller struct{ Name, PrivacyEmail string }
			Fields     []struct {
				Key, Value, DeleteRule string
				LegalBasis             string   `json:"legalBasis"`
				Purposes               []string `json:"purposes"`
				Recipients             []string `json:"recipients"`
				DeleteAt               *time.Time
			}
		}
		e.do(t, "GET", "/api/v1/me", kari.ManageToken, nil).json(t, &rep)
		if rep.Source == "" || rep.Controller.PrivacyEmail != "personvern@example.no" || len(rep.Fields) != len(allFields) {
			t.Fatalf("report: %+v", rep)
		}
		for _, f := range rep.Fields {
			if f.LegalBasis == "" || len(f.Purposes) == 0 || f.Recipients == nil || f.DeleteRule == "" {
				t.Errorf("field %s lacks tags: %+v", f.Key, f)
			}
			if f.Key == "emergency_contact" && (f.DeleteAt == nil || !f.DeleteAt.Equal(time.Date(2027, 3, 8, 16, 0, 0, 0, time.UTC))) {
				t.Errorf("emergency_contact deleted at %v, want the event's end + 7 days", f.DeleteAt)
			}
		}
	})
	t.Run("Portability", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/me/export", kari.ManageToken, nil)
		var p struct {
			SchemaVersion int
			Fields        map[string]string
			Consents      []map[string]any
		}
		r.json(t, &p)
		if p.SchemaVersion != 1 || p.Fields["dietary"] != "nøtteallergi" || p.Fields["club"] != "Kongsvinger IL" || len(p.Consents) == 0 {
			t.Errorf("export %s", r.body)
		}
	})
	t.Run("Rectify", func(t *testing.T) {
		r := e.do(t, "PATCH", "/api/v1/me", kari.ManageToken, map[string]any{"fields": map[string]any{"phone": "40000000", "title": ""}})
		if r.status != 200 || !strings.Contains(string(r.body), "+4740000000") || strings.Contains(string(r.body), "Daglig leder") {
			t.Fatalf("rectify: %d %s", r.status, r.body)
		}
		before := e.do(t, "GET", "/api/v1/me", kari.ManageToken, nil).body
		for _, tc := range []struct {
			body   map[string]any
			status int
			field  string
			code   string
		}{
			{map[string]any{"fields": map[string]any{"phone": "12"}}, 422, "fields.phone", "invalid"},
			{map[string]any{"fields": map[string]any{"shoe": "44"}}, 422, "fields.shoe", "undeclared"},
			{map[string]any{"fields": map[string]any{"name": ""}}, 422, "fields.name", "required"},
			{map[string]any{"status": "confirmed"}, 422, "status", "unknown"},
		} {
			p := mustProblem(t, e.do(t, "PATCH", "/api/v1/me", kari.ManageToken, tc.body), tc.status)
			if tc.field != "" && !p.has(tc.field, tc.code) {
				t.Errorf("errors %+v, want {%s %s}", p.Errors, tc.field, tc.code)
			}
		}
		if after := e.do(t, "GET", "/api/v1/me", kari.ManageToken, nil).body; !bytes.Equal(before, after) {
			t.Error("a refused rectification changed something")
		}
	})
	t.Run("WithdrawHealth", func(t *testing.T) {
		catering := e.token(t, staff.CreateRequest{Role: staff.Catering, Name: "kjøkken", Events: []string{"konf"}})
		if r := e.do(t, "GET", "/api/v1/events/konf/registrations", catering, nil); !strings.Contains(string(r.body), "nøtteallergi") {
			t.Fatalf("catering list before: %s", r.body)
		}
		r := e.do(t, "POST", "/api/v1/me/consents/health/withdraw", kari.ManageToken, nil)
		if r.status != 200 {
			t.Fatalf("withdraw: %d %s", r.status, r.body)
		}
		if !e.keysOf(t, kari.ID)["name"] {
			t.Fatal("the key store holds no key of the registration's name: the check sees nothing")
		}
		if e.sealedOf(t, kari.ID)["dietary"] || e.keysOf(t, kari.ID)["dietary"] {
			t.Errorf("after withdrawal the store holds the sealed dietary or its key")
		}
		list := e.do(t, "GET", "/api/v1/events/konf/registrations", catering, nil)
		var page struct{ Registrations []map[string]any }
		list.json(t, &page)
		if len(page.Registrations) != 1 { // Ola's only
			t.Errorf("catering list after withdrawal: %s", list.body)
		}
		if me := e.do(t, "GET", "/api/v1/me", kari.ManageToken, nil); strings.Contains(string(me.body), "nøtteallergi") {
			t.Error("dietary still in the access report")
		}
		p := mustProblem(t, e.do(t, "PATCH", "/api/v1/me", kari.ManageToken, map[string]any{"fields": map[string]any{"dietary": "laktose"}}), 422)
		if !p.has("fields.dietary", "consent_required") {
			t.Errorf("dietary accepted again without consent: %+v", p.Errors)
		}
		mustProblem(t, e.do(t, "POST", "/api/v1/me/consents/profiling/withdraw", kari.ManageToken, nil), 404)
	})
	t.Run("WithdrawMarketing", func(t *testing.T) {
		r := e.do(t, "POST", "/api/v1/me/consents/marketing/withdraw", ola.ManageToken, nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"marketing":false`) {
			t.Errorf("withdraw marketing: %d %s", r.status, r.body)
		}
	})
	t.Run("Erase", func(t *testing.T) {
		left := e.seatsLeft(t, "konf")
		r := e.do(t, "DELETE", "/api/v1/me", ola.ManageToken, nil)
		var rec struct {
			Removed      []string
			Kept         []struct{ What, Why, LegalBasis string }
			SeatReleased bool
		}
		r.json(t, &rec)
		if r.status != 200 || !rec.SeatReleased || len(rec.Removed) != len(allFields) {
			t.Fatalf("erase: %d %s", r.status, r.body)
		}
		if e.seatsLeft(t, "konf") != left+1 {
			t.Error("the seat was not released")
		}
		mustProblem(t, e.do(t, "GET", "/api/v1/me", ola.ManageToken, nil), 401)
	})
}

func TestEraseKeepsInvoiceData(t *testing.T) {
	e := newEnv(t)
	e.invoiceEvent(t, "seminar")
	r := e.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer("kari@example.no"))
	var s signup
	r.json(t, &s)
	r = e.do(t, "DELETE", "/api/v1/me", s.ManageToken, nil)
	var rec struct {
		Removed []string
		Kept    []struct {
			Code, What, Why, LegalBasis string
			Until                       *time.Time
			Fields                      []string
		}
	}
	r.json(t, &rec)
	if r.status != 200 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	kept := map[string]bool{}
	for _, k := range rec.Kept {
		kept[k.Code] = true
		for _, f := range k.Fields {
			kept["field "+f] = true
		}
		if k.LegalBasis == "legal_obligation" && (k.Until == nil || k.Until.Year() != 2031) {
			t.Errorf("%s kept until %v, want the end of 2031 (fiscal year 2026 + 5)", k.What, k.Until)
		}
	}
	if !kept["field invoice_org_number"] || !kept["field invoice_address"] || !kept["invoice"] || !kept["payment_record"] || !strings.Contains(strings.Join(rec.Removed, ","), "email") {
		t.Errorf("receipt %s", r.body)
	}
	values, keys := e.values(t, s.ID), e.keysOf(t, s.ID)
	if values["email"] != "" || values["name"] != "" || keys["email"] || keys["name"] || values["invoice_org_number"] != "974760673" {
		t.Errorf("after erasure: values %v, keys %v", values, keys)
	}
	// The credit note answered the cancelled invoice.
	if d := e.reg(t, s.ID); d.Payment.Status != "credited" {
		t.Errorf("payment %s", d.Payment.Status)
	}
}

func TestPrivacyRequests(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "a", func(b map[string]any) { delete(b, "price") })
	e.mustEvent(t, "b", func(b map[string]any) { delete(b, "price") })
	ra := e.mustSignup(t, "a", person("Kari@Example.no"))
	rb := e.mustSignup(t, "b", person("kari@example.no"))
	other := e.mustSignup(t, "b", person("ola@example.no"))
	pc := e.token(t, staff.CreateRequest{Role: staff.Privacy, Name: "personvernombud"})
	organiser := e.token(t, staff.CreateRequest{Role: staff.Organiser, Name: "o"})

	mustProblem(t, e.do(t, "POST", "/api/v1/privacy/requests", organiser, map[string]any{"type": "erasure", "email": "kari@example.no", "receivedAt": "2026-11-20"}), 403)
	p := mustProblem(t, e.do(t, "POST", "/api/v1/privacy/requests", pc, map[string]any{"type": "forget", "email": "x", "receivedAt": "yesterday"}), 422)
	if !p.has("type", "invalid") || !p.has("email", "invalid") || !p.has("receivedAt", "invalid") {
		t.Errorf("errors %+v", p.Errors)
	}

	r := e.do(t, "POST", "/api/v1/privacy/requests", pc, map[string]any{"type": "erasure", "email": " KARI@example.no", "receivedAt": "2026-11-20", "notes": "by e-mail"})
	var req struct {
		ID            string
		Deadline      time.Time
		Overdue       bool
		Email         string
		Registrations []struct{ ID, Event string }
	}
	r.json(t, &req)
	if r.status != 201 || !req.Deadline.Equal(time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)) || req.Overdue || len(req.Registrations) != 2 {
		t.Fatalf("request: %d %s", r.status, r.body)
	}
	var raw bson.Raw
	_ = e.store.Collection(mongodb.PrivacyRequests).FindOne(context.Background(), bson.M{"_id": req.ID}, &raw)
	if strings.Contains(strings.ToLower(string(raw)), "kari@example.no") {
		t.Error("the request stores the address in clear")
	}

	act := func(body map[string]any) response {
		return e.do(t, "POST", "/api/v1/privacy/requests/"+req.ID+"/actions", pc, body)
	}
	if r := act(map[string]any{"action": "access", "registration": ra.ID}); r.status != 200 || !strings.Contains(string(r.body), `"fields"`) {
		t.Fatalf("access: %d %s", r.status, r.body)
	}
	mustProblem(t, act(map[string]any{"action": "erase", "registration": other.ID}), 404)
	mustProblem(t, act(map[string]any{"action": "shred", "registration": ra.ID}), 422)
	for _, id := range []string{ra.ID, rb.ID} {
		if r := act(map[string]any{"action": "erase", "registration": id}); r.status != 200 {
			t.Fatalf("erase: %d %s", r.status, r.body)
		}
	}
	mustProblem(t, e.do(t, "GET", "/api/v1/me", rb.ManageToken, nil), 401)
	if r := e.do(t, "GET", "/api/v1/me", other.ManageToken, nil); r.status != 200 {
		t.Error("another person's registration was touched")
	}

	e.clock.add(40 * 24 * time.Hour)
	var list struct {
		Requests []struct {
			ID      string
			Overdue bool
			Actions []map[string]any
		}
	}
	e.do(t, "GET", "/api/v1/privacy/requests", pc, nil).json(t, &list)
	if len(list.Requests) != 1 || !list.Requests[0].Overdue || len(list.Requests[0].Actions) != 3 {
		t.Errorf("open requests %+v", list.Requests)
	}
	if r := e.do(t, "POST", "/api/v1/privacy/requests/"+req.ID+"/close", pc, map[string]any{"outcome": "Both registrations erased; answered by e-mail."}); r.status != 200 {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	e.do(t, "GET", "/api/v1/privacy/requests", pc, nil).json(t, &list)
	if len(list.Requests) != 0 {
		t.Errorf("closed request still listed as open")
	}
	mustProblem(t, act(map[string]any{"action": "access", "registration": ra.ID}), 409)
}

// TestRetention moves the clock past each rule: exactly what is due goes.
func TestRetention(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "konf") // ends 2027-03-01 16:00 UTC
	s := e.signupWith(t, "konf", "kari@example.no", nil, false)
	e.invoiceEvent(t, "seminar")
	r := e.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer("buyer@example.no"))
	var inv signup
	r.json(t, &inv)

	fields := func(id string) []string {
		var raw struct {
			Fields map[string]string `bson:"fields"`
			Sealed map[string]bson.M `bson:"sealed"`
		}
		if err := e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": id}, &raw); err != nil {
			return nil
		}
		var keys []string
		for k := range raw.Fields {
			keys = append(keys, k)
		}
		for k := range raw.Sealed {
			keys = append(keys, k)
		}
		return keys
	}
	run := func() {
		t.Helper()
		if _, err := e.a.Retention.RunRetention(context.Background(), false); err != nil {
			t.Fatal(err)
		}
	}
	has := func(keys []string, k string) bool {
		return strings.Contains(","+strings.Join(keys, ",")+",", ","+k+",")
	}

	run()
	if n := len(fields(s.ID)); n != len(allFields) {
		t.Fatalf("before the event: %d fields left", n)
	}
	t.Run("DryRun", func(t *testing.T) {
		e.clock.add(110 * 24 * time.Hour) // 2027-03-11: past event end + 7 days
		rec, err := e.a.Retention.RunRetention(context.Background(), true)
		if err != nil || len(rec.Values) == 0 || len(fields(s.ID)) != len(allFields) {
			t.Fatalf("dry run removed something or counted nothing: %+v %v", rec, err)
		}
	})
	run()
	if k := fields(s.ID); has(k, "emergency_contact") || !has(k, "dietary") || !has(k, "phone") || !has(k, "name") {
		t.Fatalf("7 days after: %v", k)
	}
	e.clock.add(30 * 24 * time.Hour) // past event end + 30 days
	run()
	if k := fields(s.ID); has(k, "dietary") || has(k, "phone") || !has(k, "email") {
		t.Fatalf("30 days after: %v", k)
	}
	var ov struct {
		Events []struct {
			Event  string
			Fields []struct {
				Field string
				Held  int
			}
		}
	}
	e.do(t, "GET", "/api/v1/privacy/retention", adminToken, nil).json(t, &ov)
	if len(ov.Events) != 2 {
		t.Fatalf("overview %+v", ov)
	}
	e.clock.add(330 * 24 * time.Hour) // past event end + 1 year
	run()
	if k := fields(s.ID); has(k, "email") || has(k, "name") || has(k, "club") {
		t.Fatalf("a year after: %v", k)
	}
	if k := fields(inv.ID); !has(k, "invoice_org_number") || has(k, "email") {
		t.Fatalf("invoiced registration a year after: %v", k)
	}
	e.clock.add(6 * 365 * 24 * time.Hour) // past the end of fiscal 2027 + 5 years
	run()
	if k := fields(s.ID); k != nil {
		t.Errorf("registration not deleted: %v", k)
	}
	if k := fields(inv.ID); k != nil {
		t.Errorf("invoiced registration not deleted after its bookkeeping period: %v", k)
	}
	var receipts []struct {
		RegistrationsDeleted int `bson:"registrationsDeleted"`
	}
	_ = e.store.Collection(mongodb.PurgeReceipts).All(context.Background(), bson.M{}, &receipts)
	// The free registration goes a year after the event (nothing of it is
	// bookkeeping); the invoiced one after its bookkeeping period.
	if len(receipts) != 6 || receipts[4].RegistrationsDeleted != 1 || receipts[5].RegistrationsDeleted != 1 {
		t.Errorf("receipts %+v", receipts)
	}
	var raw []bson.Raw
	_ = e.store.Collection(mongodb.PurgeReceipts).All(context.Background(), bson.M{}, &raw)
	for _, rc := range raw {
		if strings.Contains(string(rc), "Kari") || strings.Contains(string(rc), "@example.no") {
			t.Error("a purge receipt holds personal data")
		}
	}
	if r := e.do(t, "GET", "/api/v1/events/konf", "", nil); r.status != 200 {
		t.Fatal(r.status)
	}
}

func TestGeneratedDocuments(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "konf")
	for _, tc := range []struct {
		query, ctype string
		want         []string
	}{
		{"?lang=nb", "text/html", []string{"<h1>Personvernerklæring for Janteloppet</h1>", "Acme AS, Sparebanken", "7 dager etter arrangementet",
			"30 dager etter arrangementet", "uttrykkelig samtykke (GDPR art. 9(2)(a))", "personvern@example.no", "Datatilsynet", "under 18 år"}},
		{"?lang=en&format=md", "text/markdown", []string{"# Privacy notice for Janteloppet", "| Data | Purpose and legal basis |", "Attendee list for the event's partners: legitimate interest (GDPR art. 6(1)(f), you may object)", "30 days after the event", "name and organisation"}},
	} {
		r := e.do(t, "GET", "/api/v1/events/konf/privacy-notice"+tc.query, "", nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), tc.ctype) {
			t.Fatalf("%s: %d %s", tc.query, r.status, r.header.Get("Content-Type"))
		}
		for _, w := range tc.want {
			if !strings.Contains(string(r.body), w) {
				t.Errorf("%s lacks %q", tc.query, w)
			}
		}
	}
	mustProblem(t, e.do(t, "GET", "/api/v1/events/konf/privacy-notice?lang=de", "", nil), 400)

	r := e.do(t, "GET", "/api/v1/privacy/records", adminToken, nil)
	type purpose struct {
		Purpose, LegalBasis string
		Objection           bool
	}
	var rec struct {
		Activities []struct {
			Event        string
			DataSubjects []string
			Purposes     []purpose
			Retention    []map[string]string
		}
	}
	r.json(t, &rec)
	if len(rec.Activities) != 1 || len(rec.Activities[0].Retention) != len(allFields) || len(rec.Activities[0].DataSubjects) != 3 {
		t.Fatalf("records %s", r.body)
	}
	// Legal basis per purpose; only the purposes a free conference with
	// partners has (finding 8).
	bases := map[string]purpose{}
	for _, p := range rec.Activities[0].Purposes {
		bases[p.Purpose] = p
	}
	if p := bases["partner_sharing"]; p.LegalBasis != "legitimate_interest" || !p.Objection {
		t.Errorf("partner lists on %+v", p)
	}
	if bases["registration"].LegalBasis != "contract" || bases["catering"].LegalBasis != "explicit_consent" {
		t.Errorf("bases %+v", bases)
	}
	for _, absent := range []string{"results", "invoicing", "bookkeeping"} {
		if _, ok := bases[absent]; ok {
			t.Errorf("a free conference lists %s", absent)
		}
	}
	md := e.do(t, "GET", "/api/v1/privacy/records?format=md", adminToken, nil)
	if !strings.Contains(string(md.body), "# Record of processing activities (GDPR art. 30)") || !strings.Contains(string(md.body), "not stated: set PAMELDING_PROCESSOR_HOSTING") {
		t.Errorf("records md: %s", md.body)
	}
	nb := e.do(t, "GET", "/api/v1/privacy/records?format=md&lang=nb", adminToken, nil)
	for _, w := range []string{"# Protokoll over behandlingsaktiviteter (personvernforordningen art. 30)", "Behandlingsansvarlig: Janteloppet AS (org.nr. 923609016)",
		"berettiget interesse (GDPR art. 6(1)(f)); den registrerte kan protestere", "Overføring utenfor EØS: ingen."} {
		if !strings.Contains(string(nb.body), w) {
			t.Errorf("the Norwegian record lacks %q", w)
		}
	}
	mustProblem(t, e.do(t, "GET", "/api/v1/privacy/records?lang=de", adminToken, nil), 400)
	mustProblem(t, e.do(t, "GET", "/api/v1/privacy/records", "", nil), 401)
	_ = fmt.Sprint
}

// TestPortabilitySchema validates GET /api/v1/me/export against the
// documented schema, so the two cannot drift.
func TestPortabilitySchema(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "konf")
	s := e.signupWith(t, "konf", "kari@example.no", nil, false)
	r := e.do(t, "GET", "/api/v1/me/export", s.ManageToken, nil)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("../api/portability.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("the export does not match api/portability.schema.json: %v", err)
	}
	e.invoiceEvent(t, "seminar")
	r = e.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer("buyer@example.no"))
	var inv signup
	r.json(t, &inv)
	doc, _ = jsonschema.UnmarshalJSON(bytes.NewReader(e.do(t, "GET", "/api/v1/me/export", inv.ManageToken, nil).body))
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("an invoiced registration's export: %v", err)
	}
}

func TestPrivacyRequestRetention(t *testing.T) {
	e := newEnv(t)
	pc := e.token(t, staff.CreateRequest{Role: staff.Privacy, Name: "pv"})
	r := e.do(t, "POST", "/api/v1/privacy/requests", pc, map[string]any{"type": "access", "email": "kari@example.no", "receivedAt": "2026-11-20"})
	var req struct{ ID string }
	r.json(t, &req)
	e.do(t, "POST", "/api/v1/privacy/requests/"+req.ID+"/close", pc, map[string]any{"outcome": "answered"})
	run := func() {
		if _, err := e.a.Retention.RunRetention(context.Background(), false); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if r := e.do(t, "GET", "/api/v1/privacy/requests/"+req.ID, pc, nil); !strings.Contains(string(r.body), "kari@example.no") {
		t.Fatalf("the address went too early: %s", r.body)
	}
	e.clock.add(366 * 24 * time.Hour)
	run()
	r = e.do(t, "GET", "/api/v1/privacy/requests/"+req.ID, pc, nil)
	var raw bson.Raw
	_ = e.store.Collection(mongodb.PrivacyRequests).FindOne(context.Background(), bson.M{"_id": req.ID}, &raw)
	if r.status != 200 || strings.Contains(string(r.body), "kari@example.no") || raw.Lookup("email").Type != 0 {
		t.Errorf("a year after closing: %d %s", r.status, r.body)
	}
	e.clock.add(2 * 366 * 24 * time.Hour)
	run()
	mustProblem(t, e.do(t, "GET", "/api/v1/privacy/requests/"+req.ID, pc, nil), 404)
}

// TestCustomConsentField: a custom field under consent is asked with its
// own consent and text, recorded with its version, and withdrawn on its
// own, destroying that value's key only.
func TestCustomConsentField(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "kurs", func(b map[string]any) {
		delete(b, "price")
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "medical"}}
		b["customFields"] = []any{map[string]any{
			"key": "medical", "label": map[string]string{"nb": "Medisinske behov", "en": "Medical needs"},
			"category": "health", "legalBasis": "explicit_consent", "purposes": []string{"safety"},
			"recipients": []string{"catering"}, "retention": "event_end+7d",
			"consentText": map[string]string{"nb": "Jeg samtykker til at arrangøren kjenner mine medisinske behov.", "en": "I consent to the organiser knowing my medical needs."},
		}}
	})
	body := person("kari@example.no")
	body["fields"].(map[string]any)["medical"] = "astma"
	if p := mustProblem(t, e.do(t, "POST", "/api/v1/events/kurs/registrations", "", body), 422); !p.has("fields.medical", "consent_required") {
		t.Errorf("without its own consent: %+v", p)
	}
	body["consents"] = map[string]any{"health": true}
	if p := mustProblem(t, e.do(t, "POST", "/api/v1/events/kurs/registrations", "", body), 422); !p.has("consents.health", "undeclared") {
		t.Errorf("under another consent: %+v", p)
	}
	body["consents"] = map[string]any{"medical": true}
	s := e.mustSignup(t, "kurs", body)
	var me struct {
		Consents []struct{ Purpose, TextVersion string }
	}
	e.do(t, "GET", "/api/v1/me", s.ManageToken, nil).json(t, &me)
	if len(me.Consents) == 0 || me.Consents[0].Purpose != "medical" || me.Consents[0].TextVersion == "" {
		t.Errorf("consents %+v", me.Consents)
	}
	if !e.keysOf(t, s.ID)["medical"] {
		t.Fatal("no key for the value")
	}
	if r := e.do(t, "POST", "/api/v1/me/consents/medical/withdraw", s.ManageToken, nil); r.status != 200 {
		t.Fatalf("withdraw: %d %s", r.status, r.body)
	}
	if keys := e.keysOf(t, s.ID); keys["medical"] || !keys["name"] {
		t.Errorf("keys after withdrawal %v", keys)
	}
}

// TestPromiseHolds: what a participant was told at sign-up governs every
// later use. Re-tagging a health field as professional data used to show
// the decrypted value in the organiser's list; now tags in use cannot
// change (409), and lists show each row only what its promise allows, and
// log it as a disclosure.
func TestPromiseHolds(t *testing.T) {
	e := newEnv(t)
	medical := map[string]any{
		"key": "medical", "label": map[string]string{"nb": "Medisinske behov", "en": "Medical needs"},
		"category": "health", "legalBasis": "explicit_consent", "purposes": []string{"safety"},
		"recipients": []string{"catering"}, "retention": "event_end+7d",
		"consentText": map[string]string{"nb": "Jeg samtykker.", "en": "I consent."},
	}
	e.mustEvent(t, "kurs", func(b map[string]any) {
		delete(b, "price")
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "medical"}}
		b["customFields"] = []any{medical}
	})
	body := person("kari@example.no")
	body["fields"].(map[string]any)["medical"] = "epilepsi"
	body["consents"] = map[string]any{"medical": true}
	s := e.mustSignup(t, "kurs", body)

	retagged := maps.Clone(medical)
	retagged["category"], retagged["legalBasis"], retagged["recipients"] = "professional", "contract", []string{"finance"}
	delete(retagged, "consentText")
	p := mustProblem(t, e.do(t, "PATCH", "/api/v1/events/kurs", adminToken, map[string]any{"customFields": []any{retagged}}), 409)
	if p.Code != "field_tags_in_use" {
		t.Fatalf("re-tagging a field in use: %+v", p)
	}
	// A label may change; the tags may not.
	relabelled := maps.Clone(medical)
	relabelled["label"] = map[string]string{"nb": "Helse", "en": "Health"}
	if r := e.do(t, "PATCH", "/api/v1/events/kurs", adminToken, map[string]any{"customFields": []any{relabelled}}); r.status != 200 {
		t.Fatalf("relabel: %d %s", r.status, r.body)
	}
	for _, tok := range []string{adminToken, e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "f"})} {
		r := e.do(t, "GET", "/api/v1/events/kurs/registrations?format=csv", tok, nil)
		if r.status != 200 || strings.Contains(string(r.body), "epilepsi") {
			t.Errorf("the list shows the health value: %d %s", r.status, r.body)
		}
	}
	catering := e.token(t, staff.CreateRequest{Role: staff.Catering, Name: "k", Events: []string{"kurs"}})
	if r := e.do(t, "GET", "/api/v1/events/kurs/registrations", catering, nil); !strings.Contains(string(r.body), "epilepsi") {
		t.Errorf("catering, named in the promise, does not see it: %s", r.body)
	}
	var me struct {
		Disclosures []struct{ To, Recipient string }
	}
	e.do(t, "GET", "/api/v1/me", s.ManageToken, nil).json(t, &me)
	seen := map[string]bool{}
	for _, d := range me.Disclosures {
		seen[d.Recipient] = true
	}
	if !seen["organiser"] || !seen["catering"] {
		t.Errorf("staff reads not in the access report's disclosures: %+v", me.Disclosures)
	}
}

// TestPartnerAddedLater: a partner added after people signed up gets none
// of their names until each was told by mail (what it gets, how to
// object) and the objection window passed without an objection; those
// who sign up after see the partner at once. It used to get everyone at
// once, with no notice.
func TestPartnerAddedLater(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustEvent(t, "gala", func(b map[string]any) {
		delete(b, "price")
		delete(b, "partners")
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "organisation"}}
	})
	signup := func(email string) signup {
		return e.mustSignup(t, "gala", map[string]any{"fields": map[string]any{"name": "N " + email, "email": email, "organisation": "Org " + email}})
	}
	kari := signup("kari@example.no")
	ola := signup("ola@example.no")
	if r := e.do(t, "PATCH", "/api/v1/events/gala", adminToken, map[string]any{"partners": []map[string]string{{"id": "acme", "name": "Acme AS"}}}); r.status != 200 {
		t.Fatalf("add partner: %d %s", r.status, r.body)
	}
	signup("per@example.no") // after the partner was added
	acme := e.token(t, staff.CreateRequest{Role: staff.Partner, Name: "acme", Events: []string{"gala"}, Partner: "acme"})
	names := func() []string {
		var out []string
		for _, rec := range e.partnerCSV(t, "gala", acme, "")[1:] {
			out = append(out, rec[0])
		}
		return out
	}
	if got := names(); !slices.Equal(got, []string{"N per@example.no"}) {
		t.Fatalf("before any notice the partner got %v, want only who signed up after it was added", got)
	}
	n, err := e.a.NoticePartners(ctx)
	if err != nil || n != 2 {
		t.Fatalf("told %d, %v", n, err)
	}
	if n, _ := e.a.NoticePartners(ctx); n != 0 {
		t.Errorf("told %d more on a second run", n)
	}
	var doc struct {
		Outbox map[string]registration.Mail `bson:"outbox"`
	}
	_ = e.store.Collection(mongodb.Registrations).FindOne(ctx, bson.M{"_id": kari.ID}, &doc)
	if m, ok := doc.Outbox["partner-acme"]; !ok || m.Kind != "partner" || m.Token == nil || m.ObjectBy == nil {
		t.Fatalf("no partner notice queued: %+v", doc.Outbox)
	}
	if got := names(); len(got) != 1 {
		t.Errorf("within the objection window the partner got %v", got)
	}
	// Ola objects within the window.
	if r := e.do(t, "POST", "/api/v1/me/objections", ola.ManageToken, map[string]any{"partnerSharing": true}); r.status != 200 {
		t.Fatalf("object: %d", r.status)
	}
	e.clock.add(15 * 24 * time.Hour)
	if got := names(); !slices.Equal(got, []string{"N kari@example.no", "N per@example.no"}) {
		t.Errorf("after the window the partner got %v, want Kari (told, no objection) and Per", got)
	}
}

// TestRetentionOnlyShortens: deletion dates are fixed at sign-up; moving
// the event later does not move them (a child's health data was moved to
// 2099 by moving the event), moving it earlier brings them forward, and
// that change is recorded.
func TestRetentionOnlyShortens(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "gala", func(b map[string]any) { delete(b, "price") })
	body := person("kari@example.no")
	body["fields"].(map[string]any)["dietary"] = "nøtter"
	body["consents"] = map[string]any{"health": true}
	s := e.mustSignup(t, "gala", body)
	deleteAt := func() map[string]time.Time {
		var rep struct {
			Fields []struct {
				Key      string
				DeleteAt time.Time
			}
		}
		e.do(t, "GET", "/api/v1/me", s.ManageToken, nil).json(t, &rep)
		out := map[string]time.Time{}
		for _, f := range rep.Fields {
			out[f.Key] = f.DeleteAt
		}
		return out
	}
	before := deleteAt()
	if before["dietary"].IsZero() || before["name"].IsZero() {
		t.Fatalf("no deletion dates: %v", before)
	}
	if r := e.do(t, "PATCH", "/api/v1/events/gala", adminToken, map[string]any{"startsAt": "2099-06-01T10:00:00Z", "endsAt": "2099-06-01T12:00:00Z",
		"registrationClosesAt": "2099-06-01T09:00:00Z"}); r.status != 200 {
		t.Fatalf("move later: %d %s", r.status, r.body)
	}
	if after := deleteAt(); !after["dietary"].Equal(before["dietary"]) || !after["name"].Equal(before["name"]) {
		t.Errorf("moving the event later moved the deletion dates: %v -> %v", before, after)
	}
	if r := e.do(t, "PATCH", "/api/v1/events/gala", adminToken, map[string]any{"startsAt": "2027-01-10T10:00:00Z", "endsAt": "2027-01-10T12:00:00Z",
		"registrationClosesAt": "2027-01-10T09:00:00Z"}); r.status != 200 {
		t.Fatalf("move earlier: %d %s", r.status, r.body)
	}
	after := deleteAt()
	if !after["dietary"].Before(before["dietary"]) || !after["dietary"].Equal(time.Date(2027, 2, 9, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("moving the event earlier: dietary deleted %v (was %v)", after["dietary"], before["dietary"])
	}
	var ov struct {
		Changes []struct {
			Event, Field, Reason string
			Count                int
		}
	}
	e.do(t, "GET", "/api/v1/privacy/retention", adminToken, nil).json(t, &ov)
	recorded := map[string]bool{}
	for _, c := range ov.Changes {
		if c.Event == "gala" && c.Count == 1 && strings.Contains(c.Reason, "event end moved") {
			recorded[c.Field] = true
		}
	}
	if !recorded["dietary"] || !recorded["name"] {
		t.Errorf("changes not recorded: %+v", ov.Changes)
	}
}

// TestPrivacyRequestExtend: only the privacy contact extends a deadline,
// with a reason, by two months in all.
func TestPrivacyRequestExtend(t *testing.T) {
	e := newEnv(t)
	pc := e.token(t, staff.CreateRequest{Role: staff.Privacy, Name: "pv"})
	organiser := e.token(t, staff.CreateRequest{Role: staff.Organiser, Name: "o"})
	var req struct {
		ID         string
		Deadline   time.Time
		Extensions []struct{ Months int }
	}
	e.do(t, "POST", "/api/v1/privacy/requests", pc, map[string]any{"type": "access", "email": "kari@example.no", "receivedAt": "2026-10-31"}).json(t, &req)
	if req.Deadline.Format(time.DateOnly) != "2026-11-30" {
		t.Fatalf("deadline %s", req.Deadline)
	}
	path := "/api/v1/privacy/requests/" + req.ID + "/extend"
	mustProblem(t, e.do(t, "POST", path, organiser, map[string]any{"months": 1, "reason": "travelt"}), 403)
	if p := mustProblem(t, e.do(t, "POST", path, pc, map[string]any{"months": 3}), 422); !p.has("months", "invalid") || !p.has("reason", "required") {
		t.Errorf("errors %+v", p.Errors)
	}
	r := e.do(t, "POST", path, pc, map[string]any{"months": 2, "reason": "Mange henvendelser"})
	r.json(t, &req)
	if r.status != 200 || req.Deadline.Format(time.DateOnly) != "2027-01-31" || len(req.Extensions) != 1 {
		t.Fatalf("extend: %d %s", r.status, r.body)
	}
	if p := mustProblem(t, e.do(t, "POST", path, pc, map[string]any{"months": 1, "reason": "enda mer"}), 409); p.Code != "extension_not_allowed" {
		t.Errorf("a third month: %+v", p)
	}
	mustProblem(t, e.do(t, "POST", "/api/v1/privacy/requests/nope/extend", pc, map[string]any{"months": 1, "reason": "x"}), 404)
}

// TestFieldRemovedPurged: a field taken off the form takes its stored
// values with it at once, keys first, with a receipt (finding 9: they
// stayed, hidden from the access report and no longer erasable); an
// issued invoice's buyer fields stay for bookkeeping.
func TestFieldRemovedPurged(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "konf")
	s := e.signupWith(t, "konf", "kari@example.no", nil, false)
	e.invoiceEvent(t, "seminar")
	var inv signup
	e.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer("buyer@example.no")).json(t, &inv)
	if !e.keysOf(t, s.ID)["phone"] || !e.sealedOf(t, s.ID)["phone"] || !e.keysOf(t, inv.ID)["invoice_reference"] || e.reg(t, inv.ID).Payment.InvoiceNumber == 0 {
		t.Fatal("precondition: the phone and the invoice reference are held, the invoice issued")
	}
	var fields []map[string]any
	for k := range allFields {
		if k != "phone" {
			fields = append(fields, map[string]any{"key": k, "required": k == "name" || k == "email"})
		}
	}
	var out struct {
		Purge struct {
			Values []struct {
				Field, Rule string
				Count       int
			}
		}
	}
	r := e.do(t, "PATCH", "/api/v1/events/konf", adminToken, map[string]any{"fields": fields})
	r.json(t, &out)
	if r.status != 200 || len(out.Purge.Values) != 1 || out.Purge.Values[0].Field != "phone" || out.Purge.Values[0].Rule != "removed_from_form" || out.Purge.Values[0].Count != 1 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if e.keysOf(t, s.ID)["phone"] || e.sealedOf(t, s.ID)["phone"] || !e.sealedOf(t, s.ID)["club"] {
		t.Errorf("after removing the phone: keys %v, sealed %v", e.keysOf(t, s.ID), e.sealedOf(t, s.ID))
	}
	if n := e.count(t, mongodb.PurgeReceipts); n != 1 {
		t.Errorf("%d purge receipts", n)
	}

	r = e.do(t, "PATCH", "/api/v1/events/seminar", adminToken, map[string]any{"fields": []map[string]any{{"key": "name", "required": true},
		{"key": "email", "required": true}, {"key": "organisation"}, {"key": "invoice_org_number"}, {"key": "invoice_address"}}})
	if r.status != 200 || !e.keysOf(t, inv.ID)["invoice_reference"] {
		t.Errorf("an issued invoice's reference was purged: %d %s", r.status, r.body)
	}
}

// TestErasureGivesSeatBackQuietly: erasing (or cancelling) a registration
// with nobody on the waiting list gives its seat back to the event, and
// that is no error: the log had said "seat not passed on" for every one.
func TestErasureGivesSeatBackQuietly(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "fest")
	ctx := context.Background()
	left := func() int {
		t.Helper()
		ev, err := e.a.Events.Get(ctx, "fest")
		if err != nil {
			t.Fatal(err)
		}
		return ev.SeatsLeft
	}
	before := left()
	kari := e.signupWith(t, "fest", "kari@example.no", nil, false)
	if left() != before-1 {
		t.Fatalf("precondition: the sign-up took a seat (%d, was %d)", left(), before)
	}
	reg, err := e.a.Registrations.Get(ctx, kari.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Rights.Erase(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if left() != before || strings.Contains(e.logs.String(), `"level":"ERROR"`) {
		t.Errorf("after the erasure: %d seats left (want %d); errors logged: %v", left(), before, strings.Contains(e.logs.String(), `"level":"ERROR"`))
	}
}
