package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/metrics"
	"github.com/pamelding/pamelding/registration"
)

// handleOrder registers an order's participants: all or none (201, or
// 409 naming the category that is full). The order token opens the
// buyer's view; each participant's link goes to them by mail, never to
// the buyer.
func handleOrder(s *registration.Signups, m *metrics.Metrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req registration.OrderRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		key, err := submissionKey(c)
		if err != nil {
			return err
		}
		req.SubmissionKey = key
		res, err := s.Order(c.UserContext(), c.Params("slug"), req, registration.API)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		if res.Resubmitted {
			return c.JSON(res)
		}
		for range res.Participants {
			countSignup(m, &registration.Result{Status: registration.Confirmed}, nil)
		}
		return c.Status(fiber.StatusCreated).JSON(res)
	}
}

// requireBuyer authenticates an order token sent as the bearer token:
// it opens the order's view, never a participant's registration.
func requireBuyer(s *registration.Signups, g *authGuard) fiber.Handler {
	return requireToken(s.OrderByToken, "pamelding-buyer", localOrder, g)
}

const localOrder = "order"

func buyerOrder(c *fiber.Ctx) *registration.OrderResult {
	o, _ := c.Locals(localOrder).(*registration.OrderResult)
	return o
}

// handleOrderView shows the buyer their order: names, tickets, payment.
func handleOrderView() fiber.Handler {
	return func(c *fiber.Ctx) error { return c.JSON(buyerOrder(c)) }
}

// handleOrderCancelParticipant cancels one participant of the buyer's
// order: only that participant's line is refunded or credited.
func handleOrderCancelParticipant(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		o := buyerOrder(c)
		id := c.Params("id")
		found := false
		for _, p := range o.Participants {
			found = found || p.ID == id
		}
		if !found {
			return registration.ErrNotFound
		}
		reg, err := a.Signups.Get(c.UserContext(), o.Event, id)
		if err != nil {
			return err
		}
		out, err := a.Cancel(c.UserContext(), reg)
		if err != nil {
			return err
		}
		return c.JSON(out)
	}
}
