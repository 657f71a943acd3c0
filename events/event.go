// Package events holds events: what they are, when registration is open,
// their capacity, their form (which catalog fields they ask for) and their
// partners.
package events

import (
	"errors"
	"slices"
	"time"

	"github.com/pamelding/pamelding/privacy"
)

// Errors of the events domain.
var (
	ErrNotFound  = errors.New("event not found")
	ErrSlugTaken = errors.New("slug taken")
	// ErrConflict: the event changed between reading and writing it.
	ErrConflict = errors.New("event changed concurrently")
	// ErrCapacityBelowTaken: the new capacity is below the seats taken.
	ErrCapacityBelowTaken = errors.New("capacity below seats taken")
	// ErrSoldOut: no seat is left.
	ErrSoldOut = errors.New("sold out")
)

// Kind is what sort of event it is.
type Kind string

// The kinds of event.
const (
	Conference Kind = "conference"
	Course     Kind = "course"
	Race       Kind = "race"
)

// Price is what a seat costs.
type Price struct {
	// Amount in øre.
	Amount   int64  `json:"amount" bson:"amount" validate:"min=0,max=100000000"`
	Currency string `json:"currency" bson:"currency" validate:"omitempty,oneof=NOK"`
}

// FormField is one field an event's form asks for.
type FormField struct {
	Key      string `json:"key" bson:"key" validate:"required,max=40"`
	Required bool   `json:"required" bson:"required"`
}

// Partner is an organisation that may receive the partner-safe attendee
// list (name and organisation) of an event.
type Partner struct {
	ID   string `json:"id" bson:"id" validate:"required,slug"`
	Name string `json:"name" bson:"name" validate:"required,max=200,singleline"`
	// AddedAt is when the partner was added to the event (set by the
	// service): participants who signed up before are told, and may
	// object, before the partner gets their name.
	AddedAt time.Time `json:"addedAt,omitzero" bson:"addedAt,omitempty"`
	// NoticesDoneAt is set once every participant who signed up before
	// the partner was added has been told.
	NoticesDoneAt *time.Time `json:"noticesDoneAt,omitempty" bson:"noticesDoneAt,omitempty"`
}

// Organiser is who is responsible (the controller) for an event's data.
type Organiser struct {
	Name string `json:"name" bson:"name" validate:"required,max=200,singleline"`
	// OrgNumber is the Norwegian organisation number.
	OrgNumber string `json:"orgNumber,omitempty" bson:"orgNumber,omitempty" validate:"omitempty,orgnumber"`
	// PrivacyEmail receives participants' privacy requests.
	PrivacyEmail string `json:"privacyEmail" bson:"privacyEmail" validate:"required,email,max=254"`
	// Email is where participants' replies to mail go (Reply-To); the
	// privacy address when not set.
	Email string `json:"email,omitempty" bson:"email,omitempty" validate:"omitempty,email,max=254"`
	// EmbedOrigins are the organiser's own sites (https://host) allowed
	// to show the registration form in a frame (CSP frame-ancestors).
	EmbedOrigins []string `json:"embedOrigins,omitempty" bson:"embedOrigins,omitempty" validate:"max=5,dive,origin"`
}

// ReplyTo is the organiser's address a participant's reply goes to.
func (o Organiser) ReplyTo() string {
	if o.Email != "" {
		return o.Email
	}
	return o.PrivacyEmail
}

