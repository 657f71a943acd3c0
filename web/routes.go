package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/staff"
)

// routes is the map of the whole API: one line per route.
func routes(f *fiber.App, d Deps, ps *pageState) {
	a := d.App
	guard := newAuthGuard(d.Limits)
	staffOnly := func(roles ...staff.Role) fiber.Handler { return requireStaff(a.Staff, guard, roles...) }
	me := requireParticipant(a.Registrations, guard)
	signupLimit := d.Limits.signupLimit()

	f.Get("/healthz", handleHealthz())
	f.Use("/assets", assetsHandler())

	// Participant pages: server-rendered, no JavaScript, CSRF on every form.
	methods := a.Signups.PaymentMethods
	page := func(h fiber.Handler) []fiber.Handler { return []fiber.Handler{pageHeaders, ps.csrf, h} }
	f.Get("/e/:slug", page(handleEventPage(a.Events, methods))...)
	f.Post("/e/:slug", signupLimit, pageHeaders, ps.csrf, handleEventSubmit(a, ps, methods))
	f.Get("/e/:slug/paid", page(handlePaidPage())...)
	f.Get("/m/:token", signupLimit, pageHeaders, ps.csrf, handleManageLink(a, ps))
	f.Get("/me", page(handleMePage(a, ps))...)
	f.Post("/me/fields", page(handleMeFields(a, ps))...)
	f.Post("/me/consents/:purpose/withdraw", page(handleMeWithdraw(a, ps))...)
	f.Post("/me/offer/accept", page(handleMeAcceptOffer(a, ps))...)
	f.Post("/me/objections", page(handleMeObject(a, ps))...)
	f.Post("/me/restriction", page(handleMeRestrict(a, ps))...)
	f.Get("/me/export.json", page(handleMeExportFile(a, ps))...)
	f.Post("/me/cancel", page(handleMeCancelPage(a, ps))...)
	f.Get("/me/delete", page(handleMeDeletePage(a, ps))...)
	f.Post("/me/delete", page(handleMeDelete(a, ps))...)
	f.Post("/me/logout", page(handleMeLogout(ps))...)
	f.Get("/readyz", handleReadyz(a.Store))
	f.Get("/metrics", handleMetrics(a.Metrics))

	v1 := f.Group("/api/v1")
	v1.Get("/openapi.yaml", handleOpenAPI())
	v1.Get("/catalog", handleCatalog())
	v1.Get("/events", handleListEvents(a.Events))
	v1.Post("/events", staffOnly(staff.Admin, staff.Organiser), handleCreateEvent(a.Events))
	v1.Get("/events/:slug", handleGetEvent(a.Events))
	v1.Get("/events/:slug/staff", staffOnly(staff.Admin, staff.Organiser), requireEvent, handleGetEventStaff(a))
	v1.Patch("/events/:slug", staffOnly(staff.Admin, staff.Organiser), requireEvent, handlePatchEvent(a))
	v1.Post("/events/:slug/registrations", signupLimit, handleSignup(a.Signups, a.Metrics))
	v1.Get("/events/:slug/registrations", staffOnly(staff.Admin, staff.Organiser, staff.Catering, staff.Finance), requireEvent, handleListRegistrations(a.Events, a.Lists))
	v1.Delete("/events/:slug/registrations/:id", staffOnly(staff.Admin, staff.Organiser), requireEvent, handleOrganiserCancelPaid(a))
	v1.Post("/events/:slug/cancel", staffOnly(staff.Admin, staff.Organiser), requireEvent, handleCancelEvent(a))
	v1.Get("/events/:slug/partner-export", staffOnly(staff.Admin, staff.Organiser, staff.Partner), requireEvent, handlePartnerExport(a.Events, a.Lists, a.Log))
	v1.Get("/events/:slug/disclosures", staffOnly(staff.Admin, staff.Organiser, staff.Privacy), requireEvent, handleDisclosures(a.Lists))
	v1.Get("/events/:slug/privacy-notice", handlePrivacyNotice(a.Events, d.Config.PublicURL, d.Config.DigitalConsentAge, d.Config.CardPayments))
	v1.Get("/me", me, handleMe(a.Rights))
	v1.Patch("/me", me, handleRectify(a.Rights))
	v1.Delete("/me", me, handleErase(a))
	v1.Get("/me/export", me, handleMeExport(a.Rights))
	v1.Post("/me/consents/:purpose/withdraw", me, handleWithdraw(a.Rights))
	v1.Post("/me/objections", me, handleObject(a.Rights))
	v1.Post("/me/restriction", me, handleRestrict(a.Rights))
	v1.Delete("/me/registration", me, handleMeCancelPaid(a))
	v1.Post("/me/offer/accept", me, handleAcceptOffer(a.Signups))
	v1.Post("/tokens", staffOnly(staff.Admin), handleCreateToken(a.Staff))
	v1.Get("/tokens", staffOnly(staff.Admin), handleListTokens(a.Staff))
	v1.Delete("/tokens/:id", staffOnly(staff.Admin), handleRevokeToken(a.Staff))
	v1.Get("/jobs", staffOnly(staff.Admin), handleJobs(a.Runner))
	v1.Post("/privacy/requests", staffOnly(staff.Admin, staff.Privacy), handleCreateRequest(a.Requests))
	v1.Get("/privacy/requests", staffOnly(staff.Admin, staff.Privacy), handleListRequests(a.Requests))
	v1.Get("/privacy/requests/:id", staffOnly(staff.Admin, staff.Privacy), handleGetRequest(a.Requests))
	v1.Post("/privacy/requests/:id/actions", staffOnly(staff.Admin, staff.Privacy), handleRequestAction(a))
	v1.Post("/privacy/requests/:id/close", staffOnly(staff.Admin, staff.Privacy), handleCloseRequest(a.Requests))
	v1.Post("/privacy/requests/:id/extend", staffOnly(staff.Admin, staff.Privacy), handleExtendRequest(a.Requests))
	v1.Get("/privacy/retention", staffOnly(staff.Admin, staff.Privacy), handleRetention(a.Retention))
	v1.Get("/privacy/records", staffOnly(staff.Admin, staff.Privacy), handleRecords(a.Events, d.Config.CardPayments))
	v1.Post("/webhooks", staffOnly(staff.Admin), handleCreateEndpoint(a.Webhooks))
	v1.Get("/webhooks", staffOnly(staff.Admin), handleListEndpoints(a.Webhooks))
	v1.Delete("/webhooks/:id", staffOnly(staff.Admin), handleDeleteEndpoint(a.Webhooks))
	v1.Get("/webhooks/:id/deliveries", staffOnly(staff.Admin), handleDeliveries(a.Webhooks))
	v1.Post("/payments/stripe/webhook", handleStripeWebhook(a.Payments, a.Metrics))
	v1.Get("/finance/invoices", staffOnly(staff.Admin, staff.Finance), handleListInvoices(a.Invoices))
	v1.Get("/finance/invoices/:number", staffOnly(staff.Admin, staff.Finance), handleGetInvoice(a.Invoices))
	v1.Post("/finance/bank-statements", staffOnly(staff.Admin, staff.Finance), handleImportStatement(a.Payments))
	v1.Get("/finance/bank-statements/unmatched", staffOnly(staff.Admin, staff.Finance), handleUnmatched(a.Payments))
	v1.Get("/finance/reconciliation", staffOnly(staff.Admin, staff.Finance), handleReconciliation(a.Payments))
}
