package web

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/session"
	"github.com/gofiber/template/html/v2"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

func viewEngine() *html.Engine {
	sub, _ := fs.Sub(templateFS, "templates")
	e := html.NewFileSystem(http.FS(sub), ".html")
	e.AddFunc("t", t)
	e.AddFunc("dict", dict)
	return e
}

// dict makes a partial template's data of name and value pairs.
func dict(pairs ...any) map[string]any {
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		if k, ok := pairs[i].(string); ok {
			m[k] = pairs[i+1]
		}
	}
	return m
}

// contentSecurityPolicy allows the pages' own stylesheet and nothing else:
// no scripts at all, no inline styles, no third-party anything; forms
// post to this service, which may send the browser on to Stripe.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; " +
	"form-action 'self' https://checkout.stripe.com; frame-ancestors 'none'; base-uri 'none'"

// allowFraming lets the organiser's own sites (events.Organiser.
// EmbedOrigins, each checked as https://host[:port]) show an event's
// sign-up pages in a frame; every other page stays unframeable.
func allowFraming(c *fiber.Ctx, e *events.Event) {
	if len(e.Organiser.EmbedOrigins) == 0 {
		return
	}
	c.Set("Content-Security-Policy", strings.Replace(contentSecurityPolicy, "frame-ancestors 'none'",
		"frame-ancestors 'self' "+strings.Join(e.Organiser.EmbedOrigins, " "), 1))
	c.Response().Header.Del("X-Frame-Options")
}

// cookieless says the post came from a browser that keeps no cookie for
// this site (a framed form, see csrfGuard.handle): it gets no session.
func cookieless(c *fiber.Ctx) bool { v, _ := c.Locals("cookieless").(bool); return v }

// toPayment sends the browser to Stripe's payment page: a redirect, or,
// from a framed form (Stripe's page cannot be framed), a page with a
// link that leaves the frame.
func toPayment(c *fiber.Ctx, lang, url string) error {
	if !cookieless(c) {
		return c.Redirect(url, fiber.StatusSeeOther)
	}
	return render(c, "message", lang, fiber.Map{"Page": "to-payment", "Title": t(lang, "pay.title"),
		"Paragraphs": []string{t(lang, "pay.text")}, "Link": url, "LinkText": t(lang, "me.pay"), "LinkTop": true})
}

// pageHeaders are the security headers of every page.
func pageHeaders(c *fiber.Ctx) error {
	setPageHeaders(c)
	return c.Next()
}

func setPageHeaders(c *fiber.Ctx) {
	c.Set("Content-Security-Policy", contentSecurityPolicy)
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set(fiber.HeaderCacheControl, "no-store")
}

// wantsPage says whether a failed request should be answered with a page
// rather than a problem document: a browser's (it accepts HTML) on an
// address outside the API.
func wantsPage(c *fiber.Ctx) bool {
	if c.Path() == "/admin" || strings.HasPrefix(c.Path(), "/admin/") {
		return true // the back office is pages only
	}
	return !strings.HasPrefix(c.Path(), "/api/") && c.Path() != "/healthz" && c.Path() != "/readyz" && c.Path() != "/metrics" &&
		strings.Contains(c.Get(fiber.HeaderAccept), "text/html")
}

// errorPage answers a browser's failed request with a page in its
// language: what happened and what to do, never a key or a stack.
func errorPage(c *fiber.Ctx, status int, requestID string) error {
	lang := pageLang(c)
	key := "errpage.other"
	switch status {
	case fiber.StatusNotFound, fiber.StatusGone, fiber.StatusTooManyRequests:
		key = "errpage." + strconv.Itoa(status)
	}
	paras := []string{t(lang, key+".text")}
	link, linkText := "/m?lang="+lang, t(lang, "link.lost")
	if c.Path() == "/admin" || strings.HasPrefix(c.Path(), "/admin/") {
		// Staff: no participant's lost link, the way back instead.
		key = "admin.errpage"
		if status == fiber.StatusNotFound {
			key = "admin.errpage.404"
		}
		paras, link, linkText = []string{t(lang, key+".text")}, "/admin?lang="+lang, t(lang, "admin.errpage.back")
	}
	if status >= 500 {
		paras = append(paras, fmt.Sprintf(t(lang, "errpage.ref"), requestID))
	}
	setPageHeaders(c)
	c.Status(status)
	return render(c, "message", lang, fiber.Map{"Page": "error", "Title": t(lang, key), "Paragraphs": paras,
		"Link": link, "LinkText": linkText})
}

// pageState holds the pages' CSRF protection and sessions; both keep their
// state in the store, so any instance can serve any request.
type pageState struct {
	csrf     fiber.Handler
	sessions *session.Store
	store    *stateStore
}

const sessionCookie = "pamelding_session"

func newPageState(d Deps) *pageState {
	st := &stateStore{c: d.App.Store.Collection(mongodb.WebState), now: time.Now}
	secure := strings.HasPrefix(d.Config.PublicURL, "https://")
	ps := &pageState{store: st}
	ps.sessions = session.New(session.Config{
		Storage: st, Expiration: 2 * time.Hour, KeyLookup: "cookie:" + sessionCookie,
		CookieHTTPOnly: true, CookieSameSite: "Strict", CookieSecure: secure, CookieSessionOnly: true,
	})
	g := &csrfGuard{key: d.App.Keys.Derive("pamelding page csrf v1"), secure: secure, deny: func(c *fiber.Ctx) error {
		lang := pageLang(c)
		return render(c.Status(fiber.StatusForbidden), "message", lang, fiber.Map{
			"Title": t(lang, "csrf"), "Paragraphs": []string{},
		})
	}}
	ps.csrf = g.handle
	return ps
}

