package web

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// The form registers one participant (a sign-up) or, with ?people=N, up
// to maxFormPeople in one order: the buyer's own fields, then for each
// participant a ticket, the add-ons and the fields a buyer may give for
// them. What needs a participant's consent is not asked here: each
// participant gets their own link by mail and gives it there.
const maxFormPeople = 10

// formPeople reads the number of participants a form is for.
func formPeople(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	return min(n, maxFormPeople)
}

// addonForm is one add-on's choice on the form.
type addonForm struct {
	Lang, ID, Name, Label, OptID, OptName, OptLabel, Error string
	Checked                                                bool
	Options                                                []fiber.Map
}

// addonChoice lists the add-ons a participant can pick (names prefixed
// for an order's participant), with what was picked kept.
func addonChoice(e *events.Event, lang, prefix string, in map[string]string, byField map[string]string, path string) []addonForm {
	var out []addonForm
	for i, a := range e.Addons {
		id := strings.ReplaceAll(prefix, "_", "-") + "addon-" + a.Key
		label := a.Name.In(lang) + ": " + money(events.Price{Amount: a.Price, Currency: e.Price.Currency}, lang)
		if left := e.AddonsLeft(a.Key); left == 0 {
			label += " (" + t(lang, "soldout") + ")"
		} else if left > 0 {
			label += fmt.Sprintf(" (%d %s)", left, t(lang, "addons.left"))
		}
		f := addonForm{Lang: lang, ID: id, Name: prefix + "addon_" + a.Key, Label: label, Checked: in[prefix+"addon_"+a.Key] == "true"}
		if len(a.Options) > 0 {
			f.OptID, f.OptName, f.OptLabel = id+"-option", prefix+"addonopt_"+a.Key, fmt.Sprintf(t(lang, "addons.option"), a.Name.In(lang))
			for _, o := range a.Options {
				f.Options = append(f.Options, fiber.Map{"Value": o, "Selected": in[prefix+"addonopt_"+a.Key] == o})
			}
		}
		for _, k := range []string{".key", ".option"} {
			if code := byField[path+"addons["+strconv.Itoa(i)+"]"+k]; code != "" {
				f.Error = t(lang, "err."+code)
			}
		}
		out = append(out, f)
	}
	return out
}

// readAddons reads the add-ons picked on the form.
func readAddons(c *fiber.Ctx, e *events.Event, prefix string, in map[string]string) []registration.AddonChoice {
	var out []registration.AddonChoice
	for _, a := range e.Addons {
		k := prefix + "addon_" + a.Key
		in[k], in[prefix+"addonopt_"+a.Key] = c.FormValue(k), c.FormValue(prefix+"addonopt_"+a.Key)
		if in[k] == "true" {
			out = append(out, registration.AddonChoice{Key: a.Key, Option: in[prefix+"addonopt_"+a.Key]})
		}
	}
	return out
}

// buyerGives says whether a field of the form is the buyer's to give for
// a participant of an order: not one under consent, nor the guardian's,
// nor the invoice's (the buyer's own).
func buyerGives(df events.DeclaredField) bool {
	return !df.LegalBasis.NeedsConsent() && df.Category != privacy.Guardian && !strings.HasPrefix(df.Key, "invoice_")
}

// orderForm fills the form's data for an order of n participants: the
// buyer's fields and a fieldset per participant, each with its faults.
func orderForm(data fiber.Map, e *events.Event, lang string, n int, in map[string]string, byField map[string]string, code *events.Code, errs []pageError) []pageError {
	now := time.Now()
	var buyer []formField
	for _, df := range e.Form() {
		if !slices.Contains(registration.BuyerFields, df.Key) {
			continue
		}
		f := newFormField(lang, df, in["b_"+df.Key], byField["buyer."+df.Key])
		f.ID, f.Name = "b-"+df.Key, "b_"+df.Key
		f.Required = df.Key == "name" || df.Key == "email"
		if f.Error != "" {
			errs = append(errs, pageError{ID: f.ID, Text: t(lang, "buyer.legend") + ", " + f.Label + ": " + f.Error})
		}
		buyer = append(buyer, f)
	}
	var people []fiber.Map
	for i := range n {
		prefix, path := "p"+strconv.Itoa(i)+"_", "participants["+strconv.Itoa(i)+"]."
		legend := fmt.Sprintf(t(lang, "order.participant"), i+1)
		p := fiber.Map{"Legend": legend, "Lang": lang}
		if len(e.Categories) > 0 {
			cats := categoryChoice(e, lang, now, in[prefix+"category"], code)
			for _, c := range cats {
				c["Name"], c["ID"] = prefix+"category", "p"+strconv.Itoa(i)+"-category-"+c["Value"].(string)
			}
			p["Categories"], p["CategoryLegend"] = cats, t(lang, "category.legend")
			if ec := byField[path+"category"]; ec != "" {
				p["CategoryError"], p["CategoryErrorID"] = t(lang, "err."+ec), "p"+strconv.Itoa(i)+"-category-error"
				errs = append(errs, pageError{ID: "p" + strconv.Itoa(i) + "-category-" + firstCategory(cats), Text: legend + ", " + t(lang, "category.legend") + ": " + t(lang, "err."+ec)})
			}
		}
		var fields []formField
		for _, df := range e.Form() {
			if !buyerGives(df) {
				continue
			}
			f := newFormField(lang, df, in[prefix+"f_"+df.Key], byField[path+"fields."+df.Key])
			f.ID, f.Name = "p"+strconv.Itoa(i)+"-f-"+df.Key, prefix+"f_"+df.Key
			f.Options = nil
			f.withOptions(df, lang)
			if f.Error != "" {
				errs = append(errs, pageError{ID: f.ID, Text: legend + ", " + f.Label + ": " + f.Error})
			}
			fields = append(fields, f)
		}
		p["Fields"] = fields
		p["Addons"] = addonChoice(e, lang, prefix, in, byField, path)
		for _, a := range p["Addons"].([]addonForm) {
			if a.Error != "" {
				errs = append(errs, pageError{ID: a.ID, Text: legend + ", " + a.Label + ": " + a.Error})
			}
		}
		people = append(people, p)
	}
	order := fiber.Map{"Buyer": buyer, "People": people, "Own": t(lang, "order.own")}
	if slices.ContainsFunc(e.Categories, func(c events.Category) bool { return c.TeamSize > 0 }) {
		order["HasTeam"], order["Team"], order["TeamError"] = true, in["team"], ""
		if ec := byField["team"]; ec != "" {
			order["TeamError"] = t(lang, "err."+ec)
			errs = append(errs, pageError{ID: "team", Text: t(lang, "order.team") + ": " + t(lang, "err."+ec)})
		}
	}
	if ec := byField["participants"]; ec != "" {
		errs = append(errs, pageError{Text: t(lang, "err."+ec)})
	}
	data["Order"] = order
	return errs
}