// Settings are what an organiser sets on an event, as stored: a patch
// sets any of them, a new event is a patch of them all, and the store
// writes them whole. Their rules are checked on the result (validate).
type Settings struct {
	Kind                 Kind         `json:"kind" bson:"kind" validate:"required,oneof=conference course race"`
	Title                privacy.Text `json:"title" bson:"title"`
	Venue                string       `json:"venue" bson:"venue" validate:"max=200,singleline"`
	StartsAt             time.Time    `json:"startsAt" bson:"startsAt" validate:"required"`
	EndsAt               time.Time    `json:"endsAt" bson:"endsAt" validate:"required,gtfield=StartsAt"`
	RegistrationOpensAt  time.Time    `json:"registrationOpensAt" bson:"registrationOpensAt"`
	RegistrationClosesAt time.Time    `json:"registrationClosesAt" bson:"registrationClosesAt"`
	Capacity             int          `json:"capacity" bson:"capacity" validate:"required,min=1,max=1000000"`
	Waitlist             bool         `json:"waitlist" bson:"waitlist"`
	// GuardianAge: participants younger than this need a guardian's
	// consent (where the form asks for date_of_birth).
	GuardianAge int   `json:"guardianAge" bson:"guardianAge" validate:"min=1,max=25"`
	Price       Price `json:"price" bson:"price"`
	// VATRate is the VAT percentage included in the price (25, 15, 12 or
	// 0: courses and many events are exempt).
	VATRate int `json:"vatRate" bson:"vatRate" validate:"oneof=0 12 15 25"`
	// RefundDeadline: a cancellation before it is refunded.
	RefundDeadline time.Time `json:"refundDeadline" bson:"refundDeadline"`
	// PrefillEmail sends the participant's e-mail to the payment processor
	// to prefill its page; the e-mail then lists it as a recipient.
	PrefillEmail bool            `json:"prefillEmail" bson:"prefillEmail"`
	Fields       []FormField     `json:"fields" bson:"fields" validate:"required,min=1,max=100,dive"`
	CustomFields []privacy.Field `json:"customFields" bson:"customFields" validate:"max=50"`
	Partners     []Partner       `json:"partners" bson:"partners" validate:"max=100,dive"`
	Organiser    Organiser       `json:"organiser" bson:"organiser"`
	PublicList   bool            `json:"publicList" bson:"publicList"`
	// Categories are the kinds of ticket it sells (none: one ticket at
	// Price).
	Categories []Category `json:"categories" bson:"categories" validate:"max=50,dive"`
	// Addons are items bought with a ticket (a dinner, a t-shirt).
	Addons []Addon `json:"addons" bson:"addons" validate:"max=50,dive"`
	// Description tells participants what the event is: plain text in
	// both languages, paragraphs split by a blank line; web addresses
	// become links on the page.
	Description privacy.Text `json:"description" bson:"description" validate:"-"`
	// TermsURL is the organiser's terms of sale (https), linked from the
	// event page and the form.
	TermsURL string `json:"termsUrl,omitempty" bson:"termsUrl,omitempty" validate:"omitempty,max=500,httpsurl"`
	// ReminderDays: a reminder is mailed to every confirmed participant
	// this many days before the event starts (0: none).
	ReminderDays int `json:"reminderDays" bson:"reminderDays" validate:"min=0,max=60"`
	// Notes are the organisers' own; never shown publicly.
	Notes string `json:"notes" bson:"notes" validate:"max=2000"`
}

// Event is an event as stored and as staff see it.
type Event struct {
	ID       string `json:"id" bson:"_id"`
	Slug     string `json:"slug" bson:"slug"`
	Settings `bson:",inline"`
	// SeatsLeft moves with every seat claimed or given back.
	SeatsLeft int `json:"seatsLeft" bson:"seatsLeft"`
	// Quota holds each category's capacity and seats taken, moved in the
	// same conditional update as SeatsLeft.
	Quota map[string]Quota `json:"quota" bson:"quota"`
	// CancelledAt is set when the organiser cancelled the event;
	// CancellationDoneAt once all its registrations were cancelled.
	CancelledAt        *time.Time `json:"cancelledAt,omitempty" bson:"cancelledAt,omitempty"`
	CancellationDoneAt *time.Time `json:"cancellationDoneAt,omitempty" bson:"cancellationDoneAt,omitempty"`
	// RemindedAt is when the reminders of ReminderDays were queued.
	RemindedAt *time.Time `json:"remindedAt,omitempty" bson:"remindedAt,omitempty"`
	// Purged counts registrations deleted by retention: all that is left
	// of them.
	Purged    int       `json:"registrationsPurged" bson:"purged"`
	CreatedBy string    `json:"createdBy" bson:"createdBy"`
	CreatedAt time.Time `json:"createdAt" bson:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt" bson:"updatedAt"`
	// Version counts changes; an update applies only to the version read.
	Version int `json:"version" bson:"version"`
	// PromiseID names what a participant signing up now is told (see
	// Promise).
	PromiseID string `json:"promise" bson:"promise"`
}

// Field returns the catalog or custom field behind a form key.
func (e *Event) Field(key string) (privacy.Field, bool) {
	if f, ok := privacy.Lookup(key); ok {
		return f, true
	}
	for _, f := range e.CustomFields {
		if f.Key == key {
			return f, true
		}
	}
	return privacy.Field{}, false
}