// render renders a page in the layout with the fields every page has.
func render(c *fiber.Ctx, name, lang string, data fiber.Map) error {
	data["Lang"] = lang
	if _, ok := data["Page"]; !ok {
		data["Page"] = name // tests and styles tell pages apart by it
	}
	if _, ok := data["SwitchURL"]; !ok {
		q := c.Queries()
		q["lang"] = t(lang, "lang.other.code")
		v := url.Values{}
		for k, val := range q {
			v.Set(k, val)
		}
		// One leading slash: "//host/x" would be a link to another site.
		data["SwitchURL"] = "/" + strings.TrimLeft(c.Path(), "/") + "?" + v.Encode()
	}
	if _, ok := data["CSRF"]; !ok {
		data["CSRF"], _ = c.Locals("csrf").(string)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Render(name, data, "layout")
}

// formField is one input of a form.
type formField struct {
	Lang, ID, Name, Label, Why, Who, Type, Autocomplete, Value, Error string
	Required, Multiline                                               bool
	MaxLength                                                         int
	// Choice fields: radios (one) or checkboxes (Multiple), one per
	// option.
	Choice, Multiple bool
	Options          []fiber.Map
}

// withOptions makes a choice field's radios or checkboxes, each ticked if
// its value was sent; the field's id is the first one's, so the error
// summary leads to it.
func (f *formField) withOptions(df events.DeclaredField, lang string) {
	k := df.Validation.Kind
	if k != privacy.KindChoice && k != privacy.KindChoices {
		return
	}
	f.Choice, f.Multiple = true, k == privacy.KindChoices
	picked := strings.Split(f.Value, ",")
	base := f.ID
	for i, o := range df.Validation.Options {
		id := base + "-" + o.Value
		if i == 0 {
			f.ID = id
		}
		f.Options = append(f.Options, fiber.Map{"ID": id, "Value": o.Value, "Label": o.Label.In(lang), "Checked": slices.Contains(picked, o.Value)})
	}
}

// formValue is what the form sent for a field: several values (a choice
// field's checkboxes) joined by commas.
func formValue(c *fiber.Ctx, name string) string {
	vs := c.Request().PostArgs().PeekMulti(name)
	if len(vs) <= 1 {
		return c.FormValue(name)
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return strings.Join(out, ",")
}

var inputType = map[privacy.Kind]string{
	privacy.KindEmail: "email", privacy.KindPhone: "tel", privacy.KindPastDate: "date",
}

var autocomplete = map[string]string{
	"name": "name", "email": "email", "phone": "tel", "organisation": "organization",
	"title": "organization-title", "date_of_birth": "bday",
}

func newFormField(lang string, df events.DeclaredField, value, errCode string) formField {
	label := df.Label.NB
	if lang == "en" {
		label = df.Label.EN
	}
	f := formField{
		Lang: lang, ID: "f-" + df.Key, Name: "f_" + df.Key, Label: label,
		Why: privacy.WhyText(df.Field, lang), Who: privacy.WhoText(df.Field, lang),
		Type: "text", Autocomplete: autocomplete[df.Key], Value: value, Required: df.Required,
		Multiline: df.Validation.Kind == privacy.KindMultiline, MaxLength: df.Validation.MaxLength,
	}
	if ty, ok := inputType[df.Validation.Kind]; ok {
		f.Type = ty
	}
	if df.Validation.Kind == privacy.KindPastDate || df.Validation.Kind == privacy.KindPhone {
		f.MaxLength = 20
	}
	if errCode != "" {
		f.Error = t(lang, "err."+errCode)
	}
	f.withOptions(df, lang)
	return f
}

type pageError struct{ ID, Text string }

func money(p events.Price, lang string) string {
	if p.Amount == 0 {
		return t(lang, "free")
	}
	return p.Text(lang)
}

var oslo = privacy.Oslo

// eventForm renders the event page with its form; in holds what was sent
// (kept on error), errs the problems.
func eventForm(c *fiber.Ctx, e *events.Event, lang string, in map[string]string, ferrs privacy.Errors, general string, methods map[string]bool, code *events.Code) error {
	now := time.Now()
	title := e.Title.In(lang)
	byField := map[string]string{}
	for _, fe := range ferrs {
		byField[fe.Field] = fe.Code
	}
	submission := in["submission"]
	if submission == "" {
		submission = rand.Text()
	}
	data := fiber.Map{
		"Submission": submission,
		"Title":      title, "Slug": e.Slug, "Venue": e.Venue, "Price": money(e.Price, lang),
		"When":      e.StartsAt.In(oslo).Format("02.01.2006 15:04") + "–" + e.EndsAt.In(oslo).Format("15:04"),
		"SeatsLeft": e.SeatsLeft, "SoldOut": e.SeatsLeft <= 0,
		"NoticeURL":   "/api/v1/events/" + e.Slug + "/privacy-notice?lang=" + lang,
		"Description": paragraphs(e.Description.In(lang)),
		"Window":      e.RegistrationOpensAt.In(oslo).Format("02.01.2006 15:04") + "–" + e.RegistrationClosesAt.In(oslo).Format("02.01.2006 15:04"),
		"Organiser":   e.Organiser.Name,
		"TermsURL":    e.TermsURL,
	}
	if g, ok := c.Locals("csrfGuard").(*csrfGuard); ok {
		data["FormToken"] = g.formToken("/e/"+e.Slug, submission)
	}
	allowFraming(c, e)
	if e.Paid() {
		// Cancelled before it, a payment is refunded or an invoice credited.
		data["RefundBy"] = e.RefundDeadline.In(oslo).Format("02.01.2006 15:04")
	}
	switch {
	case e.CancelledAt != nil:
		data["Closed"] = t(lang, "cancelled")
	case !e.RegistrationOpen(now):
		data["Closed"] = t(lang, "closed")
	case e.SeatsLeft <= 0 && !e.Waitlist && general == "":
		// Sold out while someone filled in the form: the form stays,
		// with what they typed and the answer beside it.
		data["Closed"] = t(lang, "soldout")
	default:
		// The language switch posts the form (switchLang): what was
		// typed is shown again in the other language.
		data["SwitchForm"] = "signup"
	}
	var fields, guardianFields []formField
	consentFields := map[privacy.ConsentPurpose][]formField{}
	var errs []pageError
	if general != "" {
		errs = append(errs, pageError{Text: general})
	}
	for _, df := range e.Form() {
		code := byField["fields."+df.Key]
		f := newFormField(lang, df, in["f_"+df.Key], code)
		if code != "" {
			errs = append(errs, pageError{ID: f.ID, Text: f.Label + ": " + f.Error})
		}
		switch {
		case df.LegalBasis.NeedsConsent():
			consentFields[df.ConsentPurpose] = append(consentFields[df.ConsentPurpose], f)
		case df.Category == privacy.Guardian:
			guardianFields = append(guardianFields, f)
		default:
			fields = append(fields, f)
		}
	}
	data["Fields"] = fields
	people := formPeople(in["people"])
	data["People"] = people
	var opts []fiber.Map
	for n := 1; n <= maxFormPeople; n++ {
		opts = append(opts, fiber.Map{"Value": n, "Selected": n == people})
	}
	data["PeopleOptions"] = opts
	if people > 1 {
		errs = orderForm(data, e, lang, people, in, byField, code, errs)
	} else if len(e.Addons) > 0 {
		addons := addonChoice(e, lang, "", in, byField, "")
		for _, a := range addons {
			if a.Error != "" {
				errs = append(errs, pageError{ID: a.ID, Text: a.Label + ": " + a.Error})
			}
		}
		data["Addons"] = addons
	}
	if code != nil {
		data["Code"] = code.Code
		data["CodeText"] = fmt.Sprintf(t(lang, "code.applied"), code.Code, codeOff(code, e, lang))
	} else if in["code"] != "" {
		data["CodeError"] = t(lang, "err.code")
		errs = append(errs, pageError{ID: "code", Text: t(lang, "code.label") + ": " + t(lang, "err.code")})
	}
	data["CodeValue"] = in["code"]
	data["ShowCode"] = len(e.Categories) > 0 || e.Paid()
	if code := byField["code"]; code != "" {
		data["CodeError"] = t(lang, "err.code")
	}
	if len(e.Categories) > 0 {
		cats := categoryChoice(e, lang, now, in["category"], code)
		for _, c := range cats {
			c["Name"], c["ID"] = "category", "category-"+c["Value"].(string)
		}
		data["Categories"], data["CategoryErrorID"] = cats, "category-error"
		if lowest := cheapest(e, now); lowest != nil {
			data["Price"] = t(lang, "price.from") + " " + money(*lowest, lang)
		}
		if code := byField["category"]; code != "" {
			data["CategoryError"] = t(lang, "err."+code)
			errs = append([]pageError{{ID: "category-" + firstCategory(data["Categories"]), Text: t(lang, "category.legend") + ": " + t(lang, "err."+code)}}, errs...)
		}
	}
	consent := func(p privacy.ConsentPurpose) privacy.ConsentText {
		ct, _ := e.ConsentText(p)
		return ct
	}
	text := func(ct privacy.ConsentText) string {
		if lang == "en" {
			return ct.Text.EN
		}
		return ct.Text.NB
	}
	// Each consent the form needs in a fieldset of its own: its fields,
	// then its own text, with an unticked box.
	var consents []fiber.Map
	for _, p := range e.ConsentPurposes() {
		ct := consent(p)
		legend := t(lang, "health.legend")
		switch {
		case p == privacy.ConsentStartList:
			legend = t(lang, "startlist.legend") // no field of its own: name, club, class, bib
		case p != privacy.ConsentHealth:
			legend = consentFields[p][0].Label
		}
		consents = append(consents, fiber.Map{"Purpose": string(p), "Legend": legend, "Fields": consentFields[p],
			"Checked": in["consent_"+string(p)] == "true",
			"Text":    text(ct) + " " + fmt.Sprintf(t(lang, "health.consent"), ct.Version)})
	}
	data["Consents"] = consents
	if len(guardianFields) > 0 {
		g := fiber.Map{"Fields": guardianFields, "Checked": in["consent_guardian"] == "true", "Text": text(consent(privacy.ConsentGuardian))}
		if code := byField["consents.guardian"]; code != "" {
			g["Error"] = t(lang, "err."+code)
			errs = append(errs, pageError{ID: "consent-guardian", Text: t(lang, "guardian.legend") + ": " + t(lang, "err."+code)})
		}
		data["Guardian"] = g
	}
	if len(e.Partners) > 0 {
		var names []string
		for _, p := range e.Partners {
			names = append(names, p.Name)
		}
		data["Partners"] = fmt.Sprintf(t(lang, "partners.text"), strings.Join(names, ", "))
		data["ObjectPartners"] = in["object_partners"] == "true"
	}
	data["MarketingText"] = text(consent(privacy.ConsentMarketing))
	data["Marketing"] = in["consent_marketing"] == "true"
	if e.Paid() {
		var ms []fiber.Map
		for _, m := range []string{registration.Card, registration.Invoice} {
			if methods[m] && (m != registration.Invoice || (e.Asks("invoice_org_number") && e.Asks("invoice_address"))) {
				ms = append(ms, fiber.Map{"Value": m, "Label": t(lang, "payment."+m), "Checked": in["payment_method"] == m || (in["payment_method"] == "" && m == registration.Card)})
			}
		}
		data["Methods"] = ms
		if code := byField["payment.method"]; code != "" {
			data["MethodError"] = t(lang, "err."+code)
			errs = append(errs, pageError{ID: "method-card", Text: t(lang, "payment.legend") + ": " + t(lang, "err."+code)})
		}
		// EHF where an invoice is offered and the buyer's reference asked.
		if slices.ContainsFunc(ms, func(m fiber.Map) bool { return m["Value"] == registration.Invoice }) && e.Asks("invoice_reference") {
			ehf := fiber.Map{"Checked": in["payment_ehf"] == "true"}
			if code := byField["payment.ehf"]; code != "" {
				ehf["Error"] = t(lang, "err."+code)
				errs = append(errs, pageError{ID: "payment-ehf", Text: t(lang, "payment.ehf") + ": " + t(lang, "err."+code)})
			}
			data["EHF"] = ehf
		}
	}
	data["Errors"] = errs
	return render(c, "event", lang, data)
}

// formPayment is the payment a form chose.
func formPayment(in map[string]string) registration.PaymentRequest {
	return registration.PaymentRequest{Method: in["payment_method"], EHF: in["payment_ehf"] == "true"}
}

// categoryChoice is the event's categories on sale to the form: each
// with its price and seats left; one sold out is shown but cannot be
// chosen unless the event has a waiting list.
func categoryChoice(e *events.Event, lang string, now time.Time, chosen string, code *events.Code) []fiber.Map {
	var out []fiber.Map
	var unlocked []string
	if code != nil {
		unlocked = code.Categories
	}
	for _, pc := range e.Shown(unlocked) {
		if code != nil && code.Reserve && code.For(pc.Key) {
			// The code's holders take the seats it holds.
			pc.SeatsLeft = code.MaxUses - code.Used
			pc.SoldOut = pc.SeatsLeft <= 0
		}
		if e.OnSale(pc.Key, now, unlocked) != nil {
			continue
		}
		label := pc.Name.In(lang) + ": " + money(events.Price{Amount: pc.Price, Currency: e.Price.Currency}, lang)
		switch {
		case pc.SoldOut && e.Waitlist:
			label += " (" + t(lang, "category.waitlist") + ")"
		case pc.SoldOut:
			label += " (" + t(lang, "soldout") + ")"
		default:
			label += fmt.Sprintf(" (%d %s)", pc.SeatsLeft, t(lang, "seats.left"))
		}
		if pc.SaleUntil != nil {
			label += ", " + fmt.Sprintf(t(lang, "category.until"), pc.SaleUntil.In(oslo).Format("02.01.2006 15:04"))
		}
		out = append(out, fiber.Map{"Value": pc.Key, "Label": label, "Checked": chosen == pc.Key, "Disabled": pc.SoldOut && !e.Waitlist})
	}
	return out
}

// codeOff says what a code takes off: "20 %" or "200,00 NOK".
func codeOff(c *events.Code, e *events.Event, lang string) string {
	if c.Percent > 0 {
		return fmt.Sprintf("%d %%", c.Percent)
	}
	return money(events.Price{Amount: c.Amount, Currency: e.Price.Currency}, lang)
}

// pageCode is the code a page was given (in the query or the form), if it
// is valid now.
func pageCode(c *fiber.Ctx, s *events.Service, slug, code string) (*events.Code, error) {
	if code == "" {
		return nil, nil
	}
	ec, err := s.ValidCode(c.UserContext(), slug, code, time.Now())
	if errors.Is(err, events.ErrCodeInvalid) {
		return nil, nil
	}
	return ec, err
}

// cheapest is the lowest price of the categories on public sale now.
func cheapest(e *events.Event, now time.Time) *events.Price {
	var low *events.Price
	for _, pc := range e.Shown(nil) {
		if e.OnSale(pc.Key, now, nil) == nil && (low == nil || pc.Price < low.Amount) {
			low = &events.Price{Amount: pc.Price, Currency: e.Price.Currency}
		}
	}
	return low
}

func firstCategory(v any) string {
	if cs, ok := v.([]fiber.Map); ok && len(cs) > 0 {
		return cs[0]["Value"].(string)
	}
	return ""
}

func handleEventPage(ev *events.Service, methods func() map[string]bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		e, err := ev.Get(c.UserContext(), c.Params("slug"))
		if err != nil {
			return pageError404(c, err)
		}
		in := map[string]string{"code": strings.TrimSpace(c.Query("code")), "people": c.Query("people")}
		if len(in["code"]) > 64 {
			in["code"] = ""
		}
		code, err := pageCode(c, ev, e.Slug, in["code"])
		if err != nil {
			return err
		}
		return eventForm(c, e, pageLang(c), in, nil, "", methods(), code)
	}
}

// switchLang reads the language switch of a posted form: the form is
// shown again in that language, with what was typed, and nothing is
// registered.
func switchLang(c *fiber.Ctx) (string, bool) {
	switch to := c.FormValue("switch_lang"); to {
	case "nb", "en":
		return to, true
	}
	return "", false
}

func pageError404(c *fiber.Ctx, err error) error {
	if errors.Is(err, events.ErrNotFound) {
		return errorPage(c, fiber.StatusNotFound, requestID(c))
	}
	return err
}

// handleEventSubmit registers from the form. Errors come back beside their
// fields with what was typed kept; a card payment goes on to Stripe.
func handleEventSubmit(a *app.App, ps *pageState, methods func() map[string]bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		e, err := a.Events.Get(c.UserContext(), c.Params("slug"))
		if err != nil {
			return pageError404(c, err)
		}
		in := map[string]string{}
		req := registration.SignupRequest{Fields: map[string]string{}, Lang: lang}
		for _, ff := range e.Fields {
			v := formValue(c, "f_"+ff.Key)
			in["f_"+ff.Key] = v
			req.Fields[ff.Key] = v
		}
		for _, k := range []string{"object_partners", "payment_method", "payment_ehf", "submission", "category", "code", "people"} {
			in[k] = c.FormValue(k)
		}
		if n := formPeople(in["people"]); n > 1 {
			return submitOrder(c, a, e, lang, n, in, methods)
		}
		req.Addons = readAddons(c, e, "", in)
		if len(in["submission"]) <= 64 {
			// The form's one-time field: a second post of the same form (a
			// double click, a reload) finds the registration the first made.
			req.SubmissionKey = in["submission"]
		}
		req.Consents = registration.ConsentsRequest{}
		for _, p := range append(e.ConsentPurposes(), privacy.ConsentMarketing, privacy.ConsentGuardian) {
			k := "consent_" + string(p)
			in[k] = c.FormValue(k)
			if in[k] == "true" {
				req.Consents[p] = true
			}
		}
		req.Objections.PartnerSharing = in["object_partners"] == "true"
		req.Category, req.Code = in["category"], in["code"]
		code, err := pageCode(c, a.Events, e.Slug, in["code"])
		if err != nil {
			return err
		}
		if e.Paid() {
			req.Payment = formPayment(in)
		}
		if to, ok := switchLang(c); ok {
			return eventForm(c, e, to, in, nil, "", methods(), code)
		}
		res, err := a.Signups.Signup(c.UserContext(), e.Slug, req, registration.Web)
		if err != nil {
			return formRefused(c, a, e, lang, in, err, methods(), code)
		}
		if res.CheckoutURL != "" {
			return toPayment(c, lang, res.CheckoutURL)
		}
		if !cookieless(c) {
			if err := ps.login(c, sessionParticipant, res.ID, 0); err != nil {
				return err
			}
		}
		// Post/redirect/get: reloading the answer shows it again rather
		// than posting the form a second time.
		return c.Redirect("/e/"+e.Slug+"/done?lang="+lang, fiber.StatusSeeOther)
	}
}

