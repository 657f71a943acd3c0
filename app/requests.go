package app

import (
	"context"

	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// RequestAction is what the privacy contact does on a request: the
// operation a participant could do themselves, done for them on one of
// the subject's registrations (the body of POST
// /api/v1/privacy/requests/{id}/actions).
type RequestAction struct {
	Action       string                          `json:"action"`
	Registration string                          `json:"registration"`
	Fields       map[string]string               `json:"fields"`
	Purpose      string                          `json:"purpose"`
	Objections   *registration.ObjectionsRequest `json:"objections"`
}

// ActOnRequest performs one action for an open request on one of its
// subject's registrations, and logs it on the request (by names the staff
// token). It returns what the action answers.
//
// scope is the acting token's events (nil: all): a request registered by a
// token of other events, or a registration of an event outside the
// request's scope, is out of reach.
func (a *App) ActOnRequest(ctx context.Context, requestID string, r RequestAction, by string, scope []string) (any, error) {
	reg, err := a.Requests.SubjectRegistration(ctx, requestID, r.Registration, scope)
	if err != nil {
		return nil, err
	}
	var out any
	switch r.Action {
	case "access":
		out, err = a.Rights.AccessReport(ctx, reg)
	case "export":
		out, err = a.Rights.Export(ctx, reg)
	case "rectify":
		var fresh *registration.Registration
		if fresh, err = a.Rights.Rectify(ctx, reg, registration.RectifyRequest{Fields: r.Fields}); err == nil {
			out, err = a.Rights.AccessReport(ctx, fresh)
		}
	case "erase":
		out, err = a.Erase(ctx, reg)
	case "restrict", "unrestrict":
		var fresh *registration.Registration
		if fresh, err = a.Rights.Restrict(ctx, reg, r.Action == "restrict"); err == nil {
			out = map[string]bool{"restricted": fresh.Restricted}
		}
	case "object":
		if r.Objections == nil {
			return nil, privacy.Errors{{Field: "objections", Code: privacy.CodeRequired}}
		}
		var fresh *registration.Registration
		if fresh, err = a.Rights.Object(ctx, reg, *r.Objections); err == nil {
			out = map[string]registration.Objections{"objections": fresh.Objections}
		}
	case "withdraw":
		var fresh *registration.Registration
		if fresh, err = a.Rights.WithdrawConsent(ctx, reg, privacy.ConsentPurpose(r.Purpose)); err == nil {
			out = map[string]map[privacy.ConsentPurpose]bool{"consentState": fresh.ConsentState}
		}
	default:
		return nil, privacy.Errors{{Field: "action", Code: privacy.CodeInvalid}}
	}
	if err != nil {
		return nil, err
	}
	if err := a.Requests.RecordAction(ctx, requestID, r.Action, reg.ID, by); err != nil {
		return nil, err
	}
	return out, nil
}
