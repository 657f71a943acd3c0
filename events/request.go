package events

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/pamelding/pamelding/privacy"
)

// PatchRequest is the body of PATCH /api/v1/events/{slug}: each member it
// carries replaces that setting, members left out stay as they are. A new
// event is a patch too (CreateRequest). The slug cannot change: it is in
// every link a participant was sent.
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
	Price                *Price                     `json:"price"`
	VATRate              *int                       `json:"vatRate"`
	RefundDeadline       *time.Time                 `json:"refundDeadline"`
	PrefillEmail         *bool                      `json:"prefillEmail"`
	Fields               *[]FormField               `json:"fields"`
	CustomFields         *[]privacy.CustomFieldSpec `json:"customFields"`
	Partners             *[]Partner                 `json:"partners"`
	Organiser            *Organiser                 `json:"organiser"`
	PublicList           *bool                      `json:"publicList"`
	Notes                *string                    `json:"notes"`
	Description          *privacy.Text              `json:"description"`
	Categories           *[]Category                `json:"categories"`
	Addons               *[]Addon                   `json:"addons"`
	TermsURL             *string                    `json:"termsUrl"`
	ReminderDays         *int                       `json:"reminderDays"`
}

// CreateRequest is the body of POST /api/v1/events: the slug and a patch
// of an empty event, whose members left out take their defaults
// (registration opens now and closes, like the refund deadline, when the
// event starts; guardians below 18; prices in NOK).
type CreateRequest struct {
	Slug string `json:"slug"`
	PatchRequest
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
	// origin: https://host[:port], nothing more (a frame-ancestors source).
	privacy.RegisterValidation("origin", func(fl validator.FieldLevel) bool {
		u, err := url.Parse(fl.Field().String())
		return err == nil && u.Scheme == "https" && u.Host != "" && u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil &&
			!strings.ContainsAny(u.Host, " ;,'*")
	})
	// httpsurl: an absolute https address.
	privacy.RegisterValidation("httpsurl", func(fl validator.FieldLevel) bool {
		u, err := url.Parse(fl.Field().String())
		return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
	})
}

// build makes the event a create request describes, or returns every
// fault found. now is when the request arrived.
func (r *CreateRequest) build(now time.Time) (*Event, error) {
	r.Slug = strings.TrimSpace(r.Slug)
	e := &Event{ID: r.Slug, Slug: r.Slug}
	e.RegistrationOpensAt = now.UTC().Truncate(time.Millisecond)
	e.Price.Currency = "NOK"
	e.CustomFields, e.Partners, e.Categories, e.Addons = []privacy.Field{}, []Partner{}, []Category{}, []Addon{}
	var errs privacy.Errors
	switch {
	case r.Slug == "":
		errs.Add("slug", privacy.CodeRequired)
	case len(r.Slug) > 64 || !slugRE.MatchString(r.Slug):
		errs.Add("slug", privacy.CodeInvalid)
	}
	errs = append(errs, r.apply(e)...)
	// Defaults that follow from what was set.
	if r.RegistrationClosesAt == nil {
		e.RegistrationClosesAt = e.StartsAt
	}
	if r.RefundDeadline == nil {
		e.RefundDeadline = e.StartsAt
	}
	if r.GuardianAge == nil {
		e.GuardianAge = DefaultGuardianAge
	}
	e.SeatsLeft = e.Capacity
	e.Quota = e.quotas(nil)
	errs = append(errs, e.validate()...)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return e, nil
}

