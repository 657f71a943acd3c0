package web

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// catalogRow is one catalog field on the new-event form, with its tags
// in plain words.
type catalogRow struct {
	Key, Label, Why, Who, Kept string
	Ask, Required, Always      bool
	Special                    bool
}

// newEventRequest reads the new-event form into a request. Name and e-mail
// are always asked.
func newEventRequest(c *fiber.Ctx) (events.CreateRequest, []string) {
	var r events.CreateRequest
	var bad []string
	str := func(name string) *string { v := strings.TrimSpace(c.FormValue(name)); return &v }
	r.Slug = strings.TrimSpace(c.FormValue("slug"))
	kind := events.Kind(c.FormValue("kind"))
	r.Kind = &kind
	r.Title = &privacy.Text{NB: strings.TrimSpace(c.FormValue("title_nb")), EN: strings.TrimSpace(c.FormValue("title_en"))}
	r.Venue = str("venue")
	for _, d := range []struct {
		name string
		dst  **time.Time
	}{{"starts", &r.StartsAt}, {"ends", &r.EndsAt}} {
		v := c.FormValue(d.name)
		if v == "" {
			continue
		}
		at, err := time.ParseInLocation("2006-01-02T15:04", v, oslo)
		if err != nil {
			bad = append(bad, d.name)
			continue
		}
		*d.dst = &at
	}
	if n, err := strconv.Atoi(c.FormValue("capacity")); err == nil {
		r.Capacity = &n
	} else {
		bad = append(bad, "capacity")
	}
	kr, err := strconv.ParseInt(strings.TrimSpace(c.FormValue("price", "0")), 10, 64)
	if err != nil || kr < 0 {
		bad = append(bad, "price")
	}
	r.Price = &events.Price{Amount: kr * 100, Currency: "NOK"}
	vat, _ := strconv.Atoi(c.FormValue("vat", "0"))
	r.VATRate = &vat
	wl, pub := c.FormValue("waitlist") == "on", c.FormValue("public_list") == "on"
	r.Waitlist, r.PublicList = &wl, &pub
	r.Organiser = &events.Organiser{Name: strings.TrimSpace(c.FormValue("organiser_name")),
		OrgNumber: strings.TrimSpace(c.FormValue("organiser_org")), PrivacyEmail: strings.TrimSpace(c.FormValue("organiser_privacy"))}
	fields := []events.FormField{{Key: "name", Required: true}, {Key: "email", Required: true}}
	for _, f := range privacy.Catalog() {
		if f.Key != "name" && f.Key != "email" && c.FormValue("ask_"+f.Key) == "on" {
			fields = append(fields, events.FormField{Key: f.Key, Required: c.FormValue("req_"+f.Key) == "on"})
		}
	}
	r.Fields = &fields
	var partners []events.Partner
	for _, line := range strings.Split(c.FormValue("partners"), "\n") {
		id, name, ok := strings.Cut(line, ":")
		if id, name = strings.TrimSpace(id), strings.TrimSpace(name); ok && id != "" && name != "" {
			partners = append(partners, events.Partner{ID: id, Name: name})
		} else if strings.TrimSpace(line) != "" {
			bad = append(bad, "partners")
		}
	}
	r.Partners = &partners
	return r, bad
}

