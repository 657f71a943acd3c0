package web

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/xuri/excelize/v2"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
)

// handlePartnerExport streams the partner-safe attendee list: CSV by
// default (RFC 4180, every field quoted, formulas defused;
// ?sep=semicolon for Norwegian Excel), JSON with Accept:
// application/json, XLSX with ?format=xlsx. A partner token gets its own
// partner's list; organisers name the partner with ?partner=.
func handlePartnerExport(ev *events.Service, rs *registration.Lists, log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		e, err := ev.Get(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		p := principal(c)
		// Cloned: the stream writer runs after the handler, when Fiber has
		// reused the request's buffers.
		partner := strings.Clone(c.Query("partner"))
		if p.Role == staff.Partner {
			if partner != "" && partner != p.Partner {
				return staff.ErrForbidden
			}
			partner = p.Partner
		}
		if !slices.ContainsFunc(e.Partners, func(x events.Partner) bool { return x.ID == partner }) {
			if p.Role == staff.Partner {
				return staff.ErrForbidden
			}
			return problem(fiber.StatusBadRequest, "bad_query", "Name one of the event's partners with ?partner=.",
				privacy.FieldError{Field: "partner", Code: privacy.CodeInvalid})
		}
		format := "csv"
		switch {
		case c.Query("format") == "xlsx":
			format = "xlsx"
		case c.Query("format") == "json" || strings.HasPrefix(c.Get(fiber.HeaderAccept), "application/json"):
			format = "json"
		case c.Query("format") != "" && c.Query("format") != "csv":
			return problem(fiber.StatusBadRequest, "bad_query", "format is csv, json or xlsx.")
		}
		cols := registration.PartnerColumns(e)
		ctx := context.WithoutCancel(c.UserContext())
		c.Set(fiber.HeaderCacheControl, "no-store")
		name := e.Slug + "-" + partner
		var sheet *sheetWriter
		switch format {
		case "csv":
			if sheet, err = newSheetWriter(c, nil); err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
			c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
		case "json":
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		case "xlsx":
			c.Set(fiber.HeaderContentType, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
			c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.xlsx"`)
		}
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			var err error
			switch format {
			case "csv":
				sheet.w = w
				err = exportCSV(ctx, rs, e, partner, p.ID, cols, sheet, w)
			case "json":
				err = exportJSON(ctx, rs, e, partner, p.ID, cols, w)
			case "xlsx":
				err = exportXLSX(ctx, rs, e, partner, p.ID, cols, w)
			}
			if err != nil {
				log.ErrorContext(ctx, "partner export broke off", "event", e.Slug, "format", format, "err", err)
			}
		})
		return nil
	}
}