// handleDonePage is the answer to a sign-up: the status and what is due
// of the registration the session holds. Without one (a framed form
// whose browser keeps no cookie for this site, or a session that ended)
// it says what was done, from the mail.
func handleDonePage(a *app.App, ps *pageState) fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		reg, err := ps.current(c, a, sessionParticipant)
		if err != nil {
			return err
		}
		if e, err := a.Events.Get(c.UserContext(), c.Params("slug")); err == nil {
			allowFraming(c, e)
		}
		if reg == nil || reg.Event != c.Params("slug") {
			return render(c, "message", lang, fiber.Map{"Page": "done", "Title": t(lang, "done.received"), "Paragraphs": []string{t(lang, "done.mail")}})
		}
		title, paras := t(lang, "done.title"), []string{t(lang, "done.status") + ": " + registration.StatusText(lang, reg.Status)}
		if pay := registration.PaymentText(reg.Payment, lang); pay != "" && reg.Status != registration.Waitlisted {
			paras = append(paras, pay)
		}
		paras = append(paras, t(lang, "done.mail"))
		switch reg.Status {
		case registration.Waitlisted:
			title = t(lang, "done.waitlist")
		case registration.PendingGuardian:
			title = t(lang, "done.guardian")
			paras = append(paras, t(lang, "done.guardian.text"))
		case registration.Cancelled, registration.Expired:
			title = registration.StatusText(lang, reg.Status)
		}
		return render(c, "message", lang, fiber.Map{
			"Page":       "done",
			"Title":      title,
			"Paragraphs": paras,
			"Link":       "/me?lang=" + lang, "LinkText": t(lang, "done.me"),
		})
	}
}