// handleAdminNewEvent is the new-event form: an event from the catalog,
// each field with why it is asked, who gets it and how long it is kept;
// "Preview" shows the privacy notice participants will get, "Publish"
// creates the event (admins, and organisers of every event).
func (as *adminState) handleAdminNewEvent() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		if p.Scope() != nil {
			return as.forbidden(c, lang)
		}
		data := fiber.Map{"Page": "admin-new-event", "Title": t(lang, "admin.newevent")}
		form := map[string]string{"kind": "conference", "capacity": "100", "price": "0", "vat": "0"}
		asked := map[string]bool{}
		required := map[string]bool{}
		if c.Method() == fiber.MethodPost {
			for _, k := range []string{"slug", "kind", "title_nb", "title_en", "venue", "starts", "ends", "capacity", "price", "vat",
				"waitlist", "public_list", "organiser_name", "organiser_org", "organiser_privacy", "partners"} {
				form[k] = c.FormValue(k)
			}
			for _, f := range privacy.Catalog() {
				asked[f.Key], required[f.Key] = c.FormValue("ask_"+f.Key) == "on", c.FormValue("req_"+f.Key) == "on"
			}
			req, bad := newEventRequest(c)
			var errs []string
			for _, b := range bad {
				errs = append(errs, t(lang, "admin.newevent."+b)+": "+t(lang, "err.invalid"))
			}
			if len(errs) == 0 {
				var e *events.Event
				var err error
				if c.FormValue("action") == "publish" {
					e, err = as.a.Events.Create(c.UserContext(), req, p.ID)
				} else {
					e, err = as.a.Events.Preview(req)
				}
				msgs, invalid := fieldErrors(lang, err, func(f string) string { return eventFieldLabel(lang, f) })
				switch {
				case invalid:
					errs = append(errs, msgs...)
				case errors.Is(err, events.ErrSlugTaken):
					errs = append(errs, t(lang, "admin.newevent.slug")+": "+t(lang, "admin.newevent.taken"))
				case err != nil:
					return err
				case c.FormValue("action") == "publish":
					return c.Redirect("/admin/events/"+e.Slug+"?lang="+lang, fiber.StatusSeeOther)
				default:
					data["Notice"] = noticeOf(e, lang, as.cfg.PublicURL, as.cfg.DigitalConsentAge, as.cfg.CardPayments)
					methods := as.a.Signups.PaymentMethods()
					if e.Price.Amount > 0 && !methods[registration.Card] &&
						!(methods[registration.Invoice] && e.Asks("invoice_org_number") && e.Asks("invoice_address")) {
						data["Warning"] = t(lang, "admin.newevent.nopayment")
					}
				}
			}
			if len(errs) > 0 {
				c.Status(fiber.StatusUnprocessableEntity)
				data["Errors"] = errs
			}
		}
		var rows []catalogRow
		for _, f := range privacy.Catalog() {
			always := f.Key == "name" || f.Key == "email"
			rows = append(rows, catalogRow{Key: f.Key, Label: f.Label.In(lang), Why: privacy.WhyText(f, lang), Who: privacy.WhoText(f, lang),
				Kept: privacy.RetentionText(f.Retention, lang), Ask: always || asked[f.Key], Required: always || required[f.Key],
				Always: always, Special: f.Category.Special()})
		}
		data["Form"], data["Catalog"] = form, rows
		return as.render(c, "admin_event_new", lang, data)
	}
}

// eventFields are the new-event form's labels of the request's fields, by
// the name a validation error gives them.
var eventFields = map[string]string{
	"slug": "admin.newevent.slug", "kind": "admin.newevent.kind", "title.nb": "admin.newevent.title_nb", "title.en": "admin.newevent.title_en",
	"title": "admin.newevent.title_nb", "venue": "where", "startsAt": "admin.newevent.starts", "endsAt": "admin.newevent.ends",
	"registrationOpensAt": "admin.newevent.starts", "registrationClosesAt": "admin.newevent.starts", "refundDeadline": "admin.newevent.starts",
	"capacity": "admin.newevent.capacity", "price": "admin.newevent.price", "price.amount": "admin.newevent.price", "vatRate": "admin.newevent.vat",
	"organiser.name": "admin.newevent.organiser_name", "organiser.orgNumber": "admin.newevent.organiser_org",
	"organiser.privacyEmail": "admin.newevent.organiser_privacy", "fields": "admin.newevent.fields", "partners": "admin.newevent.partners",
}

// eventFieldLabel names a request field as the form does (a partner's
// or a form field's fault by its list).
func eventFieldLabel(lang, field string) string {
	if key, ok := eventFields[field]; ok {
		return t(lang, key)
	}
	if base, _, ok := strings.Cut(field, "["); ok {
		if key, ok := eventFields[base]; ok {
			return t(lang, key)
		}
	}
	return field
}

// fieldErrors says a validation error's faults in words, each field
// named by label; ok false when err is not a validation error.
func fieldErrors(lang string, err error, label func(field string) string) (msgs []string, ok bool) {
	var fe privacy.Errors
	if !errors.As(err, &fe) {
		return nil, false
	}
	for _, x := range fe {
		msgs = append(msgs, label(x.Field)+": "+errText(lang, x.Code))
	}
	return msgs, true
}

// errText is a validation code in words.
func errText(lang, code string) string {
	if s, ok := known(lang, "err."+code); ok {
		return s
	}
	return t(lang, "err.invalid")
}
