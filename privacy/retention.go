package privacy

import (
	_ "time/tzdata" // Europe/Oslo wherever the binary runs

	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Anchor is the moment a retention period counts from.
type Anchor string

// The anchors.
const (
	// EventEnd: the end of the event the registration is for.
	EventEnd Anchor = "event_end"
	// FiscalYearEnd: the end of the fiscal year of the invoice or payment
	// (bookkeeping act § 13: five years after it).
	FiscalYearEnd Anchor = "fiscal_year_end"
	// WithRegistration: kept exactly as long as the registration itself.
	WithRegistration Anchor = "with_registration"
	// UntilWithdrawn: kept until the consent is withdrawn.
	UntilWithdrawn Anchor = "until_withdrawn"
)

// Retention says when a field's value is deleted: Years, Months and Days
// after Anchor. Fields collected under consent are also deleted when the
// consent is withdrawn, whatever their retention.
type Retention struct {
	Anchor Anchor
	Years  int
	Months int
	Days   int
}

var retentionRE = regexp.MustCompile(`^(event_end|fiscal_year_end|with_registration|until_withdrawn)(?:\+([1-9][0-9]{0,2})([dmy]))?$`)

// ParseRetention reads a rule such as "event_end+30d", "fiscal_year_end+5y"
// or "with_registration".
func ParseRetention(s string) (Retention, error) {
	m := retentionRE.FindStringSubmatch(s)
	if m == nil {
		return Retention{}, fmt.Errorf("retention %q: want ANCHOR or ANCHOR+N(d|m|y) with ANCHOR one of event_end, fiscal_year_end, with_registration, until_withdrawn", s)
	}
	r := Retention{Anchor: Anchor(m[1])}
	if m[2] != "" {
		if r.Anchor == WithRegistration || r.Anchor == UntilWithdrawn {
			return Retention{}, fmt.Errorf("retention %q: %s takes no period", s, r.Anchor)
		}
		n, _ := strconv.Atoi(m[2])
		switch m[3] {
		case "d":
			r.Days = n
		case "m":
			r.Months = n
		case "y":
			r.Years = n
		}
	}
	return r, nil
}

// MustRetention is ParseRetention for rules written in code.
func MustRetention(s string) Retention {
	r, err := ParseRetention(s)
	if err != nil {
		panic(err)
	}
	return r
}

func (r Retention) String() string {
	switch {
	case r.Years > 0:
		return fmt.Sprintf("%s+%dy", r.Anchor, r.Years)
	case r.Months > 0:
		return fmt.Sprintf("%s+%dm", r.Anchor, r.Months)
	case r.Days > 0:
		return fmt.Sprintf("%s+%dd", r.Anchor, r.Days)
	}
	return string(r.Anchor)
}

// IsZero reports whether no rule is set.
func (r Retention) IsZero() bool { return r.Anchor == "" }

// MarshalJSON writes the rule as its string.
func (r Retention) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// UnmarshalJSON reads the rule from its string.
func (r *Retention) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	return r.set(s)
}

// MarshalBSONValue stores the rule as its string.
func (r Retention) MarshalBSONValue() (byte, []byte, error) {
	t, b, err := bson.MarshalValue(r.String())
	return byte(t), b, err
}

// UnmarshalBSONValue reads the rule from its string.
func (r *Retention) UnmarshalBSONValue(t byte, b []byte) error {
	var s string
	if err := bson.UnmarshalValue(bson.Type(t), b, &s); err != nil {
		return err
	}
	return r.set(s)
}

// set parses s into r; "" is no rule.
func (r *Retention) set(s string) error {
	if s == "" {
		*r = Retention{}
		return nil
	}
	p, err := ParseRetention(s)
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// Anchors are the moments retention periods count from for one
// registration.
type Anchors struct {
	EventEnd time.Time
	// FiscalYearEnd: the end of the fiscal (calendar) year of the invoice
	// or payment; zero when there is none.
	FiscalYearEnd time.Time
}

// EndOfFiscalYear is the last moment of t's calendar year, in Norway's
// time: the Norwegian fiscal year is the calendar year.
func EndOfFiscalYear(t time.Time) time.Time {
	y := t.In(Oslo).Year()
	return time.Date(y+1, 1, 1, 0, 0, 0, 0, Oslo).Add(-time.Millisecond).UTC()
}

// Oslo is Norway's time zone: fiscal years end, invoices are dated and
// participants read dates in it. The zone database is linked into the
// binary (time/tzdata), so a container without one reads it right.
var Oslo = func() *time.Location {
	l, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		panic("time zone Europe/Oslo: " + err.Error())
	}
	return l
}()

// DeleteAt is when a value under this rule is deleted. ok is false for
// rules with no date of their own (with_registration, until_withdrawn),
// or when the anchor is not known yet.
func (r Retention) DeleteAt(a Anchors) (time.Time, bool) {
	var base time.Time
	switch r.Anchor {
	case EventEnd:
		base = a.EventEnd
	case FiscalYearEnd:
		base = a.FiscalYearEnd
		if base.IsZero() {
			base = EndOfFiscalYear(a.EventEnd)
		}
	default:
		return time.Time{}, false
	}
	if base.IsZero() {
		return time.Time{}, false
	}
	return base.AddDate(r.Years, r.Months, r.Days), true
}

// AddMonths is t n calendar months later, on the same day of the month,
// or the month's last day where it has no such day: one month after 31
// January is 28 (or 29) February, not 3 March. This is how GDPR art.
// 12(3)'s "one month" counts (Regulation 1182/71 art. 3(2)(c)).
func AddMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}