func handlePaidPage() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		return render(c, "message", lang, fiber.Map{"Title": t(lang, "paid.title"), "Paragraphs": []string{t(lang, "paid.text")}})
	}
}

// login starts a fresh session for a registration (a new session id, so a
// planted one is worthless).
// Session roles: a page session acts for the participant or for a
// minor's guardian, never both.
const (
	sessionParticipant = "registration"
	sessionGuardian    = "guardian"
)

func (ps *pageState) login(c *fiber.Ctx, role, regID string, generation int) error {
	sess, err := freshSession(ps.sessions, c)
	if err != nil {
		return err
	}
	sess.Delete(sessionParticipant)
	sess.Delete(sessionGuardian)
	sess.Set(role, regID)
	sess.Set(role+".generation", generation)
	return sess.Save()
}

// freshSession is the request's session under a new id, for a sign-in:
// an existing session (perhaps planted) gets a new id; a fresh one has
// one already, and its old id was never stored.
func freshSession(store *session.Store, c *fiber.Ctx) (*session.Session, error) {
	sess, err := store.Get(c)
	if err != nil {
		return nil, err
	}
	if !sess.Fresh() {
		if err := sess.Regenerate(); err != nil {
			return nil, err
		}
	}
	return sess, nil
}

// handleManageLink exchanges the e-mailed manage link for a session and
// sends the browser on to /me. The token is in this one request's path
// only: logs name the route, not the path; Referrer-Policy is no-referrer;
// the page that carries it replaces itself at once (a same-site
// navigation, so the SameSite=Strict session cookie goes along).
func handleManageLink(a *app.App, ps *pageState) fiber.Handler {
	return openLink(ps, a.Registrations.ByToken, sessionParticipant, "me.title", "/me")
}

