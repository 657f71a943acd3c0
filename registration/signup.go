package registration

import (
	"slices"
	"strconv"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/privacy"
)

// SignupRequest is the body of POST /api/v1/events/{slug}/registrations.
type SignupRequest struct {
	// Category is the kind of ticket (an event's category key); required
	// where the event has categories.
	Category string `json:"category"`
	// Code is a discount code, or a code that unlocks a category sold only
	// with one.
	Code string `json:"code"`
	// Addons are the items bought with the ticket.
	Addons     []AddonChoice     `json:"addons"`
	Fields     map[string]string `json:"fields"`
	Consents   ConsentsRequest   `json:"consents"`
	Objections struct {
		PartnerSharing bool `json:"partnerSharing"`
	} `json:"objections"`
	Payment PaymentRequest `json:"payment"`
	// Lang is the language of mails: nb (default) or en.
	Lang string `json:"lang"`
	// SubmissionKey makes a sign-up idempotent: a retry with the same key
	// (the Idempotency-Key header; the form's one-time field) gets the
	// registration the first made, not a second. Kept only as a hash.
	SubmissionKey string `json:"-"`
}

// PaymentRequest is how a sign-up or order pays: method card or invoice;
// EHF asks for the invoice as an EHF e-invoice too (Peppol BIS Billing
// 3.0), attached to its mail, for a buyer whose system reads it (public
// bodies must): it needs the buyer's reference.
type PaymentRequest struct {
	Method string `json:"method"`
	EHF    bool   `json:"ehf"`
}

// ConsentsRequest holds the consents as sent, by purpose: health,
// marketing, guardian, or a custom field's own; absent is refused. A
// purpose the event does not ask for is refused (undeclared).
type ConsentsRequest map[privacy.ConsentPurpose]bool

// Payment methods.
const (
	Card    = "card"
	Invoice = "invoice"
)

// checked is a sign-up request that passed every rule.
type checked struct {
	values   map[string]string // every value, health included, normalised
	consents []Consent
	minor    bool
	ticket   events.Ticket
	addons   []AddonChoice
	lines    []Line // the add-ons' (the ticket's is priced with its code)
}

// price is what the participant pays before a code: the ticket and the
// add-ons.
func (c *checked) price() int64 {
	p := c.ticket.Price
	for _, l := range c.lines {
		p += l.Gross()
	}
	return p
}

