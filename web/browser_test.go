package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
)

// chromium finds Debian's Chromium; the README's test command installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("Chromium is not installed: run `make test` (it installs Debian's chromium) or `apt-get install chromium`")
	return ""
}

// axeSource is axe-core from npm; the README's test command installs it.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../node_modules/axe-core/axe.min.js")
	if err != nil {
		t.Fatalf("axe-core is not installed: run `make test` (it runs npm ci) (%v)", err)
	}
	return string(b)
}

type browserEnv struct {
	*env
	base      string
	ctx       context.Context
	artifacts string
	axe       string
	mu        sync.Mutex
	// outside lists requests the browser tried to send beyond loopback;
	// all are refused.
	outside []string
}

func newBrowser(t *testing.T) *browserEnv {
	t.Helper()
	return newBrowserOn(t, newEnv(t))
}

// newBrowserOn is newBrowser on an env made for the test.
func newBrowserOn(t *testing.T, e *env) *browserEnv {
	t.Helper()
	base := e.listen(t)

	// The profile is removed after Chromium has quit, ignoring what its
	// last helper processes may still be writing.
	profile, err := os.MkdirTemp("", "pmd-chromium")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1000, 1400),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		time.Sleep(100 * time.Millisecond)
		_ = os.RemoveAll(profile)
	})

	b := &browserEnv{env: e, base: base, ctx: ctx, axe: axeSource(t)}
	b.artifacts = os.Getenv("PAMELDING_TEST_ARTIFACTS")
	if b.artifacts == "" {
		b.artifacts = t.TempDir()
	}
	// Every request passes through here: loopback goes on, anything else
	// is refused and remembered (the Stripe redirect among them).
	chromedp.ListenTarget(ctx, func(ev any) {
		if p, ok := ev.(*fetch.EventRequestPaused); ok {
			go func() {
				c := chromedp.FromContext(ctx)
				ectx := cdp.WithExecutor(ctx, c.Target)
				u, _ := url.Parse(p.Request.URL)
				if u != nil && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost") {
					_ = fetch.ContinueRequest(p.RequestID).Do(ectx)
					return
				}
				b.mu.Lock()
				b.outside = append(b.outside, p.Request.URL)
				b.mu.Unlock()
				_ = fetch.FailRequest(p.RequestID, network.ErrorReasonBlockedByClient).Do(ectx)
			}()
		}
	})
	if err := chromedp.Run(ctx, fetch.Enable()); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return b
}

// openLink opens a mailed link as its reader does: the page, then the one
// click that signs the browser in.
func openLink(url string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.Navigate(url),
		chromedp.WaitVisible("#open", chromedp.ByID),
		chromedp.Click("#open", chromedp.ByID),
	}
}

