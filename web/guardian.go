package web

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// A minor's guardian acts through the link mailed to them: a guardian
// token (pmg_…), which opens the guardian's page and API only. They see
// what was registered, confirm or decline it, and later withdraw the
// consents they gave or cancel.

// guardianActions are what a guardian can do, by name, for the API and
// the page alike.
func guardianActions(a *app.App) map[string]func(*fiber.Ctx, *registration.Registration) (any, error) {
	return map[string]func(*fiber.Ctx, *registration.Registration) (any, error){
		"confirm": func(c *fiber.Ctx, reg *registration.Registration) (any, error) {
			return a.Signups.ConfirmGuardian(c.UserContext(), reg)
		},
		"decline": func(c *fiber.Ctx, reg *registration.Registration) (any, error) {
			return fiber.Map{"declined": true}, a.Signups.DeclineGuardian(c.UserContext(), reg)
		},
		"withdraw": func(c *fiber.Ctx, reg *registration.Registration) (any, error) {
			return a.Rights.GuardianWithdraw(c.UserContext(), reg)
		},
		"cancel": func(c *fiber.Ctx, reg *registration.Registration) (any, error) {
			if reg.Guardian == nil || reg.Guardian.ConfirmedAt == nil {
				// Before confirming, a guardian declines.
				return nil, registration.ErrGuardianDone
			}
			return a.Cancel(c.UserContext(), reg)
		},
	}
}

func handleGuardian(s *registration.Rights) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v, err := s.AccessReport(c.UserContext(), participant(c))
		if err != nil {
			return err
		}
		return c.JSON(v)
	}
}

func handleGuardianAction(a *app.App, action string) fiber.Handler {
	do := guardianActions(a)[action]
	return func(c *fiber.Ctx) error {
		out, err := do(c, participant(c))
		if err != nil {
			return err
		}
		return c.JSON(out)
	}
}

// handleGuardianLink exchanges the guardian's mailed link for a guardian
// session, as handleManageLink does for participants.
func handleGuardianLink(a *app.App, ps *pageState) fiber.Handler {
	return openLink(ps, a.Registrations.ByGuardianToken, sessionGuardian, "g.title", "/guardian")
}

// withGuardian runs a guardian page for the session's registration.
func withGuardian(a *app.App, ps *pageState, h func(c *fiber.Ctx, reg *registration.Registration, lang string) error) fiber.Handler {
	return withSession(a, ps, sessionGuardian, "g.title", "g.lapsed", h)
}

func handleGuardianPage(a *app.App, ps *pageState) fiber.Handler {
	return withGuardian(a, ps, func(c *fiber.Ctx, reg *registration.Registration, lang string) error {
		flash := ""
		if m := c.Query("m"); m != "" {
			if _, ok := guardianActions(a)[m]; ok {
				flash = t(lang, "g.done."+m)
			}
		}
		return guardianPage(c, a, reg, lang, flash)
	})
}

func guardianPage(c *fiber.Ctx, a *app.App, reg *registration.Registration, lang, flash string) error {
	rep, err := a.Rights.AccessReport(c.UserContext(), reg)
	if err != nil {
		return err
	}
	ev, err := a.Events.Get(c.UserContext(), reg.Event)
	if err != nil {
		return err
	}
	rows, values := reportRows(rep, lang)
	title := ev.Title.In(lang)
	g := reg.Guardian
	data := fiber.Map{
		"Title": t(lang, "g.title"), "Flash": flash, "Report": rep, "Rows": rows, "Consents": consentRows(ev, reg, lang, false),
		"Intro":  fmt.Sprintf(t(lang, "g.intro"), values["name"], title),
		"Status": registration.StatusText(lang, reg.Status),
	}
	switch {
	case g.ConfirmedAt == nil && (reg.Status == registration.PendingGuardian || reg.Status == registration.Waitlisted):
		data["Pending"] = fmt.Sprintf(t(lang, "g.pending"), g.HoldUntil.In(oslo).Format("02.01.2006 15:04"))
		for _, ct := range rep.ConsentTexts {
			if ct.Purpose == privacy.ConsentGuardian {
				data["ConsentText"] = ct.Text.NB
				if lang == "en" {
					data["ConsentText"] = ct.Text.EN
				}
			}
		}
	case g.ConfirmedAt != nil:
		data["Confirmed"] = fmt.Sprintf(t(lang, "g.confirmed"), g.ConfirmedAt.In(oslo).Format("02.01.2006 15:04"))
		if g.WithdrawnAt != nil {
			data["Withdrawn"] = fmt.Sprintf(t(lang, "g.withdrawn"), g.WithdrawnAt.In(oslo).Format("02.01.2006 15:04"))
		} else {
			data["CanWithdraw"] = true
		}
		data["CanCancel"] = reg.Status.Live()
	}
	if p := reg.Payment; reg.Status == registration.PendingPayment && p != nil && p.CheckoutURL != "" && p.SessionExpiresAt != nil && a.Now().Before(*p.SessionExpiresAt) {
		data["PayURL"] = p.CheckoutURL
	}
	return render(c, "guardian", lang, data)
}

// handleGuardianPost runs a guardian's action from the page; a card
// payment now due goes on to Stripe's page.
func handleGuardianPost(a *app.App, ps *pageState, action string) fiber.Handler {
	do := guardianActions(a)[action]
	return withGuardian(a, ps, func(c *fiber.Ctx, reg *registration.Registration, lang string) error {
		out, err := do(c, reg)
		if errors.Is(err, registration.ErrGuardianDone) || errors.Is(err, registration.ErrNotCancellable) {
			return c.Redirect("/guardian?lang="+lang, fiber.StatusSeeOther)
		}
		if err != nil {
			return err
		}
		if res, ok := out.(*registration.Result); ok && res.CheckoutURL != "" {
			return c.Redirect(res.CheckoutURL, fiber.StatusSeeOther)
		}
		if action == "decline" {
			// Nothing is left to show: the data is gone.
			return render(c, "message", lang, fiber.Map{"Title": t(lang, "g.title"), "Paragraphs": []string{t(lang, "g.done.decline")}})
		}
		return c.Redirect("/guardian?lang="+lang+"&m="+action, fiber.StatusSeeOther)
	})
}
