package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/api"
	"github.com/pamelding/pamelding/privacy"
)

// catalogResponse is GET /api/v1/catalog: every built-in field with its
// tags, and the consent texts participants are shown.
type catalogResponse struct {
	Fields   []privacy.Field       `json:"fields"`
	Consents []privacy.ConsentText `json:"consents"`
}

func handleCatalog() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return c.JSON(catalogResponse{Fields: privacy.Catalog(), Consents: privacy.ConsentTexts()})
	}
}

// handleOpenAPI serves the OpenAPI document of /api/v1.
func handleOpenAPI() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "application/yaml")
		return c.Send(api.OpenAPI)
	}
}
