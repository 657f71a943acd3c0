// Package privacy is the single source of truth for what pamelding may
// collect about a participant, why, on which legal basis, who may see it and
// for how long. An event's form can only use fields declared here or custom
// fields that carry the same tags. It imports no other package of ours.
package privacy

import (
	"slices"
)

// Text is a string in Norwegian bokmål and English.
type Text struct {
	NB string `json:"nb" bson:"nb" validate:"required,max=200,singleline"`
	EN string `json:"en" bson:"en" validate:"required,max=200,singleline"`
}

// In is the text in lang: English for "en", bokmål otherwise.
func (t Text) In(lang string) string {
	if lang == "en" {
		return t.EN
	}
	return t.NB
}

// Category groups fields by the kind of data (GDPR art. 9 for health).
type Category string

// The categories.
const (
	Identity     Category = "identity"
	Contact      Category = "contact"
	Professional Category = "professional"
	Health       Category = "health"
	Financial    Category = "financial"
	Guardian     Category = "guardian"
	Emergency    Category = "emergency"
)

// Categories lists every category.
var Categories = []Category{Identity, Contact, Professional, Health, Financial, Guardian, Emergency}

// Special reports whether the category is special-category data (art. 9).
func (c Category) Special() bool { return c == Health }

// LegalBasis is the GDPR article that allows the processing.
type LegalBasis string

// The legal bases.
const (
	Contract           LegalBasis = "contract"            // art. 6(1)(b)
	LegalObligation    LegalBasis = "legal_obligation"    // art. 6(1)(c)
	VitalInterest      LegalBasis = "vital_interest"      // art. 6(1)(d)
	LegitimateInterest LegalBasis = "legitimate_interest" // art. 6(1)(f)
	Consent            LegalBasis = "consent"             // art. 6(1)(a)
	ExplicitConsent    LegalBasis = "explicit_consent"    // art. 9(2)(a)
)

// LegalBases lists every legal basis with its article.
var LegalBases = map[LegalBasis]string{
	Contract:           "GDPR art. 6(1)(b)",
	LegalObligation:    "GDPR art. 6(1)(c)",
	VitalInterest:      "GDPR art. 6(1)(d)",
	LegitimateInterest: "GDPR art. 6(1)(f)",
	Consent:            "GDPR art. 6(1)(a)",
	ExplicitConsent:    "GDPR art. 9(2)(a)",
}

// NeedsConsent reports whether the basis is a consent the participant gives
// in the request and may withdraw.
func (b LegalBasis) NeedsConsent() bool { return b == Consent || b == ExplicitConsent }

// Purpose is why a field is collected.
type Purpose string

// Purposes maps every purpose to a short explanation for participants.
var Purposes = map[Purpose]Text{
	"registration":    {NB: "Administrere påmeldingen din", EN: "Administer your registration"},
	"communication":   {NB: "Sende deg praktisk informasjon om arrangementet", EN: "Send you practical information about the event"},
	"badge":           {NB: "Navneskilt", EN: "Name badge"},
	"invoicing":       {NB: "Fakturering og betaling", EN: "Invoicing and payment"},
	"bookkeeping":     {NB: "Regnskapsplikt (bokføringsloven)", EN: "Bookkeeping obligation (Norwegian Bookkeeping Act)"},
	"catering":        {NB: "Servering tilpasset dine behov", EN: "Catering adapted to your needs"},
	"safety":          {NB: "Sikkerhet under arrangementet", EN: "Safety during the event"},
	"partner_sharing": {NB: "Deltakerliste til arrangementets partnere", EN: "Attendee list for the event's partners"},
	"results":         {NB: "Start- og resultatlister", EN: "Start and result lists"},
	"startlist":       {NB: "Offentlig startliste (med ditt samtykke)", EN: "Public start list (with your consent)"},
	"eligibility":     {NB: "Aldersklasse og rett til å delta", EN: "Age class and eligibility"},
	"guardian":        {NB: "Foresattes samtykke for mindreårige", EN: "Guardian's consent for minors"},
	"marketing":       {NB: "Informasjon om kommende arrangementer", EN: "News about coming events"},
}

// Recipient is who, besides the event's organisers, may ever see a field.
type Recipient string

