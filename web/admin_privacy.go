package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// handleAdminNewRequest registers a rights request that came by e-mail
// or letter, from the inbox.
func (as *adminState) handleAdminNewRequest() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		v, err := as.a.Requests.CreateRequest(c.UserContext(), registration.NewRequest{Type: c.FormValue("type"),
			Email: c.FormValue("email"), ReceivedAt: c.FormValue("received"), Notes: c.FormValue("notes")}, p.ID, p.Scope())
		if msgs, invalid := fieldErrors(lang, err, func(f string) string { return t(lang, "admin.request."+f) }); invalid {
			c.Status(fiber.StatusUnprocessableEntity)
			return as.privacyInbox(c, lang, fiber.Map{"Errors": msgs})
		}
		if err != nil {
			return err
		}
		return c.Redirect("/admin/privacy/requests/"+v.ID+"?lang="+lang, fiber.StatusSeeOther)
	}
}

// handleAdminRequest is one request: who, what, the deadline, the
// subject's registrations with the actions the request calls for, what
// was done, and the form that closes it.
func (as *adminState) handleAdminRequest() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		v, err := as.a.Requests.GetRequest(c.UserContext(), c.Params("id"), p.Scope())
		if errors.Is(err, registration.ErrRequestNotFound) {
			return fiber.ErrNotFound
		}
		if err != nil {
			return err
		}
		var acts []fiber.Map
		for _, a := range v.Actions {
			acts = append(acts, fiber.Map{"At": a.At.In(oslo).Format("02.01.2006 15:04"), "Action": t(lang, "admin.action."+a.Action), "Registration": a.Registration})
		}
		return as.render(c, "admin_request", lang, fiber.Map{"Page": "admin-request", "Title": t(lang, "admin.request.title"),
			"R": v, "Type": t(lang, "admin.request."+v.Type), "Received": v.ReceivedAt.In(oslo).Format("02.01.2006"),
			"Deadline": v.Deadline.In(oslo).Format("02.01.2006"), "Actions": acts, "Open": v.ClosedAt == nil,
			"Flash": flash(lang, "admin.request.done.", c.Query("done"))})
	}
}

// flash is what a done= query says happened, or "" for one it does not
// know.
func flash(lang, prefix, done string) string {
	s, _ := known(lang, prefix+done)
	return s
}

// adminActions are the actions the request page offers on a
// registration: the reports download as files for the requester.
var adminActions = map[string]bool{"access": true, "export": true, "restrict": true, "unrestrict": true, "erase": true}

// handleAdminRequestAct does one action of a request on one of the
// subject's registrations: an access report or export downloads as JSON
// (to send to the requester), the others go back to the request.
func (as *adminState) handleAdminRequestAct() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		action := c.FormValue("action")
		if !adminActions[action] || (action == "erase" && c.FormValue("confirm") != "yes") {
			return c.Redirect("/admin/privacy/requests/"+c.Params("id")+"?lang="+lang, fiber.StatusSeeOther)
		}
		out, err := as.a.ActOnRequest(c.UserContext(), c.Params("id"), app.RequestAction{Action: action, Registration: c.FormValue("registration")}, p.ID, p.Scope())
		if err != nil {
			return err
		}
		if action == "access" || action == "export" {
			b, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
			c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+action+`-`+c.FormValue("registration")+`.json"`)
			return c.Send(b)
		}
		return c.Redirect("/admin/privacy/requests/"+c.Params("id")+"?lang="+lang+"&done="+action, fiber.StatusSeeOther)
	}
}

// handleAdminRequestClose closes a request with its outcome.
func (as *adminState) handleAdminRequestClose() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		_, err := as.a.Requests.CloseRequest(c.UserContext(), c.Params("id"), c.FormValue("outcome"), p.Scope())
		var fe privacy.Errors
		if errors.As(err, &fe) {
			return c.Redirect("/admin/privacy/requests/"+c.Params("id")+"?lang="+lang+"&done=outcome_missing", fiber.StatusSeeOther)
		}
		if err != nil {
			return err
		}
		return c.Redirect("/admin/privacy?lang="+lang, fiber.StatusSeeOther)
	}
}

