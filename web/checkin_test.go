package web_test

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
)

// TestCheckIn: a ticket is checked in once (a second scan answers with
// the first), a cancelled or unpaid ticket or one of another event is
// refused with its reason, and the door list carries name, category and
// the code's hash only.
func TestCheckIn(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	e.mustEvent(t, "paid", nil)
	door := e.token(t, staff.CreateRequest{Name: "Døra", Role: staff.CheckIn, Events: []string{"free"}})
	if r := e.do(t, "POST", "/api/v1/tokens", adminToken, map[string]any{"name": "x", "role": "checkin"}); r.status != 422 {
		t.Errorf("a check-in token without events: %d", r.status)
	}

	kari := e.mustSignup(t, "free", map[string]any{"fields": map[string]any{"name": "Kari Nordmann", "email": "kari@example.no"}})
	ola := e.mustSignup(t, "free", map[string]any{"fields": map[string]any{"name": "Ola Nordmann", "email": "ola@example.no"}})
	unpaid := e.mustSignup(t, "paid", person("per@example.no"))
	if unpaid.Status != "pending_payment" {
		t.Fatalf("paid sign-up %s", unpaid.Status)
	}
	code := e.a.Domain.TicketCode(kari.ID)
	if !strings.HasPrefix(code, "pmt_"+kari.ID+".") {
		t.Fatalf("code %q", code)
	}

	// The participant's QR code decodes as a PNG; an unpaid one has none.
	qr := e.do(t, "GET", "/api/v1/me/ticket.png", kari.ManageToken, nil)
	if qr.status != 200 || qr.header.Get("Content-Type") != "image/png" {
		t.Fatalf("ticket.png: %d %s", qr.status, qr.header.Get("Content-Type"))
	}
	if img, err := png.Decode(bytes.NewReader(qr.body)); err != nil || img.Bounds().Dx() < 100 {
		t.Errorf("QR code: %v", err)
	}
	mustProblem(t, e.do(t, "GET", "/api/v1/me/ticket.png", unpaid.ManageToken, nil), 409)

	scan := func(code string) response {
		return e.do(t, "POST", "/api/v1/events/free/checkins", door, map[string]any{"code": code})
	}
	var first, again registration.Arrival
	r := scan(code)
	if r.status != 201 {
		t.Fatalf("first scan: %d %s", r.status, r.body)
	}
	r.json(t, &first)
	if first.Name != "Kari Nordmann" || first.Again || first.CheckIn.By == "" {
		t.Errorf("first scan %+v", first)
	}
	r = scan(code)
	r.json(t, &again)
	if r.status != 200 || !again.Again || !again.CheckIn.At.Equal(first.CheckIn.At) || again.CheckIn.By != first.CheckIn.By {
		t.Errorf("second scan %d %+v, first %+v", r.status, again, first)
	}

	// Ola cancels: his ticket no longer opens the door.
	if r := e.do(t, "DELETE", "/api/v1/me/registration", ola.ManageToken, nil); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if p := mustProblem(t, scan(e.a.Domain.TicketCode(ola.ID)), 409); p.Code != "ticket_cancelled" {
		t.Errorf("cancelled: %s", p.Code)
	}
	// Per's ticket is of the other event; at its own door it is unpaid.
	if p := mustProblem(t, scan(e.a.Domain.TicketCode(unpaid.ID)), 404); p.Code != "not_a_ticket" {
		t.Errorf("another event's ticket: %s", p.Code)
	}
	r = e.do(t, "POST", "/api/v1/events/paid/checkins", adminToken, map[string]any{"code": e.a.Domain.TicketCode(unpaid.ID)})
	if p := mustProblem(t, r, 409); p.Code != "ticket_unpaid" {
		t.Errorf("unpaid: %s", p.Code)
	}
	// A forged code, and the door token at another event's door.
	if p := mustProblem(t, scan("pmt_"+kari.ID+".aaaaaaaaaaaaaaaa"), 404); p.Code != "not_a_ticket" {
		t.Errorf("forged: %s", p.Code)
	}
	mustProblem(t, e.do(t, "POST", "/api/v1/events/paid/checkins", door, map[string]any{"code": code}), 403)

	// The door list: Kari only, checked in, with her code's hash.
	var list struct {
		Entries []map[string]any `json:"entries"`
	}
	e.do(t, "GET", "/api/v1/events/free/door-list", door, nil).json(t, &list)
	if len(list.Entries) != 1 || list.Entries[0]["name"] != "Kari Nordmann" || list.Entries[0]["ticketSha256"] != registration.TicketHash(code) ||
		list.Entries[0]["checkedInAt"] == nil || len(list.Entries[0]) != 3 {
		t.Errorf("door list %+v", list.Entries)
	}
	csv := e.do(t, "GET", "/api/v1/events/free/door-list?format=csv", door, nil)
	if csv.status != 200 || !strings.Contains(string(csv.body), "Kari Nordmann") || strings.Contains(string(csv.body), "kari@example.no") || strings.Contains(string(csv.body), code) {
		t.Errorf("door list CSV %d:\n%s", csv.status, csv.body)
	}
	// Kari can see that her name was shown at the door.
	me := e.do(t, "GET", "/api/v1/me", kari.ManageToken, nil)
	if !strings.Contains(string(me.body), `"checkin"`) {
		t.Errorf("access report lists no check-in disclosure: %s", me.body)
	}
}