// openLink is the page a mailed link opens: it checks the link, then asks
// for one click, a POST with the page's CSRF token, before it signs the
// browser in. A cross-site link or image can make a browser GET the link,
// never POST the form, so it cannot sign anyone into the sender's
// registration (login CSRF).
func openLink(ps *pageState, lookup func(context.Context, string) (*registration.Registration, error), role, title, next string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		reg, err := lookup(c.UserContext(), c.Params("token"))
		if err != nil {
			if errors.Is(err, registration.ErrInvalidManageToken) {
				return render(c.Status(fiber.StatusNotFound), "message", lang, fiber.Map{"Title": t(lang, title), "Paragraphs": []string{t(lang, "me.expired")}, "SwitchURL": ""})
			}
			return err
		}
		if c.Method() != fiber.MethodPost {
			c.Set(fiber.HeaderCacheControl, "no-store")
			return render(c, "confirm", reg.Lang, fiber.Map{
				"Title": t(reg.Lang, title), "Text": t(reg.Lang, "open.text"), "SwitchURL": "",
				"Action": c.Path(), "Button": t(reg.Lang, "open.button"), "ButtonID": "open",
			})
		}
		if err := ps.login(c, role, reg.ID, reg.LinkGeneration); err != nil {
			return err
		}
		return c.Redirect(next, fiber.StatusSeeOther)
	}
}

