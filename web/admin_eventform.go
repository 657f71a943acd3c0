package web

import (
	"errors"
	"fmt"
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
		at, ok := formTime(c.FormValue(d.name))
		if !ok {
			bad = append(bad, d.name)
		}
		*d.dst = at
	}
	if n, err := strconv.Atoi(c.FormValue("capacity")); err == nil {
		r.Capacity = &n
	} else {
		bad = append(bad, "capacity")
	}
	øre, ok := parseKroner(c.FormValue("price", "0"))
	if !ok {
		bad = append(bad, "price")
	}
	r.Price = &events.Price{Amount: øre, Currency: "NOK"}
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

// eventFormKeys are the form's own inputs besides the catalog's ticks.
var eventFormKeys = []string{"slug", "kind", "title_nb", "title_en", "venue", "starts", "ends", "capacity", "price", "vat",
	"waitlist", "public_list", "organiser_name", "organiser_org", "organiser_privacy", "partners"}

// settingsForm is an event as the edit form opens with it.
func settingsForm(e *events.Event) (form map[string]string, asked, required map[string]bool) {
	on := func(b bool) string {
		if b {
			return "on"
		}
		return ""
	}
	var partners []string
	for _, pa := range e.Partners {
		partners = append(partners, pa.ID+": "+pa.Name)
	}
	form = map[string]string{"slug": e.Slug, "kind": string(e.Kind), "title_nb": e.Title.NB, "title_en": e.Title.EN, "venue": e.Venue,
		"starts": e.StartsAt.In(oslo).Format(formMinute), "ends": e.EndsAt.In(oslo).Format(formMinute),
		"capacity": strconv.Itoa(e.Capacity), "price": kroner(e.Price.Amount), "vat": strconv.Itoa(e.VATRate),
		"waitlist": on(e.Waitlist), "public_list": on(e.PublicList), "organiser_name": e.Organiser.Name,
		"organiser_org": e.Organiser.OrgNumber, "organiser_privacy": e.Organiser.PrivacyEmail, "partners": strings.Join(partners, "\n")}
	asked, required = map[string]bool{}, map[string]bool{}
	for _, f := range e.Fields {
		asked[f.Key], required[f.Key] = true, f.Required
	}
	return form, asked, required
}

// formMinute is how a datetime-local input gives a time.
const formMinute = "2006-01-02T15:04"

// formTime reads a datetime-local input as Norwegian time: nil for an
// empty one, false for one that is not a time.
func formTime(v string) (*time.Time, bool) {
	if v == "" {
		return nil, true
	}
	at, err := time.ParseInLocation(formMinute, v, oslo)
	if err != nil {
		return nil, false
	}
	return &at, true
}

// kroner writes an amount in øre as the form takes it: whole kroner, or
// with øre after a comma.
func kroner(øre int64) string {
	if øre%100 == 0 {
		return strconv.FormatInt(øre/100, 10)
	}
	return fmt.Sprintf("%d,%02d", øre/100, øre%100)
}

// parseKroner reads an amount in kroner, with øre after a comma or a
// point ("149", "149,50"), into øre; false for anything else.
func parseKroner(s string) (int64, bool) {
	kr, øre, frac := strings.Cut(strings.ReplaceAll(strings.TrimSpace(s), ".", ","), ",")
	k, err := strconv.ParseInt(kr, 10, 64)
	if err != nil || k < 0 {
		return 0, false
	}
	var o int64
	if frac {
		if len(øre) == 1 {
			øre += "0"
		}
		if o, err = strconv.ParseInt(øre, 10, 64); err != nil || len(øre) != 2 || o < 0 {
			return 0, false
		}
	}
	return k*100 + o, true
}

// handleAdminEventForm is the form of an event from the catalog, each
// field with why it is asked, who gets it and how long it is kept. New
// (edit false): "Preview" shows the privacy notice participants will
// get, "Publish" creates the event (admins, and organisers of every
// event). Edit: the event's settings as they are; "Preview" shows the
// notice as it would read, "Save" changes the event by the rules of the
// API's PATCH (tags of fields in use stay, a partner added is announced
// first, seats freed go to the waiting list).
func (as *adminState) handleAdminEventForm(edit bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		ctx := c.UserContext()
		data := fiber.Map{"Page": "admin-new-event", "Title": t(lang, "admin.newevent"), "Action": "/admin/events/new"}
		form := map[string]string{"kind": "conference", "capacity": "100", "price": "0", "vat": "0"}
		asked := map[string]bool{}
		required := map[string]bool{}
		switch {
		case edit:
			e, err := as.a.Events.Get(ctx, c.Params("slug"))
			if err != nil {
				return err
			}
			form, asked, required = settingsForm(e)
			data["Page"], data["Title"], data["Edit"] = "admin-edit-event", t(lang, "admin.editevent")+": "+e.Title.In(lang), true
			data["Action"], data["Slug"] = "/admin/events/"+e.Slug+"/edit", e.Slug
		case p.Scope() != nil:
			return as.forbidden(c, lang)
		}
		if c.Method() == fiber.MethodPost {
			for _, k := range eventFormKeys {
				if k != "slug" || !edit {
					form[k] = c.FormValue(k)
				}
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
				action := c.FormValue("action")
				switch {
				case edit && action == "save":
					e, _, err = as.a.PatchEvent(ctx, form["slug"], req.PatchRequest)
				case edit:
					e, err = as.a.Events.PreviewPatch(ctx, form["slug"], req.PatchRequest)
				case action == "publish":
					e, err = as.a.Events.Create(ctx, req, p.ID)
				default:
					e, err = as.a.Events.Preview(req)
				}
				msgs, invalid := fieldErrors(lang, err, func(f string) string { return eventFieldLabel(lang, f) })
				refused, conflict := refusal(lang, err)
				switch {
				case invalid:
					errs = append(errs, msgs...)
				case errors.Is(err, events.ErrSlugTaken):
					errs = append(errs, t(lang, "admin.newevent.slug")+": "+t(lang, "admin.newevent.taken"))
				case conflict:
					errs = append(errs, refused)
				case err != nil:
					return err
				case action == "publish" && !edit:
					return c.Redirect("/admin/events/"+e.Slug+"?lang="+lang, fiber.StatusSeeOther)
				case action == "save":
					return c.Redirect("/admin/events/"+e.Slug+"?lang="+lang+"&done=saved", fiber.StatusSeeOther)
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

// refusal says in words why the domain refused a change that the form's
// values alone cannot show (a conflict with what participants hold);
// false for any other error.
func refusal(lang string, err error) (string, bool) {
	if err == nil {
		return "", false
	}
	for _, d := range domainErrors {
		if d.status == fiber.StatusConflict && errors.Is(err, d.err) {
			if s, ok := known(lang, "admin.refused."+d.code); ok {
				return s, true
			}
		}
	}
	return "", false
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
