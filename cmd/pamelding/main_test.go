package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/api/apitest"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/mongodb/mongotest"
)

const (
	testAdminToken = "e2e-admin-token-0123456789abcdefghijklmnop"
	testKey        = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// syncBuffer collects a server's log while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type server struct {
	url  string
	logs *syncBuffer
	stop func()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer runs the real program, as main does, and waits for /healthz.
func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	addr := freeAddr(t)
	env["PAMELDING_ADDR"] = addr
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"pamelding"}, func(k string) string { return env[k] }, io.Discard, logs)
	}()
	s := &server{url: "http://" + addr, logs: logs}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("the server did not stop within 30 s of its context ending")
			}
		})
	}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, logs)
		default:
		}
		if resp, err := http.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not healthy within 30 s:\n%s", logs)
	return nil
}

func (s *server) call(t *testing.T, method, path, token string, body any, headers ...string) (int, []byte) {
	t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(raw))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	apitest.Check(t, method, path, req.Header, raw, resp.StatusCode, resp.Header, b)
	return resp.StatusCode, b
}

func event(slug string) map[string]any {
	return map[string]any{
		"slug": slug, "kind": "race",
		"title":     map[string]string{"nb": "Kongsvingerløpet", "en": "Kongsvinger run"},
		"startsAt":  "2027-06-01T10:00:00+02:00",
		"endsAt":    "2027-06-01T14:00:00+02:00",
		"capacity":  500,
		"fields":    []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "club"}},
		"organiser": map[string]string{"name": "Kongsvinger IL", "privacyEmail": "personvern@example.no"},
	}
}

func embeddedEnv(t *testing.T) map[string]string {
	return map[string]string{
		"PAMELDING_DATA_DIR":    mongotest.ShortTempDir(t) + "/data",
		"PAMELDING_ADMIN_TOKEN": testAdminToken,
	}
}

func TestEndToEnd(t *testing.T) {
	env := embeddedEnv(t)
	s := startServer(t, env)

	if st, b := s.call(t, "POST", "/api/v1/events", testAdminToken, event("kongsvinger-2027")); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	st, b := s.call(t, "GET", "/api/v1/events/kongsvinger-2027", "", nil)
	if st != 200 || !strings.Contains(string(b), `"slug":"kongsvinger-2027"`) || !strings.Contains(string(b), `"seatsLeft":500`) {
		t.Fatalf("public read: %d %s", st, b)
	}
	st, b = s.call(t, "GET", "/api/v1/catalog", "", nil)
	var cat struct {
		Fields []struct{ Key string } `json:"fields"`
	}
	if err := json.Unmarshal(b, &cat); st != 200 || err != nil || len(cat.Fields) != 14 {
		t.Fatalf("catalog: %d %s", st, b)
	}
	if st, _ := s.call(t, "GET", "/readyz", "", nil); st != 200 {
		t.Errorf("readyz %d", st)
	}

	t.Run("StaffInviteBesideServer", func(t *testing.T) {
		var out, errOut bytes.Buffer
		args := []string{"pamelding", "staff", "invite", "--email", "kari@example.no", "--name", "Kari", "--role", "organiser", "--event", "kongsvinger-2027"}
		if err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut); err != nil {
			t.Fatalf("staff invite: %v\n%s", err, errOut.String())
		}
		if !strings.Contains(out.String(), "added organiser account") || !strings.Contains(out.String(), "/admin/signin") {
			t.Errorf("stdout %q", out.String())
		}
		// The same address twice is refused.
		if err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut); err == nil {
			t.Errorf("the same address twice was accepted")
		}
		// The back office's sign-in page answers.
		if st, _ := s.call(t, "GET", "/admin/signin", "", nil); st != 200 {
			t.Errorf("GET /admin/signin: %d", st)
		}
	})

	t.Run("TokenCommandBesideServer", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"pamelding", "token", "create", "--role", "organiser", "--name", "Kari", "--event", "kongsvinger-2027"},
			func(k string) string { return env[k] }, &out, &errOut)
		if err != nil {
			t.Fatalf("token create: %v\n%s", err, errOut.String())
		}
		token := strings.TrimSpace(out.String())
		if !strings.HasPrefix(token, "pmd_") || strings.Contains(errOut.String(), token) {
			t.Fatalf("stdout %q, stderr %q", token, errOut.String())
		}
		if st, b := s.call(t, "PATCH", "/api/v1/events/kongsvinger-2027", token, map[string]any{"venue": "Festningen"}); st != 200 {
			t.Fatalf("patch with the new token: %d %s", st, b)
		}
		if st, _ := s.call(t, "POST", "/api/v1/events", token, event("other")); st != 403 {
			t.Errorf("an event-scoped organiser created an event: %d", st)
		}
	})

	s.stop()
	if strings.Contains(s.logs.String(), testAdminToken) {
		t.Error("the admin token is in the log")
	}
	if !strings.Contains(s.logs.String(), `"msg":"shutting down"`) {
		t.Errorf("no graceful shutdown in the log:\n%s", s.logs)
	}
}