// DeclaredField is a form field with its tags as they hold for this event.
type DeclaredField struct {
	privacy.Field
	Required bool `json:"required"`
}

// Form returns the event's form fields with their tags as they hold for
// this event (privacy.Field.ForEvent): only the purposes it has, each with
// its legal basis, and the recipients that apply: partners only where it
// has partners, the public only where it publishes a participant list.
func (e *Event) Form() []DeclaredField {
	out := make([]DeclaredField, 0, len(e.Fields))
	for _, ff := range e.Fields {
		f, ok := e.Field(ff.Key)
		if !ok {
			continue // cannot happen: forms are checked on every write
		}
		f = f.ForEvent(e.Traits())
		if ff.Key == "email" && e.PrefillEmail && e.Paid() {
			f.Recipients = append(f.Recipients, privacy.PaymentProcessor)
		}
		out = append(out, DeclaredField{Field: f, Required: ff.Required})
	}
	return out
}

// Traits are what decides which purposes the event has.
func (e *Event) Traits() privacy.EventTraits {
	// Catering gets values only where the form asks something for it
	// (dietary needs, a custom field naming it), not the name alone.
	catering := slices.ContainsFunc(e.Fields, func(ff FormField) bool {
		f, ok := e.Field(ff.Key)
		return ok && ff.Key != "name" && slices.Contains(f.Recipients, privacy.Catering)
	})
	return privacy.EventTraits{Kind: string(e.Kind), Paid: e.Paid(), Partners: len(e.Partners) > 0, PublicList: e.PublicList, Catering: catering}
}

// Asks reports whether the form asks for the field.
func (e *Event) Asks(key string) bool {
	return slices.ContainsFunc(e.Fields, func(f FormField) bool { return f.Key == key })
}

// ReminderDue reports whether the participants' reminder is due at t:
// the organiser asked for one, its day has come, the event has not
// started, and it was not sent.
func (e *Event) ReminderDue(t time.Time) bool {
	return e.ReminderDays > 0 && e.RemindedAt == nil && e.CancelledAt == nil &&
		!t.Before(e.StartsAt.AddDate(0, 0, -e.ReminderDays)) && t.Before(e.StartsAt)
}

// RegistrationOpen reports whether registration is open at t.
func (e *Event) RegistrationOpen(t time.Time) bool {
	return e.CancelledAt == nil && !t.Before(e.RegistrationOpensAt) && t.Before(e.RegistrationClosesAt)
}

// Public is the view of an event anyone may read. It is a separate type so
// that a staff-only setting added to Event cannot reach it by accident.
type Public struct {
	Slug                 string          `json:"slug"`
	Kind                 Kind            `json:"kind"`
	Title                privacy.Text    `json:"title"`
	Venue                string          `json:"venue"`
	StartsAt             time.Time       `json:"startsAt"`
	EndsAt               time.Time       `json:"endsAt"`
	RegistrationOpensAt  time.Time       `json:"registrationOpensAt"`
	RegistrationClosesAt time.Time       `json:"registrationClosesAt"`
	SeatsLeft            int             `json:"seatsLeft"`
	SoldOut              bool            `json:"soldOut"`
	Waitlist             bool            `json:"waitlist"`
	GuardianAge          int             `json:"guardianAge"`
	Price                Price           `json:"price"`
	VATRate              int             `json:"vatRate"`
	RefundDeadline       time.Time       `json:"refundDeadline"`
	Cancelled            bool            `json:"cancelled"`
	TermsURL             string          `json:"termsUrl,omitempty"`
	Fields               []DeclaredField `json:"fields"`
	Partners             []PublicPartner `json:"partners"`
	Organiser            Organiser       `json:"organiser"`
	PublicList           bool            `json:"publicList"`
	Description          privacy.Text    `json:"description"`
	// Categories are those on public sale (not those sold only with a
	// code), each with its seats left.
	Categories []PublicCategory `json:"categories"`
	// Addons are what can be bought with a ticket, each with how many
	// are left (-1: no limit).
	Addons []PublicAddon `json:"addons"`
}

// PublicAddon is an add-on as anyone may see it.
type PublicAddon struct {
	Addon
	Left int `json:"left"`
}