// apply sets the members p carries on e (times in UTC, to the
// millisecond; text trimmed; custom fields checked against the catalog's
// rules). What it returns are faults of the custom fields; the event as a
// whole is checked by validate.
func (p *PatchRequest) apply(e *Event) privacy.Errors {
	s := &e.Settings
	set(&s.Kind, p.Kind)
	if p.Title != nil {
		s.Title = privacy.Text{NB: strings.TrimSpace(p.Title.NB), EN: strings.TrimSpace(p.Title.EN)}
	}
	if p.Venue != nil {
		s.Venue = strings.TrimSpace(*p.Venue)
	}
	setTime(&s.StartsAt, p.StartsAt)
	setTime(&s.EndsAt, p.EndsAt)
	setTime(&s.RegistrationOpensAt, p.RegistrationOpensAt)
	setTime(&s.RegistrationClosesAt, p.RegistrationClosesAt)
	set(&s.Capacity, p.Capacity)
	set(&s.Waitlist, p.Waitlist)
	set(&s.GuardianAge, p.GuardianAge)
	if p.Price != nil {
		s.Price = Price{Amount: p.Price.Amount, Currency: "NOK"}
		if p.Price.Currency != "" {
			s.Price.Currency = p.Price.Currency
		}
	}
	set(&s.VATRate, p.VATRate)
	setTime(&s.RefundDeadline, p.RefundDeadline)
	set(&s.PrefillEmail, p.PrefillEmail)
	set(&s.Fields, p.Fields)
	var errs privacy.Errors
	if p.CustomFields != nil {
		s.CustomFields = []privacy.Field{}
		for i, spec := range *p.CustomFields {
			f, ferrs := privacy.CustomField("customFields["+strconv.Itoa(i)+"]", spec)
			errs = append(errs, ferrs...)
			if ferrs == nil {
				s.CustomFields = append(s.CustomFields, f)
			}
		}
	}
	if p.Partners != nil {
		s.Partners = make([]Partner, len(*p.Partners))
		for i, pt := range *p.Partners {
			s.Partners[i] = Partner{ID: strings.TrimSpace(pt.ID), Name: strings.TrimSpace(pt.Name)}
		}
	}
	if p.Organiser != nil {
		o := *p.Organiser
		s.Organiser = Organiser{Name: strings.TrimSpace(o.Name), OrgNumber: strings.TrimSpace(o.OrgNumber),
			PrivacyEmail: strings.TrimSpace(o.PrivacyEmail), Email: strings.TrimSpace(o.Email)}
		for _, origin := range o.EmbedOrigins {
			s.Organiser.EmbedOrigins = append(s.Organiser.EmbedOrigins, strings.TrimSuffix(strings.TrimSpace(origin), "/"))
		}
	}
	if p.TermsURL != nil {
		s.TermsURL = strings.TrimSpace(*p.TermsURL)
	}
	set(&s.ReminderDays, p.ReminderDays)
	set(&s.PublicList, p.PublicList)
	if p.Description != nil {
		for _, v := range []*string{&p.Description.NB, &p.Description.EN} {
			d, code := privacy.Validation{Kind: privacy.KindMultiline, MaxLength: 5000}.Check(*v, time.Time{})
			if code != "" {
				errs.Add("description", code)
			}
			*v = d
		}
		s.Description = *p.Description
	}
	if p.Notes != nil {
		s.Notes = strings.TrimSpace(*p.Notes)
	}
	if p.Categories != nil {
		s.Categories = make([]Category, len(*p.Categories))
		for i, c := range *p.Categories {
			c.Key = strings.TrimSpace(c.Key)
			c.Name = privacy.Text{NB: strings.TrimSpace(c.Name.NB), EN: strings.TrimSpace(c.Name.EN)}
			if c.Visibility == "" {
				c.Visibility = PublicSale
			}
			c.SaleFrom, c.SaleUntil = utcMillis(c.SaleFrom), utcMillis(c.SaleUntil)
			s.Categories[i] = c
		}
	}
	if p.Addons != nil {
		s.Addons = make([]Addon, len(*p.Addons))
		for i, a := range *p.Addons {
			a.Key = strings.TrimSpace(a.Key)
			a.Name = privacy.Text{NB: strings.TrimSpace(a.Name.NB), EN: strings.TrimSpace(a.Name.EN)}
			if a.Options == nil {
				a.Options = []string{}
			}
			for j, o := range a.Options {
				a.Options[j] = strings.TrimSpace(o)
			}
			if a.Categories == nil {
				a.Categories = []string{}
			}
			s.Addons[i] = a
		}
	}
	return errs
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func utcMillis(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Millisecond)
	return &u
}

func setTime(dst *time.Time, v *time.Time) {
	if v != nil {
		*dst = v.UTC().Truncate(time.Millisecond)
	}
}

// validate checks an event's settings as a whole, by the same rules for a
// new event and a changed one, and returns every fault found.
func (e *Event) validate() privacy.Errors {
	s := &e.Settings
	errs := privacy.Struct("", s)
	if !s.RegistrationClosesAt.After(s.RegistrationOpensAt) {
		errs.Add("registrationClosesAt", privacy.CodeInvalid)
	}
	if s.RegistrationClosesAt.After(s.EndsAt) && !s.EndsAt.IsZero() {
		errs.Add("registrationClosesAt", privacy.CodeInvalid)
	}

	customKeys := map[string]bool{}
	for i, f := range s.CustomFields {
		if customKeys[f.Key] {
			errs.Add("customFields["+strconv.Itoa(i)+"].key", privacy.CodeDuplicate)
		}
		customKeys[f.Key] = true
	}

	// Data minimisation: a form names only fields that are declared.
	seen := map[string]bool{}
	emailRequired := false
	for i, ff := range s.Fields {
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
		if f, ok := e.Field(ff.Key); ok && len(f.ForEvent(e.Traits()).Purposes) == 0 {
			// Data minimisation: nothing is asked for a purpose the event
			// does not have.
			errs.Add(path, privacy.CodeNoPurpose)
		}
		if ff.Key == "email" && ff.Required {
			emailRequired = true
		}
	}
	if seen["date_of_birth"] && !(seen["guardian_name"] && seen["guardian_email"]) {
		// A minor could not sign up: the guardian's name and e-mail become
		// required for them.
		errs.Add("fields", "guardian_fields_required")
	}
	if len(s.Fields) > 0 && !emailRequired {
		// The manage link and the one-registration-per-person rule need it.
		errs.Add("fields", "email_required")
	}

	s.validateCategories(&errs)
	s.validateAddons(&errs)

	partnerIDs := map[string]bool{}
	for i, p := range s.Partners {
		if partnerIDs[p.ID] {
			errs.Add("partners["+strconv.Itoa(i)+"].id", privacy.CodeDuplicate)
		}
		partnerIDs[p.ID] = true
	}
	return errs
}
