package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/staff"
)

// routes is the map of the whole API: one line per route.
func routes(app *fiber.App, d Deps) {
	staffOnly := func(roles ...staff.Role) fiber.Handler { return requireStaff(d.Staff, roles...) }
	me := requireParticipant(d.Registrations)

	app.Get("/healthz", handleHealthz())
	app.Get("/readyz", handleReadyz(d.Store))

	v1 := app.Group("/api/v1")
	v1.Get("/catalog", handleCatalog())
	v1.Get("/events", handleListEvents(d.Events))
	v1.Post("/events", staffOnly(staff.Admin, staff.Organiser), handleCreateEvent(d.Events))
	v1.Get("/events/:slug", handleGetEvent(d.Events))
	v1.Patch("/events/:slug", staffOnly(staff.Admin, staff.Organiser), requireEvent, handlePatchEvent(d.Events))
	v1.Post("/events/:slug/registrations", handleSignup(d.Registrations))
	v1.Get("/events/:slug/registrations", staffOnly(staff.Admin, staff.Organiser, staff.Catering, staff.Finance), requireEvent, handleListRegistrations(d.Events, d.Registrations))
	v1.Delete("/events/:slug/registrations/:id", staffOnly(staff.Admin, staff.Organiser), requireEvent, handleOrganiserCancel(d.Registrations))
	v1.Get("/me", me, handleMe(d.Registrations))
	v1.Delete("/me/registration", me, handleMeCancel(d.Registrations))
	v1.Post("/me/offer/accept", me, handleAcceptOffer(d.Registrations))
	v1.Post("/tokens", staffOnly(staff.Admin), handleCreateToken(d.Staff))
}
