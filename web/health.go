package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
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

// handleReadyz answers 503 when the store or the key store (every
// sign-up writes both) does not answer within a second.
func handleReadyz(stores ...Store) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), time.Second)
		defer cancel()
		for _, s := range stores {
			if err := s.Ping(ctx); err != nil {
				c.Set(fiber.HeaderRetryAfter, "5")
				return problem(fiber.StatusServiceUnavailable, "unavailable", "The store is not answering.")
			}
		}
		return c.JSON(fiber.Map{"status": "ready"})
	}
}

// handleMetrics serves the Prometheus metrics on the public listener
// only to a scraper with the metrics token; without one configured they
// are not there (serve them with MetricsApp on a private address).
func handleMetrics(m *metrics.Metrics, token string) fiber.Handler {
	if m == nil || token == "" {
		return func(c *fiber.Ctx) error { return problem(fiber.StatusNotFound, "not_found", "No such route.") }
	}
	h := adaptor.HTTPHandler(m.Handler())
	want := sha256.Sum256([]byte(token))
	return func(c *fiber.Ctx) error {
		got := sha256.Sum256([]byte(bearer(c)))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="pamelding-metrics"`)
			return problem(fiber.StatusUnauthorized, "unauthenticated", "The metrics token is required.")
		}
		return h(c)
	}
}

// MetricsApp serves /metrics alone, without a token, for a listener on a
// private address (PAMELDING_METRICS_ADDR) that only the scraper reaches.
func MetricsApp(m *metrics.Metrics) *fiber.App {
	f := fiber.New(fiber.Config{AppName: "pamelding-metrics", DisableStartupMessage: true, ReadTimeout: 15 * time.Second, BodyLimit: 1})
	if m != nil {
		f.Get("/metrics", adaptor.HTTPHandler(m.Handler()))
	}
	return f
}