// The recipients.
const (
	Partners         Recipient = "partners"
	Catering         Recipient = "catering"
	Finance          Recipient = "finance"
	PaymentProcessor Recipient = "payment_processor"
	// Public: only where the event turns on a public participant or result
	// list.
	Public Recipient = "public"
)

// Recipients lists every recipient.
var Recipients = []Recipient{Partners, Catering, Finance, PaymentProcessor, Public}

// Field is one piece of personal data a form may ask for, with its tags.
type Field struct {
	Key            string         `json:"key" bson:"key"`
	Label          Text           `json:"label" bson:"label"`
	Category       Category       `json:"category" bson:"category"`
	LegalBasis     LegalBasis     `json:"legalBasis" bson:"legalBasis"`
	Purposes       []Purpose      `json:"purposes" bson:"purposes"`
	Recipients     []Recipient    `json:"recipients" bson:"recipients"`
	Retention      Retention      `json:"retention" bson:"retention"`
	ConsentPurpose ConsentPurpose `json:"consentPurpose,omitempty" bson:"consentPurpose,omitempty"`
	// Consent is the own consent of a custom field under consent: its
	// text and version (a catalog field's consent is in the catalog).
	Consent    *ConsentText `json:"consentText,omitempty" bson:"consent,omitempty"`
	Validation Validation   `json:"validation" bson:"validation"`
	// RetentionReason says why a custom field is kept longer than the
	// bound for its kind; the notice prints it.
	RetentionReason *Text `json:"retentionReason,omitempty" bson:"retentionReason,omitempty"`
	// Bases is the legal basis of each purpose, as it holds for an event
	// (see ForEvent); LegalBasis is the basis on which the field is
	// collected at all.
	Bases map[Purpose]LegalBasis `json:"bases,omitempty" bson:"bases,omitempty"`
}

// SharedWith reports whether r is among the field's recipients.
func (f Field) SharedWith(r Recipient) bool { return slices.Contains(f.Recipients, r) }

const (
	defaultMax = 200
)

