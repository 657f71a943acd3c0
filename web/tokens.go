package web

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/staff"
)

// tokenResponse shows a new token: the only time it is ever shown.
type tokenResponse struct {
	Token     string     `json:"token"`
	ID        string     `json:"id"`
	Role      staff.Role `json:"role"`
	Name      string     `json:"name"`
	Events    []string   `json:"events"`
	Partner   string     `json:"partner,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
}

func handleCreateToken(s *staff.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req staff.CreateRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		token, t, err := s.Create(c.UserContext(), req)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Status(fiber.StatusCreated).JSON(tokenResponse{
			Token: token, ID: t.ID(), Role: t.Role, Name: t.Name,
			Events: t.Events, Partner: t.Partner, CreatedAt: t.Created,
		})
	}
}

type tokenList struct {
	Tokens []staff.TokenView `json:"tokens"`
}

func handleListTokens(s *staff.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ts, err := s.List(c.UserContext())
		if err != nil {
			return err
		}
		return c.JSON(tokenList{Tokens: ts})
	}
}

func handleRevokeToken(s *staff.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := s.Revoke(c.UserContext(), c.Params("id")); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

type jobList struct {
	Jobs []mongodb.JobStatus `json:"jobs"`
}

// handleJobs is the background jobs' status: last run, next run, lag and
// the last error, for staff.
func handleJobs(j *mongodb.Jobs) fiber.Handler {
	return func(c *fiber.Ctx) error {
		sts, err := j.Status(c.UserContext())
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(jobList{Jobs: sts})
	}
}
