package web_test

import (
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pamelding/pamelding/mongodb"
)

// kursEvent is a paid course taken by invoice, with terms, a Reply-To
// address and a site allowed to frame its form.
func (e *env) kursEvent(t testing.TB, slug string, change func(map[string]any)) {
	e.mustEvent(t, slug, func(b map[string]any) {
		b["title"] = map[string]string{"nb": "Kurs i arkivlov", "en": "Archive law course"}
		b["vatRate"], b["termsUrl"] = 25, "https://kongsvinger.example.no/vilkar"
		b["partners"] = []map[string]string{}
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "organisation"},
			{"key": "invoice_org_number"}, {"key": "invoice_address"}, {"key": "invoice_reference"}}
		b["organiser"] = map[string]any{"name": "Kongsvingerregionen IKS", "orgNumber": "923609016",
			"privacyEmail": "personvern@kongsvinger.example.no", "email": "kurs@kongsvinger.example.no",
			"embedOrigins": []string{"https://www.kongsvinger.example.no"}}
		if change != nil {
			change(b)
		}
	})
}

// contrast is the WCAG contrast ratio of a CSS rgb() colour against
// white.
func contrast(t *testing.T, css string) float64 {
	t.Helper()
	m := regexp.MustCompile(`rgba?\((\d+),\s*(\d+),\s*(\d+)`).FindStringSubmatch(css)
	if m == nil {
		t.Fatalf("not a colour: %q", css)
	}
	lum := 0.0
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.Atoi(m[i+1])
		c := float64(v) / 255
		if c <= 0.03928 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		lum += w * c
	}
	return 1.05 / (lum + 0.05)
}