// current is the registration the page session acts for in the role, or
// nil.
func (ps *pageState) current(c *fiber.Ctx, a *app.App, role string) (*registration.Registration, error) {
	sess, err := ps.sessions.Get(c)
	if err != nil {
		return nil, err
	}
	id, _ := sess.Get(role).(string)
	if id == "" {
		return nil, nil
	}
	reg, err := a.Registrations.Get(c.UserContext(), id)
	if err != nil && !errors.Is(err, registration.ErrNotFound) {
		return nil, err
	}
	// The session ends with what opened it: the registration erased, its
	// links replaced by new ones, or expired with its data.
	gen, _ := sess.Get(role + ".generation").(int)
	until, dated := time.Time{}, false
	if reg != nil {
		until, dated = reg.ManageableUntil()
	}
	if reg == nil || reg.ErasedAt != nil || (role == sessionParticipant && (gen != reg.LinkGeneration || dated && !a.Now().Before(until))) {
		_ = sess.Destroy()
		return nil, nil
	}
	return reg, nil
}

// withParticipant runs a /me page for the session's registration, or says
// the link expired.
func withParticipant(a *app.App, ps *pageState, h func(c *fiber.Ctx, reg *registration.Registration, lang string) error) fiber.Handler {
	return withSession(a, ps, sessionParticipant, "me.title", "me.expired", h)
}

// withSession runs a page for the registration the session acts for in
// the role, in the registration's language unless the request names one;
// without one it answers 401 with the expired page (title and text keys).
func withSession(a *app.App, ps *pageState, role, title, expired string, h func(c *fiber.Ctx, reg *registration.Registration, lang string) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		reg, err := ps.current(c, a, role)
		if err != nil {
			return err
		}
		if reg == nil {
			return render(c.Status(fiber.StatusUnauthorized), "message", lang, fiber.Map{"Page": "expired", "Title": t(lang, title), "Paragraphs": []string{t(lang, expired)}})
		}
		if c.Query("lang") == "" && c.FormValue("lang") == "" {
			lang = reg.Lang
		}
		return h(c, reg, lang)
	}
}

func mePage(c *fiber.Ctx, a *app.App, reg *registration.Registration, lang, flash string, ferrs privacy.Errors, in map[string]string) error {
	rep, err := a.Rights.AccessReport(c.UserContext(), reg)
	if err != nil {
		return err
	}
	ev, err := a.Events.Get(c.UserContext(), reg.Event)
	if err != nil {
		return err
	}
	rows, values := reportRows(rep, lang)
	consents := consentRows(ev, reg, lang, true)
	byField := map[string]string{}
	var errs []pageError
	for _, fe := range ferrs {
		byField[fe.Field] = fe.Code
	}
	var fields []formField
	for _, df := range ev.Form() {
		if df.LegalBasis.NeedsConsent() {
			continue
		}
		v := values[df.Key]
		if in != nil {
			v = in["f_"+df.Key]
		}
		f := newFormField(lang, df, v, byField["fields."+df.Key])
		if f.Error != "" {
			errs = append(errs, pageError{ID: f.ID, Text: f.Label + ": " + f.Error})
		}
		fields = append(fields, f)
	}
	title := ev.Title.In(lang)
	offer, payURL := "", ""
	if reg.Status == registration.Offered && reg.OfferExpiresAt != nil {
		offer = fmt.Sprintf(t(lang, "me.offer"), reg.OfferExpiresAt.In(oslo).Format("02.01.2006 15:04"))
	}
	if p := reg.Payment; reg.Status == registration.PendingPayment && p != nil && p.CheckoutURL != "" &&
		p.SessionExpiresAt != nil && time.Now().Before(*p.SessionExpiresAt) {
		payURL = p.CheckoutURL
	}
	pending := ""
	if rep.PendingEmail != "" && rep.EmailChange != nil {
		pending = fmt.Sprintf(t(lang, "email.pending"), rep.PendingEmail, rep.EmailChange.Until.In(oslo).Format("02.01.2006 15:04"))
	}
	return render(c, "me", lang, fiber.Map{
		"Offer": offer, "PayURL": payURL, "Pending": pending,
		"Title": t(lang, "me.title"), "Report": rep, "Rows": rows, "Consents": consents, "Fields": fields, "Errors": errs,
		"EventTitle": title, "Status": registration.StatusText(lang, reg.Status), "Flash": flash,
		"Source":    fmt.Sprintf(t(lang, "me.source.text"), reg.CreatedAt.In(oslo).Format("02.01.2006"), t(lang, "channel."+string(reg.Channel))),
		"CanCancel": reg.Status.Live(),
		"Ticket":    ticketOf(a, reg),
	})
}