// builtin is the catalog of DESIGN.md. Only name and organisation go to
// partners: the Janteloppet notice promises exactly that.
var builtin = []Field{
	{
		Key: "name", Label: Text{"Navn", "Name"}, Category: Identity, LegalBasis: Contract,
		Purposes:   []Purpose{"registration", "badge", "invoicing", "partner_sharing", "results", "startlist"},
		Recipients: []Recipient{Partners, Catering, Finance, Public},
		Retention:  MustRetention("event_end+1y"), Validation: Validation{Kind: KindText, MaxLength: defaultMax},
	},
	{
		Key: "email", Label: Text{"E-post", "E-mail"}, Category: Contact, LegalBasis: Contract,
		Purposes:  []Purpose{"registration", "communication"},
		Retention: MustRetention("event_end+1y"), Validation: Validation{Kind: KindEmail, MaxLength: 254},
	},
	{
		Key: "phone", Label: Text{"Telefon", "Phone"}, Category: Contact, LegalBasis: Contract,
		Purposes:  []Purpose{"communication", "safety"},
		Retention: MustRetention("event_end+30d"), Validation: Validation{Kind: KindPhone, MaxLength: 16},
	},
	{
		Key: "organisation", Label: Text{"Organisasjon", "Organisation"}, Category: Professional, LegalBasis: Contract,
		Purposes:   []Purpose{"registration", "badge", "invoicing", "partner_sharing"},
		Recipients: []Recipient{Partners, Finance},
		Retention:  MustRetention("event_end+1y"), Validation: Validation{Kind: KindText, MaxLength: defaultMax},
	},
	{
		Key: "title", Label: Text{"Tittel", "Job title"}, Category: Professional, LegalBasis: LegitimateInterest,
		Purposes:  []Purpose{"badge"},
		Retention: MustRetention("event_end+1y"), Validation: Validation{Kind: KindText, MaxLength: defaultMax},
	},
	{
		Key: "dietary", Label: Text{"Matallergier og diett", "Food allergies and diet"}, Category: Health, LegalBasis: ExplicitConsent,
		Purposes:   []Purpose{"catering"},
		Recipients: []Recipient{Catering},
		// Deleted at once on withdrawal of consent, whatever the retention.
		Retention: MustRetention("event_end+30d"), ConsentPurpose: ConsentHealth,
		Validation: Validation{Kind: KindText, MaxLength: 500},
	},
	{
		Key: "date_of_birth", Label: Text{"Fødselsdato", "Date of birth"}, Category: Identity, LegalBasis: Contract,
		Purposes:  []Purpose{"eligibility"},
		Retention: MustRetention("event_end+1y"), Validation: Validation{Kind: KindPastDate, MaxLength: 10},
	},
	{
		Key: "club", Label: Text{"Klubb", "Club"}, Category: Professional, LegalBasis: Contract,
		Purposes:   []Purpose{"registration", "results", "startlist"},
		Recipients: []Recipient{Public},
		Retention:  MustRetention("event_end+1y"), Validation: Validation{Kind: KindText, MaxLength: defaultMax},
	},
	{
		Key: "guardian_name", Label: Text{"Foresattes navn", "Guardian's name"}, Category: Guardian, LegalBasis: Contract,
		Purposes:  []Purpose{"guardian"},
		Retention: MustRetention("with_registration"), Validation: Validation{Kind: KindText, MaxLength: defaultMax},
	},
	{
		Key: "guardian_email", Label: Text{"Foresattes e-post", "Guardian's e-mail"}, Category: Guardian, LegalBasis: Contract,
		Purposes:  []Purpose{"guardian"},
		Retention: MustRetention("with_registration"), Validation: Validation{Kind: KindEmail, MaxLength: 254},
	},
	{
		Key: "emergency_contact", Label: Text{"Pårørende (navn og telefon)", "Emergency contact (name and phone)"}, Category: Emergency, LegalBasis: VitalInterest,
		Purposes:  []Purpose{"safety"},
		Retention: MustRetention("event_end+7d"), Validation: Validation{Kind: KindText, MaxLength: defaultMax},
	},
	{
		Key: "invoice_org_number", Label: Text{"Organisasjonsnummer (faktura)", "Organisation number (invoice)"}, Category: Financial, LegalBasis: LegalObligation,
		Purposes:   []Purpose{"invoicing", "bookkeeping"},
		Recipients: []Recipient{Finance},
		Retention:  MustRetention("fiscal_year_end+5y"), Validation: Validation{Kind: KindOrgNumber, MaxLength: 9},
	},
	{
		Key: "invoice_address", Label: Text{"Fakturaadresse", "Invoice address"}, Category: Financial, LegalBasis: LegalObligation,
		Purposes:   []Purpose{"invoicing", "bookkeeping"},
		Recipients: []Recipient{Finance},
		Retention:  MustRetention("fiscal_year_end+5y"), Validation: Validation{Kind: KindMultiline, MaxLength: 500},
	},
	{
		Key: "invoice_reference", Label: Text{"Fakturareferanse", "Invoice reference"}, Category: Financial, LegalBasis: LegalObligation,
		Purposes:   []Purpose{"invoicing", "bookkeeping"},
		Recipients: []Recipient{Finance},
		Retention:  MustRetention("fiscal_year_end+5y"), Validation: Validation{Kind: KindText, MaxLength: 100},
	},
}

var builtinByKey = func() map[string]Field {
	m := make(map[string]Field, len(builtin))
	for _, f := range builtin {
		m[f.Key] = f
	}
	return m
}()

// Catalog returns the built-in fields in catalog order, each with the
// legal basis of each of its purposes. The slice is a copy.
func Catalog() []Field {
	out := make([]Field, len(builtin))
	for i, f := range builtin {
		out[i] = f.clone()
		out[i].Bases = map[Purpose]LegalBasis{}
		for _, p := range f.Purposes {
			out[i].Bases[p] = f.BasisFor(p)
		}
	}
	return out
}

// Lookup returns the built-in field with the key.
func Lookup(key string) (Field, bool) {
	f, ok := builtinByKey[key]
	if !ok {
		return Field{}, false
	}
	return f.clone(), true
}

func (f Field) clone() Field {
	f.Purposes = slices.Clone(f.Purposes)
	if f.Bases != nil {
		bases := make(map[Purpose]LegalBasis, len(f.Bases))
		for p, b := range f.Bases {
			bases[p] = b
		}
		f.Bases = bases
	}
	f.Recipients = slices.Clone(f.Recipients)
	if f.Recipients == nil {
		f.Recipients = []Recipient{} // "no one else", shown as []
	}
	return f
}
