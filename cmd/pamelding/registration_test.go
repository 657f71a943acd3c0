package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pamelding/pamelding/mail/mailtest"
)

// TestRegistrationEndToEnd runs the real program with SMTP pointed at an
// in-process SMTP server: sign up, receive the confirmation, use the
// link's token, cancel, and see the seat offered to the waiting list by
// mail.
func TestRegistrationEndToEnd(t *testing.T) {
	smtp := mailtest.Start(t)
	env := embeddedEnv(t)
	env["SMTP_URL"] = smtp.URL()
	env["SMTP_FROM"] = "Kongsvinger IL <pamelding@example.no>"
	env["PAMELDING_PUBLIC_URL"] = "https://pamelding.example.no"
	s := startServer(t, env)

	ev := event("sprint")
	ev["capacity"] = 1
	ev["waitlist"] = true
	ev["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "dietary"}}
	if st, b := s.call(t, "POST", "/api/v1/events", testAdminToken, ev); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	st, b := s.call(t, "POST", "/api/v1/events/sprint/registrations", "", map[string]any{
		"fields":   map[string]any{"name": "Kari Nordmann", "email": "kari@example.no", "dietary": "cøliaki"},
		"consents": map[string]any{"health": true},
	})
	if st != 201 {
		t.Fatalf("sign-up: %d %s", st, b)
	}
	var kari struct{ ID, Status, ManageToken string }
	_ = json.Unmarshal(b, &kari)
	st, b = s.call(t, "POST", "/api/v1/events/sprint/registrations", "", map[string]any{
		"fields": map[string]any{"name": "Ola Nordmann", "email": "ola@example.no"}, "lang": "en",
	})
	var ola struct{ Status string }
	_ = json.Unmarshal(b, &ola)
	if st != 201 || ola.Status != "waitlisted" {
		t.Fatalf("second sign-up: %d %s", st, b)
	}

	got := smtp.WaitFor(2, 10*time.Second)
	if len(got) != 2 {
		t.Fatalf("%d mails received, want 2 confirmations", len(got))
	}
	var toKari mailtest.Mail
	for _, m := range got {
		if m.To[0] == "kari@example.no" {
			toKari = m
		}
	}
	link := regexp.MustCompile(`https://pamelding\.example\.no/m/(pmr_\S+)`).FindStringSubmatch(toKari.Body())
	if link == nil || link[1] != kari.ManageToken {
		t.Fatalf("confirmation without the manage link:\n%s", toKari.Body())
	}
	if strings.Contains(toKari.Body(), "cøliaki") {
		t.Error("the mail carries dietary data")
	}
	if st, b := s.call(t, "GET", "/api/v1/me", link[1], nil); st != 200 || !strings.Contains(string(b), "cøliaki") {
		t.Fatalf("GET /me with the mailed token: %d %s", st, b)
	}

	if st, b := s.call(t, "DELETE", "/api/v1/me/registration", kari.ManageToken, nil); st != 200 {
		t.Fatalf("cancel: %d %s", st, b)
	}
	// Kari is told of her cancellation; Ola is offered her seat.
	got = smtp.WaitFor(4, 10*time.Second)
	var offer, cancelled *mailtest.Mail
	for i, m := range got[2:] {
		switch {
		case m.To[0] == "ola@example.no" && strings.Contains(m.Header("Subject"), "A seat is free"):
			offer = &got[2+i]
		case m.To[0] == "kari@example.no" && strings.HasPrefix(m.Header("Subject"), "Avmeldt"):
			cancelled = &got[2+i]
		}
	}
	if len(got) != 4 || offer == nil || cancelled == nil {
		t.Fatalf("no offer mail to the waiting list, or no cancellation mail: %+v", got)
	}
	offerLink := regexp.MustCompile(`/m/(pmr_\S+)`).FindStringSubmatch(offer.Body())
	if offerLink == nil {
		t.Fatalf("offer without a link:\n%s", offer.Body())
	}
	if st, b := s.call(t, "POST", "/api/v1/me/offer/accept", offerLink[1], nil); st != 200 || !strings.Contains(string(b), "confirmed") {
		t.Fatalf("accept with the offer mail's token: %d %s", st, b)
	}

	s.stop()
	logs := s.logs.String()
	for _, secret := range []string{"kari@example.no", "ola@example.no", "Kari Nordmann", "cøliaki", kari.ManageToken, offerLink[1]} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
	t.Run("KeyFile", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(env["PAMELDING_DATA_DIR"], "encryption.key")); err == nil {
			t.Error("the master key lies in the data directory")
		}
		fi, err := os.Stat(filepath.Join(filepath.Dir(env["PAMELDING_DATA_DIR"]), "pamelding.key"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %o, want 600", fi.Mode().Perm())
		}
		if !strings.Contains(logs, "PAMELDING_ENCRYPTION_KEY is not set: created a master key file") {
			t.Error("no warning that the key file was created")
		}
	})
}
