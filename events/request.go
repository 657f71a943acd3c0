package events

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/pamelding/pamelding/privacy"
)

// CreateRequest is the body of POST /api/v1/events.
type CreateRequest struct {
	Slug                 string                    `json:"slug" validate:"required,slug"`
	Kind                 Kind                      `json:"kind" validate:"required,oneof=conference course race"`
	Title                privacy.Text              `json:"title"`
	Venue                string                    `json:"venue" validate:"max=200"`
	StartsAt             time.Time                 `json:"startsAt" validate:"required"`
	EndsAt               time.Time                 `json:"endsAt" validate:"required,gtfield=StartsAt"`
	RegistrationOpensAt  *time.Time                `json:"registrationOpensAt"`
	RegistrationClosesAt *time.Time                `json:"registrationClosesAt"`
	Capacity             int                       `json:"capacity" validate:"required,min=1,max=1000000"`
	Waitlist             bool                      `json:"waitlist"`
	GuardianAge          int                       `json:"guardianAge" validate:"omitempty,min=1,max=25"`
	Price                PriceRequest              `json:"price"`
	VATRate              int                       `json:"vatRate" validate:"oneof=0 12 15 25"`
	RefundDeadline       *time.Time                `json:"refundDeadline"`
	PrefillEmail         bool                      `json:"prefillEmail"`
	Fields               []FormFieldRequest        `json:"fields" validate:"required,min=1,max=100,dive"`
	CustomFields         []privacy.CustomFieldSpec `json:"customFields" validate:"max=50"`
	Partners             []PartnerRequest          `json:"partners" validate:"max=100,dive"`
	Organiser            OrganiserRequest          `json:"organiser"`
	PublicList           bool                      `json:"publicList"`
	Notes                string                    `json:"notes" validate:"max=2000"`
}

// PriceRequest is a price as sent; a missing price means free.
type PriceRequest struct {
	Amount   int64  `json:"amount" validate:"min=0,max=100000000"`
	Currency string `json:"currency" validate:"omitempty,oneof=NOK"`
}

// FormFieldRequest is one form field as sent.
type FormFieldRequest struct {
	Key      string `json:"key" validate:"required,max=40"`
	Required bool   `json:"required"`
}

// PartnerRequest is one partner as sent.
type PartnerRequest struct {
	ID   string `json:"id" validate:"required,slug"`
	Name string `json:"name" validate:"required,max=200"`
}

// OrganiserRequest is the organiser as sent.
type OrganiserRequest struct {
	Name         string `json:"name" validate:"required,max=200"`
	OrgNumber    string `json:"orgNumber" validate:"omitempty,orgnumber"`
	PrivacyEmail string `json:"privacyEmail" validate:"required,email,max=254"`
}

// PatchRequest is the body of PATCH /api/v1/events/{slug}: members left
// out stay as they are. The slug cannot change: it is in every link a
// participant was sent.
type PatchRequest struct {
	Kind                 *Kind                      `json:"kind"`
	Title                *privacy.Text              `json:"title"`
	Venue                *string                    `json:"venue"`
	StartsAt             *time.Time                 `json:"startsAt"`
	EndsAt               *time.Time                 `json:"endsAt"`
	RegistrationOpensAt  *time.Time                 `json:"registrationOpensAt"`
	RegistrationClosesAt *time.Time                 `json:"registrationClosesAt"`
	Capacity             *int                       `json:"capacity"`
	Waitlist             *bool                      `json:"waitlist"`
	GuardianAge          *int                       `json:"guardianAge"`
	Price                *PriceRequest              `json:"price"`
	VATRate              *int                       `json:"vatRate"`
	RefundDeadline       *time.Time                 `json:"refundDeadline"`
	PrefillEmail         *bool                      `json:"prefillEmail"`
	Fields               *[]FormFieldRequest        `json:"fields"`
	CustomFields         *[]privacy.CustomFieldSpec `json:"customFields"`
	Partners             *[]PartnerRequest          `json:"partners"`
	Organiser            *OrganiserRequest          `json:"organiser"`
	PublicList           *bool                      `json:"publicList"`
	Notes                *string                    `json:"notes"`
}

