// Package web is pamelding's HTTP interface: the Fiber app, its routes,
// authentication, problem documents and the participant pages. It is the
// only package that imports Fiber.
package web

import (
	"context"
	"crypto/rand"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/metrics"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/staff"
)

// Store is what the app asks of the database directly.
type Store interface {
	Ping(ctx context.Context) error
}

// Deps is everything the handlers need: the services, wired (see package
// app), and the web's own settings.
type Deps struct {
	App    *app.App
	Limits Limits
	Config Config
}

// Config is what the pages and generated documents need to know.
type Config struct {
	PublicURL         string
	DigitalConsentAge int
	// CardPayments: Stripe is configured.
	CardPayments bool
	// Processors are the data processors the record of processing names
	// (art. 30), as the operator configured them.
	Processors []privacy.Processor
	// MetricsToken opens /metrics on the public listener (as a bearer
	// token); without it /metrics is not served there.
	MetricsToken string
}

// New returns the app with every route of routes.go.
func New(d Deps) *fiber.App {
	f := fiber.New(fiber.Config{
		AppName: "pamelding",
		// At most this much is read before a handler runs; limitBody
		// reads the rest up to the route's own limit.
		BodyLimit:                    maxJSONBody,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		ReadTimeout:                  15 * time.Second,
		WriteTimeout:                 60 * time.Second,
		IdleTimeout:                  120 * time.Second,
		DisableStartupMessage:        true,
		ErrorHandler:                 errorHandler(d.App.Log),
		// Strict routing keeps one address per resource.
		StrictRouting: true,
		CaseSensitive: true,
		Views:         viewEngine(),
	})
	f.Use(withRequestID, recoverPanics(d.App.Log), accessLog(d.App.Log, d.App.Metrics), baseHeaders, limitBody, d.Limits.warnUntrustedForwarding(d.App.Log))
	routes(f, d, newPageState(d))
	f.Use(func(c *fiber.Ctx) error {
		return problem(fiber.StatusNotFound, "not_found", "No such route.") // a browser gets a page (errorHandler)
	})
	return f
}

const localRequestID = "requestId"

// withRequestID gives every request an id of our own; one sent by the
// client is not trusted (it would land in logs as given).
func withRequestID(c *fiber.Ctx) error {
	id := rand.Text()[:16]
	c.Locals(localRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
	return c.Next()
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// recoverPanics turns a panic into a 500. The panic's value is not logged:
// it may hold whatever the handler was working on; the stack is.
func recoverPanics(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.ErrorContext(c.UserContext(), "panic",
					"requestId", requestID(c), "route", c.Route().Path, "stack", string(debug.Stack()))
				err = problem(fiber.StatusInternalServerError, "internal", "internal error")
			}
		}()
		return c.Next()
	}
}

// accessLog logs and measures each request by its route pattern, never
// its path or query (a path can carry a token, a query anything).
func accessLog(log *slog.Logger, m *metrics.Metrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			p, _ := toProblem(err)
			status = p.Status
		}
		elapsed := time.Since(start)
		route := c.Route().Path
		attrs := []any{"requestId", requestID(c), "method", c.Method(), "route", route, "status", status, "ms", elapsed.Milliseconds()}
		if p, ok := c.Locals(localPrincipal).(staff.Principal); ok {
			// Who did it, for audits: the token's id, never the token.
			attrs = append(attrs, "actor", p.ID, "role", string(p.Role))
		}
		log.InfoContext(c.UserContext(), "request", attrs...)
		if m != nil {
			// Fiber's strings live in buffers it reuses; the registry keeps
			// its labels.
			m.Requests.WithLabelValues(strings.Clone(c.Method()), strings.Clone(route), strconv.Itoa(status/100)+"xx").Observe(elapsed.Seconds())
		}
		return err
	}
}

// baseHeaders go on every response, API and pages alike.
func baseHeaders(c *fiber.Ctx) error {
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	return c.Next()
}