func (b *browserEnv) run(t *testing.T, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(b.ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// shot saves a screenshot of the page as it is and says where.
func (b *browserEnv) shot(t *testing.T, name string) {
	t.Helper()
	var png []byte
	b.run(t, chromedp.FullScreenshot(&png, 100))
	p := filepath.Join(b.artifacts, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// axeCheck runs axe-core in the page: no serious or critical violations.
func (b *browserEnv) axeCheck(t *testing.T, page string) {
	t.Helper()
	var out string
	b.run(t,
		chromedp.Evaluate(b.axe, nil),
		chromedp.Evaluate(`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
			r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" "))}))))`,
			&out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	)
	var violations []map[string]any
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		t.Fatalf("axe on %s: %v (%s)", page, err, out)
	}
	if len(violations) > 0 {
		t.Errorf("axe on %s: %d serious or critical violations: %s", page, len(violations), out)
	}
}

func (b *browserEnv) text(t *testing.T, sel string) string {
	t.Helper()
	var s string
	b.run(t, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

func (b *browserEnv) value(t *testing.T, sel string) string {
	t.Helper()
	var s string
	b.run(t, chromedp.Value(sel, &s, chromedp.ByQuery))
	return s
}

func TestBrowserRegistration(t *testing.T) {
	b := newBrowser(t)
	b.mustEvent(t, "free", func(m map[string]any) {
		delete(m, "price")
		m["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true},
			{"key": "organisation"}, {"key": "dietary"}}
	})

	b.run(t, chromedp.Navigate(b.base+"/e/free?lang=nb"), chromedp.WaitVisible("#f-name", chromedp.ByID))
	b.shot(t, "1-form")
	b.axeCheck(t, "the form")
	if !strings.Contains(b.text(t, "label[for=consent-health]"), "versjon 2026-11-01") {
		t.Error("the health consent does not show the version of its text")
	}
	var checked bool
	b.run(t, chromedp.Evaluate(`document.getElementById("consent-health").checked || document.getElementById("consent-marketing").checked`, &checked))
	if checked {
		t.Error("a consent box is ticked by default")
	}

	t.Run("HealthWithoutConsent", func(t *testing.T) {
		b.run(t,
			chromedp.SendKeys("#f-name", "Kari Nordmann", chromedp.ByID),
			chromedp.SendKeys("#f-email", "kari@example.no", chromedp.ByID),
			chromedp.SendKeys("#f-dietary", "nøtteallergi", chromedp.ByID),
			chromedp.Click("button[type=submit]", chromedp.ByQuery),
			chromedp.WaitVisible("#f-dietary-error", chromedp.ByID),
			chromedp.WaitVisible(`main[data-page="event"]`, chromedp.ByQuery),
		)
		b.shot(t, "2-error")
		if msg := b.text(t, "#f-dietary-error"); !strings.Contains(msg, "samtykket") {
			t.Errorf("error beside the field: %q", msg)
		}
		var name, diet, href string
		b.run(t, chromedp.Value("#f-name", &name, chromedp.ByID), chromedp.Value("#f-dietary", &diet, chromedp.ByID),
			chromedp.AttributeValue("#error-summary a", "href", &href, nil, chromedp.ByQuery))
		if name != "Kari Nordmann" || diet != "nøtteallergi" {
			t.Errorf("input not kept: %q, %q", name, diet)
		}
		if href != "#f-dietary" {
			t.Errorf("the error summary links to %q", href)
		}
		b.axeCheck(t, "the error state")
		if n := b.count(t, mongodb.Registrations); n != 0 {
			t.Errorf("%d registrations stored after an error", n)
		}
	})

	t.Run("Confirmation", func(t *testing.T) {
		b.run(t, chromedp.Click("#consent-health", chromedp.ByID))
		b.shot(t, "3a-ticked")
		b.run(t, chromedp.Click("button[type=submit]", chromedp.ByQuery), chromedp.WaitVisible(`main[data-page="done"]`, chromedp.ByQuery))
		b.shot(t, "3-confirmation")
		if h := b.text(t, "main h1"); h != "Du er påmeldt" {
			t.Fatalf("heading %q", h)
		}
		var doc struct {
			Channel  string `bson:"channel"`
			Consents []struct {
				Purpose, Channel string
				Given            bool
			} `bson:"consents"`
		}
		_ = b.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{}, &doc)
		if doc.Channel != "web" || len(doc.Consents) == 0 || doc.Consents[0].Channel != "web" || !doc.Consents[0].Given {
			t.Errorf("registration %+v", doc)
		}
	})

	t.Run("English", func(t *testing.T) {
		b.run(t, chromedp.Navigate(b.base+"/e/free?lang=en"), chromedp.WaitVisible("#f-name", chromedp.ByID))
		if s := b.text(t, "button[type=submit]"); s != "Register" {
			t.Errorf("button %q", s)
		}
		var lang string
		b.run(t, chromedp.AttributeValue("html", "lang", &lang, nil, chromedp.ByQuery))
		if lang != "en" {
			t.Errorf("html lang %q", lang)
		}
	})
}

func TestBrowserCardPayment(t *testing.T) {
	b := newBrowser(t)
	b.mustEvent(t, "paid", nil)
	b.run(t, chromedp.Navigate(b.base+"/e/paid?lang=nb"), chromedp.WaitVisible("#f-name", chromedp.ByID),
		chromedp.SendKeys("#f-name", "Ola Nordmann", chromedp.ByID),
		chromedp.SendKeys("#f-email", "ola@example.no", chromedp.ByID),
		chromedp.Click("button[type=submit]", chromedp.ByQuery),
	)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		n := len(b.outside)
		b.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.outside) == 0 || !strings.HasPrefix(b.outside[0], "https://checkout.stripe.com/") {
		t.Fatalf("no navigation to Stripe Checkout; requests beyond loopback: %v", b.outside)
	}
	for _, u := range b.outside {
		if !strings.HasPrefix(u, "https://checkout.stripe.com/") {
			t.Errorf("the page tried to reach %s", u)
		}
	}
	t.Logf("redirected to %s (refused: nothing outside loopback is reached)", b.outside[0])
}

func TestBrowserMyData(t *testing.T) {
	b := newBrowser(t)
	b.everyFieldEvent(t, "konf")
	s := b.signupWith(t, "konf", "kari@example.no", nil, false)
	downloads := t.TempDir()

	b.run(t,
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads),
		openLink(b.base+"/m/"+s.ManageToken),
		chromedp.WaitVisible(`main[data-page="me"] #withdraw-health`, chromedp.ByQuery),
	)
	var loc string
	b.run(t, chromedp.Location(&loc))
	if loc != b.base+"/me" || strings.Contains(loc, "pmr_") {
		t.Fatalf("landed on %q, want /me with no token", loc)
	}
	var history int
	b.run(t, chromedp.Evaluate(`history.length`, &history))
	b.shot(t, "4-me")
	b.axeCheck(t, "/me")
	if body := b.text(t, "main"); !strings.Contains(body, "nøtteallergi") || !strings.Contains(body, "uttrykkelig samtykke") {
		t.Errorf("/me lacks the data with its tags")
	}

	t.Run("WithdrawHealth", func(t *testing.T) {
		b.run(t, chromedp.Click("#withdraw-health", chromedp.ByID), chromedp.WaitVisible(`main[data-page="me"] p[role=status]`, chromedp.ByQuery))
		b.shot(t, "5-withdrawn")
		if b.sealedOf(t, s.ID)["dietary"] || b.keysOf(t, s.ID)["dietary"] {
			t.Error("dietary or its key still in the store after withdrawal in the page")
		}
		if strings.Contains(b.text(t, "main"), "nøtteallergi") {
			t.Error("dietary still shown")
		}
	})
	t.Run("Export", func(t *testing.T) {
		b.run(t, chromedp.Click("#export", chromedp.ByID))
		var files []string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && len(files) == 0; time.Sleep(50 * time.Millisecond) {
			files, _ = filepath.Glob(filepath.Join(downloads, "pamelding-*.json"))
		}
		if len(files) != 1 {
			t.Fatalf("no export downloaded into %s", downloads)
		}
		raw, _ := os.ReadFile(files[0])
		var p struct {
			SchemaVersion int
			Fields        map[string]string
		}
		if err := json.Unmarshal(raw, &p); err != nil || p.SchemaVersion != 1 || p.Fields["email"] != "kari@example.no" {
			t.Errorf("export %s: %v", raw, err)
		}
		t.Logf("export: %s", files[0])
	})
	t.Run("Delete", func(t *testing.T) {
		b.run(t, chromedp.Navigate(b.base+"/me"), chromedp.WaitVisible(`main[data-page="me"] #delete`, chromedp.ByQuery),
			chromedp.Click("#delete", chromedp.ByID), chromedp.WaitVisible(`main[data-page="delete"] #confirm-delete`, chromedp.ByQuery))
		b.shot(t, "6-delete-confirm")
		b.axeCheck(t, "the delete confirmation")
		b.run(t, chromedp.Click("#confirm-delete", chromedp.ByID), chromedp.WaitVisible(`main[data-page="deleted"]`, chromedp.ByQuery))
		b.shot(t, "7-deleted")
		if h := b.text(t, "main h1"); h != "Opplysningene dine er slettet." {
			t.Errorf("heading %q", h)
		}
		if len(b.keysOf(t, s.ID)) != 0 || len(b.sealedOf(t, s.ID)) != 0 {
			t.Error("personal data or its keys left after deleting in the page")
		}
		b.run(t, chromedp.Navigate(b.base+"/me?lang=nb"), chromedp.WaitVisible(`main[data-page="expired"]`, chromedp.ByQuery))
		if !strings.Contains(b.text(t, "main"), "ugyldig") {
			t.Error("the session survived the deletion")
		}
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.outside) > 0 {
		t.Errorf("the pages reached beyond loopback: %v", b.outside)
	}
}

// TestBrowserWaitingListOffer: a seat freed up is offered by mail; the
// mail's link opens /me, where the seat is taken.
func TestBrowserWaitingListOffer(t *testing.T) {
	b := newBrowser(t)
	b.mustEvent(t, "small", func(m map[string]any) { m["capacity"] = 1; m["waitlist"] = true; delete(m, "price") })
	first := b.mustSignup(t, "small", person("first@example.no"))
	b.clock.add(time.Second)
	w := b.mustSignup(t, "small", person("w@example.no"))
	b.do(t, "DELETE", "/api/v1/me/registration", first.ManageToken, nil)

	b.run(t, openLink(b.base+"/m/"+w.ManageToken+"?lang=nb"),
		chromedp.WaitVisible(`main[data-page="me"] #accept-offer`, chromedp.ByQuery))
	b.shot(t, "8-offer")
	b.axeCheck(t, "/me with an offer")
	// Words, not message keys or formatting errors.
	if s := b.text(t, "main"); !strings.Contains(s, "En plass er ledig for deg. Den holdes til ") || !strings.Contains(b.text(t, "#accept-offer"), "Ta plassen") ||
		strings.Contains(s, "%!") || strings.Contains(s, "me.offer") {
		t.Errorf("the offer on /me reads %q", s)
	}
	b.run(t, chromedp.Click("#accept-offer", chromedp.ByID), chromedp.WaitVisible(`main[data-page="me"] p[role=status]`, chromedp.ByQuery))
	if d := b.reg(t, w.ID); d.Status != "confirmed" || !d.Seat {
		t.Errorf("after taking the seat: %+v", d)
	}
}

// TestBrowserGuardian: the guardian's mailed link opens their page, which
// shows what the child registered and the consent text; they confirm,
// then withdraw the consents, which erases the dietary value.
func TestBrowserGuardian(t *testing.T) {
	b := newBrowser(t)
	b.minorsEvent(t, "race", 10)
	s := b.mustSignup(t, "race", child("emma@example.no"))
	g := b.guardianToken(t, s.ID)

	b.run(t, openLink(b.base+"/g/"+g+"?lang=nb"),
		chromedp.WaitVisible(`main[data-page="guardian"] #guardian-confirm`, chromedp.ByQuery))
	var loc string
	b.run(t, chromedp.Location(&loc))
	if strings.Contains(loc, "pmg_") {
		t.Errorf("the token stays in the address bar: %s", loc)
	}
	b.shot(t, "9-guardian")
	b.axeCheck(t, "/guardian")
	if body := b.text(t, "main"); !strings.Contains(body, "Emma Nordmann") || !strings.Contains(body, "nøtteallergi") || !strings.Contains(b.text(t, "#guardian-consent-text"), "foresatt") {
		t.Errorf("the guardian's page lacks what was registered or the consent text: %s", body)
	}
	// The guardian's session is not the participant's.
	b.run(t, chromedp.Navigate(b.base+"/me?lang=nb"), chromedp.WaitVisible(`main[data-page="expired"]`, chromedp.ByQuery))

	b.run(t, chromedp.Navigate(b.base+"/guardian"), chromedp.WaitVisible(`#guardian-confirm`, chromedp.ByID),
		chromedp.Click("#guardian-confirm", chromedp.ByID), chromedp.WaitVisible(`main[data-page="guardian"] #guardian-withdraw`, chromedp.ByQuery))
	if d := b.reg(t, s.ID); d.Status != "confirmed" {
		t.Errorf("after confirming: %s", d.Status)
	}
	b.axeCheck(t, "/guardian confirmed")
	b.run(t, chromedp.Click("#guardian-withdraw", chromedp.ByID), chromedp.WaitVisible(`main[data-page="guardian"] p[role=status]`, chromedp.ByQuery))
	b.shot(t, "10-guardian-withdrawn")
	if b.keysOf(t, s.ID)["dietary"] || strings.Contains(b.text(t, "main"), "nøtteallergi") {
		t.Error("the dietary value outlived the guardian's withdrawal")
	}
}

// TestBrowserErasureInvoiced: the erasure page of an invoiced registration
// says what stays and why, until when, in the site's language (finding 9:
// it said the name was deleted while the invoice keeps it, in English on
// the Norwegian site).
func TestBrowserErasureInvoiced(t *testing.T) {
	b := newBrowser(t)
	b.invoiceEvent(t, "seminar")
	var s signup
	b.do(t, "POST", "/api/v1/events/seminar/registrations", "", invoiceBuyer("buyer@example.no")).json(t, &s)
	n := b.reg(t, s.ID).Payment.InvoiceNumber
	if n == 0 {
		t.Fatal("precondition: the invoice is issued")
	}
	b.run(t, openLink(b.base+"/m/"+s.ManageToken+"?lang=nb"), chromedp.WaitVisible(`main[data-page="me"] #delete`, chromedp.ByQuery),
		chromedp.Click("#delete", chromedp.ByID), chromedp.WaitVisible(`main[data-page="delete"] #confirm-delete`, chromedp.ByQuery))
	page := b.text(t, "main")
	for _, want := range []string{"Navn (slettes fra påmeldingen, men står på fakturaen", fmt.Sprintf("Faktura nr. %d", n), "bokføringsloven § 13", "31.12.2031"} {
		if !strings.Contains(page, want) {
			t.Errorf("the erasure page lacks %q:\n%s", want, page)
		}
	}
	b.shot(t, "11-delete-invoiced")
	b.run(t, chromedp.Click("#confirm-delete", chromedp.ByID), chromedp.WaitVisible(`main[data-page="deleted"]`, chromedp.ByQuery))
	done := b.text(t, "main")
	if !strings.Contains(done, fmt.Sprintf("Faktura nr. %d", n)) || strings.Contains(done, "bookkeeping act") || strings.Contains(done, "invoice ") {
		t.Errorf("the receipt page is not in Norwegian or does not say what stays:\n%s", done)
	}
}

// TestBrowserNoLoginCSRF: a link on another site to a mailed link (which a
// browser follows with GET, or loads as an image) must not sign the
// browser into the sender's registration; only the page's own form does.
func TestBrowserNoLoginCSRF(t *testing.T) {
	b := newBrowser(t)
	b.mustEvent(t, "free", func(m map[string]any) { delete(m, "price") })
	attacker := b.mustSignup(t, "free", person("attacker@example.no"))
	if attacker.ManageToken == "" {
		t.Fatal("precondition: a manage token")
	}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>x</title><img src="%[1]s/m/%[2]s"><form id="f" method="post" action="%[1]s/m/%[2]s"></form><a id="go" href="%[1]s/m/%[2]s">win</a>`, b.base, attacker.ManageToken)
	}))
	defer evil.Close()

	var html string
	b.run(t, chromedp.Navigate(evil.URL), chromedp.WaitReady("#go", chromedp.ByID),
		chromedp.Click("#go", chromedp.ByID), chromedp.WaitVisible("#open", chromedp.ByID),
		chromedp.Navigate(b.base+"/me"), chromedp.WaitReady("main", chromedp.ByQuery),
		chromedp.OuterHTML("main", &html, chromedp.ByQuery))
	if strings.Contains(html, `data-page="me"`) && strings.Contains(html, "attacker@example.no") {
		t.Fatal("a cross-site link signed the browser in")
	}
	// A cross-site form post lacks the page's CSRF token: refused.
	b.run(t, chromedp.Navigate(evil.URL), chromedp.WaitReady("#f", chromedp.ByID),
		chromedp.Submit("#f", chromedp.ByID), chromedp.Sleep(300*time.Millisecond),
		chromedp.Navigate(b.base+"/me"), chromedp.WaitReady("main", chromedp.ByQuery),
		chromedp.OuterHTML("main", &html, chromedp.ByQuery))
	if strings.Contains(html, "attacker@example.no") {
		t.Fatal("a cross-site form signed the browser in")
	}
	// The page's own button does (the precondition that the above could
	// have failed).
	b.run(t, openLink(b.base+"/m/"+attacker.ManageToken), chromedp.WaitVisible(`main[data-page="me"]`, chromedp.ByQuery),
		chromedp.OuterHTML("main", &html, chromedp.ByQuery))
	if !strings.Contains(html, "attacker@example.no") {
		t.Fatalf("the link's own button did not sign in: %s", html)
	}
}

// TestBrowserCategoriesAndCode: a participant sees the public categories,
// applies a partner's code, which shows the guest category, chooses it
// and is registered in it.
func TestBrowserCategoriesAndCode(t *testing.T) {
	b := newBrowser(t)
	b.mustEvent(t, "konf", func(m map[string]any) {
		m["categories"] = []map[string]any{
			{"key": "full", "name": map[string]string{"nb": "Full billett", "en": "Full ticket"}, "price": 150000, "vatRate": 25},
			{"key": "dag", "name": map[string]string{"nb": "Dagsbillett", "en": "Day ticket"}, "price": 80000, "vatRate": 25, "capacity": 20},
			{"key": "gjest", "name": map[string]string{"nb": "Partnergjest", "en": "Partner guest"}, "visibility": "code"},
		}
	})
	if r := b.do(t, "POST", "/api/v1/events/konf/codes", adminToken, map[string]any{"code": "ACME-GJEST", "percent": 100, "maxUses": 5, "reserve": true, "categories": []string{"gjest"}}); r.status != 201 {
		t.Fatalf("code: %d %s", r.status, r.body)
	}
	b.run(t, chromedp.Navigate(b.base+"/e/konf?lang=nb"), chromedp.WaitVisible("#category-full", chromedp.ByID))
	b.axeCheck(t, "the form with categories")
	if s := b.text(t, "label[for=category-dag]"); !strings.Contains(s, "Dagsbillett: 800\u00a0kr") || !strings.Contains(s, "20 ledige plasser") {
		t.Errorf("day ticket label %q", s)
	}
	var guests int
	b.run(t, chromedp.Evaluate(`document.querySelectorAll("#category-gjest").length`, &guests))
	if guests != 0 {
		t.Error("the guest category is shown without its code")
	}
	b.run(t,
		chromedp.SendKeys("#code", "acme-gjest", chromedp.ByID),
		chromedp.Click("form.code button", chromedp.ByQuery),
		chromedp.WaitVisible("#category-gjest", chromedp.ByID),
	)
	b.shot(t, "categories-code-applied")
	b.axeCheck(t, "the form with a code applied")
	if s := b.text(t, "p.notice"); !strings.Contains(s, "ACME-GJEST") || !strings.Contains(s, "100 %") {
		t.Errorf("code notice %q", s)
	}
	if s := b.text(t, "label[for=category-gjest]"); !strings.Contains(s, "Gratis (5 ledige plasser)") {
		t.Errorf("guest label %q: the code holds 5 seats", s)
	}
	b.run(t,
		chromedp.Click("#category-gjest", chromedp.ByID),
		chromedp.SendKeys("#f-name", "Gjest Gjestesen", chromedp.ByID),
		chromedp.SendKeys("#f-email", "gjest@example.no", chromedp.ByID),
		chromedp.Click(`form[method=post] button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`main[data-page="done"]`, chromedp.ByQuery),
	)
	var doc struct {
		Category string `bson:"category"`
		Code     string `bson:"code"`
		Status   string `bson:"status"`
	}
	if err := b.store.Collection(mongodb.Registrations).FindOne(context.Background(), bson.M{"event": "konf"}, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Category != "gjest" || doc.Code != "konf/ACME-GJEST" || doc.Status != "confirmed" {
		t.Errorf("registration %+v", doc)
	}
}

// TestBrowserOrder: a municipality's buyer registers two employees in one
// form, each with their own ticket, one with the dinner, the day ticket
// with a code, paid by one invoice; nobody's food allergies are asked of
// the buyer.
func TestBrowserOrder(t *testing.T) {
	b := newBrowser(t)
	b.mustEvent(t, "konf", func(m map[string]any) {
		m["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "organisation"},
			{"key": "invoice_org_number"}, {"key": "invoice_address"}, {"key": "dietary"}}
		m["categories"] = []map[string]any{
			{"key": "full", "name": map[string]string{"nb": "Full billett", "en": "Full ticket"}, "price": 150000, "vatRate": 25},
			{"key": "dag", "name": map[string]string{"nb": "Dagsbillett", "en": "Day ticket"}, "price": 80000, "vatRate": 25},
		}
		m["addons"] = []map[string]any{{"key": "middag", "name": map[string]string{"nb": "Konferansemiddag", "en": "Conference dinner"},
			"price": 60000, "vatRate": 25, "capacity": 10, "categories": []string{"full"}}}
	})
	if r := b.do(t, "POST", "/api/v1/events/konf/codes", adminToken, map[string]any{"code": "KOMMUNE20", "percent": 20, "maxUses": 50, "categories": []string{"dag"}}); r.status != 201 {
		t.Fatalf("code: %d %s", r.status, r.body)
	}
	b.run(t, chromedp.Navigate(b.base+"/e/konf?lang=nb&people=2&code=kommune20"), chromedp.WaitVisible("#p1-category-dag", chromedp.ByID))
	b.axeCheck(t, "the order form for two")
	var dietary int
	b.run(t, chromedp.Evaluate(`document.querySelectorAll("[name$=f_dietary]").length`, &dietary))
	if dietary != 0 {
		t.Error("the order form asks the buyer for participants' food allergies")
	}
	b.run(t,
		chromedp.SendKeys("#b-name", "Guri Innkjøp", chromedp.ByID),
		chromedp.SendKeys("#b-email", "innkjop@kongsvinger.kommune.no", chromedp.ByID),
		chromedp.SendKeys("#b-invoice_org_number", "974760673", chromedp.ByID),
		chromedp.SendKeys("#b-invoice_address", "Rådhuset, 2226 Kongsvinger", chromedp.ByID),
		chromedp.Click("#p0-category-full", chromedp.ByID),
		chromedp.SendKeys("#p0-f-name", "Kari Ansatt", chromedp.ByID),
		chromedp.SendKeys("#p0-f-email", "kari@kongsvinger.kommune.no", chromedp.ByID),
		chromedp.Click("#p0-addon-middag", chromedp.ByID),
		chromedp.Click("#p1-category-dag", chromedp.ByID),
		chromedp.SendKeys("#p1-f-name", "Ola Ansatt", chromedp.ByID),
		chromedp.SendKeys("#p1-f-email", "ola@kongsvinger.kommune.no", chromedp.ByID),
		chromedp.Click("#method-invoice", chromedp.ByID),
	)
	b.shot(t, "order-filled")
	b.run(t,
		chromedp.Click(`form[method=post] button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`main[data-page="order-done"]`, chromedp.ByQuery),
	)
	b.shot(t, "order-done")
	b.axeCheck(t, "the order's confirmation")
	if s := b.text(t, "main"); !strings.Contains(s, "2 deltakere") || !strings.Contains(s, "Kari Ansatt (Full billett)") ||
		!strings.Contains(s, "Faktura 1") || !strings.Contains(s, "2\u00a0740\u00a0kr") {
		t.Errorf("confirmation: %q", s)
	}
	var regs []struct {
		Category string `bson:"category"`
		Code     string `bson:"code"`
		Status   string `bson:"status"`
		Order    string `bson:"order"`
		Addons   []struct {
			Key string `bson:"key"`
		} `bson:"addons"`
	}
	if err := b.store.Collection(mongodb.Registrations).All(context.Background(), bson.M{"event": "konf"}, &regs); err != nil {
		t.Fatal(err)
	}
	if len(regs) != 2 || regs[0].Order == "" || regs[0].Order != regs[1].Order {
		t.Fatalf("registrations %+v", regs)
	}
	for _, r := range regs {
		switch r.Category {
		case "full":
			if len(r.Addons) != 1 || r.Addons[0].Key != "middag" || r.Code != "" || r.Status != "confirmed" {
				t.Errorf("full ticket %+v", r)
			}
		case "dag":
			if len(r.Addons) != 0 || r.Code != "konf/KOMMUNE20" || r.Status != "confirmed" {
				t.Errorf("day ticket %+v", r)
			}
		default:
			t.Errorf("registration %+v", r)
		}
	}
}

// TestBrowserLostLink: from the event page, a participant who lost the
// confirmation asks for the link, in an accessible form, on a phone.
func TestBrowserLostLink(t *testing.T) {
	b := newBrowser(t)
	b.mustEvent(t, "free", func(m map[string]any) { delete(m, "price") })
	b.mustSignup(t, "free", person("kari@example.no"))
	b.run(t, chromedp.EmulateViewport(390, 844), chromedp.Navigate(b.base+"/e/free?lang=nb"), chromedp.WaitVisible("#lost-link", chromedp.ByID),
		chromedp.Click("#lost-link", chromedp.ByID), chromedp.WaitVisible("#link-email", chromedp.ByID))
	b.axeCheck(t, "the lost-link form")
	b.run(t, chromedp.SendKeys("#link-email", "kari@example.no", chromedp.ByID),
		chromedp.Click(`form[method=post] button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`main[data-page="link"] p[role=status]`, chromedp.ByQuery))
	b.shot(t, "lost-link-sent")
	var width int
	b.run(t, chromedp.Evaluate(`document.documentElement.scrollWidth`, &width))
	if s := b.text(t, "main"); !strings.Contains(s, "Er adressen meldt på") || width > 390 {
		t.Errorf("after asking: %q, page %d px wide", s, width)
	}
}

// TestBrowserReflow: at 320 px (WCAG 1.4.10, which uu-forskriften
// requires) no participant page scrolls sideways: the event form, /me
// with its table of what is held, and the privacy notice, whose tables
// become lists.
func TestBrowserReflow(t *testing.T) {
	b := newBrowser(t)
	b.everyFieldEvent(t, "fest")
	s := b.signupWith(t, "fest", "kari.nordmann.med.en.lang.adresse@eksempel-kommune.example.no", nil, false)
	width := func(what string) {
		t.Helper()
		var w int
		b.run(t, chromedp.Evaluate(`document.documentElement.scrollWidth`, &w))
		if w > 320 {
			t.Errorf("%s is %d px wide at 320 px", what, w)
		}
	}
	b.run(t, chromedp.EmulateViewport(320, 640), chromedp.Navigate(b.base+"/e/fest?lang=nb"), chromedp.WaitVisible("#f-name", chromedp.ByID))
	width("the event form")
	b.run(t, openLink(b.base+"/m/"+s.ManageToken+"?lang=nb"), chromedp.WaitVisible(`main[data-page="me"] table`, chromedp.ByQuery))
	b.shot(t, "me-320")
	width("/me")
	var label string
	b.run(t, chromedp.Evaluate(`getComputedStyle(document.querySelector("table.stack td[data-label]"), "::before").content`, &label))
	if !strings.Contains(label, "Formål") {
		t.Errorf("a cell of /me's table is not named by its column on a phone: %q", label)
	}
	// Logging out lands on a page, not a JSON 404.
	b.run(t, chromedp.Click(`form[action="/me/logout"] button`, chromedp.ByQuery), chromedp.WaitVisible(`main[data-page="logged-out"]`, chromedp.ByQuery))
	if s := b.text(t, "main"); !strings.Contains(s, "Du er logget ut") {
		t.Errorf("after logging out: %q", s)
	}
	width("the logged-out page")
	b.run(t, chromedp.Navigate(b.base+"/api/v1/events/fest/privacy-notice?lang=nb&format=html"), chromedp.WaitVisible("table", chromedp.ByQuery))
	b.shot(t, "notice-320")
	width("the privacy notice")
	b.run(t, chromedp.Navigate(b.base+"/e/finnes-ikke?lang=nb"), chromedp.WaitVisible(`main[data-page="error"]`, chromedp.ByQuery))
	b.axeCheck(t, "the 404 page")
	width("the 404 page")
}
