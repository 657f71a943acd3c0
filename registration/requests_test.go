package registration_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// TestRequestDeadlines: a request received on 31 January is due on the
// last day of February, not in March; it can be extended by two months in
// all, within the first deadline, and the requester is told with the
// reason, in a mail that names the new date.
func TestRequestDeadlines(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.now = time.Date(2027, 2, 3, 9, 0, 0, 0, time.UTC)
	reqs := registration.NewRequests(f.app.Domain, f.sender(t))
	v, err := reqs.CreateRequest(ctx, registration.NewRequest{Type: "access", Email: "kari@example.no", ReceivedAt: "2027-01-31", Notes: "Kari Nordmann ringte om datteren"}, "pv", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Deadline.Format(time.DateOnly); got != "2027-02-28" {
		t.Errorf("deadline %s, want 2027-02-28", got)
	}
	var raw bson.Raw
	if err := f.db.Collection(mongodb.PrivacyRequests).FindOne(ctx, bson.M{"_id": v.ID}, &raw); err != nil {
		t.Fatal(err)
	}
	if s := string(raw); strings.Contains(s, "kari@") || strings.Contains(s, "Nordmann") {
		t.Errorf("the request stores the address or notes in clear: %s", raw)
	}
	if v.Notes != "Kari Nordmann ringte om datteren" || v.Email != "kari@example.no" {
		t.Errorf("view %q %q", v.Email, v.Notes)
	}

	var bad privacy.Errors
	if _, err := reqs.Extend(ctx, v.ID, registration.ExtendRequest{Months: 3, Reason: "x"}, "pv", nil); !errors.As(err, &bad) {
		t.Errorf("three months at once: %v", err)
	}
	if _, err := reqs.Extend(ctx, v.ID, registration.ExtendRequest{Months: 1}, "pv", nil); !errors.As(err, &bad) {
		t.Error("an extension without its reason")
	}
	ext, err := reqs.Extend(ctx, v.ID, registration.ExtendRequest{Months: 1, Reason: "Mange henvendelser etter løpet"}, "pv", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ext.Deadline.Format(time.DateOnly); got != "2027-03-31" || len(ext.Extensions) != 1 {
		t.Errorf("extended to %s, %+v", got, ext.Extensions)
	}
	if n, err := reqs.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("sent %d, %v", n, err)
	}
	got := f.smtp.Mail()
	if len(got) != 1 || got[0].To[0] != "kari@example.no" || !strings.Contains(got[0].Body(), "31.03.2027") || !strings.Contains(got[0].Body(), "Mange henvendelser etter løpet") {
		t.Fatalf("extension mail %+v", got)
	}
	if n, _ := reqs.SendDue(ctx); n != 0 {
		t.Errorf("the notice went again")
	}

	ext, err = reqs.Extend(ctx, v.ID, registration.ExtendRequest{Months: 1, Reason: "Fortsatt mange"}, "pv", nil)
	if err != nil || ext.Deadline.Format(time.DateOnly) != "2027-04-30" {
		t.Fatalf("second extension: %v %v", ext, err)
	}
	// A failed send is retried later, not lost.
	f.smtp.FailNext(1)
	if n, err := reqs.SendDue(ctx); err == nil || n != 0 {
		t.Fatalf("a failing server: sent %d, %v", n, err)
	}
	if n, _ := reqs.SendDue(ctx); n != 0 {
		t.Error("retried at once")
	}
	f.now = f.now.Add(2 * time.Minute)
	if n, err := reqs.SendDue(ctx); err != nil || n != 1 || len(f.smtp.Mail()) != 2 || !strings.Contains(f.smtp.Mail()[1].Body(), "30.04.2027") {
		t.Fatalf("the retry: sent %d, %v", n, err)
	}
	if _, err := reqs.Extend(ctx, v.ID, registration.ExtendRequest{Months: 1, Reason: "Enda mer"}, "pv", nil); !errors.Is(err, registration.ErrTooLate) {
		t.Errorf("a fourth month: %v", err)
	}

	// Past its first deadline a request cannot be extended.
	late, err := reqs.CreateRequest(ctx, registration.NewRequest{Type: "erasure", Email: "ola@example.no", ReceivedAt: "2026-12-20"}, "pv", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !late.Overdue {
		t.Error("a request received 20 December is not overdue on 3 February")
	}
	if _, err := reqs.Extend(ctx, late.ID, registration.ExtendRequest{Months: 1, Reason: "For sent"}, "pv", nil); !errors.Is(err, registration.ErrTooLate) {
		t.Errorf("an overdue request extended: %v", err)
	}
}

// TestRequestShredded: a year after a request closed, its keys are gone
// from the key store; the record of what was asked and done stays.
func TestRequestShredded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	reqs := registration.NewRequests(f.app.Domain, nil)
	v, err := reqs.CreateRequest(ctx, registration.NewRequest{Type: "access", Email: "kari@example.no", ReceivedAt: "2026-11-20", Notes: "brev fra Kari"}, "pv", nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := f.app.KeyStore.Collection(mongodb.DataKeys)
	if n, _ := keys.Count(ctx, bson.M{"_id": "request:" + v.ID}); n != 1 {
		t.Fatalf("no key document for the request (%d)", n)
	}
	if _, err := reqs.CloseRequest(ctx, v.ID, "svart", nil); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.AddDate(1, 0, 2)
	if _, err := f.app.Retention.RunRetention(ctx, false); err != nil {
		t.Fatal(err)
	}
	if n, _ := keys.Count(ctx, bson.M{"_id": "request:" + v.ID}); n != 0 {
		t.Error("the request's keys outlived it")
	}
	got, err := reqs.GetRequest(ctx, v.ID, nil)
	if err != nil || got.Email != "" || got.Notes != "" || got.Outcome != "svart" || got.Type != "access" {
		t.Errorf("a year after closing: %+v, %v", got, err)
	}
}

// TestMigrateLegacyRequests: a request stored by the first version (the
// address sealed under the master key, notes in clear) is sealed under
// keys of its own.
func TestMigrateLegacyRequests(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	coll := f.db.Collection(mongodb.PrivacyRequests)
	if err := coll.InsertOne(ctx, bson.M{"_id": "old", "type": "erasure", "subjectKey": f.app.Keys.EmailKey("kari@example.no"),
		"email": f.app.Keys.SealSecret("privacy-request:old", "kari@example.no"), "notes": "Kari ringte",
		"receivedAt": f.now, "deadline": f.now.AddDate(0, 1, 0), "createdBy": "pv", "actions": bson.A{}}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.app.Domain.MigrateLegacy(ctx); err != nil || n != 1 {
		t.Fatalf("migrated %d, %v", n, err)
	}
	var raw bson.Raw
	_ = coll.FindOne(ctx, bson.M{"_id": "old"}, &raw)
	if strings.Contains(string(raw), "Kari") || raw.Lookup("email").Type != 0 {
		t.Errorf("left after migration: %s", raw)
	}
	v, err := registration.NewRequests(f.app.Domain, nil).GetRequest(ctx, "old", nil)
	if err != nil || v.Email != "kari@example.no" || v.Notes != "Kari ringte" {
		t.Errorf("migrated request %+v, %v", v, err)
	}
	if n, _ := f.app.Domain.MigrateLegacy(ctx); n != 0 {
		t.Errorf("a second run migrated %d", n)
	}
}
