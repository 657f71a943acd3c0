package web

import (
	"context"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/registration"
)

const localRegistration = "registration"

// requireParticipant authenticates a manage token sent as the bearer token.
func requireParticipant(s *registration.Store, g *authGuard) fiber.Handler {
	return requireRegistrationToken(s.ByToken, "pamelding-participant", g)
}

// requireGuardian authenticates a minor's guardian's token sent as the
// bearer token: it opens the guardian's routes only.
func requireGuardian(s *registration.Store, g *authGuard) fiber.Handler {
	return requireRegistrationToken(s.ByGuardianToken, "pamelding-guardian", g)
}

// requireRegistrationToken authenticates a bearer token that names a
// registration, found by lookup; failures count towards the guard's limit.
func requireRegistrationToken(lookup func(context.Context, string) (*registration.Registration, error), realm string, g *authGuard) fiber.Handler {
	return func(c *fiber.Ctx) error {
		token := bearer(c)
		if err := g.check(c, token); err != nil {
			return err
		}
		reg, err := lookup(c.UserContext(), token)
		if err != nil {
			if errors.Is(err, registration.ErrInvalidManageToken) {
				if lerr := g.failed(c, token); lerr != nil {
					return lerr
				}
			}
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="`+realm+`"`)
			return err
		}
		c.Locals(localRegistration, reg)
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Next()
	}
}

func participant(c *fiber.Ctx) *registration.Registration {
	reg, _ := c.Locals(localRegistration).(*registration.Registration)
	return reg
}

func handleMe(s *registration.Rights) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v, err := s.AccessReport(c.UserContext(), participant(c))
		if err != nil {
			return err
		}
		return c.JSON(v)
	}
}

func handleAcceptOffer(s *registration.Signups) fiber.Handler {
	return func(c *fiber.Ctx) error {
		res, err := s.AcceptOffer(c.UserContext(), participant(c))
		if err != nil {
			return err
		}
		return c.JSON(res)
	}
}

type newToken struct {
	// ManageToken replaces every earlier one; a link with it is mailed
	// to the participant too.
	ManageToken string `json:"manageToken"`
}

// handleRotateToken revokes the participant's manage tokens, this one
// included, and answers the one that replaces them.
func handleRotateToken(s *registration.Rights) fiber.Handler {
	return func(c *fiber.Ctx) error {
		token, err := s.RotateManageToken(c.UserContext(), participant(c))
		if err != nil {
			return err
		}
		return c.JSON(newToken{ManageToken: token})
	}
}
