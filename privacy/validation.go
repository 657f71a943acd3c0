package privacy

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	KindChoice    Kind = "choice"     // one of the field's options
	KindChoices   Kind = "choices"    // any of the field's options, comma-separated
)

// Kinds lists every kind.
var Kinds = []Kind{KindText, KindMultiline, KindEmail, KindPhone, KindPastDate, KindOrgNumber, KindChoice, KindChoices}

// Option is one answer a choice field offers: its value (stored) and its
// label (shown).
type Option struct {
	Value string `json:"value" bson:"value"`
	Label Text   `json:"label" bson:"label"`
}

// MaxLengthLimit is the longest any field may be declared.
const MaxLengthLimit = 2000

// Validation is a field's rule for its values.
type Validation struct {
	Kind Kind `json:"kind" bson:"kind"`
	// MaxLength counts characters (runes) after trimming.
	MaxLength int `json:"maxLength" bson:"maxLength"`
	// Options are a choice field's answers, in the order shown.
	Options []Option `json:"options,omitempty" bson:"options,omitempty"`
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
	// A single-line text (a title, a name, a venue) goes into mail
	// subjects, headers and lines: no line breaks or other control
	// characters that could start a header or forge a log line.
	RegisterValidation("singleline", func(fl validator.FieldLevel) bool { return SingleLine(fl.Field().String()) })
}

// SingleLine reports whether s has no line break or other control
// character.
func SingleLine(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		// Control characters, line and paragraph separators, and the
		// invisible format characters (bidi overrides, zero-width
		// spaces) that make a subject read otherwise than it is; the
		// zero-width joiner of emoji sequences stays.
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (unicode.Is(unicode.Cf, r) && r != '\u200d')
	})
}

// Check trims raw and checks it against the rule at time now. It returns
// the value to store (normalised: phone numbers in E.164, line breaks as
// \n) or "" and CodeInvalid. An empty result with no code means no value.
func (v Validation) Check(raw string, now time.Time) (string, string) {
	if !utf8.ValidString(raw) {
		return "", CodeInvalid
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", ""
	}
	if v.Kind == KindMultiline {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(v.Kind == KindMultiline && (r == '\n' || r == '\t')) {
			return "", CodeInvalid
		}
		// Bidirectional overrides can disguise a value on screen.
		if r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069' {
			return "", CodeInvalid
		}
	}
	max := v.MaxLength
	if max <= 0 {
		max = defaultMax
	}
	if utf8.RuneCountInString(s) > max {
		return "", CodeInvalid
	}
	switch v.Kind {
	case KindEmail:
		if validate.Var(s, "email") != nil {
			return "", CodeInvalid
		}
	case KindPhone:
		p, ok := normalisePhone(s)
		if !ok {
			return "", CodeInvalid
		}
		s = p
	case KindPastDate:
		d, err := time.Parse(time.DateOnly, s)
		if err != nil || !d.Before(now) || d.Year() < 1900 {
			return "", CodeInvalid
		}
	case KindOrgNumber:
		s = strings.ReplaceAll(s, " ", "")
		if !ValidOrgNumber(s) {
			return "", CodeInvalid
		}
	case KindChoice:
		if !slices.ContainsFunc(v.Options, func(o Option) bool { return o.Value == s }) {
			return "", CodeInvalid
		}
	case KindChoices:
		// Each once, in the options' order.
		picked := strings.Split(s, ",")
		for i := range picked {
			picked[i] = strings.TrimSpace(picked[i])
		}
		var out []string
		for _, o := range v.Options {
			if slices.Contains(picked, o.Value) {
				out = append(out, o.Value)
			}
		}
		for _, p := range picked {
			if p != "" && !slices.Contains(out, p) {
				return "", CodeInvalid
			}
		}
		s = strings.Join(out, ",")
	}
	return s, ""
}

// normalisePhone accepts a Norwegian number of 8 digits (spaces allowed)
// or an E.164 number, and returns it in E.164.
func normalisePhone(s string) (string, bool) {
	s = strings.NewReplacer(" ", "", "-", "").Replace(s)
	if len(s) == 8 && strings.Trim(s, "0123456789") == "" && s[0] >= '2' {
		return "+47" + s, true
	}
	if validate.Var(s, "e164") == nil {
		return s, true
	}
	return "", false
}