func exportCSV(ctx context.Context, rs *registration.Lists, e *events.Event, partner, token string, cols []string, cw *sheetWriter, w *bufio.Writer) error {
	if err := cw.Write(cols); err != nil {
		return err
	}
	n := 0
	_, err := rs.PartnerExport(ctx, e, partner, token, "csv", func(values []string) error {
		if err := cw.Write(values); err != nil {
			return err
		}
		if n++; n%1000 == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			return w.Flush()
		}
		return nil
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return err
}

func exportJSON(ctx context.Context, rs *registration.Lists, e *events.Event, partner, token string, cols []string, w *bufio.Writer) error {
	if _, err := w.WriteString("["); err != nil {
		return err
	}
	n := 0
	enc := json.NewEncoder(w)
	row := make(map[string]string, len(cols))
	_, err := rs.PartnerExport(ctx, e, partner, token, "json", func(values []string) error {
		if n > 0 {
			if err := w.WriteByte(','); err != nil {
				return err
			}
		}
		for i, c := range cols {
			row[c] = values[i]
		}
		n++
		return enc.Encode(row)
	})
	if err != nil {
		return err
	}
	_, err = w.WriteString("]\n")
	return err
}

func exportXLSX(ctx context.Context, rs *registration.Lists, e *events.Event, partner, token string, cols []string, w *bufio.Writer) error {
	f := excelize.NewFile()
	defer f.Close()
	sheet := "Deltakere"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	cells := make([]any, len(cols))
	for i, c := range cols {
		cells[i] = c
	}
	if err := sw.SetRow("A1", cells); err != nil {
		return err
	}
	n := 1
	if _, err := rs.PartnerExport(ctx, e, partner, token, "xlsx", func(values []string) error {
		n++
		for i, v := range values {
			cells[i] = v // a string cell: never evaluated as a formula
		}
		cell, _ := excelize.CoordinatesToCellName(1, n)
		return sw.SetRow(cell, cells)
	}); err != nil {
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.Write(w)
}

type disclosureList struct {
	Disclosures []registration.Disclosure `json:"disclosures"`
}

func handleDisclosures(rs *registration.Lists) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ds, err := rs.Disclosures(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		return c.JSON(disclosureList{Disclosures: ds})
	}
}

func handleMeExport(rs *registration.Rights) fiber.Handler {
	return func(c *fiber.Ctx) error { return sendExport(c, rs, participant(c)) }
}

// sendExport answers the portability export as a JSON download.
func sendExport(c *fiber.Ctx, rs *registration.Rights, reg *registration.Registration) error {
	p, err := rs.Export(c.UserContext(), reg)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="pamelding-`+p.Registration+`.json"`)
	return c.JSON(p)
}

func handleRectify(rs *registration.Rights) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req registration.RectifyRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		out, err := rs.Rectify(c.UserContext(), participant(c), req)
		if err != nil {
			return err
		}
		r, err := rs.AccessReport(c.UserContext(), out)
		if err != nil {
			return err
		}
		return c.JSON(r)
	}
}

func handleWithdraw(rs *registration.Rights) fiber.Handler {
	return func(c *fiber.Ctx) error {
		out, err := rs.WithdrawConsent(c.UserContext(), participant(c), privacy.ConsentPurpose(c.Params("purpose")))
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"consentState": out.ConsentState})
	}
}

func handleObject(rs *registration.Rights) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req registration.ObjectionsRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		out, err := rs.Object(c.UserContext(), participant(c), req)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"objections": out.Objections})
	}
}

type restrictionRequest struct {
	Restricted *bool `json:"restricted"`
}

func handleRestrict(rs *registration.Rights) fiber.Handler {
	return func(c *fiber.Ctx) error {
		req := restrictionRequest{}
		if len(c.Body()) > 0 {
			if err := decodeJSON(c, &req); err != nil {
				return err
			}
		}
		on := req.Restricted == nil || *req.Restricted
		out, err := rs.Restrict(c.UserContext(), participant(c), on)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"restricted": out.Restricted})
	}
}

func handleErase(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		rec, err := a.Erase(c.UserContext(), participant(c))
		if err != nil {
			return err
		}
		return c.JSON(rec)
	}
}

// handlePrivacyNotice generates the event's privacy notice from its
// declared fields: HTML by default, Markdown with ?format=md or Accept:
// text/markdown; ?lang=nb|en.
func handlePrivacyNotice(ev *events.Service, publicURL string, digitalConsentAge int, cardPayments bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		e, err := ev.Get(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		lang := c.Query("lang", "nb")
		if lang != "nb" && lang != "en" {
			return problem(fiber.StatusBadRequest, "bad_query", "lang is nb or en.", privacy.FieldError{Field: "lang", Code: privacy.CodeInvalid})
		}
		secs := noticeOf(e, lang, publicURL, digitalConsentAge, cardPayments)
		if c.Query("format") == "md" || strings.HasPrefix(c.Get(fiber.HeaderAccept), "text/markdown") {
			c.Set(fiber.HeaderContentType, "text/markdown; charset=utf-8")
			return c.SendString(privacy.Markdown(secs))
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.SendString(privacy.HTML(secs, lang))
	}
}

// noticeOf is the privacy notice of an event, in a language.
func noticeOf(e *events.Event, lang, publicURL string, digitalConsentAge int, cardPayments bool) []privacy.Section {
	in := privacy.NoticeInput{
		Lang: lang, ControllerName: e.Organiser.Name, ControllerOrgNumber: e.Organiser.OrgNumber, PrivacyEmail: e.Organiser.PrivacyEmail,
		EventTitle: e.Title.NB, EventStart: e.StartsAt, EventEnd: e.EndsAt, PublicList: e.PublicList,
		CardPayments: cardPayments && e.Price.Amount > 0, GuardianAge: e.GuardianAge, DigitalConsentAge: digitalConsentAge,
		ManageURL: publicURL + "/me", SupervisoryAuthority: "Datatilsynet", SupervisoryAuthorityURL: "https://www.datatilsynet.no",
	}
	if lang == "en" {
		in.EventTitle = e.Title.EN
		in.SupervisoryAuthority = "Datatilsynet (the Norwegian Data Protection Authority)"
	}
	for _, df := range e.Form() {
		in.Fields = append(in.Fields, privacy.NoticeField{Field: df.Field, Required: df.Required})
	}
	for _, p := range e.Partners {
		in.Partners = append(in.Partners, p.Name)
	}
	return privacy.Notice(in)
}

// recordsOf is the record of processing (art. 30) of the events the
// principal reaches.
func recordsOf(ctx context.Context, ev *events.Service, p staff.Principal, lang string, cardPayments bool, processors []privacy.Processor) (privacy.Records, error) {
	evs, err := ev.List(ctx)
	if err != nil {
		return privacy.Records{}, err
	}
	var in []privacy.RecordsEvent
	for i := range evs {
		e := &evs[i]
		if !p.CanEvent(e.Slug) {
			continue // a token limited to events sees their records only
		}
		re := privacy.RecordsEvent{Slug: e.Slug, Title: e.Title.In(lang), ControllerName: e.Organiser.Name,
			ControllerOrgNumber: e.Organiser.OrgNumber, PrivacyEmail: e.Organiser.PrivacyEmail, CardPayments: cardPayments && e.Price.Amount > 0}
		for _, df := range e.Form() {
			re.Fields = append(re.Fields, privacy.NoticeField{Field: df.Field, Required: df.Required})
		}
		for _, pa := range e.Partners {
			re.Partners = append(re.Partners, pa.Name)
		}
		in = append(in, re)
	}
	return privacy.BuildRecords(time.Now(), lang, in, processors), nil
}

// handleRecords generates the art. 30 record from the catalog and the
// events: JSON, or Markdown with ?format=md.
func handleRecords(ev *events.Service, cardPayments bool, processors []privacy.Processor) fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := c.Query("lang", "en")
		if lang != "en" && lang != "nb" {
			return problem(fiber.StatusBadRequest, "bad_query", "lang is nb or en.", privacy.FieldError{Field: "lang", Code: privacy.CodeInvalid})
		}
		rec, err := recordsOf(c.UserContext(), ev, principal(c), lang, cardPayments, processors)
		if err != nil {
			return err
		}
		if c.Query("format") == "md" || strings.HasPrefix(c.Get(fiber.HeaderAccept), "text/markdown") {
			c.Set(fiber.HeaderContentType, "text/markdown; charset=utf-8")
			return c.SendString(privacy.Markdown(rec.Sections()))
		}
		return c.JSON(rec)
	}
}

type retentionOverview struct {
	Events []registration.EventRetention `json:"events"`
	// Changes are the deletion dates event changes brought forward.
	Changes []registration.RetentionChange `json:"changes"`
}

func handleRetention(rs *registration.Retention) fiber.Handler {
	return func(c *fiber.Ctx) error {
		all, err := rs.RetentionOverview(c.UserContext())
		if err != nil {
			return err
		}
		allChanges, err := rs.Changes(c.UserContext())
		if err != nil {
			return err
		}
		// A token limited to events sees those events only.
		p := principal(c)
		out := slices.DeleteFunc(all, func(e registration.EventRetention) bool { return !p.CanEvent(e.Event) })
		changes := slices.DeleteFunc(allChanges, func(ch registration.RetentionChange) bool { return !p.CanEvent(ch.Event) })
		return c.JSON(retentionOverview{Events: out, Changes: changes})
	}
}

type requestList struct {
	Requests []registration.RequestView `json:"requests"`
}

func handleCreateRequest(rs *registration.Requests) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req registration.NewRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		v, err := rs.CreateRequest(c.UserContext(), req, principal(c).ID, principal(c).Scope())
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Location("/api/v1/privacy/requests/" + v.ID)
		return c.Status(fiber.StatusCreated).JSON(v)
	}
}

func handleListRequests(rs *registration.Requests) fiber.Handler {
	return func(c *fiber.Ctx) error {
		vs, err := rs.Requests(c.UserContext(), c.Query("all") == "true", principal(c).Scope())
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(requestList{Requests: vs})
	}
}

func handleGetRequest(rs *registration.Requests) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v, err := rs.GetRequest(c.UserContext(), c.Params("id"), principal(c).Scope())
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(v)
	}
}

func handleRequestAction(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req app.RequestAction
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		out, err := a.ActOnRequest(c.UserContext(), c.Params("id"), req, principal(c).ID, principal(c).Scope())
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(out)
	}
}

type closeRequest struct {
	Outcome string `json:"outcome"`
}

func handleCloseRequest(rs *registration.Requests) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req closeRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		v, err := rs.CloseRequest(c.UserContext(), c.Params("id"), req.Outcome, principal(c).Scope())
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(v)
	}
}

// handleExtendRequest prolongs a request's deadline (art. 12(3)), with the
// reason recorded and mailed to the requester.
func handleExtendRequest(rs *registration.Requests) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req registration.ExtendRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		v, err := rs.Extend(c.UserContext(), c.Params("id"), req, principal(c).ID, principal(c).Scope())
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(v)
	}
}
