package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/staff"
)

const localPrincipal = "principal"

// bearer returns the request's bearer token, or "".
func bearer(c *fiber.Ctx) string {
	scheme, token, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// requireStaff lets through a staff token of one of the roles: no or an
// unknown token is 401, another role 403.
func requireStaff(s *staff.Service, g *authGuard, roles ...staff.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		token := bearer(c)
		if err := g.check(c, token); err != nil {
			return err
		}
		p, err := s.Authenticate(c.UserContext(), token)
		if err != nil {
			if errors.Is(err, staff.ErrUnauthenticated) {
				if lerr := g.failed(c, token); lerr != nil {
					return lerr
				}
			}
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="pamelding"`)
			return err
		}
		if !p.Is(roles...) {
			return staff.ErrForbidden
		}
		c.Locals(localPrincipal, p)
		return c.Next()
	}
}

// principal is the staff member requireStaff let through.
func principal(c *fiber.Ctx) staff.Principal {
	p, _ := c.Locals(localPrincipal).(staff.Principal)
	return p
}

// requireEvent checks that the principal's scope covers the event named
// by the :slug parameter.
func requireEvent(c *fiber.Ctx) error {
	if !principal(c).CanEvent(c.Params("slug")) {
		return staff.ErrForbidden
	}
	return c.Next()
}
