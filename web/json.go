package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/privacy"
)

// maxJSONBody is the largest JSON body any route takes.
const maxJSONBody = 64 << 10

// decodeJSON reads the request body into v. It answers 415 when the body
// is not JSON, 413 past maxJSONBody, 400 when it is malformed or of the
// wrong types, and 422 (code unknown, naming it) for a property v does not
// have. Nothing is decoded partially into the caller's view: on error v
// must be discarded.
func decodeJSON(c *fiber.Ctx, v any) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || (mt != fiber.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return problem(http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the body as application/json.")
	}
	body := c.Body()
	if len(body) > maxJSONBody {
		return problem(http.StatusRequestEntityTooLarge, "too_large", "The body is larger than 64 KiB.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		// One JSON value, nothing after it.
		if _, terr := dec.Token(); terr != io.EOF {
			return problem(http.StatusBadRequest, "malformed_json", "The body holds more than one JSON value.")
		}
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := jsonPath(typeErr.Field)
		if field == "" {
			field = "(body)"
		}
		return problem(http.StatusBadRequest, "wrong_type", "A value has the wrong type.",
			privacy.FieldError{Field: field, Code: "wrong_type"})
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return problem(http.StatusBadRequest, "malformed_json", "The body is not valid JSON.")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return problem(http.StatusUnprocessableEntity, "validation", "The body has a property this route does not take.",
			privacy.FieldError{Field: strings.Trim(name, `"`), Code: privacy.CodeUnknown})
	}
	// Other decoding failures (a malformed time, a bad retention rule)
	// are the client's malformed input too. Their text can quote the
	// value, so it is not echoed.
	return problem(http.StatusBadRequest, "malformed_json", "A value could not be read.")
}

// jsonPath is the path of a decoding error as the client wrote it: the
// decoder names a member of an embedded Go struct with the struct's name
// first (PatchRequest.capacity), which no JSON name has, as all start
// with a lower-case letter.
func jsonPath(field string) string {
	parts := strings.Split(field, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && p[0] >= 'A' && p[0] <= 'Z' {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}
