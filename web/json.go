package web

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/privacy"
)

// maxJSONBody is the largest JSON body any route takes.
const maxJSONBody = 64 << 10

// decodeJSON reads the request body into v, as strictly as the OpenAPI
// contract reads: member names match exactly (case included), a name given
// twice is refused, and so is one v does not have. It answers 415 when the
// body is not JSON, 413 past maxJSONBody, 400 when it is malformed, has a
// duplicate name or a value of the wrong type, and 422 (code unknown,
// naming it) for a member v does not have. Nothing is decoded partially
// into the caller's view: on error v must be discarded.
func decodeJSON(c *fiber.Ctx, v any) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || (mt != fiber.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return problem(http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the body as application/json.")
	}
	body := c.BodyRaw()
	if len(body) > maxJSONBody {
		return problem(http.StatusRequestEntityTooLarge, "too_large", "The body is larger than 64 KiB.")
	}
	err = json.Unmarshal(body, v, json.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	var semErr *json.SemanticError
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName):
		return problem(http.StatusBadRequest, "duplicate_name", "A member name appears twice in one object.",
			privacy.FieldError{Field: pointerPath(err), Code: "duplicate"})
	case errors.Is(err, json.ErrUnknownName):
		return problem(http.StatusUnprocessableEntity, "validation", "The body has a property this route does not take (names are case-sensitive).",
			privacy.FieldError{Field: pointerPath(err), Code: privacy.CodeUnknown})
	case errors.As(err, &semErr) && semErr.GoType != nil && semErr.Err == nil:
		field := pointerPath(err)
		if field == "" {
			field = "(body)"
		}
		return problem(http.StatusBadRequest, "wrong_type", "A value has the wrong type.",
			privacy.FieldError{Field: field, Code: "wrong_type"})
	case errors.As(err, &semErr) && semErr.Err != nil && !isSyntax(err):
		// A value its type could not read (a malformed time, a bad
		// retention rule). The text can quote the value: not echoed.
		return problem(http.StatusBadRequest, "malformed_json", "A value could not be read.",
			privacy.FieldError{Field: pointerPath(err), Code: privacy.CodeInvalid})
	}
	return problem(http.StatusBadRequest, "malformed_json", "The body is not valid JSON.")
}

func isSyntax(err error) bool {
	var syn *jsontext.SyntacticError
	return errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF)
}

// pointerPath is the dotted path (fields.email) of the member an error is
// about, from its JSON pointer.
func pointerPath(err error) string {
	var p jsontext.Pointer
	var semErr *json.SemanticError
	var synErr *jsontext.SyntacticError
	switch {
	case errors.As(err, &semErr):
		p = semErr.JSONPointer
	case errors.As(err, &synErr):
		p = synErr.JSONPointer
	}
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
	}
	return strings.Join(parts, ".")
}
