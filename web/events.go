package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
)

type eventList struct {
	Events []events.Public `json:"events"`
}

func handleListEvents(s *events.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		evs, err := s.List(c.UserContext())
		if err != nil {
			return err
		}
		out := eventList{Events: make([]events.Public, len(evs))}
		for i := range evs {
			out.Events[i] = evs[i].Public()
		}
		return c.JSON(out)
	}
}

// handleCreateEvent answers with the staff view: the creator needs it all.
// An organiser token scoped to some events may not create others.
func handleCreateEvent(s *events.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := principal(c)
		if p.Role != staff.Admin && len(p.Events) > 0 {
			return staff.ErrForbidden
		}
		var req events.CreateRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		e, err := s.Create(c.UserContext(), req, p.Name)
		if err != nil {
			return err
		}
		c.Location("/api/v1/events/" + e.Slug)
		return c.Status(fiber.StatusCreated).JSON(e)
	}
}

func handleGetEvent(s *events.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		e, err := s.Get(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		return c.JSON(e.Public())
	}
}

// handlePatchEvent changes an event; seats a larger capacity frees go to
// the waiting list first.
// patchedEvent answers a patch: the event, and when fields left the form,
// the receipt of the values purged with them.
type patchedEvent struct {
	*events.Event
	Purge *registration.PurgeReceipt `json:"purge,omitempty"`
}

func handlePatchEvent(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req events.PatchRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		e, receipt, err := a.PatchEvent(c.UserContext(), c.Params("slug"), req)
		if err != nil {
			return err
		}
		return c.JSON(patchedEvent{Event: e, Purge: receipt})
	}
}

// handleGetEventStaff is the staff view of an event: its settings, notes
// and counts, and where the money of a cancelled event stands.
func handleGetEventStaff(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		e, err := a.EventForStaff(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(e)
	}
}

// handleCreateCode makes a discount code or guest quota of the event.
func handleCreateCode(s *events.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req events.CodeRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		code, err := s.CreateCode(c.UserContext(), c.Params("slug"), req)
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(code)
	}
}

type codeList struct {
	Codes []events.Code `json:"codes"`
}

func handleListCodes(s *events.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		cs, err := s.Codes(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		if cs == nil {
			cs = []events.Code{}
		}
		return c.JSON(codeList{Codes: cs})
	}
}

// handleEraseEvent erases a free event and what its sign-ups left (see
// registration.Retention.EraseEvent).
func handleEraseEvent(r *registration.Retention) fiber.Handler {
	return func(c *fiber.Ctx) error {
		rec, err := r.EraseEvent(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		return c.JSON(rec)
	}
}
