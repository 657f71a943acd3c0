package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/staff"
)

func TestCreateToken(t *testing.T) {
	e := newEnv(t)
	if r := e.do(t, "POST", "/api/v1/events", adminToken, eventBody("jante")); r.status != 201 {
		t.Fatal(r.status)
	}
	r := e.do(t, "POST", "/api/v1/tokens", adminToken, map[string]any{"role": "partner", "name": "Acme export", "events": []string{"jante"}, "partner": "acme"})
	if r.status != 201 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	var out struct {
		Token, ID, Role, Partner string
		Events                   []string
	}
	r.json(t, &out)
	if !strings.HasPrefix(out.Token, "pmd_") || len(out.Token) != 4+43 {
		t.Fatalf("token %q: want pmd_ and 256 bits in base64url", out.Token)
	}

	t.Run("StoredOnlyHashed", func(t *testing.T) {
		var docs []bson.M
		if err := e.store.Collection(mongodb.Tokens).All(context.Background(), bson.M{}, &docs); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(out.Token))
		found := false
		for _, d := range docs {
			raw, _ := bson.MarshalExtJSON(d, false, false)
			if strings.Contains(string(raw), out.Token[4:]) {
				t.Fatal("the token is stored in clear")
			}
			if d["_id"] == hex.EncodeToString(sum[:]) {
				found = true
			}
		}
		if !found {
			t.Error("no document keyed by the token's SHA-256")
		}
	})
	t.Run("Authenticates", func(t *testing.T) {
		p, err := e.staff.Authenticate(context.Background(), out.Token)
		if err != nil || p.Role != staff.Partner || p.Partner != "acme" || !p.CanEvent("jante") || p.CanEvent("other") {
			t.Fatalf("principal %+v, %v", p, err)
		}
	})

	organiser := e.token(t, staff.CreateRequest{Role: staff.Organiser, Name: "org"})
	for _, tc := range []struct {
		name   string
		token  string
		body   map[string]any
		status int
		field  string
		fcode  string
	}{
		{"NoToken", "", map[string]any{"role": "admin", "name": "x"}, 401, "", ""},
		{"Organiser", organiser, map[string]any{"role": "admin", "name": "x"}, 403, "", ""},
		{"PartnerToken", out.Token, map[string]any{"role": "admin", "name": "x"}, 403, "", ""},
		{"RoleUnknown", adminToken, map[string]any{"role": "root", "name": "x"}, 422, "role", "invalid"},
		{"NameMissing", adminToken, map[string]any{"role": "finance"}, 422, "name", "required"},
		{"PartnerWithoutID", adminToken, map[string]any{"role": "partner", "name": "x", "events": []string{"jante"}}, 422, "partner", "required"},
		{"PartnerWithoutEvents", adminToken, map[string]any{"role": "partner", "name": "x", "partner": "acme"}, 422, "events", "required"},
		{"PartnerNotOfEvent", adminToken, map[string]any{"role": "partner", "name": "x", "partner": "other", "events": []string{"jante"}}, 422, "partner", "invalid"},
		{"UnknownEvent", adminToken, map[string]any{"role": "organiser", "name": "x", "events": []string{"nope"}}, 422, "events[0]", "invalid"},
		{"PartnerIDOnOrganiser", adminToken, map[string]any{"role": "organiser", "name": "x", "partner": "acme"}, 422, "partner", "invalid"},
		{"UnknownProperty", adminToken, map[string]any{"role": "organiser", "name": "x", "expires": "never"}, 422, "expires", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.count(t, mongodb.Tokens)
			p := mustProblem(t, e.do(t, "POST", "/api/v1/tokens", tc.token, tc.body), tc.status)
			if tc.field != "" && !p.has(tc.field, tc.fcode) {
				t.Errorf("errors %+v, want {%s %s}", p.Errors, tc.field, tc.fcode)
			}
			if after := e.count(t, mongodb.Tokens); after != before {
				t.Errorf("%d tokens written", after-before)
			}
		})
	}
}

func TestCatalog(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "GET", "/api/v1/catalog", "", nil)
	var out struct {
		Fields []struct {
			Key            string   `json:"key"`
			Recipients     []string `json:"recipients"`
			ConsentPurpose string   `json:"consentPurpose"`
			Retention      string   `json:"retention"`
			LegalBasis     string   `json:"legalBasis"`
		} `json:"fields"`
		Consents []struct {
			Purpose, Version string
		} `json:"consents"`
	}
	r.json(t, &out)
	if len(out.Fields) != 14 {
		t.Fatalf("%d fields", len(out.Fields))
	}
	for _, f := range out.Fields {
		if f.Recipients == nil || f.Retention == "" || f.LegalBasis == "" {
			t.Errorf("field %s: tags missing", f.Key)
		}
		if (f.ConsentPurpose != "") != (f.Key == "dietary") {
			t.Errorf("field %s: consentPurpose %q", f.Key, f.ConsentPurpose)
		}
	}
	if len(out.Consents) != 4 || out.Consents[0].Version == "" {
		t.Errorf("consents %+v", out.Consents)
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	if r := e.do(t, "GET", "/healthz", "", nil); r.status != 200 {
		t.Errorf("healthz %d", r.status)
	}
	if r := e.do(t, "GET", "/readyz", "", nil); r.status != 200 {
		t.Errorf("readyz %d", r.status)
	}
	t.Run("StoreGone", func(t *testing.T) {
		if err := e.store.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		p := mustProblem(t, e.do(t, "GET", "/readyz", "", nil), 503)
		if p.Code != "unavailable" {
			t.Errorf("code %q", p.Code)
		}
		r := e.do(t, "GET", "/api/v1/events/jante", "", nil)
		mustProblem(t, r, 503)
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	})
}

func TestRevokeToken(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "POST", "/api/v1/tokens", adminToken, map[string]any{"role": "finance", "name": "regnskap"})
	var tok struct{ Token, ID string }
	r.json(t, &tok)
	if r := e.do(t, "GET", "/api/v1/finance/invoices", tok.Token, nil); r.status != 200 {
		t.Fatalf("before revocation: %d", r.status)
	}
	if !strings.Contains(e.logs.String(), `"actor":"`+tok.ID+`"`) {
		t.Error("the access log does not name the token that acted")
	}
	list := e.do(t, "GET", "/api/v1/tokens", adminToken, nil)
	if !strings.Contains(string(list.body), `"id":"`+tok.ID+`"`) || strings.Contains(string(list.body), tok.Token[4:]) {
		t.Fatalf("list: %s", list.body)
	}
	if r := e.do(t, "DELETE", "/api/v1/tokens/"+tok.ID, adminToken, nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	mustProblem(t, e.do(t, "GET", "/api/v1/finance/invoices", tok.Token, nil), 401)
	mustProblem(t, e.do(t, "DELETE", "/api/v1/tokens/"+tok.ID, adminToken, nil), 404)
}
