package web_test

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/net/html"
)

// adminClient is a browser without the browser: a cookie jar against the
// real app on a loopback listener, following no redirects.
type adminClient struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func (e *env) adminClient(t *testing.T) *adminClient {
	t.Helper()
	return e.newAdminClient(t, e.listen(t))
}

// listen serves the app on a loopback port until the test ends, and
// answers its base URL.
func (e *env) listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.app.Listener(ln) }()
	t.Cleanup(func() { _ = e.app.Shutdown() })
	return "http://" + ln.Addr().String()
}

func (e *env) newAdminClient(t *testing.T, base string) *adminClient {
	jar, _ := cookiejar.New(nil)
	return &adminClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// do sends a request; a form posts with the CSRF token of the last page.
func (c *adminClient) do(method, path string, form url.Values) (int, string, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		if form.Get("_csrf") == "" {
			form.Set("_csrf", c.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

// signInWithToken signs in on the sign-in page with a staff token.
func (c *adminClient) signInWithToken(token string) {
	c.t.Helper()
	c.do("GET", "/admin/signin?lang=en", nil)
	if st, body, loc := c.do("POST", "/admin/signin", url.Values{"token": {token}, "lang": {"en"}}); st != 303 || !strings.HasPrefix(loc, "/admin") {
		c.t.Fatalf("token sign-in: %d %s %s", st, loc, body)
	}
}

// TestAdminSessions: what holds the back office's door. No session sends
// the browser to sign in; a wrong token is refused; a form without its
// CSRF token changes nothing; the sign-in page answers an unknown address
// as a known one and mails only the known; a link opens only by a POST
// (so a link fetched by a mail scanner or another site signs nobody in)
// and once; a session ends when its account is disabled, after 30 minutes
// idle and 12 hours after sign-in; a role reaches only its pages; the
// access log names the acting account and never the address.
func TestAdminSessions(t *testing.T) {
	e, smtp := newEnvMail(t)
	e.mustEvent(t, "gala", nil)
	ctx := context.Background()
	c := e.adminClient(t)

	if st, _, loc := c.do("GET", "/admin", nil); st != 303 || !strings.HasPrefix(loc, "/admin/signin") {
		t.Fatalf("no session: %d to %q", st, loc)
	}
	c.do("GET", "/admin/signin", nil)
	if st, body, _ := c.do("POST", "/admin/signin", url.Values{"token": {"pmd_guess"}}); st != 401 || !strings.Contains(body, "token-error") {
		t.Errorf("a wrong token: %d", st)
	}
	c.signInWithToken(adminToken)
	if st, body, _ := c.do("GET", "/admin?lang=en", nil); st != 200 || !strings.Contains(body, "gala") {
		t.Fatalf("the events list: %d", st)
	}
	// CSRF: a form post without the page's token is refused and adds
	// nobody.
	if st, _, _ := c.do("POST", "/admin/staff", url.Values{"_csrf": {"forged"}, "name": {"X"}, "email": {"x@example.no"}, "role": {"admin"}}); st != 403 {
		t.Errorf("a staff form without its CSRF token: %d", st)
	}
	c.do("GET", "/admin/staff", nil)
	if st, body, _ := c.do("POST", "/admin/staff?lang=en", url.Values{"name": {"Ola"}, "email": {"Ola@Example.no"}, "role": {"organiser"}, "events": {"gala"}}); st != 200 || !strings.Contains(body, `id="flash"`) {
		t.Fatalf("invite: %d", st)
	}
	if st, body, _ := c.do("POST", "/admin/staff?lang=en", url.Values{"name": {"Ola"}, "email": {"ola@example.no"}, "role": {"organiser"}}); st != 409 || !strings.Contains(body, "already has") {
		t.Errorf("the same address again: %d", st)
	}
	if st, body, _ := c.do("POST", "/admin/staff?lang=en", url.Values{"name": {"Per"}, "email": {"per@example.no"}, "role": {"checkin"}}); st != 422 || !strings.Contains(body, "Events: Please fill in this field.") {
		t.Errorf("door staff without an event: %d %s", st, body)
	}

	// The sign-in page answers the same for an address with no account,
	// and mails only the one with.
	other := e.newAdminClient(t, c.base)
	other.do("GET", "/admin/signin?lang=en", nil)
	_, unknown, _ := other.do("POST", "/admin/signin", url.Values{"email": {"nobody@example.no"}, "lang": {"en"}})
	_, known, _ := other.do("POST", "/admin/signin", url.Values{"email": {"ola@example.no"}, "lang": {"en"}})
	strip := regexp.MustCompile(`name="_csrf" value="[^"]+"`)
	if strip.ReplaceAllString(unknown, "") != strip.ReplaceAllString(known, "") {
		t.Errorf("the answers for a known and an unknown address differ")
	}
	mails := smtp.WaitFor(1, 10*time.Second)
	if len(mails) != 1 || mails[0].To[0] != "ola@example.no" {
		t.Fatalf("sign-in mails: %d", len(mails))
	}
	path := regexp.MustCompile(`/admin/l/pml_[A-Za-z0-9_-]+\?lang=en`).FindString(mails[0].Body())
	if path == "" {
		t.Fatalf("no link in %q", mails[0].Body())
	}
	// A GET (a scanner, an image on another site) signs nobody in.
	if st, body, _ := other.do("GET", path, nil); st != 200 || !strings.Contains(body, `id="open"`) {
		t.Fatalf("the link's page: %d", st)
	}
	if st, _, _ := other.do("GET", "/admin", nil); st != 303 {
		t.Errorf("signed in by a GET of the link: %d", st)
	}
	if st, _, loc := other.do("POST", path, url.Values{}); st != 303 || !strings.HasPrefix(loc, "/admin") {
		t.Fatalf("opening the link: %d %q", st, loc)
	}
	if st, _, _ := other.do("GET", "/admin/events/gala", nil); st != 200 {
		t.Errorf("the organiser on their event: %d", st)
	}
	if st, _, _ := other.do("GET", "/admin/finance", nil); st != 403 {
		t.Errorf("the organiser on the finance page: %d", st)
	}
	if st, _, _ := other.do("GET", "/admin/staff", nil); st != 403 {
		t.Errorf("the organiser on the staff page: %d", st)
	}
	third := e.newAdminClient(t, c.base)
	third.do("GET", "/admin/signin", nil)
	if st, _, _ := third.do("POST", path, url.Values{}); st != 404 {
		t.Errorf("the link a second time: %d", st)
	}

	// The access log names the account, never its address or name.
	logs := e.logs.String()
	if !strings.Contains(logs, `"actor":"acct-`) || strings.Contains(logs, "ola@example.no") || strings.Contains(logs, "Ola") {
		t.Errorf("the access log of the organiser's requests: acting account missing, or personal data in it")
	}

	// The privacy contact registers a request that came by e-mail, gets
	// the access report to send, and the action is on the request.
	kari := e.mustSignup(t, "gala", person("kari@example.no"))
	c.do("GET", "/admin/privacy", nil)
	st, _, loc := c.do("POST", "/admin/privacy/requests?lang=en", url.Values{"type": {"access"}, "email": {"kari@example.no"}, "received": {"2026-11-20"}})
	if st != 303 || !strings.HasPrefix(loc, "/admin/privacy/requests/") {
		t.Fatalf("register a request: %d %q", st, loc)
	}
	reqPath, _, _ := strings.Cut(loc, "?")
	if st, body, _ := c.do("GET", loc, nil); st != 200 || !strings.Contains(body, "kari@example.no") || !strings.Contains(body, "20.12.2026") {
		t.Fatalf("the request page: %d", st)
	}
	st, report, _ := c.do("POST", reqPath+"/act", url.Values{"action": {"access"}, "registration": {kari.ID}})
	if st != 200 || !strings.Contains(report, `"kari@example.no"`) || !strings.Contains(report, `"fields"`) {
		t.Errorf("the access report: %d %.200s", st, report)
	}
	if _, body, _ := c.do("GET", reqPath+"?lang=en", nil); !strings.Contains(body, "Access (JSON)") {
		t.Errorf("the action is not on the request")
	}
	if st, _, _ := c.do("POST", reqPath+"/act", url.Values{"action": {"erase"}, "registration": {kari.ID}}); st != 303 || erased(t, e) != 0 {
		t.Errorf("erased without the confirmation ticked: %d", st)
	}
	if st, _, loc := c.do("POST", reqPath+"/act", url.Values{"action": {"erase"}, "registration": {kari.ID}, "confirm": {"yes"}}); st != 303 || erased(t, e) != 1 || !strings.Contains(loc, "done=erase") {
		t.Errorf("erasure with the confirmation: %d %q, %d erased", st, loc, erased(t, e))
	}

	// Idle: 30 minutes without a request end the session.
	e.clock.add(29 * time.Minute)
	if st, _, _ := other.do("GET", "/admin", nil); st != 200 {
		t.Fatalf("after 29 idle minutes: %d", st)
	}
	// Disabled: the session ends on its next request.
	var id string
	accts, err := e.staff.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		if a.Email == "ola@example.no" {
			id = a.ID
		}
	}
	c.do("GET", "/admin/staff", nil)
	// Not without the tick: the session goes on.
	if _, _, loc := c.do("POST", "/admin/staff/"+id+"/disable", url.Values{}); !strings.Contains(loc, "done=confirm_missing") {
		t.Fatalf("disable without confirming: %q", loc)
	}
	if st, _, _ := other.do("GET", "/admin", nil); st != 200 {
		t.Fatalf("a session after an unconfirmed disable: %d", st)
	}
	c.do("GET", "/admin/staff", nil)
	if st, _, loc := c.do("POST", "/admin/staff/"+id+"/disable", url.Values{"confirm": {"yes"}}); st != 303 || !strings.Contains(loc, "done=disabled") {
		t.Fatalf("disable: %d %q", st, loc)
	}
	if st, _, _ := other.do("GET", "/admin", nil); st != 303 {
		t.Errorf("a disabled account's session: %d", st)
	}
	if _, acct, err := e.staff.SignInLink(ctx, "ola@example.no"); err != nil || acct != nil {
		t.Errorf("a link for a disabled account: %v %v", acct, err)
	}

	// Absolute: 12 hours after sign-in, however busy.
	for range 25 {
		e.clock.add(29 * time.Minute)
		c.do("GET", "/admin", nil)
	}
	if st, _, _ := c.do("GET", "/admin", nil); st != 303 {
		t.Errorf("12 hours after sign-in: %d", st)
	}
	// And a session idle for 31 minutes ends too.
	c.signInWithToken(adminToken)
	e.clock.add(31 * time.Minute)
	if st, _, _ := c.do("GET", "/admin", nil); st != 303 {
		t.Errorf("after 31 idle minutes: %d", st)
	}
}

// erased counts the erased registrations.
func erased(t *testing.T, e *env) int64 {
	t.Helper()
	n, err := e.store.Collection(mongodb.Registrations).Count(context.Background(), bson.M{"erasedAt": bson.M{"$exists": true}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAdminMatchByHand: a credit whose KID is wrong waits on the finance
// page; finance names the invoice it pays, and the invoice is paid as an
// import would have done (once: the entry cannot pay another); the
// journal books it; a wrong number is refused with the reason.
func TestAdminMatchByHand(t *testing.T) {
	e := newEnv(t)
	e.invoiceEvent(t, "kurs")
	s := e.mustSignup(t, "kurs", invoiceBuyer("kommune@example.no"))
	other := e.mustSignup(t, "kurs", invoiceBuyer("annen@example.no"))
	if r := e.do(t, "POST", "/api/v1/finance/bank-statements", adminToken, camtCredits("WRONG", 150000, "12345678903"), "Content-Type", "application/xml"); r.status != 200 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	c := e.adminClient(t)
	c.signInWithToken(adminToken)
	st, body, _ := c.do("GET", "/admin/finance?lang=en", nil)
	entry := regexp.MustCompile(`name="entry" value="([^"]+)"`).FindStringSubmatch(body)
	if st != 200 || entry == nil {
		t.Fatalf("the finance page lists no unmatched credit: %d", st)
	}
	if st, body, _ := c.do("POST", "/admin/finance/match?lang=en", url.Values{"entry": {entry[1]}, "invoice": {"99"}}); st != 422 || !strings.Contains(body, "No invoice has that number.") {
		t.Errorf("a number that is no invoice: %d", st)
	}
	n := e.reg(t, s.ID).Payment.InvoiceNumber
	if st, _, loc := c.do("POST", "/admin/finance/match?lang=en", url.Values{"entry": {entry[1]}, "invoice": {strconv.FormatInt(n, 10)}}); st != 303 || !strings.Contains(loc, "matched=") {
		t.Fatalf("match: %d %q", st, loc)
	}
	if p := e.reg(t, s.ID).Payment; p.Status != registration.PaymentPaid || p.PaidAmount != 150000 {
		t.Errorf("the registration after the match: %s %d", p.Status, p.PaidAmount)
	}
	c.do("GET", "/admin/finance?lang=en", nil)
	on := e.reg(t, other.ID).Payment.InvoiceNumber
	if st, body, _ := c.do("POST", "/admin/finance/match?lang=en", url.Values{"entry": {entry[1]}, "invoice": {strconv.FormatInt(on, 10)}}); st != 422 || !strings.Contains(body, "matched already") {
		t.Errorf("the same credit to another invoice: %d", st)
	}
	if p := e.reg(t, other.ID).Payment; p.PaidAmount != 0 {
		t.Errorf("the other invoice got %d", p.PaidAmount)
	}
	var j journalJSON
	e.do(t, "GET", "/api/v1/finance/journal?from=2026-11-01&to=2026-11-30", adminToken, nil).json(t, &j)
	bank := int64(0)
	for _, l := range j.Lines {
		if l.Number == "1920" {
			bank += l.Debit - l.Credit
		}
	}
	if bank != 150000 {
		t.Errorf("the journal's bank after the match: %d", bank)
	}
	var un struct{ Entries []payments.BankEntry }
	e.do(t, "GET", "/api/v1/finance/bank-statements/unmatched", adminToken, nil).json(t, &un)
	if len(un.Entries) != 0 {
		t.Errorf("still unmatched: %+v", un.Entries)
	}
	// The downloads answer with the session.
	if st, _, _ := c.do("GET", "/admin/finance/journal?from=2026-11-01&to=2026-11-30&format=csv", nil); st != 200 {
		t.Errorf("the journal download: %d", st)
	}
	if st, _, _ := c.do("GET", "/admin/finance/reconciliation?from=2026-11-01&to=2026-11-30&format=xlsx", nil); st != 200 {
		t.Errorf("the reconciliation download: %d", st)
	}
}

// TestAdminParticipantActions: the organiser mails a participant a new
// link (once per ten minutes) and cancels a registration only when the
// cancellation is ticked; its seat goes back.
func TestAdminParticipantActions(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "fest")
	kari := e.signupWith(t, "fest", "kari@example.no", nil, false)
	c := e.adminClient(t)
	c.signInWithToken(adminToken)
	if st, body, _ := c.do("GET", "/admin/events/fest?lang=en", nil); st != 200 || !strings.Contains(body, "cancel-"+kari.ID) {
		t.Fatalf("the event page has no actions for Kari: %d", st)
	}
	before := len(e.outbox(t, kari.ID))
	if _, _, loc := c.do("POST", "/admin/events/fest/registrations/"+kari.ID+"/link?lang=en", url.Values{}); !strings.Contains(loc, "done=link") {
		t.Errorf("send the link again: %q", loc)
	}
	if n := len(e.outbox(t, kari.ID)); n != before+1 {
		t.Errorf("outbox %d, want %d (a lost-link mail)", n, before+1)
	}
	c.do("GET", "/admin/events/fest?lang=en", nil)
	if _, _, loc := c.do("POST", "/admin/events/fest/registrations/"+kari.ID+"/link?lang=en", url.Values{}); !strings.Contains(loc, "done=link_recent") {
		t.Errorf("a second link at once: %q", loc)
	}
	c.do("GET", "/admin/events/fest?lang=en", nil)
	if _, _, loc := c.do("POST", "/admin/events/fest/registrations/"+kari.ID+"/cancel?lang=en", url.Values{}); !strings.Contains(loc, "done=confirm_missing") || e.reg(t, kari.ID).Status != "confirmed" {
		t.Errorf("cancelled without the tick: %q %s", loc, e.reg(t, kari.ID).Status)
	}
	c.do("GET", "/admin/events/fest?lang=en", nil)
	if _, _, loc := c.do("POST", "/admin/events/fest/registrations/"+kari.ID+"/cancel?lang=en", url.Values{"confirm": {"yes"}}); !strings.Contains(loc, "done=cancelled") || e.reg(t, kari.ID).Status != "cancelled" {
		t.Errorf("cancel: %q %s", loc, e.reg(t, kari.ID).Status)
	}
	if _, body, _ := c.do("GET", "/admin/events/fest?lang=en&done=cancelled", nil); !strings.Contains(body, "The registration is cancelled") || strings.Contains(body, "cancel-"+kari.ID) {
		t.Errorf("the page after the cancellation")
	}
}

// TestAdminMessage: the organiser e-mails the participants: each holding
// a seat gets it from the organiser, one who restricted processing does
// not, and the text is not kept once sent.
func TestAdminMessage(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "fest")
	kari := e.signupWith(t, "fest", "kari@example.no", nil, false)
	ola := e.signupWith(t, "fest", "ola@example.no", nil, false)
	ctx := context.Background()
	reg, err := e.a.Registrations.Get(ctx, ola.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Rights.Restrict(ctx, reg, true); err != nil {
		t.Fatal(err)
	}
	e.sendMail(t) // the confirmations out of the way
	c := e.adminClient(t)
	c.signInWithToken(adminToken)
	c.do("GET", "/admin/events/fest/message?lang=en", nil)
	if st, body, _ := c.do("POST", "/admin/events/fest/message?lang=en", url.Values{"to": {"confirmed"}, "subject": {"Line one\nBcc: x@evil.example"}, "text": {"Hi"}}); st != 422 || !strings.Contains(body, "Subject:") {
		t.Errorf("a subject of two lines: %d", st)
	}
	st, _, loc := c.do("POST", "/admin/events/fest/message?lang=en", url.Values{"to": {"confirmed"}, "subject": {"Parkering"}, "text": {"Parker ved Rådhuset."}})
	if st != 303 || !strings.Contains(loc, "n=1") {
		t.Fatalf("send: %d %q (want 1 queued: Ola restricted processing)", st, loc)
	}
	got := e.sendMail(t)
	if len(got) != 1 || got[0].To[0] != "kari@example.no" || got[0].Header("Subject") != "Parkering" || !strings.Contains(got[0].Body(), "Parker ved Rådhuset.") {
		t.Fatalf("the message mails: %d", len(got))
	}
	var d struct {
		Outbox map[string]struct {
			Kind string `bson:"kind"`
			Text string `bson:"text"`
		} `bson:"outbox"`
	}
	if err := e.store.Collection(mongodb.Registrations).FindOne(ctx, bson.M{"_id": kari.ID}, &d); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range d.Outbox {
		if m.Kind == "message" {
			found = true
			if m.Text != "" {
				t.Errorf("the text is kept after sending")
			}
		}
	}
	if !found {
		t.Errorf("precondition: no message in Kari's outbox")
	}
}

// TestAdminWithoutMail: with no mail sender, asking for a sign-in link
// says that sign-in by e-mail is not set up, the same for every address,
// instead of failing; a back office page that does not exist leads back
// to the back office, not to a participant's lost link.
func TestAdminWithoutMail(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.staff.Invite(ctx, staff.InviteRequest{Email: "ola@example.no", Name: "Ola", Role: staff.Organiser}, staff.Principal{ID: "test"}); err != nil {
		t.Fatal(err)
	}
	c := e.adminClient(t)
	c.do("GET", "/admin/signin?lang=en", nil)
	_, known, _ := c.do("POST", "/admin/signin", url.Values{"email": {"ola@example.no"}, "lang": {"en"}})
	st, unknown, _ := c.do("POST", "/admin/signin", url.Values{"email": {"nobody@example.no"}, "lang": {"en"}})
	strip := regexp.MustCompile(`name="_csrf" value="[^"]+"`)
	if st != 503 || !strings.Contains(unknown, "SMTP_URL") || strip.ReplaceAllString(known, "") != strip.ReplaceAllString(unknown, "") {
		t.Errorf("without mail: %d, answers differ: %v", st, strip.ReplaceAllString(known, "") != strip.ReplaceAllString(unknown, ""))
	}
	c.signInWithToken(adminToken)
	if st, body, _ := c.do("GET", "/admin/events/nope?lang=en", nil); st != 404 || !strings.Contains(body, `href="/admin?lang=en"`) || strings.Contains(body, `href="/m?`) {
		t.Errorf("a back office 404: %d", st)
	}
	// The language link of any page stays on this site.
	if _, body, _ := c.do("GET", "//evil.example/x?lang=en", nil); strings.Contains(body, `href="//`) {
		t.Errorf("a page links to another site: %s", body)
	}
}

// TestAdminCancelEvent: cancelling a whole event takes the tick; then
// its registrations are cancelled, the invoice credited, and the event
// page says how far the money has come.
func TestAdminCancelEvent(t *testing.T) {
	e := newEnv(t)
	e.invoiceEvent(t, "kurs")
	s := e.mustSignup(t, "kurs", invoiceBuyer("kommune@example.no"))
	c := e.adminClient(t)
	c.signInWithToken(adminToken)
	c.do("GET", "/admin/events/kurs?lang=en", nil)
	if _, _, loc := c.do("POST", "/admin/events/kurs/cancel?lang=en", url.Values{}); !strings.Contains(loc, "done=confirm_missing") {
		t.Errorf("without the tick: %q", loc)
	}
	if r := e.do(t, "GET", "/api/v1/events/kurs", "", nil); r.status != 200 || strings.Contains(string(r.body), "cancelledAt") {
		t.Fatalf("cancelled without the tick: %s", r.body)
	}
	c.do("GET", "/admin/events/kurs?lang=en", nil)
	if _, _, loc := c.do("POST", "/admin/events/kurs/cancel?lang=en", url.Values{"confirm": {"yes"}}); !strings.Contains(loc, "done=event_cancelled") {
		t.Fatalf("cancel: %q", loc)
	}
	if d := e.reg(t, s.ID); d.Status != "cancelled" || d.Payment.CreditNote == 0 {
		t.Errorf("the registration after the event was cancelled: %s, credit note %d", d.Status, d.Payment.CreditNote)
	}
	if _, body, _ := c.do("GET", "/admin/events/kurs?lang=en", nil); !strings.Contains(body, `id="cancelled"`) || !strings.Contains(body, "1 credit notes, 0 left to credit") || strings.Contains(body, `id="cancel-event"`) {
		t.Errorf("the event page after the cancellation does not show the progress")
	}
}

// TestAdminMoveParticipant: an organiser moves a participant to another
// category from the event page; a full category, or one of another
// price, is refused in words and moves nothing.
func TestAdminMoveParticipant(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "konf", func(b map[string]any) {
		b["capacity"] = 10
		b["categories"] = []map[string]any{
			{"key": "kort", "name": map[string]string{"nb": "Kort", "en": "Short"}, "capacity": 1},
			{"key": "lang", "name": map[string]string{"nb": "Lang", "en": "Long"}},
			{"key": "vip", "name": map[string]string{"nb": "VIP", "en": "VIP"}, "price": 50000, "vatRate": 25},
		}
	})
	in := func(email string) string {
		b := person(email)
		b["category"] = "lang"
		var out struct {
			ID string `json:"id"`
		}
		r := e.do(t, "POST", "/api/v1/events/konf/registrations", "", b)
		if r.status != 201 {
			t.Fatalf("sign-up: %d %s", r.status, r.body)
		}
		r.json(t, &out)
		return out.ID
	}
	kari, ola := in("kari@example.no"), in("ola@example.no")
	c := e.adminClient(t)
	c.signInWithToken(adminToken)
	if st, body, _ := c.do("GET", "/admin/events/konf?lang=en", nil); st != 200 || !strings.Contains(body, `id="move-to-`+kari+`"`) {
		t.Fatalf("the event page offers no move for Kari: %d", st)
	}
	move := func(id, to, want string) {
		t.Helper()
		c.do("GET", "/admin/events/konf?lang=en", nil)
		if _, _, loc := c.do("POST", "/admin/events/konf/registrations/"+id+"/move?lang=en", url.Values{"category": {to}}); !strings.Contains(loc, "done="+want) {
			t.Errorf("move to %s: %q, want done=%s", to, loc, want)
		}
	}
	move(kari, "kort", "moved")
	move(ola, "kort", "move_full")
	move(ola, "vip", "move_price")
	if k, o := e.reg(t, kari).Category, e.reg(t, ola).Category; k != "kort" || o != "lang" {
		t.Errorf("categories Kari %q, Ola %q", k, o)
	}
	if _, body, _ := c.do("GET", "/admin/events/konf?lang=en&done=move_full", nil); !strings.Contains(body, "that category is full") {
		t.Errorf("the refusal is not said on the page")
	}
}

// TestAdminTickets: an organiser adds, changes and removes categories
// and add-ons and makes a code from the tickets page; what the rules
// refuse (a category in use, a bad price, a code taken) is said in
// words and changes nothing.
func TestAdminTickets(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "konf", func(b map[string]any) { b["capacity"] = 10 })
	c := e.adminClient(t)
	c.signInWithToken(adminToken)
	post := func(form url.Values) (int, string, string) {
		t.Helper()
		c.do("GET", "/admin/events/konf/tickets?lang=en", nil)
		return c.do("POST", "/admin/events/konf/tickets?lang=en", form)
	}
	category := func(key, price string) url.Values {
		return url.Values{"do": {"category"}, "key": {key}, "name_nb": {key}, "name_en": {key}, "price": {price}, "vat": {"0"},
			"capacity": {"5"}, "visibility": {"public"}}
	}
	if st, body, loc := post(category("dag", "800")); st != 303 || !strings.Contains(loc, "done=category") {
		t.Fatalf("add a category: %d %q %s", st, loc, body)
	}
	post(category("full", "1500,50"))
	if st, body, _ := post(category("halv", "12,345")); st != 422 || !strings.Contains(body, "Price: ") {
		t.Errorf("a price of three øre digits: %d", st)
	}
	var ev struct {
		Categories []struct {
			Key       string
			Price     int64
			SeatsLeft int
		}
		Addons []struct {
			Key        string
			Options    []string
			Categories []string
		}
	}
	e.do(t, "GET", "/api/v1/events/konf", adminToken, nil).json(t, &ev)
	if len(ev.Categories) != 2 || ev.Categories[0].Price != 80000 || ev.Categories[1].Price != 150050 {
		t.Fatalf("categories %+v", ev.Categories)
	}
	// The same key changes the one there is.
	ch := category("dag", "800")
	ch.Set("capacity", "7")
	post(ch)
	if st, _, _ := post(url.Values{"do": {"addon"}, "key": {"lunsj"}, "name_nb": {"Lunsj"}, "name_en": {"Lunch"}, "price": {"150"}, "vat": {"15"},
		"options": {"Kjøtt, Vegetar"}, "for_dag": {"on"}}); st != 303 {
		t.Errorf("add an add-on: %d", st)
	}
	e.do(t, "GET", "/api/v1/events/konf", adminToken, nil).json(t, &ev)
	if len(ev.Categories) != 2 || ev.Categories[0].SeatsLeft != 7 || len(ev.Addons) != 1 || len(ev.Addons[0].Options) != 2 ||
		len(ev.Addons[0].Categories) != 1 || ev.Addons[0].Categories[0] != "dag" {
		t.Fatalf("after the changes: %+v", ev)
	}
	// Someone holds a day ticket: it cannot be removed.
	b := person("kari@example.no")
	b["category"] = "dag"
	if r := e.do(t, "POST", "/api/v1/events/konf/registrations", "", b); r.status != 201 {
		t.Fatalf("sign-up: %d %s", r.status, r.body)
	}
	// The lunch is sold with day tickets only: while it is, they stay.
	if st, body, _ := post(url.Values{"do": {"remove-category"}, "key": {"dag"}}); st != 422 || !strings.Contains(body, "Applies to: ") {
		t.Errorf("remove a category an add-on names: %d", st)
	}
	if st, _, loc := post(url.Values{"do": {"remove-addon"}, "key": {"lunsj"}}); st != 303 || !strings.Contains(loc, "done=remove-addon") {
		t.Errorf("remove the add-on: %d %q", st, loc)
	}
	if st, body, _ := post(url.Values{"do": {"remove-category"}, "key": {"dag"}}); st != 422 || !strings.Contains(body, "Move or cancel them first") {
		t.Errorf("remove a category in use: %d %s", st, body[strings.Index(body, "<main"):])
	}
	if st, _, loc := post(url.Values{"do": {"remove-category"}, "key": {"full"}}); st != 303 || !strings.Contains(loc, "done=remove-category") {
		t.Errorf("remove an unused category: %d %q", st, loc)
	}
	code := url.Values{"do": {"code"}, "code": {"venner"}, "amount": {"100"}, "max_uses": {"3"}, "for_dag": {"on"}}
	if st, _, _ := post(code); st != 303 {
		t.Errorf("make a code: %d", st)
	}
	if st, body, _ := post(code); st != 422 || !strings.Contains(body, "The event has that code already") {
		t.Errorf("the same code again: %d", st)
	}
	if _, body, _ := c.do("GET", "/admin/events/konf/tickets?lang=en", nil); !strings.Contains(body, "VENNER") || !strings.Contains(body, "0 / 3") ||
		strings.Contains(body, ">full<") {
		t.Errorf("the tickets page lists what was made")
	}
	e.do(t, "GET", "/api/v1/events/konf", adminToken, nil).json(t, &ev)
	if len(ev.Categories) != 1 || ev.Categories[0].Key != "dag" {
		t.Errorf("categories at the end %+v", ev.Categories)
	}
}

// formValues is what a browser sends from the page's form whose action
// starts with action, its controls as the page set them (without the
// submit buttons).
func formValues(t *testing.T, page, action string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	var form *html.Node
	for n := range doc.Descendants() {
		if a, _ := attr(n, "action"); n.Data == "form" && strings.HasPrefix(a, action) {
			form = n
			break
		}
	}
	if form == nil {
		t.Fatalf("no form posting to %s", action)
	}
	v := url.Values{}
	for n := range form.Descendants() {
		name, ok := attr(n, "name")
		if n.Type != html.ElementNode || !ok {
			continue
		}
		switch n.Data {
		case "input":
			typ, _ := attr(n, "type")
			val, _ := attr(n, "value")
			_, checked := attr(n, "checked")
			switch {
			case typ == "checkbox" || typ == "radio":
				if checked {
					v.Add(name, cmp.Or(val, "on"))
				}
			default:
				v.Add(name, val)
			}
		case "textarea":
			if n.FirstChild != nil {
				v.Add(name, n.FirstChild.Data)
			} else {
				v.Add(name, "")
			}
		case "select":
			first, chosen := "", ""
			for o := range n.Descendants() {
				if o.Data != "option" {
					continue
				}
				val, _ := attr(o, "value")
				if first == "" {
					first = val
				}
				if _, sel := attr(o, "selected"); sel {
					chosen = val
				}
			}
			v.Add(name, cmp.Or(chosen, first))
		}
	}
	return v
}

// TestAdminEditEvent: the edit form opens with the event as it is and,
// sent unchanged, changes nothing; a change the rules refuse (fewer
// seats than are taken) says so and changes nothing; a price in kroner
// and øre is kept to the øre.
func TestAdminEditEvent(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "fest")
	e.signupWith(t, "fest", "kari@example.no", nil, false)
	e.signupWith(t, "fest", "ola@example.no", nil, false)
	read := func() string {
		r := e.do(t, "GET", "/api/v1/events/fest", adminToken, nil)
		var m map[string]any
		r.json(t, &m)
		delete(m, "updatedAt")
		out, _ := json.Marshal(m)
		return string(out)
	}
	before := read()
	c := e.adminClient(t)
	c.signInWithToken(adminToken)
	open := func() url.Values {
		t.Helper()
		st, body, _ := c.do("GET", "/admin/events/fest/edit?lang=en", nil)
		if st != 200 {
			t.Fatalf("the edit form: %d", st)
		}
		return formValues(t, body, "/admin/events/fest/edit")
	}
	form := open()
	if form.Get("slug") != "fest" || form.Get("ask_dietary") != "on" || form.Get("organiser_privacy") == "" {
		t.Fatalf("the edit form opens with %v", form)
	}
	form.Set("action", "save")
	if st, _, loc := c.do("POST", "/admin/events/fest/edit?lang=en", form); st != 303 || !strings.Contains(loc, "done=saved") {
		t.Fatalf("save unchanged: %d %q", st, loc)
	}
	if after := read(); after != before {
		t.Errorf("saving the form unchanged changed the event:\n%s\n%s", before, after)
	}
	form = open()
	form.Set("action", "save")
	form.Set("capacity", "1")
	if st, body, _ := c.do("POST", "/admin/events/fest/edit?lang=en", form); st != 422 || !strings.Contains(body, "More seats are taken than the new capacity") {
		t.Errorf("capacity below the seats taken: %d", st)
	}
	if after := read(); after != before {
		t.Errorf("a refused change changed the event")
	}
	form = open()
	form.Set("action", "save")
	form.Set("price", "149,50")
	form.Set("venue", "Rådhuset")
	if st, _, _ := c.do("POST", "/admin/events/fest/edit?lang=en", form); st != 303 {
		t.Fatalf("save a new price: %d", st)
	}
	var ev struct {
		Venue string
		Price struct{ Amount int64 }
	}
	e.do(t, "GET", "/api/v1/events/fest", adminToken, nil).json(t, &ev)
	if ev.Venue != "Rådhuset" || ev.Price.Amount != 14950 {
		t.Errorf("after the edit: %+v", ev)
	}
	if f := open(); f.Get("price") != "149,50" {
		t.Errorf("the form shows the price %q", f.Get("price"))
	}
}

// TestAdminFinanceScope: a finance account limited to one event filters
// invoices and downloads the reconciliation of that event only; the
// page offers no "all events" and no journal (the whole books), and the
// journal's route refuses it.
func TestAdminFinanceScope(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "gala", nil)
	e.mustEvent(t, "fest", nil)
	e.mustSignup(t, "fest", person("kari@example.no"))
	e.mustSignup(t, "gala", person("ola@example.no"))
	c := e.adminClient(t)
	c.signInWithToken(e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "Frida", Events: []string{"fest"}}))
	st, body, _ := c.do("GET", "/admin/finance?lang=en", nil)
	if st != 200 || !strings.Contains(body, `<option value="fest"`) || strings.Contains(body, `<option value="gala"`) ||
		strings.Contains(body, `id="journal-csv"`) || !strings.Contains(body, `id="report-csv"`) {
		t.Fatalf("the finance page of a one-event account: %d", st)
	}
	if form := formValues(t, body, "/admin/finance/reconciliation"); form.Get("event") != "fest" {
		t.Errorf("the downloads are scoped to %q", form.Get("event"))
	}
	if st, body, _ := c.do("GET", "/admin/finance/reconciliation?event=fest&format=csv", nil); st != 200 || !strings.Contains(body, `"fest"`) || strings.Contains(body, `"gala"`) {
		t.Errorf("the event's reconciliation: %d %q", st, body)
	}
	if st, _, _ := c.do("GET", "/admin/finance/reconciliation?event=gala&format=csv", nil); st != 403 {
		t.Errorf("another event's reconciliation: %d", st)
	}
	if st, _, _ := c.do("GET", "/admin/finance/journal?format=csv&from=2026-11-01&to=2026-11-30", nil); st != 403 {
		t.Errorf("the journal for a one-event account: %d", st)
	}
	// An admin gets every event, "all", and the journal.
	a := e.adminClient(t)
	a.signInWithToken(adminToken)
	if _, body, _ := a.do("GET", "/admin/finance?lang=en", nil); !strings.Contains(body, `<option value="gala"`) || !strings.Contains(body, `id="journal-csv"`) {
		t.Errorf("the admin's finance page lacks events or the journal")
	}
	if st, _, _ := a.do("GET", "/admin/finance/journal?format=csv&from=2026-11-01&to=2026-11-30", nil); st != 200 {
		t.Errorf("the admin's journal: %d", st)
	}
}