// readOrder reads an order from the form.
func readOrder(c *fiber.Ctx, e *events.Event, lang string, n int, in map[string]string) registration.OrderRequest {
	req := registration.OrderRequest{Buyer: map[string]string{}, Lang: lang, Code: in["code"]}
	for _, k := range registration.BuyerFields {
		if !e.Asks(k) {
			continue
		}
		in["b_"+k] = c.FormValue("b_" + k)
		if in["b_"+k] != "" {
			req.Buyer[k] = in["b_"+k]
		}
	}
	for i := range n {
		prefix := "p" + strconv.Itoa(i) + "_"
		in[prefix+"category"] = c.FormValue(prefix + "category")
		p := registration.ParticipantRequest{Category: in[prefix+"category"], Fields: map[string]string{}}
		for _, df := range e.Form() {
			if buyerGives(df) {
				in[prefix+"f_"+df.Key] = formValue(c, prefix+"f_"+df.Key)
				p.Fields[df.Key] = in[prefix+"f_"+df.Key]
			}
		}
		p.Addons = readAddons(c, e, prefix, in)
		req.Participants = append(req.Participants, p)
	}
	in["team"] = c.FormValue("team")
	req.Team = in["team"]
	if e.Paid() {
		req.Payment = formPayment(in)
	}
	if len(in["submission"]) <= 64 {
		req.SubmissionKey = in["submission"]
	}
	return req
}

// orderPlaced answers a placed order: where a card payment goes on to
// Stripe, else the participants, and that each gets their own link.
func orderPlaced(c *fiber.Ctx, e *events.Event, lang string, res *registration.OrderResult) error {
	if res.Payment != nil && res.Payment.CheckoutURL != "" {
		return toPayment(c, lang, res.Payment.CheckoutURL)
	}
	paras := []string{fmt.Sprintf(t(lang, "order.done.count"), len(res.Participants))}
	for _, p := range res.Participants {
		line := p.Name
		if c, ok := e.Category(p.Category); ok {
			line += " (" + c.Name.In(lang) + ")"
		}
		paras = append(paras, line+": "+registration.StatusText(lang, p.Status))
	}
	if pay := res.Payment; pay != nil && pay.InvoiceNumber != 0 {
		paras = append(paras, fmt.Sprintf(t(lang, "order.done.invoice"), pay.InvoiceNumber, money(events.Price{Amount: pay.Amount, Currency: pay.Currency}, lang), pay.KID))
	}
	paras = append(paras, t(lang, "order.own"))
	return render(c, "message", lang, fiber.Map{"Page": "order-done", "Title": t(lang, "order.done"), "Paragraphs": paras})
}

// submitOrder places an order from the form; faults come back beside
// their fields, with what was typed kept.
func submitOrder(c *fiber.Ctx, a *app.App, e *events.Event, lang string, n int, in map[string]string, methods func() map[string]bool) error {
	req := readOrder(c, e, lang, n, in)
	code, err := pageCode(c, a.Events, e.Slug, in["code"])
	if err != nil {
		return err
	}
	if to, ok := switchLang(c); ok {
		return eventForm(c, e, to, in, nil, "", methods(), code)
	}
	res, err := a.Signups.Order(c.UserContext(), e.Slug, req, registration.Web)
	if err != nil {
		return formRefused(c, a, e, lang, in, err, methods(), code)
	}
	return orderPlaced(c, e, lang, res)
}

// formRefused shows the form again after a refusal: the faults beside
// their fields, or what went wrong above it, with what was typed kept.
func formRefused(c *fiber.Ctx, a *app.App, e *events.Event, lang string, in map[string]string, err error, methods map[string]bool, code *events.Code) error {
	var ferrs privacy.Errors
	if errors.As(err, &ferrs) {
		return eventForm(c.Status(fiber.StatusUnprocessableEntity), e, lang, in, ferrs, "", methods, code)
	}
	p, internal := toProblem(err)
	if internal {
		return err
	}
	general := t(lang, "err."+p.Code)
	if general == "err."+p.Code {
		general = p.Detail
	}
	if fresh, gerr := a.Events.Get(c.UserContext(), e.Slug); gerr == nil {
		e = fresh
	}
	if p.Code == "sold_out" {
		// Said plainly: not registered; what was typed stays, and where
		// the event keeps a waiting list, the form now offers it.
		general += " " + t(lang, "err.not_registered")
		if e.Waitlist {
			general += " " + t(lang, "err.sold_out.waitlist")
		}
	}
	return eventForm(c.Status(p.Status), e, lang, in, nil, general, methods, code)
}