// reportRows are an access report's values as the table of a page shows
// them, and the values by key.
func reportRows(rep *registration.AccessReport, lang string) ([]fiber.Map, map[string]string) {
	var rows []fiber.Map
	values := map[string]string{}
	for _, f := range rep.Fields {
		values[f.Key] = f.Value
		label := f.Label.NB
		if lang == "en" {
			label = f.Label.EN
		}
		deleted := privacy.RetentionText(f.Retention, lang)
		if f.DeleteAt != nil {
			deleted = f.DeleteAt.In(oslo).Format("02.01.2006") + " (" + deleted + ")"
		}
		rows = append(rows, fiber.Map{"Label": label, "Value": f.Value, "Purposes": privacy.PurposesText(f.Field, lang),
			"Recipients": privacy.WhoText(f.Field, lang), "Deleted": deleted})
	}
	return rows, values
}

// consentRows are the consents asked at sign-up, each purpose once, as it
// stands; withdrawable says the page offers to withdraw those given (the
// guardian's own consent is withdrawn on the guardian's page).
func consentRows(ev *events.Event, reg *registration.Registration, lang string, withdrawable bool) []fiber.Map {
	var out []fiber.Map
	seen := map[privacy.ConsentPurpose]bool{}
	for _, rec := range reg.Consents {
		p := rec.Purpose
		if seen[p] {
			continue
		}
		seen[p] = true
		c, _ := reg.Consent(p)
		state := t(lang, "me.refused")
		if c.WithdrawnAt != nil {
			state = t(lang, "me.withdrawn")
		} else if c.Given {
			state = t(lang, "me.given")
		}
		out = append(out, fiber.Map{"Key": string(p), "Purpose": consentLabel(ev, p, lang), "State": state,
			"At": c.At.In(oslo).Format("02.01.2006 15:04"), "Version": c.TextVersion,
			"CanWithdraw": withdrawable && reg.ConsentState[p] && p != privacy.ConsentGuardian})
	}
	return out
}

// consentLabel names a consent purpose: a built-in one by its words, a
// custom field's by the field's label.
func consentLabel(ev *events.Event, p privacy.ConsentPurpose, lang string) string {
	if m, ok := msgs[lang]["consent."+string(p)]; ok {
		return m
	}
	for _, df := range ev.Form() {
		if df.ConsentPurpose == p {
			if lang == "en" {
				return df.Label.EN
			}
			return df.Label.NB
		}
	}
	return string(p)
}

func handleMePage(a *app.App, ps *pageState) fiber.Handler {
	return withParticipant(a, ps, func(c *fiber.Ctx, reg *registration.Registration, lang string) error {
		flash := ""
		switch m := c.Query("m"); m {
		case "saved":
			flash = t(lang, "me.saved")
		case "cancel.done", "newlink.sent":
			flash = t(lang, m)
		}
		return mePage(c, a, reg, lang, flash, nil, nil)
	})
}

func backToMe(c *fiber.Ctx, lang, msg string) error {
	return c.Redirect("/me?lang="+lang+"&m="+msg, fiber.StatusSeeOther)
}

func handleMeFields(a *app.App, ps *pageState) fiber.Handler {
	return withParticipant(a, ps, func(c *fiber.Ctx, reg *registration.Registration, lang string) error {
		ev, err := a.Events.Get(c.UserContext(), reg.Event)
		if err != nil {
			return err
		}
		req := registration.RectifyRequest{Fields: map[string]string{}}
		in := map[string]string{}
		for _, df := range ev.Form() {
			if df.LegalBasis.NeedsConsent() {
				continue
			}
			v := c.FormValue("f_" + df.Key)
			in["f_"+df.Key] = v
			req.Fields[df.Key] = v
		}
		_, err = a.Rights.Rectify(c.UserContext(), reg, req)
		var ferrs privacy.Errors
		switch {
		case errors.As(err, &ferrs):
			return mePage(c.Status(fiber.StatusUnprocessableEntity), a, reg, lang, "", ferrs, in)
		case err != nil:
			return err
		}
		return backToMe(c, lang, "saved")
	})
}

func handleMeWithdraw(a *app.App, ps *pageState) fiber.Handler {
	return withParticipant(a, ps, func(c *fiber.Ctx, reg *registration.Registration, lang string) error {
		if _, err := a.Rights.WithdrawConsent(c.UserContext(), reg, privacy.ConsentPurpose(c.Params("purpose"))); err != nil {
			return err
		}
		return backToMe(c, lang, "saved")
	})
}

func handleMeAcceptOffer(a *app.App, ps *pageState) fiber.Handler {
	return withParticipant(a, ps, func(c *fiber.Ctx, reg *registration.Registration, lang string) error {
		res, err := a.Signups.AcceptOffer(c.UserContext(), reg)
		if err != nil && !errors.Is(err, registration.ErrNoOffer) {
			return err
		}
		if res != nil && res.CheckoutURL != "" {
			return c.Redirect(res.CheckoutURL, fiber.StatusSeeOther)
		}
		return backToMe(c, lang, "saved")
	})
}

func handleMeObject(a *app.App, ps *pageState) fiber.Handler {
	return withParticipant(a, ps, func(c *fiber.Ctx, reg *registration.Registration, lang string) error {
		v := c.FormValue("partner_sharing") == "true"
		if _, err := a.Rights.Object(c.UserContext(), reg, registration.ObjectionsRequest{PartnerSharing: &v}); err != nil {
			return err
		}
		return backToMe(c, lang, "saved")
	})
}

func handleMeRestrict(a *app.App, ps *pageState) fiber.Handler {
	return withParticipant(a, ps, func(c *fiber.Ctx, reg *registration.Registration, lang string) error {
		if _, err := a.Rights.Restrict(c.UserContext(), reg, c.FormValue("restricted") == "true"); err != nil {
			return err
		}
		return backToMe(c, lang, "saved")
	})
}