// TestBrowserJourney walks a participant through a paid course on a
// phone (390 px, every page measured at 320 px too): the language switch
// keeps what was typed, the answer to the sign-up is a page of its own
// (post/redirect/get: a reload registers nothing more) that states the
// price and the invoice, and cancelling asks first, saying that the
// invoice is credited. An event that sells out while the form is filled
// in keeps the input and says plainly that nobody was registered.
func TestBrowserJourney(t *testing.T) {
	b := newBrowser(t)
	b.kursEvent(t, "kurs", nil)
	narrow := func(what string) {
		t.Helper()
		var w int
		b.run(t, chromedp.EmulateViewport(320, 700), chromedp.Evaluate(`document.documentElement.scrollWidth`, &w), chromedp.EmulateViewport(390, 844))
		if w > 320 {
			t.Errorf("%s is %d px wide at 320 px", what, w)
		}
	}
	b.run(t, chromedp.EmulateViewport(390, 844), chromedp.Navigate(b.base+"/e/kurs?lang=nb"), chromedp.WaitVisible("#f-name", chromedp.ByID))
	if s := b.text(t, "main dl"); !strings.Contains(s, "Kongsvingerregionen IKS") || !strings.Contains(s, "1\u00a0500\u00a0kr") || !strings.Contains(s, "Arrangørens salgsvilkår") {
		t.Errorf("the event's facts: %q", s)
	}
	if s := b.text(t, "#f-name-why"); !strings.Contains(s, "Hvem får det: økonomi") {
		t.Errorf("the name's hint does not say who gets it: %q", s)
	}

	// The focus ring stands out from white by 3:1 or more (WCAG 1.4.11).
	var ring string
	b.run(t, chromedp.Focus("#f-name", chromedp.ByID), chromedp.Evaluate(`getComputedStyle(document.activeElement).outlineColor`, &ring))
	if c := contrast(t, ring); c < 3 {
		t.Errorf("focus ring %s: contrast %.2f:1 against white", ring, c)
	}

	b.run(t, chromedp.SendKeys("#f-name", "Kari Nordmann", chromedp.ByID), chromedp.SendKeys("#f-email", "kari@example.no", chromedp.ByID),
		chromedp.Click("#switch-lang", chromedp.ByID), chromedp.WaitVisible(`html[lang="en"] #f-name`, chromedp.ByQuery))
	b.shot(t, "journey-1-switched-390")
	var name, email string
	b.run(t, chromedp.Value("#f-name", &name, chromedp.ByID), chromedp.Value("#f-email", &email, chromedp.ByID))
	if name != "Kari Nordmann" || email != "kari@example.no" {
		t.Errorf("switching language lost the input: %q, %q", name, email)
	}
	if n := b.count(t, mongodb.Registrations); n != 0 {
		t.Fatalf("switching language registered %d", n)
	}
	b.run(t, chromedp.Click("#switch-lang", chromedp.ByID), chromedp.WaitVisible(`html[lang="nb"] #f-name`, chromedp.ByQuery),
		chromedp.SendKeys("#f-organisation", "Kongsvinger kommune", chromedp.ByID),
		chromedp.SendKeys("#f-invoice_org_number", "974760673", chromedp.ByID),
		chromedp.SendKeys("#f-invoice_address", "Postboks 900, 2226 Kongsvinger", chromedp.ByID),
		chromedp.SendKeys("#f-invoice_reference", "PO-2027-15", chromedp.ByID),
		chromedp.Click("#method-invoice", chromedp.ByID),
		chromedp.Click("#payment-ehf", chromedp.ByID))
	b.axeCheck(t, "the form on a phone")
	narrow("the form")
	b.run(t, chromedp.Click(`#signup button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible(`main[data-page="done"]`, chromedp.ByQuery))
	b.shot(t, "journey-2-done-390")
	var where string
	b.run(t, chromedp.Location(&where))
	if s := b.text(t, "main"); !strings.HasSuffix(where, "/e/kurs/done?lang=nb") || !strings.Contains(s, "1\u00a0500\u00a0kr") || !strings.Contains(s, "faktura nr. 1") {
		t.Errorf("the answer at %s: %q", where, s)
	}
	b.axeCheck(t, "the sign-up's answer")
	narrow("the sign-up's answer")
	b.run(t, chromedp.Reload(), chromedp.WaitVisible(`main[data-page="done"]`, chromedp.ByQuery))
	if n := b.count(t, mongodb.Registrations); n != 1 || !strings.Contains(b.text(t, "main h1"), "Du er påmeldt") {
		t.Errorf("after a reload: %d registrations, %q", n, b.text(t, "main h1"))
	}
	if p := b.reg(t, registrationID(t, b.env)).Payment; p == nil || !p.EHF || p.InvoiceNumber != 1 {
		t.Errorf("the municipality asked for EHF: payment %+v", p)
	}

	b.run(t, chromedp.Navigate(b.base+"/me?lang=nb"), chromedp.WaitVisible("#cancel", chromedp.ByID), chromedp.Click("#cancel", chromedp.ByID),
		chromedp.WaitVisible(`main[data-page="cancel"]`, chromedp.ByQuery))
	b.shot(t, "journey-3-cancel-390")
	if s := b.text(t, "main"); !strings.Contains(s, "Faktura nr. 1 (1\u00a0500\u00a0kr) krediteres") || !strings.Contains(s, "kan ikke angres") {
		t.Errorf("the cancellation's question: %q", s)
	}
	b.axeCheck(t, "the cancellation's question")
	narrow("the cancellation's question")
	if st := b.reg(t, registrationID(t, b.env)).Status; st != "confirmed" {
		t.Fatalf("asking cancelled: %s", st)
	}
	b.run(t, chromedp.Click("#confirm-cancel", chromedp.ByID), chromedp.WaitVisible(`main[data-page="me"]`, chromedp.ByQuery))
	b.shot(t, "journey-4-cancelled-390")
	if st := b.reg(t, registrationID(t, b.env)).Status; st != "cancelled" || !strings.Contains(b.text(t, "main"), "Du er meldt av") {
		t.Errorf("after confirming: %s, %q", st, b.text(t, "main"))
	}

	t.Run("SoldOutWhileFilling", func(t *testing.T) {
		b.mustEvent(t, "fullt", func(m map[string]any) {
			delete(m, "price")
			m["capacity"], m["waitlist"], m["partners"] = 1, false, []map[string]string{}
		})
		b.run(t, chromedp.Navigate(b.base+"/e/fullt?lang=nb"), chromedp.WaitVisible("#f-name", chromedp.ByID),
			chromedp.SendKeys("#f-name", "Ola Sent", chromedp.ByID), chromedp.SendKeys("#f-email", "ola@example.no", chromedp.ByID))
		b.mustSignup(t, "fullt", person("forst@example.no")) // the last seat goes meanwhile
		b.run(t, chromedp.Click(`#signup button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("#error-summary", chromedp.ByID))
		b.shot(t, "journey-5-soldout-390")
		var name string
		b.run(t, chromedp.Value("#f-name", &name, chromedp.ByID))
		if s := b.text(t, "#error-summary"); !strings.Contains(s, "utsolgt mens du fylte ut") || !strings.Contains(s, "Du er ikke påmeldt") || name != "Ola Sent" {
			t.Errorf("sold out while filling in: %q, name %q", s, name)
		}
		b.axeCheck(t, "the sold-out answer")
	})
}

