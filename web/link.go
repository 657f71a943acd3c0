package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/privacy"
)

// handleLostLink is "send me my link again": the address's own inbox
// gets a link to each of its registrations (of the event, if named); the
// page answers the same whether the address is registered or not, and the
// sign-up limit bounds how often one asks.
func handleLostLink(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		slug := c.Query("event")
		data := fiber.Map{"Page": "link"}
		if c.Method() == fiber.MethodPost {
			slug = c.FormValue("event")
			email := strings.TrimSpace(c.FormValue("email"))
			if _, err := a.Rights.SendLink(c.UserContext(), email, slug); err != nil {
				var ferrs privacy.Errors
				if !errors.As(err, &ferrs) {
					return err
				}
				data["Error"], data["Email"] = t(lang, "err.invalid"), email
				c.Status(fiber.StatusUnprocessableEntity)
			} else {
				data["Sent"] = true
			}
		}
		if len(slug) <= 64 {
			data["Event"] = slug
		}
		return render(c, "link", lang, data)
	}
}
