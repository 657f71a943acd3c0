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
	v1.Delete("/events/:slug/registrations/:id", staffOnly(staff.Admin, staff.Organiser), requireEvent, handleOrganiserCancelPaid(d.Registrations, d.Payments))
	v1.Post("/events/:slug/cancel", staffOnly(staff.Admin, staff.Organiser), requireEvent, handleCancelEvent(d.Payments))
	v1.Get("/me", me, handleMe(d.Registrations))
	v1.Delete("/me/registration", me, handleMeCancelPaid(d.Payments))
	v1.Post("/me/offer/accept", me, handleAcceptOffer(d.Registrations))
	v1.Post("/tokens", staffOnly(staff.Admin), handleCreateToken(d.Staff))
	v1.Post("/payments/stripe/webhook", handleStripeWebhook(d.Payments))
	v1.Get("/finance/invoices", staffOnly(staff.Admin, staff.Finance), handleListInvoices(d.Payments))
	v1.Get("/finance/invoices/:number", staffOnly(staff.Admin, staff.Finance), handleGetInvoice(d.Payments))
	v1.Post("/finance/bank-statements", staffOnly(staff.Admin, staff.Finance), handleImportStatement(d.Payments))
	v1.Get("/finance/bank-statements/unmatched", staffOnly(staff.Admin, staff.Finance), handleUnmatched(d.Payments))
	v1.Get("/finance/reconciliation", staffOnly(staff.Admin, staff.Finance), handleReconciliation(d.Payments))
}
