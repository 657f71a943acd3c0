package privacy

import "slices"

// EventTraits are what decides which purposes an event has: its kind,
// whether it is paid, has partners, or publishes a participant list.
type EventTraits struct {
	Kind       string
	Paid       bool
	Partners   bool
	PublicList bool
	// Catering: the form asks for something for catering (dietary needs,
	// a field naming catering as recipient); without it no value, the
	// name included, goes to catering.
	Catering bool
}

// purposeRule is a purpose's own legal basis (empty: the field's own, for
// a purpose served by fields of different kinds, such as catering: health
// data under explicit consent) and the events it exists for (nil: all).
type purposeRule struct {
	basis   LegalBasis
	applies func(EventTraits) bool
}

func paid(e EventTraits) bool { return e.Paid }

// purposeRules gives each purpose its basis (GDPR art. 6, 9): contract for
// administering the registration, legitimate interest with the right to
// object for partner lists, consent for marketing, legal obligation for
// bookkeeping; health data under explicit consent is the field's own.
var purposeRules = map[Purpose]purposeRule{
	"registration":  {basis: Contract},
	"communication": {basis: Contract},
	"badge":         {basis: Contract, applies: func(e EventTraits) bool { return e.Kind != "race" }},
	"invoicing":     {basis: Contract, applies: paid},
	"bookkeeping":   {basis: LegalObligation, applies: paid},
	// Partner lists serve the organiser's and the partners' interest in
	// meeting participants; the participant may object at any time (art.
	// 21), so the basis cannot be the contract.
	"partner_sharing": {basis: LegitimateInterest, applies: func(e EventTraits) bool { return e.Partners }},
	"results":         {basis: Contract, applies: func(e EventTraits) bool { return e.Kind == "race" }},
	"eligibility":     {basis: Contract},
	"guardian":        {basis: Contract},
	"marketing":       {basis: Consent},
	// A race's public start list publishes name, club, class and bib of
	// those who consent to it, and of nobody else.
	"startlist": {basis: Consent, applies: func(e EventTraits) bool { return e.Kind == "race" && e.PublicList }},
	"catering":  {},
	"safety":    {},
}

// AppliesTo reports whether the purpose exists for an event with the
// traits: a conference has no start lists, an event without partners no
// partner list, a free event no invoicing.
func (p Purpose) AppliesTo(e EventTraits) bool {
	r, ok := purposeRules[p]
	return !ok || r.applies == nil || r.applies(e)
}

// BasisFor is the legal basis on which the field serves the purpose.
func (f Field) BasisFor(p Purpose) LegalBasis {
	if b, ok := f.Bases[p]; ok {
		return b
	}
	if r, ok := purposeRules[p]; ok && r.basis != "" && !f.LegalBasis.NeedsConsent() {
		// A field under consent serves every purpose on that consent.
		return r.basis
	}
	return f.LegalBasis
}

// Objectable reports whether processing on the basis may be objected to
// (GDPR art. 21(1): legitimate or public interest).
func (b LegalBasis) Objectable() bool { return b == LegitimateInterest }

// ForEvent is the field as it holds for an event with the traits: only
// the purposes the event has, each with its legal basis, and only the
// recipients that apply (partners where it has partners, the public
// where it publishes a list, finance and the payment processor where it
// is paid).
func (f Field) ForEvent(e EventTraits) Field {
	f = f.clone()
	f.Purposes = slices.DeleteFunc(f.Purposes, func(p Purpose) bool { return !p.AppliesTo(e) })
	f.Recipients = slices.DeleteFunc(f.Recipients, func(r Recipient) bool {
		return (r == Partners && !e.Partners) || (r == Public && !e.PublicList) || ((r == Finance || r == PaymentProcessor) && !e.Paid) ||
			(r == Catering && !e.Catering)
	})
	bases := make(map[Purpose]LegalBasis, len(f.Purposes))
	for _, p := range f.Purposes {
		bases[p] = f.BasisFor(p)
	}
	f.Bases = bases
	return f
}
