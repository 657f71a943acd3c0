package privacy

import (
	"strings"
)

// Codes of field errors, as clients see them in a problem's errors array.
const (
	CodeRequired        = "required"
	CodeInvalid         = "invalid"
	CodeUndeclared      = "undeclared"
	CodeConsentRequired = "consent_required"
	CodeUnknown         = "unknown"
	CodeDuplicate       = "duplicate"
	CodeTooLong         = "too_long"
)

// FieldError says which field of a request is at fault and how. Field is
// the JSON path as the client sent it ("fields.email", "customFields[0].key");
// it never holds the value.
type FieldError struct {
	Field string `json:"field"`
	Code  string `json:"code"`
}

// Errors is a list of field errors; a request with any is refused whole.
type Errors []FieldError

func (e Errors) Error() string {
	var b strings.Builder
	b.WriteString("invalid request:")
	for _, fe := range e {
		b.WriteString(" ")
		b.WriteString(fe.Field)
		b.WriteString(" (")
		b.WriteString(fe.Code)
		b.WriteString(")")
	}
	return b.String()
}

// Add appends a field error.
func (e *Errors) Add(field, code string) { *e = append(*e, FieldError{Field: field, Code: code}) }

// Err returns e as an error, or nil when it is empty.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}