// registrationID is the id of the one registration stored.
func registrationID(t *testing.T, e *env) string {
	t.Helper()
	var doc struct {
		ID string `bson:"_id"`
	}
	if err := e.store.Collection(mongodb.Registrations).FindOne(t.Context(), map[string]any{}, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.ID
}

// TestEmbedding: an event whose organiser named its own site may be
// framed there (CSP frame-ancestors, no X-Frame-Options), no other page
// may; a framed form, whose browser keeps no cookie for this site, signs
// up with its own form token and gets no session; a forged token does
// not.
func TestEmbedding(t *testing.T) {
	e := newEnv(t)
	e.kursEvent(t, "kurs", func(b map[string]any) {
		delete(b, "price")
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}}
	})
	e.mustEvent(t, "lukket", nil)
	r := e.do(t, "GET", "/e/kurs?lang=nb", "", nil)
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' https://www.kongsvinger.example.no;") || r.header.Get("X-Frame-Options") != "" {
		t.Errorf("an embeddable form: CSP %q, X-Frame-Options %q", csp, r.header.Get("X-Frame-Options"))
	}
	if r := e.do(t, "GET", "/e/lukket?lang=nb", "", nil); !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || r.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("another organiser's form: %q", r.header.Get("Content-Security-Policy"))
	}
	if r := e.do(t, "PATCH", "/api/v1/events/lukket", adminToken, map[string]any{"organiser": map[string]any{"name": "X", "privacyEmail": "p@example.no",
		"embedOrigins": []string{"https://x.example.no/path"}}}); r.status != 422 {
		t.Errorf("an origin with a path: %d %s", r.status, r.body)
	}
	form := regexp.MustCompile(`name="submission" value="([^"]+)">\s*<input type="hidden" name="_form" value="([^"]+)"`).FindSubmatch(r.body)
	if form == nil {
		t.Fatalf("no form token in the page")
	}
	post := func(token string) *http.Response {
		v := url.Values{"f_name": {"Kari"}, "f_email": {"kari@example.no"}, "lang": {"nb"}, "submission": {string(form[1])}, "_form": {token}}
		req, _ := http.NewRequest("POST", "/e/kurs", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := e.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp
	}
	if resp := post(string(form[2]) + "x"); resp.StatusCode != 403 || e.count(t, mongodb.Registrations) != 0 {
		t.Fatalf("a forged form token: %d", resp.StatusCode)
	}
	resp := post(string(form[2]))
	if resp.StatusCode != 303 || e.count(t, mongodb.Registrations) != 1 {
		t.Fatalf("a framed sign-up: %d", resp.StatusCode)
	}
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "pamelding_session=") {
			t.Errorf("a framed sign-up started a session: %q", c)
		}
	}
	r = e.do(t, "GET", resp.Header.Get("Location"), "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), "Påmeldingen er mottatt") || !strings.Contains(r.header.Get("Content-Security-Policy"), "kongsvinger.example.no") {
		t.Errorf("the framed answer: %d %s", r.status, r.body)
	}
}