// check applies the event's form and the privacy rules to a request. It
// collects every fault so the participant can mend them all at once.
//
// digitalConsentAge is the age below which a child cannot consent to
// consent-based processing on their own (GDPR art. 8; Norway: 13).
func check(ev *events.Event, r *SignupRequest, now time.Time, ch Channel, digitalConsentAge int, methods map[string]bool, code *events.Code) (*checked, error) {
	var errs privacy.Errors
	c, age := checkPerson(ev, r, now, digitalConsentAge, code, &errs)
	if cat, ok := ev.Category(r.Category); ok && cat.TeamSize > 0 {
		errs.Add("category", CodeTeamOnly) // a relay is entered as a team, by an order
	}
	checkPayment(ev, r.Payment, c.price() > 0, methods, c.values, "fields.", &errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	c.record(ev, r.Consents, now, ch, age, digitalConsentAge)
	return c, nil
}

// checkPerson checks what a request says of its participant: the
// fields, the consents they need, the ticket, and a minor's guardian. It
// returns the participant's age today (-1 if not asked).
func checkPerson(ev *events.Event, r *SignupRequest, now time.Time, digitalConsentAge int, code *events.Code, errs *privacy.Errors) (*checked, int) {
	c := &checked{values: map[string]string{}}

	// Data minimisation: only declared fields are taken, and consents to
	// what the event asks for.
	for key := range r.Fields {
		if !ev.Asks(key) {
			errs.Add("fields."+key, privacy.CodeUndeclared)
		}
	}
	for p := range r.Consents {
		switch {
		case p == privacy.ConsentMarketing, p == privacy.ConsentGuardian, slices.Contains(ev.ConsentPurposes(), p):
		default:
			errs.Add("consents."+string(p), privacy.CodeUndeclared)
		}
	}
	for _, df := range ev.Form() {
		path := "fields." + df.Key
		v, code := df.Validation.Check(r.Fields[df.Key], now)
		switch {
		case code != "":
			errs.Add(path, code)
			continue
		case v == "":
			if df.Required {
				errs.Add(path, privacy.CodeRequired)
			}
			continue
		}
		if df.LegalBasis.NeedsConsent() && !r.Consents[df.ConsentPurpose] {
			// Not stored without the explicit consent asked in the same
			// request.
			errs.Add(path, privacy.CodeConsentRequired)
			continue
		}
		c.values[df.Key] = v
	}

	// The ticket: the category asked for, on sale now.
	var dob time.Time
	if v, ok := c.values["date_of_birth"]; ok {
		dob, _ = time.Parse(time.DateOnly, v)
	}
	var unlocked []string
	if code != nil {
		unlocked = code.Categories
	}
	c.ticket = checkCategory(ev, r.Category, now, dob, unlocked, errs)
	c.checkAddons(ev, r.Addons, errs)

	// Minors: a guardian consents and is named.
	age := -1
	if !dob.IsZero() {
		age = events.AgeOn(dob, now)
	}
	c.minor = age >= 0 && age < ev.GuardianAge
	childConsenting := false
	for p, given := range r.Consents {
		childConsenting = childConsenting || (given && p != privacy.ConsentGuardian && age >= 0 && age < digitalConsentAge)
	}
	if c.minor || childConsenting {
		for _, k := range []string{"guardian_name", "guardian_email"} {
			if c.values[k] == "" && !hasErr(*errs, "fields."+k) {
				errs.Add("fields."+k, privacy.CodeRequired)
			}
		}
		if !r.Consents[privacy.ConsentGuardian] {
			errs.Add("consents.guardian", privacy.CodeConsentRequired)
		}
	}
	switch r.Lang {
	case "", "nb", "en":
	default:
		errs.Add("lang", privacy.CodeInvalid)
	}
	return c, age
}

// checkPayment checks the payment method of something paid or free: a
// free one ignores a valid method (forms may always send one). An invoice
// needs its buyer: the form must ask for the organisation number and
// address, and values (whose faults are reported under prefix) must hold
// them.
func checkPayment(ev *events.Event, pay PaymentRequest, paid bool, methods map[string]bool, values map[string]string, prefix string, errs *privacy.Errors) {
	if pay.EHF && (pay.Method != Invoice || !paid || !ev.Asks("invoice_reference")) {
		// EHF is an invoice's, and needs the buyer's reference asked.
		errs.Add("payment.ehf", privacy.CodeInvalid)
	}
	switch pay.Method {
	case Invoice:
		if paid {
			if !methods[Invoice] || !ev.Asks("invoice_org_number") || !ev.Asks("invoice_address") {
				errs.Add("payment.method", privacy.CodeInvalid)
				break
			}
			need := []string{"invoice_org_number", "invoice_address"}
			if pay.EHF {
				need = append(need, "invoice_reference")
			}
			for _, k := range need {
				if values[k] == "" && !hasErr(*errs, prefix+k) {
					errs.Add(prefix+k, privacy.CodeRequired)
				}
			}
		}
	case Card:
		if paid && !methods[Card] {
			errs.Add("payment.method", privacy.CodeInvalid)
		}
	case "":
		if paid {
			errs.Add("payment.method", privacy.CodeRequired)
		}
	default:
		errs.Add("payment.method", privacy.CodeInvalid)
	}
}

// record records every consent asked, given or refused, with its text.
func (c *checked) record(ev *events.Event, given ConsentsRequest, now time.Time, ch Channel, age, digitalConsentAge int) {
	record := func(p privacy.ConsentPurpose, given bool) {
		t, _ := ev.ConsentText(p)
		c.consents = append(c.consents, Consent{
			Purpose: p, Given: given, At: now, TextVersion: t.Version, TextSHA256: t.SHA256(),
			Channel: ch, ByGuardian: given && (c.minor || age >= 0 && age < digitalConsentAge),
		})
	}
	for _, p := range ev.ConsentPurposes() {
		record(p, given[p])
	}
	record(privacy.ConsentMarketing, given[privacy.ConsentMarketing])
	if c.minor {
		record(privacy.ConsentGuardian, given[privacy.ConsentGuardian])
	}
}

// checkAddons checks the add-ons asked for: each the event's, once, with
// the ticket it goes with, its option one of its own; and prices them.
func (c *checked) checkAddons(ev *events.Event, asked []AddonChoice, errs *privacy.Errors) {
	seen := map[string]bool{}
	for i, ch := range asked {
		path := "addons[" + strconv.Itoa(i) + "]"
		a, ok := ev.Addon(ch.Key)
		switch {
		case !ok:
			errs.Add(path+".key", privacy.CodeUnknown)
			continue
		case seen[ch.Key]:
			errs.Add(path+".key", privacy.CodeDuplicate)
			continue
		case !a.For(c.ticket.Category) && c.ticket.Name != (privacy.Text{}):
			errs.Add(path+".key", CodeNotOnSale)
			continue
		case len(a.Options) == 0 && ch.Option != "":
			errs.Add(path+".option", privacy.CodeUndeclared)
			continue
		case len(a.Options) > 0 && ch.Option == "":
			errs.Add(path+".option", privacy.CodeRequired)
			continue
		case len(a.Options) > 0 && !slices.Contains(a.Options, ch.Option):
			errs.Add(path+".option", privacy.CodeInvalid)
			continue
		}
		seen[ch.Key] = true
		name := a.Name
		if ch.Option != "" {
			name = privacy.Text{NB: a.Name.NB + " (" + ch.Option + ")", EN: a.Name.EN + " (" + ch.Option + ")"}
		}
		c.addons = append(c.addons, AddonChoice{Key: a.Key, Option: ch.Option})
		if a.Price > 0 {
			c.lines = append(c.lines, Line{Item: ItemAddOn, Key: a.Key, Name: name, Quantity: 1, UnitGross: a.Price, VATRate: a.VATRate})
		}
	}
}

// paymentLines are what a participant pays for: the ticket, its discount
// taken off by code, and the add-ons.
func (c *checked) paymentLines(code *events.Code) []Line {
	var lines []Line
	if t := c.ticket; t.Price > 0 {
		l := Line{Item: ItemTicket, Key: t.Category, Name: t.Name, Quantity: 1, UnitGross: t.Price, VATRate: t.VATRate}
		if code != nil {
			l.Discount, l.DiscountCode = code.Off(t.Price), code.Code
		}
		lines = append(lines, l)
	}
	return append(lines, c.lines...)
}

func hasErr(errs privacy.Errors, field string) bool {
	for _, e := range errs {
		if e.Field == field {
			return true
		}
	}
	return false
}

// checkCategory finds the ticket a sign-up asks for: the event's own if
// it has no categories, else the category named, which must be on sale
// now (a code-only one only with a code that unlocks it) and, in a race, take the
// participant's age on race day.
func checkCategory(ev *events.Event, key string, now, dob time.Time, unlocked []string, errs *privacy.Errors) events.Ticket {
	if key == "" && len(ev.Categories) > 0 {
		errs.Add("category", privacy.CodeRequired)
		return events.Ticket{}
	}
	t, err := ev.Ticket(key)
	if err == nil {
		err = ev.OnSale(key, now, unlocked)
	}
	if err != nil {
		errs.Add("category", CodeNotOnSale)
		return events.Ticket{}
	}
	if c, ok := ev.Category(key); ok && !dob.IsZero() && !c.TakesAge(dob, ev.RaceDay()) {
		errs.Add("fields.date_of_birth", CodeOutsideAgeRange)
	}
	return t
}

// Codes of sign-up faults beyond the catalog's.
const (
	// CodeNotOnSale: no such category, or not on sale now to this buyer.
	CodeNotOnSale = "not_on_sale"
	// CodeOutsideAgeRange: the participant's age on race day is outside
	// the category's.
	CodeOutsideAgeRange = "outside_age_range"
	// CodeTeamOnly: a relay category is entered as a whole team, by its
	// captain's order.
	CodeTeamOnly = "team_only"
)
