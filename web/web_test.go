package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/mail"
	"github.com/pamelding/pamelding/mail/mailtest"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/mongodb/mongotest"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/payments/stripetest"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/staff"
	"github.com/pamelding/pamelding/web"
	"github.com/pamelding/pamelding/webhooks"
)

const (
	adminToken    = "test-admin-token-0123456789abcdefghijklmnop"
	webhookSecret = "whsec_test_secret"
)

type env struct {
	app   *fiber.App
	a     *app.App
	store *mongodb.Store
	staff *staff.Service
	hooks *webhooks.Service
	keys  *privacy.Keyring
	logs  *bytes.Buffer
	// clock is the services' time; tests move it.
	clock *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newEnv(t testing.TB) *env { return newEnvWith(t, nil) }

// newEnvMail is newEnv whose app sends mail that must go at once (staff
// sign-in links) to a test SMTP server.
func newEnvMail(t testing.TB) (*env, *mailtest.Server) {
	t.Helper()
	smtp := mailtest.Start(t)
	sender, err := mail.Parse(smtp.URL(), "pamelding <pamelding@example.no>")
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, nil, func(c *app.Config) { c.Sender = sender }), smtp
}

// newEnvWith lets a test change the app's dependencies (limits, say).
func newEnvWith(t testing.TB, change func(*web.Deps), configure ...func(*app.Config)) *env {
	t.Helper()
	store := mongotest.Open(t)
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	clk := &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	keys, err := privacy.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{
		Payments: payments.Config{
			StripeKey: "sk_test_123", StripeAPIBase: stripetest.URL(t), WebhookSecret: webhookSecret,
			PublicURL: "https://pamelding.example.no", ReminderAfterDays: 7, // as PAMELDING_INVOICE_REMINDER_AFTER_DAYS
			ReminderFee: 7000, // charged only 14 days or more after the due date
			Seller:      payments.Seller{Name: "Janteloppet AS", OrgNumber: "923609016", VATRegistered: true, Address: "Storgata 1, 2211 Kongsvinger", BankAccount: "1234.56.78903"},
		},
		AdminToken: adminToken, PublicURL: "https://pamelding.example.no", AllowLoopbackWebhooks: true,
	}
	for _, c := range configure {
		c(&cfg)
	}
	a := app.New(store, mongotest.OpenKeys(t), keys, log, clk.now, cfg)
	deps := web.Deps{App: a, Config: web.Config{PublicURL: "https://pamelding.example.no", DigitalConsentAge: 13, CardPayments: true}}
	if change != nil {
		change(&deps)
	}
	f := web.New(deps)
	return &env{app: f, a: a, store: store, staff: a.Staff, hooks: a.Webhooks, keys: keys, logs: logs, clock: clk}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request through the real Fiber app. body may be a string
// (sent as is) or anything else (sent as JSON).
func (e *env) do(t testing.TB, method, path, token string, body any, headers ...string) response {
	t.Helper()
	var raw []byte
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		raw, ctype = []byte(b), "application/json"
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
		ctype = "application/json"
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	header := req.Header.Clone()
	resp, err := e.app.Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, body: b}
	checkContract(t, method, path, header, raw, out)
	return out
}

// doRaw sends a body as it is with its content type.
func (e *env) doRaw(t testing.TB, method, path, body, ctype string) response {
	t.Helper()
	return e.do(t, method, path, "", body, "Content-Type", ctype)
}

func (e *env) count(t testing.TB, coll string) int64 {
	t.Helper()
	n, err := e.store.Collection(coll).Count(context.Background(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) token(t testing.TB, req staff.CreateRequest) string {
	t.Helper()
	tok, _, err := e.staff.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func eventBody(slug string) map[string]any {
	return map[string]any{
		"slug": slug, "kind": "conference",
		"title":     map[string]string{"nb": "Janteloppet", "en": "Janteloppet"},
		"venue":     "Kongsvinger",
		"startsAt":  "2027-03-01T09:00:00+01:00",
		"endsAt":    "2027-03-01T17:00:00+01:00",
		"capacity":  300,
		"price":     map[string]any{"amount": 150000, "currency": "NOK"},
		"fields":    []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "organisation"}, {"key": "dietary"}},
		"partners":  []map[string]string{{"id": "acme", "name": "Acme AS"}},
		"organiser": map[string]string{"name": "Janteloppet AS", "orgNumber": "923609016", "privacyEmail": "personvern@example.no"},
		"notes":     "internal: VIP list in the shared drive",
	}
}

type problemDoc struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Errors []struct {
		Field string `json:"field"`
		Code  string `json:"code"`
	} `json:"errors"`
}

func (p problemDoc) has(field, code string) bool {
	for _, e := range p.Errors {
		if e.Field == field && e.Code == code {
			return true
		}
	}
	return false
}

func mustProblem(t testing.TB, r response, status int) problemDoc {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p problemDoc
	r.json(t, &p)
	if p.Status != status || p.Code == "" || !strings.HasSuffix(p.Type, p.Code) {
		t.Fatalf("problem %+v", p)
	}
	return p
}

// keysOf lists the fields of a registration whose data keys are in the
// key store.
func (e *env) keysOf(t testing.TB, id string) map[string]bool {
	t.Helper()
	var doc struct {
		Keys map[string]any `bson:"keys"`
	}
	err := e.a.KeyStore.Collection(mongodb.DataKeys).FindOne(context.Background(), bson.M{"_id": id}, &doc)
	if err != nil && !errors.Is(err, mongodb.ErrNotFound) {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for k := range doc.Keys {
		out[k] = true
	}
	return out
}

// sealedOf lists the fields whose sealed values a registration's document
// holds.
func (e *env) sealedOf(t testing.TB, id string) map[string]bool {
	t.Helper()
	var doc struct {
		Sealed map[string]any `bson:"sealed"`
	}
	if err := e.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"_id": id}, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for k := range doc.Sealed {
		out[k] = true
	}
	return out
}

// values opens a registration's values as the service would.
func (e *env) values(t testing.TB, id string) map[string]string {
	t.Helper()
	ctx := context.Background()
	reg, err := e.a.Registrations.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.a.Registrations.Open(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
