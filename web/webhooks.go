package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/webhooks"
)

type endpointCreated struct {
	webhooks.Endpoint
	// Secret signs every delivery; it is shown only this once.
	Secret string `json:"secret"`
}

func handleCreateEndpoint(s *webhooks.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req webhooks.NewEndpoint
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		ep, secret, err := s.Create(c.UserContext(), req, principal(c).ID)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Status(fiber.StatusCreated).JSON(endpointCreated{Endpoint: *ep, Secret: secret})
	}
}

type endpointList struct {
	Endpoints []webhooks.Endpoint `json:"endpoints"`
}

func handleListEndpoints(s *webhooks.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		eps, err := s.List(c.UserContext())
		if err != nil {
			return err
		}
		return c.JSON(endpointList{Endpoints: eps})
	}
}

func handleUpdateEndpoint(s *webhooks.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req webhooks.EndpointChange
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		ep, err := s.Update(c.UserContext(), c.Params("id"), req)
		if err != nil {
			return err
		}
		return c.JSON(ep)
	}
}

func handleDeleteEndpoint(s *webhooks.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := s.Delete(c.UserContext(), c.Params("id")); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

type deliveryList struct {
	Deliveries []webhooks.Delivery `json:"deliveries"`
}

func handleDeliveries(s *webhooks.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ds, err := s.Deliveries(c.UserContext(), c.Params("id"))
		if err != nil {
			return err
		}
		return c.JSON(deliveryList{Deliveries: ds})
	}
}
