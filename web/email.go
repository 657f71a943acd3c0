package web

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/registration"
)

// A new e-mail address takes effect once confirmed from the link mailed
// to it. The link's page asks before it confirms: mail scanners open
// links, and a GET changes nothing.

func handleEmailChangePage(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		reg, err := a.Rights.EmailChangeFor(c.UserContext(), c.Params("token"))
		if errors.Is(err, registration.ErrEmailChangeInvalid) {
			return render(c.Status(fiber.StatusNotFound), "message", lang, fiber.Map{"Title": t(lang, "email.title"), "Paragraphs": []string{t(lang, "email.invalid")}, "SwitchURL": ""})
		}
		if err != nil {
			return err
		}
		ev, err := a.Events.Get(c.UserContext(), reg.Event)
		if err != nil {
			return err
		}
		title := ev.Title.In(lang)
		return render(c, "confirm", lang, fiber.Map{"Title": t(lang, "email.title"), "SwitchURL": "",
			"Text": fmt.Sprintf(t(lang, "email.text"), title), "Action": "/c/" + c.Params("token"),
			"Button": t(lang, "email.confirm"), "ButtonID": "confirm-email"})
	}
}

func handleEmailChangeConfirm(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		_, err := a.Rights.ConfirmEmail(c.UserContext(), c.Params("token"))
		if errors.Is(err, registration.ErrEmailChangeInvalid) {
			return render(c.Status(fiber.StatusNotFound), "message", lang, fiber.Map{"Title": t(lang, "email.title"), "Paragraphs": []string{t(lang, "email.invalid")}, "SwitchURL": ""})
		}
		if err != nil {
			return err
		}
		return render(c, "message", lang, fiber.Map{"Page": "email-confirmed", "Title": t(lang, "email.title"), "Paragraphs": []string{t(lang, "email.done")}, "SwitchURL": ""})
	}
}