// DefaultGuardianAge is the age below which a guardian must consent, unless
// the event sets another.
const DefaultGuardianAge = 18

var slugRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

func init() {
	privacy.RegisterValidation("slug", func(fl validator.FieldLevel) bool {
		s := fl.Field().String()
		return len(s) <= 64 && slugRE.MatchString(s)
	})
}

// build checks a request and makes the event it describes, or returns every
// fault found. now is when the request arrived.
func (r *CreateRequest) build(now time.Time) (*Event, error) {
	r.trim()
	errs := privacy.Struct("", r)

	e := &Event{
		Slug: r.Slug, Kind: r.Kind, Title: r.Title, Venue: r.Venue,
		StartsAt: r.StartsAt.UTC().Truncate(time.Millisecond), EndsAt: r.EndsAt.UTC().Truncate(time.Millisecond),
		Capacity: r.Capacity, SeatsLeft: r.Capacity, Waitlist: r.Waitlist, GuardianAge: r.GuardianAge,
		Price:      Price{Amount: r.Price.Amount, Currency: "NOK"},
		Organiser:  Organiser(r.Organiser),
		PublicList: r.PublicList, Notes: r.Notes,
		Fields: []FormField{}, CustomFields: []privacy.Field{}, Partners: []Partner{},
	}
	e.RegistrationOpensAt = now.UTC().Truncate(time.Millisecond)
	if r.RegistrationOpensAt != nil {
		e.RegistrationOpensAt = r.RegistrationOpensAt.UTC().Truncate(time.Millisecond)
	}
	e.VATRate, e.PrefillEmail = r.VATRate, r.PrefillEmail
	e.RefundDeadline = e.StartsAt
	if r.RefundDeadline != nil {
		e.RefundDeadline = r.RefundDeadline.UTC().Truncate(time.Millisecond)
	}
	e.RegistrationClosesAt = e.StartsAt
	if r.RegistrationClosesAt != nil {
		e.RegistrationClosesAt = r.RegistrationClosesAt.UTC().Truncate(time.Millisecond)
	}
	if !e.RegistrationClosesAt.After(e.RegistrationOpensAt) {
		errs.Add("registrationClosesAt", privacy.CodeInvalid)
	}
	if e.RegistrationClosesAt.After(e.EndsAt) && !e.EndsAt.IsZero() {
		errs.Add("registrationClosesAt", privacy.CodeInvalid)
	}

	customKeys := map[string]bool{}
	for i, spec := range r.CustomFields {
		path := "customFields[" + strconv.Itoa(i) + "]"
		f, ferrs := privacy.CustomField(path, spec)
		errs = append(errs, ferrs...)
		if ferrs != nil {
			continue
		}
		if customKeys[f.Key] {
			errs.Add(path+".key", privacy.CodeDuplicate)
			continue
		}
		customKeys[f.Key] = true
		e.CustomFields = append(e.CustomFields, f)
	}

	// Data minimisation: a form names only fields that are declared.
	seen := map[string]bool{}
	emailRequired := false
	for i, ff := range r.Fields {
		path := "fields[" + strconv.Itoa(i) + "].key"
		if _, ok := e.Field(ff.Key); !ok && ff.Key != "" {
			errs.Add(path, privacy.CodeUndeclared)
			continue
		}
		if seen[ff.Key] {
			errs.Add(path, privacy.CodeDuplicate)
			continue
		}
		seen[ff.Key] = true
		if ff.Key == "email" && ff.Required {
			emailRequired = true
		}
		e.Fields = append(e.Fields, FormField(ff))
	}
	if e.GuardianAge == 0 {
		e.GuardianAge = DefaultGuardianAge
	}
	if seen["date_of_birth"] && !(seen["guardian_name"] && seen["guardian_email"]) {
		// A minor could not sign up: the guardian's name and e-mail become
		// required for them.
		errs.Add("fields", "guardian_fields_required")
	}
	if len(r.Fields) > 0 && !emailRequired {
		// The manage link and the one-registration-per-person rule need it.
		errs.Add("fields", "email_required")
	}

	partnerIDs := map[string]bool{}
	for i, p := range r.Partners {
		if partnerIDs[p.ID] {
			errs.Add("partners["+strconv.Itoa(i)+"].id", privacy.CodeDuplicate)
			continue
		}
		partnerIDs[p.ID] = true
		e.Partners = append(e.Partners, Partner(p))
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return e, nil
}

func (r *CreateRequest) trim() {
	for _, s := range []*string{&r.Slug, &r.Title.NB, &r.Title.EN, &r.Venue, &r.Organiser.Name,
		&r.Organiser.OrgNumber, &r.Organiser.PrivacyEmail, &r.Notes} {
		*s = strings.TrimSpace(*s)
	}
	for i := range r.Partners {
		r.Partners[i].ID = strings.TrimSpace(r.Partners[i].ID)
		r.Partners[i].Name = strings.TrimSpace(r.Partners[i].Name)
	}
}

// request is the create request that would make e; a patch is applied to
// it and checked as a whole, by the same rules as a new event.
func (e *Event) request() CreateRequest {
	r := CreateRequest{
		Slug: e.Slug, Kind: e.Kind, Title: e.Title, Venue: e.Venue,
		StartsAt: e.StartsAt, EndsAt: e.EndsAt,
		RegistrationOpensAt: &e.RegistrationOpensAt, RegistrationClosesAt: &e.RegistrationClosesAt,
		Capacity: e.Capacity, Waitlist: e.Waitlist, GuardianAge: e.GuardianAge,
		Price:   PriceRequest{Amount: e.Price.Amount, Currency: e.Price.Currency},
		VATRate: e.VATRate, RefundDeadline: &e.RefundDeadline,
		Organiser:  OrganiserRequest(e.Organiser),
		PublicList: e.PublicList, Notes: e.Notes,
	}
	for _, f := range e.Fields {
		r.Fields = append(r.Fields, FormFieldRequest(f))
	}
	for _, f := range e.CustomFields {
		label := f.Label
		v := f.Validation
		r.CustomFields = append(r.CustomFields, privacy.CustomFieldSpec{
			Key: f.Key, Label: &label, Category: f.Category, LegalBasis: f.LegalBasis,
			Purposes: f.Purposes, Recipients: f.Recipients, Retention: f.Retention.String(),
			ConsentPurpose: string(f.ConsentPurpose), Validation: &v,
		})
	}
	for _, p := range e.Partners {
		r.Partners = append(r.Partners, PartnerRequest(p))
	}
	return r
}

// apply sets the members p carries.
func (p *PatchRequest) apply(r *CreateRequest) {
	set(&r.Kind, p.Kind)
	set(&r.Title, p.Title)
	set(&r.Venue, p.Venue)
	set(&r.StartsAt, p.StartsAt)
	set(&r.EndsAt, p.EndsAt)
	if p.RegistrationOpensAt != nil {
		r.RegistrationOpensAt = p.RegistrationOpensAt
	}
	if p.RegistrationClosesAt != nil {
		r.RegistrationClosesAt = p.RegistrationClosesAt
	}
	set(&r.Capacity, p.Capacity)
	set(&r.Waitlist, p.Waitlist)
	set(&r.GuardianAge, p.GuardianAge)
	set(&r.Price, p.Price)
	set(&r.VATRate, p.VATRate)
	set(&r.PrefillEmail, p.PrefillEmail)
	if p.RefundDeadline != nil {
		r.RefundDeadline = p.RefundDeadline
	}
	set(&r.Fields, p.Fields)
	set(&r.CustomFields, p.CustomFields)
	set(&r.Partners, p.Partners)
	set(&r.Organiser, p.Organiser)
	set(&r.PublicList, p.PublicList)
	set(&r.Notes, p.Notes)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