// handleMeNewLink revokes every link to the registration and mails a new
// one; sessions opened with the old links end, this browser's goes on.
func handleMeNewLink(a *app.App, ps *pageState) fiber.Handler {
	return withParticipant(a, ps, func(c *fiber.Ctx, reg *registration.Registration, lang string) error {
		if _, err := a.Rights.RotateManageToken(c.UserContext(), reg); err != nil {
			return err
		}
		// Every other session ends with the old links; this one goes on.
		if err := ps.login(c, sessionParticipant, reg.ID, reg.LinkGeneration+1); err != nil {
			return err
		}
		return backToMe(c, lang, "newlink.sent")
	})
}

func handleMeExportFile(a *app.App, ps *pageState) fiber.Handler {
	return withParticipant(a, ps, func(c *fiber.Ctx, reg *registration.Registration, _ string) error {
		return sendExport(c, a.Rights, reg)
	})
}

// handleMeCancelPage asks before it cancels: the page says what becomes
// of the seat and the money (refunded, credited, or kept after the
// deadline), and only its own form, with confirm=yes, cancels.
func handleMeCancelPage(a *app.App, ps *pageState) fiber.Handler {
	return withParticipant(a, ps, func(c *fiber.Ctx, reg *registration.Registration, lang string) error {
		if c.Method() != fiber.MethodPost || c.FormValue("confirm") != "yes" {
			if !reg.Status.Live() {
				return backToMe(c, lang, "cancel.done")
			}
			money, err := a.Signups.CancelPreview(c.UserContext(), reg, lang)
			if err != nil {
				return err
			}
			return render(c, "confirm", lang, fiber.Map{"Page": "cancel", "Title": t(lang, "cancel.title"), "Text": money,
				"More": []string{t(lang, "cancel.final")}, "Action": "/me/cancel", "Confirm": true,
				"Button": t(lang, "cancel.button"), "ButtonID": "confirm-cancel", "Back": "/me?lang=" + lang, "BackText": t(lang, "cancel.back")})
		}
		if _, err := a.Cancel(c.UserContext(), reg); err != nil && !errors.Is(err, registration.ErrNotCancellable) {
			return err
		}
		return backToMe(c, lang, "cancel.done")
	})
}

// handleMeDeletePage says what deleting will remove and what must be kept
// for bookkeeping, why and until when, before anything is deleted.
func handleMeDeletePage(a *app.App, ps *pageState) fiber.Handler {
	return withParticipant(a, ps, func(c *fiber.Ctx, reg *registration.Registration, lang string) error {
		plan, err := a.Rights.ErasurePlan(c.UserContext(), reg)
		if err != nil {
			return err
		}
		ev, err := a.Events.Get(c.UserContext(), reg.Event)
		if err != nil {
			return err
		}
		invoiced := slices.ContainsFunc(plan.Kept, func(k registration.Kept) bool { return k.Code == registration.KeptInvoice })
		var removed []string
		for _, key := range plan.Removed {
			f, ok := ev.Field(key)
			if !ok {
				continue // an address change waiting: not a field
			}
			label := f.Label.NB
			if lang == "en" {
				label = f.Label.EN
			}
			if invoiced && (key == "name" || key == "organisation") {
				// Deleted here, but the invoice names the buyer.
				label += " " + t(lang, "delete.oninvoice")
			}
			removed = append(removed, label)
		}
		return render(c, "delete", lang, fiber.Map{"Title": t(lang, "delete.title"), "Removed": removed, "Kept": keptTexts(plan, lang)})
	})
}

// keptTexts says, in the page's language, what erasure keeps, why and
// until when.
func keptTexts(rec *registration.ErasureReceipt, lang string) []string {
	var out []string
	for _, k := range rec.Kept {
		until := ""
		if k.Until != nil {
			until = k.Until.In(oslo).Format("02.01.2006")
		}
		switch k.Code {
		case registration.KeptInvoiceFields:
			out = append(out, fmt.Sprintf(t(lang, "delete.kept.fields"), until))
		case registration.KeptPaymentRecord:
			out = append(out, fmt.Sprintf(t(lang, "delete.kept.payment"), until))
		case registration.KeptInvoice:
			out = append(out, fmt.Sprintf(t(lang, "delete.kept.invoice"), k.Invoice, until))
		default:
			out = append(out, t(lang, "delete.kept.none"))
		}
	}
	return out
}

func handleMeDelete(a *app.App, ps *pageState) fiber.Handler {
	return withParticipant(a, ps, func(c *fiber.Ctx, reg *registration.Registration, lang string) error {
		rec, err := a.Erase(c.UserContext(), reg)
		if err != nil {
			return err
		}
		if sess, err := ps.sessions.Get(c); err == nil {
			_ = sess.Destroy()
		}
		return render(c, "message", lang, fiber.Map{"Page": "deleted", "Title": t(lang, "delete.done"), "Paragraphs": keptTexts(rec, lang)})
	})
}

func handleMeLogout(ps *pageState) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if sess, err := ps.sessions.Get(c); err == nil {
			_ = sess.Destroy()
		}
		lang := pageLang(c)
		return render(c, "message", lang, fiber.Map{"Page": "logged-out", "Title": t(lang, "logout.title"),
			"Paragraphs": []string{t(lang, "logout.text")}})
	}
}

func assetsHandler() fiber.Handler {
	sub, _ := fs.Sub(assetFS, "assets")
	return filesystem.New(filesystem.Config{Root: http.FS(sub), MaxAge: 3600})
}

var blankLine = regexp.MustCompile(`\n\s*\n`)

// paragraphs splits plain text into paragraphs (by blank lines) of words
// and links (events.Linked).
func paragraphs(text string) [][]events.TextPart {
	var out [][]events.TextPart
	for _, para := range blankLine.Split(strings.TrimSpace(text), -1) {
		if strings.TrimSpace(para) != "" {
			out = append(out, events.Linked(para))
		}
	}
	return out
}
