package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/registration"
)

type startList struct {
	Event string                      `json:"event"`
	Rows  []registration.StartListRow `json:"rows"`
}

// handleStartList answers a race's public start list: name, club, class
// and bib of those who consented to it (JSON, or CSV with ?format=csv).
// 404 for an event that publishes none.
func handleStartList(s *registration.Signups) fiber.Handler {
	return func(c *fiber.Ctx) error {
		slug := c.Params("slug")
		rows, err := s.StartList(c.UserContext(), slug)
		if err != nil {
			return err
		}
		// Public, and changes as people consent or withdraw: not cached.
		c.Set(fiber.HeaderCacheControl, "no-store")
		if c.Query("format") != "csv" {
			return c.JSON(startList{Event: slug, Rows: rows})
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+slug+`-startlist.csv"`)
		w, err := newSheetWriter(c, c.Response().BodyWriter())
		if err != nil {
			return err
		}
		_ = w.Write(registration.StartListColumns)
		for _, r := range rows {
			_ = w.Write(r.Cells())
		}
		w.Flush()
		return w.Error()
	}
}
