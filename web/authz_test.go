package web_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pamelding/pamelding/staff"
)

// access says who may use a route.
type access struct {
	// kind: "public" (anyone), "staff" (a staff token of roles, scoped to
	// the event when scoped), "me" (a participant's manage token),
	// "guardian" (a minor's guardian's token), "page"
	// (participant pages: CSRF and session, no bearer tokens).
	kind   string
	roles  []staff.Role
	scoped bool
	// global: only tokens without an event scope (creating events).
	global bool
}

func public() access                  { return access{kind: "public"} }
func me() access                      { return access{kind: "me"} }
func guardian() access                { return access{kind: "guardian"} }
func page() access                    { return access{kind: "page"} }
func buyer() access                   { return access{kind: "buyer"} }
func staffOf(r ...staff.Role) access  { return access{kind: "staff", roles: r} }
func scopedTo(r ...staff.Role) access { return access{kind: "staff", roles: r, scoped: true} }
func globalOf(r ...staff.Role) access { return access{kind: "staff", roles: r, global: true} }

// authz is the expected access of every route. A route missing here fails
// TestAuthorizationMatrix: adding a route means deciding who may use it.
var authz = map[string]access{
	"GET /healthz": public(),
	"GET /readyz":  public(),
	"GET /metrics": public(),

	"GET /e/:slug":                           page(),
	"POST /e/:slug":                          page(),
	"GET /e/:slug/paid":                      page(),
	"GET /m":                                 page(),
	"POST /m":                                page(),
	"GET /m/:token":                          page(),
	"POST /m/:token":                         page(),
	"GET /me":                                page(),
	"POST /me/fields":                        page(),
	"POST /me/consents/:purpose/withdraw":    page(),
	"POST /me/offer/accept":                  page(),
	"POST /me/objections":                    page(),
	"POST /me/restriction":                   page(),
	"GET /me/export.json":                    page(),
	"GET /me/ticket.png":                     page(),
	"POST /me/cancel":                        page(),
	"GET /me/cancel":                         page(),
	"GET /e/:slug/done":                      page(),
	"GET /me/delete":                         page(),
	"POST /me/delete":                        page(),
	"POST /me/link":                          page(),
	"POST /me/logout":                        page(),
	"GET /g/:token":                          page(),
	"POST /g/:token":                         page(),
	"GET /c/:token":                          page(),
	"POST /c/:token":                         page(),
	"GET /guardian":                          page(),
	"POST /guardian/confirm":                 page(),
	"POST /guardian/decline":                 page(),
	"POST /guardian/withdraw":                page(),
	"POST /guardian/cancel":                  page(),
	"GET /admin/signin":                      page(),
	"POST /admin/signin":                     page(),
	"GET /admin/l/:link":                     page(),
	"POST /admin/l/:link":                    page(),
	"POST /admin/signout":                    page(),
	"GET /admin":                             page(),
	"GET /admin/events/new":                  page(),
	"POST /admin/events/new":                 page(),
	"GET /admin/events/:slug":                page(),
	"GET /admin/events/:slug/partner-export": page(),
	"GET /admin/events/:slug/participants":   page(),
	"POST /admin/events/:slug/registrations/:id/:action": page(),
	"POST /admin/events/:slug/cancel":                    page(),
	"GET /admin/events/:slug/message":                    page(),
	"GET /admin/events/:slug/edit":                       page(),
	"POST /admin/events/:slug/edit":                      page(),
	"GET /admin/events/:slug/tickets":                    page(),
	"POST /admin/events/:slug/tickets":                   page(),
	"POST /admin/events/:slug/message":                   page(),
	"GET /admin/events/:slug/checkin":                    page(),
	"POST /admin/events/:slug/checkin":                   page(),
	"GET /admin/events/:slug/door-list":                  page(),
	"GET /admin/finance":                                 page(),
	"POST /admin/finance":                                page(),
	"POST /admin/finance/match":                          page(),
	"GET /admin/finance/reconciliation":                  page(),
	"GET /admin/finance/journal":                         page(),
	"GET /admin/finance/invoices/:number":                page(),
	"POST /admin/privacy/requests":                       page(),
	"GET /admin/privacy/requests/:id":                    page(),
	"POST /admin/privacy/requests/:id/act":               page(),
	"POST /admin/privacy/requests/:id/close":             page(),
	"GET /admin/events/:slug/disclosures":                page(),
	"GET /admin/privacy/retention":                       page(),
	"GET /admin/privacy/records":                         page(),
	"GET /admin/privacy":                                 page(),
	"GET /admin/staff":                                   page(),
	"POST /admin/staff":                                  page(),
	"POST /admin/staff/:id/enable":                       page(),
	"POST /admin/staff/:id/disable":                      page(),

	"GET /api/v1/catalog":                           public(),
	"GET /api/v1/openapi.yaml":                      public(),
	"GET /api/v1/events":                            public(),
	"POST /api/v1/events":                           globalOf(staff.Admin, staff.Organiser),
	"GET /api/v1/events/:slug":                      public(),
	"PATCH /api/v1/events/:slug":                    scopedTo(staff.Admin, staff.Organiser),
	"DELETE /api/v1/events/:slug":                   scopedTo(staff.Admin),
	"GET /api/v1/events/:slug/staff":                scopedTo(staff.Admin, staff.Organiser),
	"POST /api/v1/events/:slug/registrations":       public(),
	"GET /api/v1/events/:slug/registrations":        scopedTo(staff.Admin, staff.Organiser, staff.Catering, staff.Finance),
	"DELETE /api/v1/events/:slug/registrations/:id": scopedTo(staff.Admin, staff.Organiser),
	"POST /api/v1/events/:slug/cancel":              scopedTo(staff.Admin, staff.Organiser),
	"GET /api/v1/events/:slug/partner-export":       scopedTo(staff.Admin, staff.Organiser, staff.Partner),
	"GET /api/v1/events/:slug/disclosures":          scopedTo(staff.Admin, staff.Organiser, staff.Privacy),
	"GET /api/v1/events/:slug/privacy-notice":       public(),
	"GET /api/v1/events/:slug/startlist":            public(),
	"POST /api/v1/events/:slug/codes":               scopedTo(staff.Admin, staff.Organiser),
	"GET /api/v1/events/:slug/codes":                scopedTo(staff.Admin, staff.Organiser, staff.Finance),
	"POST /api/v1/events/:slug/checkins":            scopedTo(staff.Admin, staff.Organiser, staff.CheckIn),
	"GET /api/v1/events/:slug/door-list":            scopedTo(staff.Admin, staff.Organiser, staff.CheckIn),

	"GET /api/v1/me":                             me(),
	"PATCH /api/v1/me":                           me(),
	"DELETE /api/v1/me":                          me(),
	"GET /api/v1/me/export":                      me(),
	"POST /api/v1/me/consents/:purpose/withdraw": me(),
	"POST /api/v1/me/objections":                 me(),
	"POST /api/v1/me/restriction":                me(),
	"DELETE /api/v1/me/registration":             me(),
	"POST /api/v1/me/offer/accept":               me(),
	"POST /api/v1/me/token":                      me(),
	"GET /api/v1/me/ticket.png":                  me(),

	"POST /api/v1/events/:slug/orders":          public(),
	"GET /api/v1/orders/me":                     buyer(),
	"DELETE /api/v1/orders/me/participants/:id": buyer(),

	"GET /api/v1/guardian":           guardian(),
	"POST /api/v1/guardian/confirm":  guardian(),
	"POST /api/v1/guardian/decline":  guardian(),
	"POST /api/v1/guardian/withdraw": guardian(),
	"POST /api/v1/guardian/cancel":   guardian(),

	"POST /api/v1/tokens":       staffOf(staff.Admin),
	"GET /api/v1/tokens":        staffOf(staff.Admin),
	"GET /api/v1/jobs":          staffOf(staff.Admin),
	"DELETE /api/v1/tokens/:id": staffOf(staff.Admin),

	"POST /api/v1/privacy/requests":             staffOf(staff.Admin, staff.Privacy),
	"GET /api/v1/privacy/requests":              staffOf(staff.Admin, staff.Privacy),
	"GET /api/v1/privacy/requests/:id":          staffOf(staff.Admin, staff.Privacy),
	"POST /api/v1/privacy/requests/:id/actions": staffOf(staff.Admin, staff.Privacy),
	"POST /api/v1/privacy/requests/:id/close":   staffOf(staff.Admin, staff.Privacy),
	"POST /api/v1/privacy/requests/:id/extend":  staffOf(staff.Admin, staff.Privacy),
	"GET /api/v1/privacy/retention":             staffOf(staff.Admin, staff.Privacy),
	"GET /api/v1/privacy/records":               staffOf(staff.Admin, staff.Privacy),

	"POST /api/v1/payments/stripe/webhook": public(),

	"POST /api/v1/webhooks":               staffOf(staff.Admin),
	"GET /api/v1/webhooks":                staffOf(staff.Admin),
	"DELETE /api/v1/webhooks/:id":         staffOf(staff.Admin),
	"PATCH /api/v1/webhooks/:id":          staffOf(staff.Admin),
	"GET /api/v1/webhooks/:id/deliveries": staffOf(staff.Admin),

	"GET /api/v1/finance/invoices":                  staffOf(staff.Admin, staff.Finance),
	"GET /api/v1/finance/invoices/:number":          scopedTo(staff.Admin, staff.Finance),
	"GET /api/v1/finance/journal":                   globalOf(staff.Admin, staff.Finance),
	"GET /api/v1/finance/payouts":                   globalOf(staff.Admin, staff.Finance),
	"POST /api/v1/finance/bank-statements":          staffOf(staff.Admin, staff.Finance),
	"GET /api/v1/finance/bank-statements/unmatched": globalOf(staff.Admin, staff.Finance),
	"GET /api/v1/finance/reconciliation":            staffOf(staff.Admin, staff.Finance),
}