// handleAdminDisclosures is an event's disclosure log: every list and
// export that opened participants' values, to whom, which fields, how
// many (admins, organisers, the privacy contact).
func (as *adminState) handleAdminDisclosures() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		e, err := as.a.Events.Get(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		ds, err := as.a.Lists.Disclosures(c.UserContext(), e.Slug)
		if err != nil {
			return err
		}
		type row struct{ At, To, Fields, Format, By string }
		var rows []row
		for i := len(ds) - 1; i >= 0; i-- { // newest first
			d := ds[i]
			to := t(lang, "admin.recipient."+d.Recipient)
			if d.PartnerName != "" {
				to += ": " + d.PartnerName
			}
			rows = append(rows, row{At: d.At.In(oslo).Format("02.01.2006 15:04"), To: to, Fields: strings.Join(d.Fields, ", "),
				Format: fmt.Sprintf("%s, %d", d.Format, d.Count), By: d.Token})
		}
		return as.render(c, "admin_disclosures", lang, fiber.Map{"Page": "admin-disclosures",
			"Title": t(lang, "admin.disclosures") + ": " + e.Title.In(lang), "Rows": rows, "Slug": e.Slug})
	}
}

// handleAdminRetention is what personal data each event still holds and
// when it goes, the deletion dates events' changes moved, and the
// receipts of the retention runs that deleted something.
func (as *adminState) handleAdminRetention() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		ctx := c.UserContext()
		all, err := as.a.Retention.RetentionOverview(ctx)
		if err != nil {
			return err
		}
		type fieldRow struct{ Event, Field, Rule, First, Last string }
		var fields []fieldRow
		for _, er := range all {
			if !p.CanEvent(er.Event) {
				continue
			}
			for _, f := range er.Fields {
				r := fieldRow{Event: er.Event, Field: f.Field, Rule: f.Rule + fmt.Sprintf(" (%d)", f.Held)}
				if f.First != nil {
					r.First = f.First.In(oslo).Format("02.01.2006")
				}
				if f.Last != nil {
					r.Last = f.Last.In(oslo).Format("02.01.2006")
				}
				fields = append(fields, r)
			}
		}
		recs, err := as.a.Retention.Receipts(ctx, 50)
		if err != nil {
			return err
		}
		type recRow struct{ At, What string }
		var receipts []recRow
		for _, r := range recs {
			var what []string
			for _, v := range r.Values {
				if p.CanEvent(v.Event) {
					what = append(what, fmt.Sprintf("%s/%s: %d", v.Event, v.Field, v.Count))
				}
			}
			if r.RegistrationsDeleted > 0 && p.Scope() == nil {
				what = append(what, fmt.Sprintf(t(lang, "admin.retention.deleted"), r.RegistrationsDeleted))
			}
			if len(what) > 0 {
				receipts = append(receipts, recRow{At: r.At.In(oslo).Format("02.01.2006 15:04"), What: strings.Join(what, "; ")})
			}
		}
		return as.render(c, "admin_retention", lang, fiber.Map{"Page": "admin-retention", "Title": t(lang, "admin.retention"),
			"Fields": fields, "Receipts": receipts})
	}
}

// handleAdminRecords is the record of processing (GDPR art. 30) of the
// events the principal reaches, generated from the catalog and the
// events, as the API's /privacy/records gives it.
func (as *adminState) handleAdminRecords() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		rec, err := recordsOf(c.UserContext(), as.a.Events, principal(c), lang, as.cfg.CardPayments, as.cfg.Processors)
		if err != nil {
			return err
		}
		return as.render(c, "admin_records", lang, fiber.Map{"Page": "admin-records", "Title": t(lang, "admin.records"), "Sections": rec.Sections()})
	}
}
