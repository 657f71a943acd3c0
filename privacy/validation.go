package privacy

import (
	"strconv"

	"github.com/go-playground/validator/v10"
)

// Kind is how a field's value is checked and normalised.
type Kind string

// The kinds of value.
const (
	KindText      Kind = "text"       // one line
	KindMultiline Kind = "multiline"  // line breaks allowed
	KindEmail     Kind = "email"      // an e-mail address
	KindPhone     Kind = "phone"      // Norwegian 8 digits or E.164
	KindPastDate  Kind = "past_date"  // ISO date (YYYY-MM-DD) in the past
	KindOrgNumber Kind = "org_number" // 9 digits with the MOD11 check digit
)

// Kinds lists every kind.
var Kinds = []Kind{KindText, KindMultiline, KindEmail, KindPhone, KindPastDate, KindOrgNumber}

// MaxLengthLimit is the longest any field may be declared.
const MaxLengthLimit = 2000

// Validation is a field's rule for its values.
type Validation struct {
	Kind Kind `json:"kind" bson:"kind"`
	// MaxLength counts characters (runes) after trimming.
	MaxLength int `json:"maxLength" bson:"maxLength"`
}

// ValidOrgNumber reports whether s is a Norwegian organisation number: nine
// digits whose last is the MOD11 check digit of the first eight (weights
// 3 2 7 6 5 4 3 2).
func ValidOrgNumber(s string) bool {
	if len(s) != 9 {
		return false
	}
	weights := [8]int{3, 2, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i, r := range s {
		if r < '0' || r > '9' {
			return false
		}
		if i < 8 {
			sum += int(r-'0') * weights[i]
		}
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && strconv.Itoa(check) == s[8:]
}

func init() {
	RegisterValidation("orgnumber", func(fl validator.FieldLevel) bool {
		return ValidOrgNumber(fl.Field().String())
	})
}
