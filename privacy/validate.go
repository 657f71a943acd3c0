package privacy

import (
	"errors"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"
)

// validate is the process's one validator. Field names in its errors are
// the JSON names clients sent.
var validate = func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	return v
}()

// RegisterValidation adds a named rule for struct tags; call it from an
// init function only.
func RegisterValidation(tag string, fn validator.Func) {
	if err := validate.RegisterValidation(tag, fn); err != nil {
		panic(err)
	}
}

// Struct checks a request struct against its validate tags and returns the
// failures as field errors named by JSON path under prefix (which may be
// empty).
func Struct(prefix string, s any) Errors {
	err := validate.Struct(s)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		// Not a request struct: a programming error, not the client's.
		panic(err)
	}
	errs := make(Errors, 0, len(verrs))
	for _, fe := range verrs {
		// Namespace is "CreateRequest.title.nb": drop the type name.
		_, path, _ := strings.Cut(fe.Namespace(), ".")
		if prefix != "" {
			path = prefix + "." + path
		}
		errs.Add(path, codeOf(fe))
	}
	return errs
}

func codeOf(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required", "required_with", "required_if", "required_unless":
		return CodeRequired
	case "max":
		if fe.Kind() == reflect.String {
			return CodeTooLong
		}
	}
	return CodeInvalid
}
