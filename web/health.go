package web

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/pamelding/pamelding/metrics"
)

func handleHealthz() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	}
}

// handleReadyz answers 503 when the store does not answer within a second.
func handleReadyz(s Store) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), time.Second)
		defer cancel()
		if err := s.Ping(ctx); err != nil {
			c.Set(fiber.HeaderRetryAfter, "5")
			return problem(fiber.StatusServiceUnavailable, "unavailable", "The store is not answering.")
		}
		return c.JSON(fiber.Map{"status": "ready"})
	}
}

// handleMetrics serves the Prometheus metrics.
func handleMetrics(m *metrics.Metrics) fiber.Handler {
	if m == nil {
		return func(c *fiber.Ctx) error { return fiber.ErrNotFound }
	}
	return adaptor.HTTPHandler(m.Handler())
}
