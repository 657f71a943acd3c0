package web

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/privacy"
)

// ticketRow is a category or an add-on as the tickets page lists it.
type ticketRow struct {
	Key, Name, Price, Capacity, Taken, Extra string
}

// codeRow is a code as the tickets page lists it.
type codeRow struct {
	Code, Off, Categories, Valid, Used string
	Reserve                            bool
}

// handleAdminTickets is an event's categories, add-ons and codes: listed
// with what each has sold, and changed by forms. A category or an
// add-on is added, or changed by giving its key again (a race
// category's ages and start numbers, and what the form does not show,
// are kept), or removed while nobody holds it; a change goes through the
// same PATCH as the API's, so its rules hold. A code is made; codes are
// not changed once made (a code given out keeps its terms).
func (as *adminState) handleAdminTickets() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		ctx := c.UserContext()
		slug := c.Params("slug")
		var errs []string
		if c.Method() == fiber.MethodPost {
			e, err := as.a.Events.Get(ctx, slug)
			if err != nil {
				return err
			}
			patch, codeReq, bad := ticketChange(c, e)
			for _, b := range bad {
				errs = append(errs, t(lang, "admin.tickets."+b)+": "+t(lang, "err.invalid"))
			}
			if len(bad) == 0 {
				if codeReq != nil {
					_, err = as.a.Events.CreateCode(ctx, slug, *codeReq)
				} else {
					_, _, err = as.a.PatchEvent(ctx, slug, patch)
				}
				msgs, invalid := fieldErrors(lang, err, func(f string) string { return ticketFieldLabel(lang, f) })
				refused, conflict := refusal(lang, err)
				switch {
				case invalid:
					errs = msgs
				case conflict:
					errs = []string{refused}
				case err != nil:
					return err
				default:
					return c.Redirect("/admin/events/"+slug+"/tickets?lang="+lang+"&done="+c.FormValue("do"), fiber.StatusSeeOther)
				}
			}
			c.Status(fiber.StatusUnprocessableEntity)
		}
		e, err := as.a.Events.Get(ctx, slug)
		if err != nil {
			return err
		}
		codes, err := as.a.Events.Codes(ctx, slug)
		if err != nil {
			return err
		}
		data := fiber.Map{"Page": "admin-tickets", "Title": t(lang, "admin.tickets") + ": " + e.Title.In(lang), "Slug": slug,
			"Race": e.Kind == events.Race, "Errors": errs}
		if f := flash(lang, "admin.tickets.done.", c.Query("done")); f != "" {
			data["Flash"] = f
		}
		var cats, addons []ticketRow
		var keys []fiber.Map
		for _, cat := range e.Categories {
			q := e.Quota[cat.Key]
			extra := t(lang, "admin.tickets.visibility."+string(cat.Visibility))
			if cat.SaleFrom != nil || cat.SaleUntil != nil {
				extra += " · " + window(cat.SaleFrom, cat.SaleUntil)
			}
			cats = append(cats, ticketRow{Key: cat.Key, Name: cat.Name.In(lang), Price: events.Money(cat.Price, "NOK", lang) + vatNote(lang, cat.VATRate),
				Capacity: limit(lang, cat.Capacity), Taken: strconv.Itoa(q.Taken), Extra: extra})
			keys = append(keys, fiber.Map{"Key": cat.Key, "Name": cat.Name.In(lang)})
		}
		for _, a := range e.Addons {
			q := e.Quota[events.AddonQuota(a.Key)]
			addons = append(addons, ticketRow{Key: a.Key, Name: a.Name.In(lang), Price: events.Money(a.Price, "NOK", lang) + vatNote(lang, a.VATRate),
				Capacity: limit(lang, a.Capacity), Taken: strconv.Itoa(q.Taken), Extra: strings.Join(a.Options, ", ")})
			if len(a.Categories) > 0 {
				r := &addons[len(addons)-1]
				r.Extra = strings.TrimPrefix(r.Extra+" · "+t(lang, "admin.tickets.for")+": "+strings.Join(a.Categories, ", "), " · ")
			}
		}
		var crows []codeRow
		for _, k := range codes {
			off := strconv.Itoa(k.Percent) + " %"
			if k.Amount > 0 {
				off = events.Money(k.Amount, "NOK", lang)
			}
			crows = append(crows, codeRow{Code: k.Code, Off: off, Categories: cmp.Or(strings.Join(k.Categories, ", "), t(lang, "admin.all")),
				Valid: cmp.Or(window(k.ValidFrom, k.ValidUntil), t(lang, "admin.tickets.always")), Used: strconv.Itoa(k.Used) + " / " + strconv.Itoa(k.MaxUses), Reserve: k.Reserve})
		}
		data["Categories"], data["Addons"], data["Codes"], data["Keys"] = cats, addons, crows, keys
		return as.render(c, "admin_tickets", lang, data)
	}
}

