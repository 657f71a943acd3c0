package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// TestInternalErrors: a 500 tells the client nothing but "internal error"
// and a request id; the log has the id and the route, and a panic's value
// (which may be whatever personal data the handler held) is not logged.
func TestInternalErrors(t *testing.T) {
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	app := fiber.New(fiber.Config{ErrorHandler: errorHandler(log)})
	app.Use(withRequestID, recoverPanics(log), accessLog(log, nil))
	app.Get("/fails", func(c *fiber.Ctx) error { return errors.New("store: server error, codes [2]") })
	app.Get("/panics", func(c *fiber.Ctx) error { panic("kari.nordmann@example.no") })

	for _, path := range []string{"/fails", "/panics"} {
		t.Run(path, func(t *testing.T) {
			logs.Reset()
			resp, err := app.Test(httptest.NewRequest("GET", path, nil))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 500 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			var p Problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Detail != "internal error" || p.Code != "internal" || p.RequestID == "" {
				t.Errorf("problem %+v", p)
			}
			if strings.Contains(string(body), "server error") || strings.Contains(string(body), "kari") {
				t.Errorf("body leaks the error: %s", body)
			}
			if !strings.Contains(logs.String(), p.RequestID) {
				t.Errorf("log lacks the request id: %s", logs)
			}
			if strings.Contains(logs.String(), "kari") {
				t.Errorf("log has the panic's value: %s", logs)
			}
		})
	}
}
