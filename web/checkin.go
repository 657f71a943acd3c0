package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// checkInRequest is the body of POST /api/v1/events/{slug}/checkins.
type checkInRequest struct {
	Code string `json:"code"`
}

// handleCheckIn checks in a scanned or typed ticket code, once; a second
// scan answers 200 with the first (again: true).
func handleCheckIn(s *registration.CheckIns) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req checkInRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		if strings.TrimSpace(req.Code) == "" || len(req.Code) > 100 {
			return problem(fiber.StatusUnprocessableEntity, "validation", "Some fields are missing or invalid.", privacy.FieldError{Field: "code", Code: privacy.CodeRequired})
		}
		a, err := s.CheckIn(c.UserContext(), c.Params("slug"), req.Code, principal(c).ID)
		if err != nil {
			return err
		}
		status := fiber.StatusCreated
		if a.Again {
			status = fiber.StatusOK
		}
		return c.Status(status).JSON(a)
	}
}

type doorList struct {
	Event   string                   `json:"event"`
	Entries []registration.DoorEntry `json:"entries"`
}

// handleDoorList is the list of those who may come in, for a door without
// a network: name, category and the ticket code's hash (JSON, or CSV with
// ?format=csv).
func handleDoorList(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ev, err := a.Events.Get(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		entries, err := a.CheckIns.DoorList(c.UserContext(), ev, principal(c).ID)
		if err != nil {
			return err
		}
		if c.Query("format") != "csv" {
			return c.JSON(doorList{Event: ev.Slug, Entries: entries})
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+ev.Slug+`-door-list.csv"`)
		w, err := newSheetWriter(c, c.Response().BodyWriter())
		if err != nil {
			return err
		}
		_ = w.Write([]string{"name", "category", "ticket_sha256", "checked_in_at"})
		for _, e := range entries {
			at := ""
			if e.CheckedIn != nil {
				at = e.CheckedIn.Format("2006-01-02T15:04:05Z07:00")
			}
			_ = w.Write([]string{e.Name, e.Category, e.Ticket, at})
		}
		w.Flush()
		return w.Error()
	}
}

// errNoTicket: the registration holds no seat (yet), so it has no ticket
// to show.
var errNoTicket = problem(fiber.StatusConflict, "no_ticket", "The registration holds no confirmed seat, so it has no ticket to show.")

// ticketOf is the registration's ticket code, if it has a ticket: only a
// confirmed registration does.
func ticketOf(a *app.App, reg *registration.Registration) string {
	if reg.Status != registration.Confirmed || reg.ErasedAt != nil {
		return ""
	}
	return a.Domain.TicketCode(reg.ID)
}

// sendTicketQR answers the ticket code as a QR code (PNG), never cached.
func sendTicketQR(c *fiber.Ctx, a *app.App, reg *registration.Registration) error {
	code := ticketOf(a, reg)
	if code == "" {
		return errNoTicket
	}
	png, err := registration.TicketQR(code)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, "image/png")
	return c.Send(png)
}

func handleTicketQR(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error { return sendTicketQR(c, a, participant(c)) }
}

func handleMeTicketQR(a *app.App, ps *pageState) fiber.Handler {
	return withParticipant(a, ps, func(c *fiber.Ctx, reg *registration.Registration, _ string) error {
		return sendTicketQR(c, a, reg)
	})
}