type principalCase struct {
	name  string
	token string
	role  staff.Role
	// inScope: a staff token whose scope covers event "a".
	inScope     bool
	global      bool
	participant bool
	guardian    bool
	buyer       bool
}

// TestAuthorizationMatrix tries every route with no token, each staff
// role, a partner token of another event, a participant's manage token and
// another participant's: 401 without a fitting credential, 403 for a
// staff token of the wrong role or scope, never either for who may.
func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t)
	e.invoiceEvent(t, "a")
	e.mustEvent(t, "b", nil)
	kari := e.mustSignup(t, "a", person("kari@example.no"))
	e.mustSignup(t, "a", invoiceBuyer("buyer@example.no")) // invoice 1, of event a
	ola := e.mustSignup(t, "b", person("ola@example.no"))
	e.minorsEvent(t, "minors", 10)
	emma := e.mustSignup(t, "minors", child("emma@example.no"))
	e.everyFieldEvent(t, "free")
	var order orderJSON
	if r := e.do(t, "POST", "/api/v1/events/free/orders", "", teamOrder(member("Per", "per@example.no", nil))); r.status != 201 {
		t.Fatalf("order: %d %s", r.status, r.body)
	} else {
		r.json(t, &order)
	}
	tok := func(r staff.CreateRequest) string { return e.token(t, r) }
	cases := []principalCase{
		{name: "none"},
		{name: "admin", token: adminToken, role: staff.Admin, inScope: true, global: true},
		{name: "organiser-of-all", token: tok(staff.CreateRequest{Role: staff.Organiser, Name: "oa"}), role: staff.Organiser, inScope: true, global: true},
		{name: "organiser", token: tok(staff.CreateRequest{Role: staff.Organiser, Name: "o", Events: []string{"a"}}), role: staff.Organiser, inScope: true},
		{name: "organiser-of-b", token: tok(staff.CreateRequest{Role: staff.Organiser, Name: "ob", Events: []string{"b"}}), role: staff.Organiser},
		{name: "finance", token: tok(staff.CreateRequest{Role: staff.Finance, Name: "f"}), role: staff.Finance, inScope: true, global: true},
		{name: "catering", token: tok(staff.CreateRequest{Role: staff.Catering, Name: "c", Events: []string{"a"}}), role: staff.Catering, inScope: true},
		{name: "partner", token: tok(staff.CreateRequest{Role: staff.Partner, Name: "p", Events: []string{"a"}, Partner: "acme"}), role: staff.Partner, inScope: true},
		{name: "partner-of-b", token: tok(staff.CreateRequest{Role: staff.Partner, Name: "pb", Events: []string{"b"}, Partner: "acme"}), role: staff.Partner},
		{name: "privacy", token: tok(staff.CreateRequest{Role: staff.Privacy, Name: "pv"}), role: staff.Privacy, inScope: true, global: true},
		// Tokens of another event on routes that name none: what they
		// reach is in TestScopeHoldsForSideEffects.
		{name: "finance-of-b", token: tok(staff.CreateRequest{Role: staff.Finance, Name: "fb", Events: []string{"b"}}), role: staff.Finance},
		{name: "catering-of-b", token: tok(staff.CreateRequest{Role: staff.Catering, Name: "cb", Events: []string{"b"}}), role: staff.Catering},
		{name: "privacy-of-b", token: tok(staff.CreateRequest{Role: staff.Privacy, Name: "pvb", Events: []string{"b"}}), role: staff.Privacy},
		{name: "participant", token: kari.ManageToken, participant: true},
		{name: "other-participant", token: ola.ManageToken, participant: true},
		{name: "minor", token: emma.ManageToken, participant: true},
		{name: "guardian", token: e.guardianToken(t, emma.ID), guardian: true},
		{name: "buyer", token: order.OrderToken, buyer: true},
	}

	seen := map[string]bool{}
	var routes []string
	for _, r := range e.app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "OPTIONS" || r.Method == "CONNECT" || r.Method == "TRACE" || r.Path == "/assets" || strings.HasPrefix(r.Path, "/assets/") {
			continue
		}
		key := r.Method + " " + r.Path
		if seen[key] {
			continue
		}
		seen[key] = true
		routes = append(routes, key)
	}
	sort.Strings(routes)
	for _, key := range routes {
		if _, ok := authz[key]; !ok {
			t.Errorf("route %s has no entry in the authorization matrix", key)
		}
	}
	for key := range authz {
		if !seen[key] {
			t.Errorf("the matrix lists %s, which is not a route", key)
		}
	}

	fill := strings.NewReplacer(":slug", "a", ":id", kari.ID, ":number", "1", ":purpose", "marketing", ":token", "pmr_x")
	for _, key := range routes {
		a := authz[key]
		method, path, _ := strings.Cut(key, " ")
		url := fill.Replace(path)
		for _, pc := range cases {
			t.Run(fmt.Sprintf("%s/%s", strings.ReplaceAll(key, "/", "_"), pc.name), func(t *testing.T) {
				if key == "DELETE /api/v1/me" || key == "DELETE /api/v1/me/registration" || key == "POST /api/v1/me/token" || key == "POST /api/v1/events/:slug/cancel" ||
					key == "DELETE /api/v1/events/:slug/registrations/:id" || key == "POST /api/v1/tokens" || key == "DELETE /api/v1/orders/me/participants/:id" || strings.HasPrefix(key, "POST /api/v1/guardian/") {
					// Destructive: only the refusals are tried here; the
					// allowed calls have their own tests.
					if allowed(a, pc) {
						return
					}
				}
				var body any
				if method == "POST" || method == "PATCH" {
					body = map[string]any{}
				}
				r := e.do(t, method, url, pc.token, body)
				if r.status >= 500 {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				switch {
				case a.kind == "page":
					return // pages use sessions and CSRF, not bearer tokens
				case allowed(a, pc):
					if r.status == 401 || r.status == 403 {
						t.Errorf("refused with %d: %s", r.status, r.body)
					}
				case a.kind == "staff" && pc.role != "":
					if r.status != 403 {
						t.Errorf("status %d, want 403", r.status)
					}
				default:
					if r.status != 401 {
						t.Errorf("status %d, want 401", r.status)
					}
				}
				if a.kind == "public" && (strings.Contains(string(r.body), "kari@example.no") || strings.Contains(string(r.body), "Kari Nordmann")) {
					t.Errorf("a public route shows a participant: %s", r.body)
				}
				if pc.name == "other-participant" && strings.Contains(string(r.body), kari.ID) {
					t.Errorf("another participant's token reaches Kari's registration: %s", r.body)
				}
			})
		}
	}
}

func allowed(a access, pc principalCase) bool {
	switch a.kind {
	case "public":
		return true
	case "me":
		return pc.participant
	case "guardian":
		return pc.guardian
	case "buyer":
		return pc.buyer
	case "staff":
		ok := false
		for _, r := range a.roles {
			if r == pc.role {
				ok = true
			}
		}
		return ok && (!a.scoped || pc.inScope) && (!a.global || pc.global)
	}
	return false
}
