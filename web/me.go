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
	return requireToken(s.ByToken, "pamelding-participant", localRegistration, g)
}

// requireGuardian authenticates a minor's guardian's token sent as the
// bearer token: it opens the guardian's routes only.
func requireGuardian(s *registration.Store, g *authGuard) fiber.Handler {
	return requireToken(s.ByGuardianToken, "pamelding-guardian", localRegistration, g)
}

// requireToken authenticates a bearer token that opens what lookup finds
// (a registration, a buyer's order), kept in the request's locals under
// local; failures count towards the guard's limit.
func requireToken[T any](lookup func(context.Context, string) (T, error), realm, local string, g *authGuard) fiber.Handler {
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
		c.Locals(local, reg)
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