// ticketChange reads a tickets form: the event's categories or add-ons
// as they would be (a patch), or a code to make; bad names the inputs
// that are not even of their kind (a number, a time).
func ticketChange(c *fiber.Ctx, e *events.Event) (patch events.PatchRequest, code *events.CodeRequest, bad []string) {
	key := strings.TrimSpace(c.FormValue("key"))
	name := privacy.Text{NB: strings.TrimSpace(c.FormValue("name_nb")), EN: strings.TrimSpace(c.FormValue("name_en"))}
	num := func(input string) int {
		v := strings.TrimSpace(c.FormValue(input))
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			bad = append(bad, input)
		}
		return n
	}
	price := func() int64 {
		øre, ok := parseKroner(cmp.Or(c.FormValue("price"), "0"))
		if !ok {
			bad = append(bad, "price")
		}
		return øre
	}
	when := func(input string) *time.Time {
		at, ok := formTime(c.FormValue(input))
		if !ok {
			bad = append(bad, input)
		}
		return at
	}
	var picked []string
	for _, cat := range e.Categories {
		if c.FormValue("for_"+cat.Key) == "on" {
			picked = append(picked, cat.Key)
		}
	}
	switch c.FormValue("do") {
	case "category":
		cats, cat := withKey(e.Categories, func(x events.Category) string { return x.Key }, events.Category{Key: key})
		cat.Name, cat.Price, cat.VATRate, cat.Capacity = name, price(), num("vat"), num("capacity")
		cat.Visibility = events.Visibility(c.FormValue("visibility"))
		cat.SaleFrom, cat.SaleUntil = when("sale_from"), when("sale_until")
		if e.Kind == events.Race {
			cat.MinAge, cat.MaxAge = optional(num("min_age"), c.FormValue("min_age")), optional(num("max_age"), c.FormValue("max_age"))
		}
		patch.Categories = &cats
	case "remove-category":
		cats := slices.DeleteFunc(slices.Clone(e.Categories), func(x events.Category) bool { return x.Key == key })
		patch.Categories = &cats
	case "addon":
		addons, a := withKey(e.Addons, func(x events.Addon) string { return x.Key }, events.Addon{Key: key})
		a.Name, a.Price, a.VATRate, a.Capacity, a.Categories = name, price(), num("vat"), num("capacity"), picked
		a.Options = nil
		for _, o := range strings.Split(c.FormValue("options"), ",") {
			if o = strings.TrimSpace(o); o != "" {
				a.Options = append(a.Options, o)
			}
		}
		patch.Addons = &addons
	case "remove-addon":
		addons := slices.DeleteFunc(slices.Clone(e.Addons), func(x events.Addon) bool { return x.Key == key })
		patch.Addons = &addons
	case "code":
		code = &events.CodeRequest{Code: c.FormValue("code"), Percent: num("percent"), Categories: picked, MaxUses: num("max_uses"),
			Reserve: c.FormValue("reserve") == "on", ValidFrom: when("valid_from"), ValidUntil: when("valid_until")}
		if v := c.FormValue("amount"); v != "" {
			øre, ok := parseKroner(v)
			if !ok {
				bad = append(bad, "amount")
			}
			code.Amount = øre
		}
	default:
		bad = append(bad, "do")
	}
	return patch, code, bad
}

// withKey is a copy of list with the element whose key is fresh's
// (fresh appended if there is none), and that element, to change.
func withKey[T any](list []T, keyOf func(T) string, fresh T) ([]T, *T) {
	out := slices.Clone(list)
	i := slices.IndexFunc(out, func(x T) bool { return keyOf(x) == keyOf(fresh) })
	if i < 0 {
		out, i = append(out, fresh), len(out)
	}
	return out, &out[i]
}

// optional is n if the input was given.
func optional(n int, input string) *int {
	if strings.TrimSpace(input) == "" {
		return nil
	}
	return &n
}

// ticketFieldLabel names a field of a categories, add-ons or code
// request by the tickets form's label ("categories[2].capacity" is the
// capacity).
func ticketFieldLabel(lang, field string) string {
	if base, _, ok := strings.Cut(field, "["); ok && !strings.Contains(field, ".") {
		// a whole category or add-on
		return t(lang, map[string]string{"categories": "admin.tickets.f.category", "addons": "admin.tickets.f.addons"}[base])
	}
	last := field[strings.LastIndex(field, ".")+1:]
	if base, _, ok := strings.Cut(last, "["); ok {
		last = base
	}
	if s, ok := known(lang, "admin.tickets.f."+last); ok {
		return s
	}
	return field
}

// window is a validity or sale window in Norwegian time.
func window(from, until *time.Time) string {
	f := func(at *time.Time) string {
		if at == nil {
			return "…"
		}
		return at.In(oslo).Format("02.01.2006 15:04")
	}
	if from == nil && until == nil {
		return ""
	}
	return f(from) + " – " + f(until)
}

// limit is a capacity in words: 0 is none.
func limit(lang string, n int) string {
	if n == 0 {
		return t(lang, "admin.tickets.nolimit")
	}
	return strconv.Itoa(n)
}

// vatNote is a VAT rate after a price.
func vatNote(lang string, rate int) string {
	return " (" + fmt.Sprintf(t(lang, "admin.tickets.vatnote"), rate) + ")"
}
