package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/staff"
)

// routes is the map of the whole API: one line per route.
func routes(app *fiber.App, d Deps, ps *pageState) {
	guard := newAuthGuard(d.Limits)
	staffOnly := func(roles ...staff.Role) fiber.Handler { return requireStaff(d.Staff, guard, roles...) }
	me := requireParticipant(d.Registrations, guard)
	signupLimit := d.Limits.signupLimit()

	app.Get("/healthz", handleHealthz())
	app.Use("/assets", assetsHandler())

	// Participant pages: server-rendered, no JavaScript, CSRF on every form.
	methods := d.Registrations.PaymentMethods
	page := func(h fiber.Handler) []fiber.Handler { return []fiber.Handler{pageHeaders, ps.csrf, h} }
	app.Get("/e/:slug", page(handleEventPage(d.Events, methods))...)
	app.Post("/e/:slug", signupLimit, pageHeaders, ps.csrf, handleEventSubmit(d.Events, d.Registrations, ps, methods))
	app.Get("/e/:slug/paid", page(handlePaidPage())...)
	app.Get("/m/:token", signupLimit, pageHeaders, ps.csrf, handleManageLink(d.Registrations, ps))
	app.Get("/me", page(handleMePage(d.Registrations, ps))...)
	app.Post("/me/fields", page(handleMeFields(d.Registrations, ps))...)
	app.Post("/me/consents/:purpose/withdraw", page(handleMeWithdraw(d.Registrations, ps))...)
	app.Post("/me/offer/accept", page(handleMeAcceptOffer(d.Registrations, ps))...)
	app.Post("/me/objections", page(handleMeObject(d.Registrations, ps))...)
	app.Post("/me/restriction", page(handleMeRestrict(d.Registrations, ps))...)
	app.Get("/me/export.json", page(handleMeExportFile(d.Registrations, ps))...)
	app.Post("/me/cancel", page(handleMeCancelPage(d.Registrations, d.Payments, ps))...)
	app.Get("/me/delete", page(handleMeDeletePage(d.Registrations, ps))...)
	app.Post("/me/delete", page(handleMeDelete(d.Registrations, d.Payments, ps))...)
	app.Post("/me/logout", page(handleMeLogout(ps))...)
	app.Get("/readyz", handleReadyz(d.Store))
	app.Get("/metrics", handleMetrics(d.Metrics))

	v1 := app.Group("/api/v1")
	v1.Get("/openapi.yaml", handleOpenAPI())
	v1.Get("/catalog", handleCatalog())
	v1.Get("/events", handleListEvents(d.Events))
	v1.Post("/events", staffOnly(staff.Admin, staff.Organiser), handleCreateEvent(d.Events))
	v1.Get("/events/:slug", handleGetEvent(d.Events))
	v1.Get("/events/:slug/staff", staffOnly(staff.Admin, staff.Organiser), requireEvent, handleGetEventStaff(d.Events))
	v1.Patch("/events/:slug", staffOnly(staff.Admin, staff.Organiser), requireEvent, handlePatchEvent(d.Events, d.Registrations))
	v1.Post("/events/:slug/registrations", signupLimit, handleSignup(d.Registrations, d.Metrics))
	v1.Get("/events/:slug/registrations", staffOnly(staff.Admin, staff.Organiser, staff.Catering, staff.Finance), requireEvent, handleListRegistrations(d.Events, d.Registrations))
	v1.Delete("/events/:slug/registrations/:id", staffOnly(staff.Admin, staff.Organiser), requireEvent, handleOrganiserCancelPaid(d.Registrations, d.Payments))
	v1.Post("/events/:slug/cancel", staffOnly(staff.Admin, staff.Organiser), requireEvent, handleCancelEvent(d.Payments))
	v1.Get("/events/:slug/partner-export", staffOnly(staff.Admin, staff.Organiser, staff.Partner), requireEvent, handlePartnerExport(d.Events, d.Registrations, d.Log))
	v1.Get("/events/:slug/disclosures", staffOnly(staff.Admin, staff.Organiser, staff.Privacy), requireEvent, handleDisclosures(d.Registrations))
	v1.Get("/events/:slug/privacy-notice", handlePrivacyNotice(d.Events, d.Config.PublicURL, d.Config.DigitalConsentAge, d.Config.CardPayments))
	v1.Get("/me", me, handleMe(d.Registrations))
	v1.Patch("/me", me, handleRectify(d.Registrations))
	v1.Delete("/me", me, handleErase(d.Registrations, d.Payments))
	v1.Get("/me/export", me, handleMeExport(d.Registrations))
	v1.Post("/me/consents/:purpose/withdraw", me, handleWithdraw(d.Registrations))
	v1.Post("/me/objections", me, handleObject(d.Registrations))
	v1.Post("/me/restriction", me, handleRestrict(d.Registrations))
	v1.Delete("/me/registration", me, handleMeCancelPaid(d.Payments))
	v1.Post("/me/offer/accept", me, handleAcceptOffer(d.Registrations))
	v1.Post("/tokens", staffOnly(staff.Admin), handleCreateToken(d.Staff))
	v1.Get("/tokens", staffOnly(staff.Admin), handleListTokens(d.Staff))
	v1.Delete("/tokens/:id", staffOnly(staff.Admin), handleRevokeToken(d.Staff))
	v1.Post("/privacy/requests", staffOnly(staff.Admin, staff.Privacy), handleCreateRequest(d.Registrations))
	v1.Get("/privacy/requests", staffOnly(staff.Admin, staff.Privacy), handleListRequests(d.Registrations))
	v1.Get("/privacy/requests/:id", staffOnly(staff.Admin, staff.Privacy), handleGetRequest(d.Registrations))
	v1.Post("/privacy/requests/:id/actions", staffOnly(staff.Admin, staff.Privacy), handleRequestAction(d.Registrations, d.Payments))
	v1.Post("/privacy/requests/:id/close", staffOnly(staff.Admin, staff.Privacy), handleCloseRequest(d.Registrations))
	v1.Get("/privacy/retention", staffOnly(staff.Admin, staff.Privacy), handleRetention(d.Registrations))
	v1.Get("/privacy/records", staffOnly(staff.Admin, staff.Privacy), handleRecords(d.Events, d.Config.CardPayments))
	v1.Post("/webhooks", staffOnly(staff.Admin), handleCreateEndpoint(d.Webhooks))
	v1.Get("/webhooks", staffOnly(staff.Admin), handleListEndpoints(d.Webhooks))
	v1.Delete("/webhooks/:id", staffOnly(staff.Admin), handleDeleteEndpoint(d.Webhooks))
	v1.Get("/webhooks/:id/deliveries", staffOnly(staff.Admin), handleDeliveries(d.Webhooks))
	v1.Post("/payments/stripe/webhook", handleStripeWebhook(d.Payments, d.Metrics))
	v1.Get("/finance/invoices", staffOnly(staff.Admin, staff.Finance), handleListInvoices(d.Payments))
	v1.Get("/finance/invoices/:number", staffOnly(staff.Admin, staff.Finance), handleGetInvoice(d.Payments))
	v1.Post("/finance/bank-statements", staffOnly(staff.Admin, staff.Finance), handleImportStatement(d.Payments))
	v1.Get("/finance/bank-statements/unmatched", staffOnly(staff.Admin, staff.Finance), handleUnmatched(d.Payments))
	v1.Get("/finance/reconciliation", staffOnly(staff.Admin, staff.Finance), handleReconciliation(d.Payments))
}
