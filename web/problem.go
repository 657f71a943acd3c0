package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
	"github.com/pamelding/pamelding/webhooks"
)

// Problem is an RFC 9457 problem document. Code repeats the last segment
// of Type for clients that switch on a word; Errors lists the fields at
// fault.
type Problem struct {
	Type      string               `json:"type"`
	Title     string               `json:"title"`
	Status    int                  `json:"status"`
	Detail    string               `json:"detail,omitempty"`
	Code      string               `json:"code"`
	Errors    []privacy.FieldError `json:"errors,omitempty"`
	RequestID string               `json:"requestId,omitempty"`
}

// problemTypeBase prefixes problem codes into type URIs (RFC 4151 tag
// URIs: they name the type without promising a page behind it).
const problemTypeBase = "tag:pamelding.no,2026:problem:"

// problemErr is an error that is already a client's problem.
type problemErr struct {
	status int
	code   string
	detail string
	errs   []privacy.FieldError
}

func (e *problemErr) Error() string { return e.code + ": " + e.detail }

func problem(status int, code, detail string, errs ...privacy.FieldError) error {
	return &problemErr{status: status, code: code, detail: detail, errs: errs}
}

// domainErrors maps the domain's sentinel errors to HTTP, in one table.
// Errors not listed are internal: the client reads "internal error" and
// only the log has more.
var domainErrors = []struct {
	err    error
	status int
	code   string
	detail string
}{
	{events.ErrNotFound, http.StatusNotFound, "not_found", "No event has that slug."},
	{events.ErrSlugTaken, http.StatusConflict, "slug_taken", "An event already has that slug."},
	{events.ErrConflict, http.StatusConflict, "conflict", "The event changed while this request was handled; read it again and retry."},
	{events.ErrCapacityBelowTaken, http.StatusConflict, "capacity_below_taken", "More seats are taken than the new capacity."},
	{registration.ErrTooLate, http.StatusConflict, "extension_not_allowed", "The deadline can be extended by two months in all, before it has passed."},
	{events.ErrTagsInUse, http.StatusConflict, "field_tags_in_use", "Participants signed up under this field's tags (category, legal basis, purposes, recipients, retention, consent): they cannot change. Add a new field, with another key, instead."},
	{events.ErrSoldOut, http.StatusConflict, "sold_out", "No seat is left."},
	{events.ErrCategoryInUse, http.StatusConflict, "category_in_use", "Participants hold seats in a category that would be removed; cancel or move them first, or stop its sale with saleUntil."},
	{events.ErrCodeUsedUp, http.StatusConflict, "code_used_up", "The code was used as often as it may be."},
	{events.ErrCodeTaken, http.StatusConflict, "code_taken", "The event has that code already."},
	{events.ErrNoCategory, http.StatusConflict, "not_on_sale", "The category is no longer on sale."},
	{registration.ErrEventSells, http.StatusConflict, "event_sells", "The event sells something or holds payment records, which bookkeeping keeps: cancel it instead."},
	{registration.ErrNotFound, http.StatusNotFound, "not_found", "No such registration."},
	{registration.ErrTicketInvalid, http.StatusNotFound, "not_a_ticket", "This is not a ticket of this event."},
	{registration.ErrTicketCancelled, http.StatusConflict, "ticket_cancelled", "The registration was cancelled, expired or deleted: no entry."},
	{registration.ErrTicketUnpaid, http.StatusConflict, "ticket_unpaid", "The ticket is not paid: no entry until it is."},
	{registration.ErrTicketNoSeat, http.StatusConflict, "ticket_no_seat", "The registration holds no seat (waiting list, or waiting for a guardian): no entry."},
	{registration.ErrRegistrationClosed, http.StatusConflict, "registration_closed", "Registration for this event is not open."},
	{registration.ErrNotCancellable, http.StatusConflict, "not_cancellable", "The registration is already cancelled or expired."},
	{registration.ErrNoOffer, http.StatusConflict, "no_offer", "There is no open offer of a seat."},
	{registration.ErrGuardianDone, http.StatusConflict, "guardian_done", "There is nothing for the guardian to do: the registration was confirmed, withdrawn, declined or lapsed already."},
	{registration.ErrInvalidManageToken, http.StatusUnauthorized, "unauthenticated", "A valid manage token is required."},
	{registration.ErrNoStartList, http.StatusNotFound, "not_found", "The event publishes no start list."},
	{events.ErrNoBibs, http.StatusConflict, "no_bibs_left", "The category's start numbers are used up."},
	{registration.ErrOrderPaymentPending, http.StatusConflict, "order_payment_pending", "The order's card payment is not made yet: a participant can leave once it is paid (their share is refunded), or when the payment page expires."},
	{registration.ErrOrderAborted, http.StatusServiceUnavailable, "order_aborted", "The order took too long and was undone; nothing was kept. Try again."},
	{registration.ErrPaymentUnavailable, http.StatusServiceUnavailable, "payment_unavailable", "The payment provider did not answer; nothing was kept. Try again shortly."},
	{payments.ErrBadSignature, http.StatusBadRequest, "bad_signature", "The webhook signature is missing, wrong or too old."},
	{payments.ErrUnsupportedAPIVersion, http.StatusBadRequest, "unsupported_api_version", "The webhook's object cannot be read in its Stripe API version; create the endpoint with a version this service reads (2023-10-16)."},
	{payments.ErrBadPayload, http.StatusBadRequest, "bad_payload", "The webhook payload could not be read."},
	{payments.ErrInvoiceNotFound, http.StatusNotFound, "not_found", "No invoice has that number."},
	{payments.ErrNoEHF, http.StatusUnprocessableEntity, "no_ehf", "The buyer has no organisation number to send an EHF invoice to; the PDF is the invoice."},
	{payments.ErrBadStatement, http.StatusUnprocessableEntity, "bad_statement", "The file is not a camt.053 or camt.054 statement this service can read."},
	{registration.ErrErased, http.StatusGone, "erased", "The registration's data was erased."},
	{registration.ErrUnknownPurpose, http.StatusNotFound, "not_found", "No consent has that purpose."},
	{registration.ErrUnknownPartner, http.StatusBadRequest, "bad_query", "The event has no such partner."},
	{registration.ErrRequestNotFound, http.StatusNotFound, "not_found", "No privacy request has that id."},
	{registration.ErrRequestClosed, http.StatusConflict, "request_closed", "The privacy request is closed."},
	{registration.ErrNotSubject, http.StatusNotFound, "not_found", "The request's subject has no such registration."},
	{webhooks.ErrEndpointNotFound, http.StatusNotFound, "not_found", "No webhook endpoint has that id."},
	{staff.ErrTokenNotFound, http.StatusNotFound, "not_found", "No token has that id."},
	{staff.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated", "A valid bearer token is required."},
	{staff.ErrForbidden, http.StatusForbidden, "forbidden", "This token may not do that."},
	{mongodb.ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "The store is not answering; try again shortly."},
}

// toProblem turns any error a handler returned into the problem to send,
// and says whether it is internal (to be logged).
func toProblem(err error) (Problem, bool) {
	var pe *problemErr
	if errors.As(err, &pe) {
		return newProblem(pe.status, pe.code, pe.detail, pe.errs), false
	}
	var se *payments.StatementError
	if errors.As(err, &se) { // names the element and the rule the file breaks
		return newProblem(http.StatusUnprocessableEntity, "bad_statement", "The bank statement cannot be read: "+se.Detail(), nil), false
	}
	var so *events.SoldOutError
	if errors.As(err, &so) && so.Category != "" { // names the category that is full
		return newProblem(http.StatusConflict, "sold_out", "No seat is left in the category "+so.Category+".",
			[]privacy.FieldError{{Field: "category", Code: "sold_out"}}), false
	}
	var ferrs privacy.Errors
	if errors.As(err, &ferrs) {
		return newProblem(http.StatusUnprocessableEntity, "validation", "Some fields are missing or invalid.", ferrs), false
	}
	for _, d := range domainErrors {
		if errors.Is(err, d.err) {
			return newProblem(d.status, d.code, d.detail, nil), d.status >= 500
		}
	}
	var fe *fiber.Error
	if errors.As(err, &fe) && fe.Code < 500 {
		return newProblem(fe.Code, fiberCode(fe.Code), fe.Message, nil), false
	}
	return newProblem(http.StatusInternalServerError, "internal", "internal error", nil), true
}

func newProblem(status int, code, detail string, errs []privacy.FieldError) Problem {
	return Problem{
		Type: problemTypeBase + code, Title: http.StatusText(status), Status: status,
		Detail: detail, Code: code, Errors: errs,
	}
}

func fiberCode(status int) string {
	switch status {
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusRequestHeaderFieldsTooLarge:
		return "headers_too_large"
	case http.StatusRequestTimeout:
		return "timeout"
	}
	return "bad_request"
}

// errorHandler is the app's one error handler: every error becomes a
// problem document; internal ones are logged with the request id and the
// route, never with the request's content.
func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		p, internal := toProblem(err)
		p.RequestID = requestID(c)
		if internal {
			log.ErrorContext(c.UserContext(), "request failed",
				"requestId", p.RequestID, "method", c.Method(), "route", c.Route().Path,
				"status", p.Status, "err", err)
		}
		if p.Status == http.StatusServiceUnavailable {
			c.Set(fiber.HeaderRetryAfter, "5")
		}
		if wantsPage(c) {
			if err := errorPage(c, p.Status, p.RequestID); err == nil {
				return nil
			}
		}
		c.Status(p.Status)
		c.Set(fiber.HeaderContentType, "application/problem+json")
		return c.JSON(p, "application/problem+json")
	}
}