func TestRestart(t *testing.T) {
	env := embeddedEnv(t)
	s := startServer(t, env)
	if st, b := s.call(t, "POST", "/api/v1/events", testAdminToken, event("persisted")); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	for _, email := range []string{"a@example.no", "b@example.no"} {
		if st, b := s.call(t, "POST", "/api/v1/events/persisted/registrations", "", map[string]any{"fields": map[string]string{"name": "N", "email": email}},
			"Idempotency-Key", "signup-"+email); st != 201 {
			t.Fatalf("sign-up: %d %s", st, b)
		}
	}
	s.stop()

	// A crash between claiming a seat and storing its registration leaves
	// the seat claimed: simulate three, then restart.
	db, err := mongodb.Open(context.Background(), mongodb.Options{DataDir: env["PAMELDING_DATA_DIR"]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection(mongodb.Events).UpdateOne(context.Background(), bson.M{"_id": "persisted"}, bson.M{"$inc": bson.M{"seatsLeft": -3}}); err != nil {
		t.Fatal(err)
	}
	db.Close(context.Background())

	s = startServer(t, env)
	st, b := s.call(t, "GET", "/api/v1/events/persisted", "", nil)
	if st != 200 || !strings.Contains(string(b), `"slug":"persisted"`) {
		t.Fatalf("after restart: %d %s", st, b)
	}
	if st, _ := s.call(t, "POST", "/api/v1/events", testAdminToken, event("persisted")); st != 409 {
		t.Errorf("the unique slug index did not survive the restart: %d", st)
	}
	if !strings.Contains(string(b), `"seatsLeft":498`) {
		t.Errorf("seats not recounted at start-up (want 500 - 2 registrations): %s", b)
	}
	// Another body with the same key: not a replay of the kept answer,
	// so the store's index on the submission key is what answers.
	if st, b := s.call(t, "POST", "/api/v1/events/persisted/registrations", "", map[string]any{"fields": map[string]string{"name": "N.", "email": "a@example.no"}},
		"Idempotency-Key", "signup-a@example.no"); st != 200 || !strings.Contains(string(b), `"resubmitted":true`) {
		t.Errorf("the one-registration-per-submission index did not survive the restart: %d %s", st, b)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name, key, value string
	}{
		{"Addr", "PAMELDING_ADDR", "eighty"},
		{"MongoURI", "MONGODB_URI", "postgres://db/x"},
		{"Database", "MONGODB_DATABASE", "no/slashes"},
		{"AdminToken", "PAMELDING_ADMIN_TOKEN", "short-secret"},
		{"PublicURL", "PAMELDING_PUBLIC_URL", "pamelding.example.no"},
		{"LogLevel", "PAMELDING_LOG_LEVEL", "loud"},
		{"EncryptionKey", "PAMELDING_ENCRYPTION_KEY", "c2hvcnQ="},
		{"SMTPURL", "SMTP_URL", "http://mail"},
		{"DigitalConsentAge", "PAMELDING_DIGITAL_CONSENT_AGE", "9"},
		{"OfferTTL", "PAMELDING_OFFER_TTL", "forever"},
		{"GuardianHold", "PAMELDING_GUARDIAN_HOLD", "1m"},
		{"ProcessorOutsideEEAWithoutBasis", "PAMELDING_PROCESSOR_MAIL", "Mailgun Technologies, Inc.|US"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{tc.key: tc.value, "PAMELDING_DATA_DIR": mongotest.ShortTempDir(t)}
			err := run(context.Background(), []string{"pamelding", "serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("err = %v, want one naming %s", err, tc.key)
			}
			if strings.Contains(err.Error(), "short-secret") {
				t.Error("the error echoes a secret")
			}
		})
	}

	t.Run("SellerWithoutAccount", func(t *testing.T) {
		env := map[string]string{"PAMELDING_DATA_DIR": mongotest.ShortTempDir(t), "PAMELDING_SELLER_NAME": "Janteloppet AS",
			"PAMELDING_SELLER_ORG_NUMBER": "923609016", "PAMELDING_SELLER_BANK_ACCOUNT": "1234.56.78904"}
		err := run(context.Background(), []string{"pamelding", "serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "PAMELDING_SELLER_BANK_ACCOUNT") {
			t.Fatalf("a wrong account: err = %v", err)
		}
		env["PAMELDING_SELLER_BANK_ACCOUNT"] = "1234.56.78903"
		err = run(context.Background(), []string{"pamelding", "serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "PAMELDING_SELLER_ADDRESS") {
			t.Fatalf("invoicing without the seller's address: err = %v", err)
		}
	})

	t.Run("PrintMasksSecrets", func(t *testing.T) {
		env := map[string]string{"PAMELDING_ADMIN_TOKEN": testAdminToken, "MONGODB_URI": "mongodb://app:hunter2@db:27017/?replicaSet=rs0",
			"PAMELDING_ENCRYPTION_KEY": testKey, "SMTP_URL": "smtp://mailer:s3cret@smtp.example.no:587", "SMTP_FROM": "pamelding@example.no"}
		var out bytes.Buffer
		if err := run(context.Background(), []string{"pamelding", "config"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), testAdminToken) || strings.Contains(out.String(), "hunter2") ||
			strings.Contains(out.String(), testKey) || strings.Contains(out.String(), "s3cret") {
			t.Fatalf("secrets printed:\n%s", out.String())
		}
		for _, want := range []string{"PAMELDING_ADDR", ":8080", "db:27017", "MONGODB_DATABASE", "pamelding", "smtp.example.no"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("config output lacks %q:\n%s", want, out.String())
			}
		}
	})

	t.Run("SecretFromFile", func(t *testing.T) {
		dir := t.TempDir()
		file := dir + "/admin"
		if err := writeFile(file, testAdminToken+"\n"); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(func(k string) string { return map[string]string{"PAMELDING_ADMIN_TOKEN_FILE": file}[k] })
		if err != nil || c.AdminToken != testAdminToken {
			t.Fatalf("config %v, err %v", c.AdminToken == testAdminToken, err)
		}
	})

	t.Run("UnknownCommand", func(t *testing.T) {
		err := run(context.Background(), []string{"pamelding", "frobnicate"}, func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "frobnicate") {
			t.Fatalf("err = %v", err)
		}
	})
}

func writeFile(name, content string) error {
	return os.WriteFile(name, []byte(content), 0o600)
}