// PublicCategory is a category as anyone may see it.
type PublicCategory struct {
	Key       string       `json:"key"`
	Name      privacy.Text `json:"name"`
	Price     int64        `json:"price"`
	VATRate   int          `json:"vatRate"`
	SeatsLeft int          `json:"seatsLeft"`
	SoldOut   bool         `json:"soldOut"`
	SaleFrom  *time.Time   `json:"saleFrom,omitempty"`
	SaleUntil *time.Time   `json:"saleUntil,omitempty"`
	MinAge    *int         `json:"minAge,omitempty"`
	MaxAge    *int         `json:"maxAge,omitempty"`
}

// Shown returns the categories a buyer holding codes that unlock the
// keys in unlocked may see: the public ones and those unlocked.
func (e *Event) Shown(unlocked []string) []PublicCategory {
	out := []PublicCategory{}
	for _, c := range e.Categories {
		if c.Visibility == CodeOnly && !slices.Contains(unlocked, c.Key) {
			continue
		}
		left := e.SeatsLeftIn(c.Key)
		out = append(out, PublicCategory{Key: c.Key, Name: c.Name, Price: c.Price, VATRate: c.VATRate,
			SeatsLeft: left, SoldOut: left <= 0, SaleFrom: c.SaleFrom, SaleUntil: c.SaleUntil, MinAge: c.MinAge, MaxAge: c.MaxAge})
	}
	return out
}

// SeatsLeftIn is the seats a category can still take: the event's, or
// fewer if its own capacity is nearer.
func (e *Event) SeatsLeftIn(key string) int {
	q := e.Quota[key]
	if q.Capacity > 0 {
		return min(e.SeatsLeft, q.Capacity-q.Taken)
	}
	return e.SeatsLeft
}

func (e *Event) publicAddons() []PublicAddon {
	out := make([]PublicAddon, 0, len(e.Addons))
	for _, a := range e.Addons {
		out = append(out, PublicAddon{Addon: a, Left: e.AddonsLeft(a.Key)})
	}
	return out
}

// PublicPartner is a partner as participants see it.
type PublicPartner struct {
	Name string `json:"name"`
}

// Public returns the public view of the event.
func (e *Event) Public() Public {
	partners := make([]PublicPartner, len(e.Partners))
	for i, p := range e.Partners {
		partners[i] = PublicPartner{Name: p.Name}
	}
	return Public{
		Slug: e.Slug, Kind: e.Kind, Title: e.Title, Venue: e.Venue,
		StartsAt: e.StartsAt, EndsAt: e.EndsAt,
		RegistrationOpensAt: e.RegistrationOpensAt, RegistrationClosesAt: e.RegistrationClosesAt,
		SeatsLeft: e.SeatsLeft, SoldOut: e.SeatsLeft <= 0, Waitlist: e.Waitlist, GuardianAge: e.GuardianAge,
		Price: e.Price, VATRate: e.VATRate, RefundDeadline: e.RefundDeadline, Cancelled: e.CancelledAt != nil, TermsURL: e.TermsURL,
		Fields: e.Form(), Partners: partners, Organiser: e.Organiser,
		PublicList: e.PublicList, Description: e.Description, Categories: e.Shown(nil), Addons: e.publicAddons(),
	}
}

// ConsentText returns the text of a consent the event asks for: the
// catalog's, or a custom field's own.
func (e *Event) ConsentText(p privacy.ConsentPurpose) (privacy.ConsentText, bool) {
	if t, ok := privacy.ConsentTextFor(p); ok {
		return t, true
	}
	for _, f := range e.CustomFields {
		if f.Consent != nil && f.Consent.Purpose == p {
			return *f.Consent, true
		}
	}
	return privacy.ConsentText{}, false
}

// ConsentPurposes lists the consents the form's fields need, in form
// order, each once.
func (e *Event) ConsentPurposes() []privacy.ConsentPurpose {
	var out []privacy.ConsentPurpose
	for _, df := range e.Form() {
		if df.LegalBasis.NeedsConsent() && !slices.Contains(out, df.ConsentPurpose) {
			out = append(out, df.ConsentPurpose)
		}
	}
	if e.HasStartList() {
		out = append(out, privacy.ConsentStartList)
	}
	return out
}

// HasStartList reports whether the event publishes a start list: a race
// with a public list, of those who consent to it.
func (e *Event) HasStartList() bool { return e.Kind == Race && e.PublicList }
