package privacy

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
