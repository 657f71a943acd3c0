package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/pamelding/pamelding/registration"
)

// TestBrowserBackOffice walks the back office in Chromium as its staff
// would: the first admin signs in with PAMELDING_ADMIN_TOKEN and adds an
// organiser, a caterer, a finance officer and a privacy contact; each signs
// in with the link mailed to them (one click, then the link is used up);
// the organiser finds a participant by search and sees the partner lists
// with who they leave out; catering sees the dietary list, only where
// consented; finance uploads the bank's camt file and the invoice turns
// paid; the privacy contact sees the request and its deadline. axe finds
// no serious violation on any page, and each page is shot at 1280 and
// 390 px wide (PAMELDING_TEST_ARTIFACTS=dir keeps them).
func TestBrowserBackOffice(t *testing.T) {
	e, smtp := newEnvMail(t)
	b := newBrowserOn(t, e)
	e.everyFieldEvent(t, "fest")
	kari := e.signupWith(t, "fest", "kari@example.no", nil, false)
	e.signupWith(t, "fest", "ola@example.no", map[string]string{"name": "Ola Objekt"}, true)
	e.mustSignup(t, "fest", map[string]any{"fields": map[string]any{"name": "Uten Samtykke", "email": "uten@example.no"}})
	e.invoiceEvent(t, "kurs")
	buyer := e.mustSignup(t, "kurs", invoiceBuyer("kommune@example.no"))
	if r := e.do(t, "POST", "/api/v1/privacy/requests", adminToken, map[string]any{"type": "access", "email": "kari@example.no", "receivedAt": "2026-11-20"}); r.status != 201 {
		t.Fatalf("privacy request: %d %s", r.status, r.body)
	}

	page := func(name, sel string) {
		t.Helper()
		b.run(t, chromedp.WaitVisible(sel, chromedp.ByQuery))
		b.axeCheck(t, name)
		b.run(t, chromedp.EmulateViewport(390, 844))
		b.shot(t, "admin-"+name+"-390")
		var w int
		b.run(t, chromedp.Evaluate(`document.documentElement.scrollWidth`, &w))
		if w > 390 {
			t.Errorf("%s is %d px wide at 390 px", name, w)
		}
		b.run(t, chromedp.EmulateViewport(1280, 900))
		b.shot(t, "admin-"+name+"-1280")
	}

	// Not signed in: the back office sends the browser to sign in.
	b.run(t, chromedp.Navigate(b.base+"/admin?lang=nb"))
	page("signin", `main[data-page="admin-signin"]`)

	// The first admin, with the token.
	b.run(t, chromedp.Click("summary", chromedp.ByQuery),
		chromedp.SendKeys("#token", adminToken, chromedp.ByID), chromedp.Click("#token-signin", chromedp.ByID))
	page("events", `main[data-page="admin-events"]`)
	if s := b.text(t, "#events"); !strings.Contains(s, "fest") && !strings.Contains(s, "Janteloppet") {
		t.Errorf("the events list: %q", s)
	}
	// The admin sets up Janteloppet 2027 from the catalog, previews the
	// privacy notice participants will get, and publishes it.
	b.run(t, chromedp.Click("#new-event", chromedp.ByID), chromedp.WaitVisible("#catalog", chromedp.ByID))
	page("new-event", `main[data-page="admin-new-event"]`)
	b.run(t,
		chromedp.SetValue("#slug", "janteloppet-2027", chromedp.ByID), chromedp.SetValue("#kind", "race", chromedp.ByID),
		chromedp.SetValue("#title_nb", "Janteloppet 2027", chromedp.ByID), chromedp.SetValue("#title_en", "Janteloppet 2027", chromedp.ByID),
		chromedp.SetValue("#venue", "Kongsvinger", chromedp.ByID),
		chromedp.SetValue("#starts", "2027-06-12T10:00", chromedp.ByID), chromedp.SetValue("#ends", "2027-06-12T16:00", chromedp.ByID),
		chromedp.SetValue("#capacity", "2000", chromedp.ByID), chromedp.SetValue("#price", "450", chromedp.ByID),
		chromedp.SetValue("#organiser_name", "Janteloppet AS", chromedp.ByID), chromedp.SetValue("#organiser_privacy", "personvern@janteloppet.no", chromedp.ByID),
		chromedp.Click("#ask-organisation", chromedp.ByID), chromedp.Click("#ask-dietary", chromedp.ByID),
		chromedp.SetValue("#partners", "sparebank: Sparebanken Øst", chromedp.ByID),
		chromedp.Click("#preview", chromedp.ByID), chromedp.WaitVisible("#notice-preview", chromedp.ByID))
	page("new-event-preview", "#notice-preview")
	if s := b.text(t, "#notice-preview"); !strings.Contains(s, "Janteloppet AS") || !strings.Contains(s, "Sparebanken Øst") || !strings.Contains(s, "samtykke") {
		t.Errorf("the notice preview: %q", s)
	}
	if r := e.do(t, "GET", "/api/v1/events/janteloppet-2027", "", nil); r.status != 404 {
		t.Fatalf("the event exists before it was published: %d", r.status)
	}
	b.run(t, chromedp.Click("#publish", chromedp.ByID), chromedp.WaitVisible(`main[data-page="admin-event"]`, chromedp.ByQuery))
	var ev struct {
		Fields []struct{ Key string }
		Price  struct{ Amount int64 }
	}
	e.do(t, "GET", "/api/v1/events/janteloppet-2027", "", nil).json(t, &ev)
	if len(ev.Fields) != 4 || ev.Fields[3].Key != "dietary" || ev.Price.Amount != 45000 {
		t.Errorf("the published event: %+v", ev)
	}

	// It sells two distances of one price, a t-shirt with the 10 km and a
	// club code, then corrects the venue: previewed, then saved.
	openForms := chromedp.Evaluate(`document.querySelectorAll("details").forEach(d => d.open = true)`, nil)
	// save sends a tickets form and fails with what the page says if it
	// was refused.
	save := func(button string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			// The page sent is marked, so that only the answer's counts.
			if err := chromedp.Evaluate(`document.documentElement.dataset.sent = "1"`, nil).Do(ctx); err != nil {
				return err
			}
			if err := chromedp.Click(button, chromedp.ByID).Do(ctx); err != nil {
				return err
			}
			if err := chromedp.WaitVisible("html:not([data-sent]) #flash, html:not([data-sent]) #errors", chromedp.ByQuery).Do(ctx); err != nil {
				return err
			}
			var refused string
			if err := chromedp.Evaluate(`(document.getElementById("errors") || {}).innerText || ""`, &refused).Do(ctx); err != nil {
				return err
			}
			if refused != "" {
				return fmt.Errorf("%s refused: %s", button, refused)
			}
			return nil
		})
	}
	b.run(t, chromedp.Click("#to-tickets", chromedp.ByID), chromedp.WaitVisible("#save-category", chromedp.ByID))
	for _, d := range [][3]string{{"10km", "10 km", "10 km"}, {"5km", "5 km", "5 km"}} {
		b.run(t, openForms, chromedp.SetValue("#cat-key", d[0], chromedp.ByID), chromedp.SetValue("#cat-name-nb", d[1], chromedp.ByID),
			chromedp.SetValue("#cat-name-en", d[2], chromedp.ByID), chromedp.SetValue("#cat-price", "450", chromedp.ByID),
			save("#save-category"))
	}
	b.run(t, openForms, chromedp.SetValue("#addon-key", "tskjorte", chromedp.ByID), chromedp.SetValue("#addon-name-nb", "T-skjorte", chromedp.ByID),
		chromedp.SetValue("#addon-name-en", "T-shirt", chromedp.ByID), chromedp.SetValue("#addon-price", "199,50", chromedp.ByID),
		chromedp.SetValue("#addon-options", "S, M, L", chromedp.ByID), chromedp.Click("#addon-for-10km", chromedp.ByID),
		save("#save-addon"))
	b.run(t, openForms, chromedp.SetValue("#code-code", "klubb10", chromedp.ByID), chromedp.SetValue("#code-percent", "10", chromedp.ByID),
		chromedp.SetValue("#code-max-uses", "50", chromedp.ByID), save("#save-code"))
	page("tickets", `main[data-page="admin-tickets"] #codes`)
	if s := b.text(t, "#categories") + b.text(t, "#addons") + b.text(t, "#codes"); !strings.Contains(s, "5 km") || !strings.Contains(s, "199,50") ||
		!strings.Contains(s, "KLUBB10") || !strings.Contains(s, "0 / 50") {
		t.Errorf("the tickets page: %q", s)
	}
	b.run(t, chromedp.Navigate(b.base+"/admin/events/janteloppet-2027/edit?lang=nb"), chromedp.WaitVisible("#save", chromedp.ByID))
	if v := b.value(t, "#price"); v != "450" {
		t.Errorf("the edit form opens with the price %q", v)
	}
	b.run(t, chromedp.SetValue("#venue", "Kongsvinger stadion", chromedp.ByID), chromedp.Click("#preview", chromedp.ByID),
		chromedp.WaitVisible("#notice-preview", chromedp.ByID))
	page("edit-event", `main[data-page="admin-edit-event"] #notice-preview`)
	b.run(t, chromedp.Click("#save", chromedp.ByID), chromedp.WaitVisible("#flash", chromedp.ByID))
	var edited struct {
		Venue      string
		Categories []struct{ Key string }
		Addons     []struct{ Price int64 }
	}
	e.do(t, "GET", "/api/v1/events/janteloppet-2027", "", nil).json(t, &edited)
	if edited.Venue != "Kongsvinger stadion" || len(edited.Categories) != 2 || len(edited.Addons) != 1 || edited.Addons[0].Price != 19950 {
		t.Errorf("the event after the edit: %+v", edited)
	}

	for _, who := range [][3]string{
		{"Ola Organiser", "org@example.no", "organiser"}, {"Mia Mat", "mat@example.no", "catering"},
		{"Frida Finans", "finans@example.no", "finance"}, {"Per Personvern", "personvern@example.no", "privacy"},
	} {
		b.run(t, chromedp.Navigate(b.base+"/admin/staff?lang=nb"), chromedp.WaitVisible("#invite", chromedp.ByID),
			chromedp.SendKeys("#name", who[0], chromedp.ByID), chromedp.SendKeys("#email", who[1], chromedp.ByID),
			chromedp.SetValue("#role", who[2], chromedp.ByID), chromedp.Click("#invite", chromedp.ByID),
			chromedp.WaitVisible("#flash", chromedp.ByID))
	}
	page("staff", `main[data-page="admin-staff"]`)
	if s := b.text(t, "#accounts"); strings.Count(s, "@example.no") != 4 {
		t.Errorf("the staff list: %q", s)
	}

	// signInAs signs out whoever is in, asks for a link for the address
	// and opens the link mailed to it.
	link := regexp.MustCompile(`http\S+/admin/l/pml_\S+`)
	signInAs := func(email string) {
		t.Helper()
		b.run(t, chromedp.Click("#signout", chromedp.ByID), chromedp.WaitVisible("#send-link", chromedp.ByID))
		before := len(smtp.Mail())
		b.run(t, chromedp.SendKeys("#email", email, chromedp.ByID), chromedp.Click("#send-link", chromedp.ByID),
			chromedp.WaitVisible(`main[data-page="admin-link-sent"]`, chromedp.ByQuery))
		got := smtp.WaitFor(before+1, 10*time.Second)
		if len(got) != before+1 || got[before].To[0] != email {
			t.Fatalf("sign-in mail to %s: %d mails", email, len(got))
		}
		u := link.FindString(got[before].Body())
		if u == "" {
			t.Fatalf("no link in %q", got[before].Body())
		}
		// The mail's link names the configured public address; the test
		// server is elsewhere.
		u = b.base + u[strings.Index(u, "/admin/l/"):]
		b.run(t, openLink(u), chromedp.WaitVisible(`main[data-page="admin-events"]`, chromedp.ByQuery))
		// Used up: the same link signs nobody in again.
		if r := e.do(t, "GET", strings.TrimPrefix(u, b.base), "", nil); r.status != 404 {
			t.Errorf("a used sign-in link: %d", r.status)
		}
	}

	signInAs("org@example.no")
	b.run(t, chromedp.Click(`a[href^="/admin/events/fest"]`, chromedp.ByQuery))
	page("event", `main[data-page="admin-event"] #participants`)
	if s := b.text(t, "#left-out"); !strings.Contains(s, "Utelatt: 1 som har protestert") {
		t.Errorf("who the partner lists leave out: %q", s)
	}
	b.run(t, chromedp.SendKeys("#q", "ola@", chromedp.ByID), chromedp.Click("#filter", chromedp.ByID),
		chromedp.WaitVisible(`#q[value="ola@"]`, chromedp.ByQuery)) // the answer's page
	if s, rows := b.text(t, "#matched"), b.text(t, "#participants tbody"); !strings.HasPrefix(s, "1 treff") || !strings.Contains(rows, "Ola Objekt") || strings.Contains(rows, "Kari") {
		t.Errorf("searching ola@: %q, rows %q", s, rows)
	}
	// The door: Kari's ticket code checks her in once; again, and a code
	// that is no ticket, are red with the reason; the door list has her.
	b.run(t, chromedp.Click("#to-checkin", chromedp.ByID), chromedp.WaitVisible("#code", chromedp.ByID))
	page("checkin", `main[data-page="admin-checkin"]`)
	checkIn := func(code string) string {
		t.Helper()
		// The last answer goes first, so the wait is for the new one.
		b.run(t, chromedp.Evaluate(`document.getElementById("result")?.remove()`, nil),
			chromedp.SendKeys("#code", code, chromedp.ByID), chromedp.Click("#check", chromedp.ByID),
			chromedp.WaitVisible("#result", chromedp.ByID))
		var class string
		b.run(t, chromedp.AttributeValue("#result", "class", &class, nil, chromedp.ByID))
		return class + ": " + b.text(t, "#result")
	}
	if s := checkIn(e.a.Domain.TicketCode(kari.ID)); !strings.Contains(s, "green") || !strings.Contains(s, "Kari Nordmann") {
		t.Errorf("Kari at the door: %q", s)
	}
	page("checkin-green", "#result")
	if s := checkIn(e.a.Domain.TicketCode(kari.ID)); !strings.Contains(s, "red") || !strings.Contains(s, "allerede sjekket inn") {
		t.Errorf("Kari again: %q", s)
	}
	if s := checkIn("not-a-ticket"); !strings.Contains(s, "red") || !strings.Contains(s, "ikke en billett") {
		t.Errorf("a code that is no ticket: %q", s)
	}
	b.run(t, chromedp.Navigate(b.base+"/admin/events/fest/door-list?lang=nb"))
	page("door-list", "#door-list")
	if s := b.text(t, "#door-list"); !strings.Contains(s, "Kari Nordmann") || !strings.Contains(s, "✓") || strings.Contains(s, "@") {
		t.Errorf("the door list: %q", s)
	}
	// The organiser has no finance page.
	if r := b.status(t, "/admin/finance?lang=nb"); r != 403 {
		t.Errorf("the organiser on the finance page: %d", r)
	}

	signInAs("mat@example.no")
	b.run(t, chromedp.Navigate(b.base+"/admin/events/fest?lang=nb"))
	page("catering", `#participants`)
	var n int
	b.run(t, chromedp.Evaluate(`document.querySelectorAll("#participants tbody tr").length`, &n))
	if rows := b.text(t, "#participants tbody"); n != 2 || !strings.Contains(rows, "nøtteallergi") || strings.Contains(rows, "Uten") || strings.Contains(rows, "@example.no") {
		t.Errorf("catering's list (the two who consented to their dietary needs being used, no addresses): %d rows %q", n, rows)
	}
	// The download holds what the page shows, no more.
	var href string
	b.run(t, chromedp.AttributeValue("#participants-csv", "href", &href, nil, chromedp.ByID))
	csvText := b.download(t, href)
	if lines := strings.Split(strings.TrimSpace(csvText), "\n"); len(lines) != 3 || !strings.Contains(csvText, "nøtteallergi") || strings.Contains(csvText, "@") {
		t.Errorf("catering's download: %q", csvText)
	}

	signInAs("finans@example.no")
	b.run(t, chromedp.Navigate(b.base+"/admin/finance?lang=nb"))
	page("finance", `main[data-page="admin-finance"] #invoices`)
	camt := filepath.Join(t.TempDir(), "camt054.xml")
	if err := os.WriteFile(camt, []byte(camtCredits("ADM", 150000, e.reg(t, buyer.ID).Payment.KID)), 0o600); err != nil {
		t.Fatal(err)
	}
	b.run(t, chromedp.SetUploadFiles("#statement", []string{camt}, chromedp.ByID), chromedp.Click("#upload", chromedp.ByID),
		chromedp.WaitVisible("#import-result", chromedp.ByID))
	page("finance-import", "#import-result")
	if s := b.text(t, "#import-result"); !strings.Contains(s, "Innbetalinger lest: 1. Koblet til faktura: 1") {
		t.Errorf("the import: %q", s)
	}
	if s := b.text(t, "#invoices .invoice-status"); s != "Betalt" {
		t.Errorf("the invoice after the import: %q", s)
	}
	if p := e.reg(t, buyer.ID).Payment; p.Status != registration.PaymentPaid {
		t.Errorf("the registration after the import: %s", p.Status)
	}

	signInAs("personvern@example.no")
	b.run(t, chromedp.Navigate(b.base+"/admin/privacy?lang=nb"))
	page("privacy", `#requests`)
	if s := b.text(t, "#requests"); !strings.Contains(s, "Innsyn") || !strings.Contains(s, "20.11.2026") || !strings.Contains(s, "20.12.2026") {
		t.Errorf("the privacy inbox: %q", s)
	}
	// The retention overview, its receipts and the record of processing.
	b.run(t, chromedp.Click("#to-retention", chromedp.ByID))
	page("retention", `main[data-page="admin-retention"] #retention`)
	if s := b.text(t, "#retention"); !strings.Contains(s, "fest") || !strings.Contains(s, "dietary") {
		t.Errorf("the retention overview: %q", s)
	}
	b.run(t, chromedp.Navigate(b.base+"/admin/privacy/records?lang=nb"))
	page("records", `main[data-page="admin-records"] #records`)
	if s := b.text(t, "#records"); !strings.Contains(s, "Janteloppet") {
		t.Errorf("the record of processing: %q", s)
	}
	// The disclosure log of fest: the organiser's and catering's lists
	// above, the door list.
	b.run(t, chromedp.Navigate(b.base+"/admin/events/fest/disclosures?lang=nb"))
	page("disclosures", `#disclosures`)
	if s := b.text(t, "#disclosures"); !strings.Contains(s, "servering") || !strings.Contains(s, "dietary") || !strings.Contains(s, "acct-") {
		t.Errorf("the disclosure log: %q", s)
	}
	b.run(t, chromedp.Navigate(b.base+"/admin/privacy?lang=nb"), chromedp.WaitVisible("#requests", chromedp.ByID))
	// The request: the subject's registration, and closing it with what
	// was done.
	b.run(t, chromedp.Click(`#requests a`, chromedp.ByQuery))
	page("request", `main[data-page="admin-request"] #subject-registrations`)
	b.run(t, chromedp.SendKeys("#outcome", "Innsyn sendt på e-post.", chromedp.ByID), chromedp.Click("#close-request", chromedp.ByID),
		chromedp.WaitVisible(`main[data-page="admin-privacy"]`, chromedp.ByQuery))
	if s := b.text(t, "main"); !strings.Contains(s, "Ingen henvendelser") {
		t.Errorf("the inbox after closing the only request: %q", s)
	}
}

// status navigates to path and answers the HTTP status of the page.
func (b *browserEnv) status(t *testing.T, path string) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(b.base+path))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status
}

// download fetches a path as the browser would follow a link to a file
// it saves: with the browser's cookies (the back office session).
func (b *browserEnv) download(t *testing.T, path string) string {
	t.Helper()
	var cookies []*network.Cookie
	b.run(t, chromedp.ActionFunc(func(ctx context.Context) (err error) {
		cookies, err = network.GetCookies().WithURLs([]string{b.base + path}).Do(ctx)
		return err
	}))
	req, err := http.NewRequest("GET", b.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download %s: %d %v %s", path, resp.StatusCode, err, resp.Header.Get("Content-Disposition"))
	}
	return string(body)
}
