package privacy

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CustomFieldSpec is an organiser's declaration of a field the catalog does
// not have, as sent. Every tag must be filled in.
type CustomFieldSpec struct {
	Key            string      `json:"key"`
	Label          *Text       `json:"label"`
	Category       Category    `json:"category"`
	LegalBasis     LegalBasis  `json:"legalBasis"`
	Purposes       []Purpose   `json:"purposes"`
	Recipients     []Recipient `json:"recipients"`
	Retention      string      `json:"retention"`
	ConsentPurpose string      `json:"consentPurpose,omitempty"`
	// ConsentText is the text of the field's own consent, required when
	// its legal basis is a consent: no other consent's text covers it.
	ConsentText *Text       `json:"consentText,omitempty"`
	Validation  *Validation `json:"validation,omitempty"`
	// RetentionReason, printed in the privacy notice, allows a retention
	// longer than the catalog's bound for the field's kind.
	RetentionReason *Text `json:"retentionReason,omitempty"`
}

// Error codes of the rules custom fields must follow.
const (
	// CodeOwnConsent: a field under consent needs a consent purpose and
	// text of its own.
	CodeOwnConsent = "own_consent_required"
	// CodeRecipient: a recipient custom fields may not have.
	CodeRecipient = "recipient_not_allowed"
	// CodeRetentionTooLong: longer than the bound for the field's kind,
	// and no reason given.
	CodeRetentionTooLong = "retention_too_long"
	// CodePurposeBasis: the purpose has a legal basis of its own the
	// field's does not match.
	CodePurposeBasis = "purpose_basis_mismatch"
	// CodeNoPurpose: none of the field's purposes exists for the event
	// (invoice fields on a free event, a badge at a race).
	CodeNoPurpose = "no_purpose_for_event"
)

// Retention bounds of custom fields: no longer than the catalog's own
// fields of their kind keep their data, unless the organiser states a
// reason the notice prints, and never past maxCustomRetention.
var (
	healthBound        = MustRetention("event_end+30d") // the catalog's dietary
	defaultBound       = MustRetention("event_end+1y")  // the catalog's name and e-mail
	bookkeepingBound   = MustRetention("fiscal_year_end+5y")
	maxCustomRetention = MustRetention("event_end+10y")
)

// longer reports whether rule a deletes later than rule b, for an event
// ending on a reference day.
func longer(a, b Retention) bool {
	ref := time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	anchors := Anchors{EventEnd: ref, FiscalYearEnd: EndOfFiscalYear(ref)}
	at, okA := a.DeleteAt(anchors)
	bt, okB := b.DeleteAt(anchors)
	return okA && okB && at.After(bt)
}

var customKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{1,39}$`)

// CustomField checks a declaration and returns the field it declares.
// Errors name the spec's members under path (e.g. "customFields[2]").
//
// Beyond "every tag filled in", it refuses what the catalog's promises
// forbid: custom fields never go to partners or the payment processor
// (partners get name and organisation only), health data needs explicit
// consent (art. 9), and a consent basis needs a consent purpose whose text
// the participant is shown.
func CustomField(path string, s CustomFieldSpec) (Field, Errors) {
	var errs Errors
	at := func(member string) string { return path + "." + member }
	label := Text{}
	if s.Label != nil {
		label = Text{NB: strings.TrimSpace(s.Label.NB), EN: strings.TrimSpace(s.Label.EN)}
	}

	switch {
	case s.Key == "":
		errs.Add(at("key"), CodeRequired)
	case !customKeyRE.MatchString(s.Key):
		errs.Add(at("key"), CodeInvalid)
	case builtinByKey[s.Key].Key != "":
		errs.Add(at("key"), CodeDuplicate)
	}
	for _, l := range []struct{ member, v string }{{"label.nb", label.NB}, {"label.en", label.EN}} {
		switch {
		case l.v == "":
			errs.Add(at(l.member), CodeRequired)
		case len([]rune(l.v)) > 200:
			errs.Add(at(l.member), CodeTooLong)
		case !SingleLine(l.v):
			errs.Add(at(l.member), CodeInvalid)
		}
	}
	switch {
	case s.Category == "":
		errs.Add(at("category"), CodeRequired)
	case !slices.Contains(Categories, s.Category):
		errs.Add(at("category"), CodeInvalid)
	}
	_, knownBasis := LegalBases[s.LegalBasis]
	switch {
	case s.LegalBasis == "":
		errs.Add(at("legalBasis"), CodeRequired)
	case !knownBasis:
		errs.Add(at("legalBasis"), CodeInvalid)
	case s.Category.Special() != (s.LegalBasis == ExplicitConsent):
		// Art. 9: special categories need explicit consent here, and
		// explicit consent is the basis for special categories only.
		errs.Add(at("legalBasis"), CodeInvalid)
	}
	if len(s.Purposes) == 0 {
		errs.Add(at("purposes"), CodeRequired)
	}
	for i, p := range s.Purposes {
		if _, ok := Purposes[p]; !ok {
			errs.Add(at("purposes["+strconv.Itoa(i)+"]"), CodeInvalid)
			continue
		}
		// A purpose with a basis of its own takes a field on that basis:
		// marketing only under consent, bookkeeping only as a legal
		// obligation, partner lists never (partners get name and
		// organisation only).
		switch r := purposeRules[p]; {
		case p == "partner_sharing",
			r.basis == Consent && !s.LegalBasis.NeedsConsent(),
			r.basis == LegalObligation && s.LegalBasis != LegalObligation:
			errs.Add(at("purposes["+strconv.Itoa(i)+"]"), CodePurposeBasis)
		}
	}
	if s.Recipients == nil {
		errs.Add(at("recipients"), CodeRequired)
	}
	for i, r := range s.Recipients {
		// Besides the organiser, a custom field may go to catering or
		// finance only (health data to catering only): never to partners,
		// the public or the payment processor.
		switch {
		case !slices.Contains(Recipients, r):
			errs.Add(at("recipients["+strconv.Itoa(i)+"]"), CodeInvalid)
		case r != Catering && r != Finance, s.Category.Special() && r != Catering:
			errs.Add(at("recipients["+strconv.Itoa(i)+"]"), CodeRecipient)
		}
	}
	var retention Retention
	var reason *Text
	if s.RetentionReason != nil {
		r := Text{NB: strings.TrimSpace(s.RetentionReason.NB), EN: strings.TrimSpace(s.RetentionReason.EN)}
		switch {
		case r.NB == "" || r.EN == "":
			errs.Add(at("retentionReason"), CodeRequired)
		case len([]rune(r.NB)) > 500 || len([]rune(r.EN)) > 500:
			errs.Add(at("retentionReason"), CodeTooLong)
		default:
			reason = &r
		}
	}
	if s.Retention == "" {
		errs.Add(at("retention"), CodeRequired)
	} else if r, err := ParseRetention(s.Retention); err != nil {
		errs.Add(at("retention"), CodeInvalid)
	} else {
		retention = r
		bound := defaultBound
		if s.Category.Special() {
			bound = healthBound
		}
		switch {
		case r.Anchor == UntilWithdrawn && !s.LegalBasis.NeedsConsent():
			errs.Add(at("retention"), CodeInvalid) // only a consent can be withdrawn
		case r.Anchor == FiscalYearEnd && s.LegalBasis != LegalObligation:
			errs.Add(at("retention"), CodeInvalid) // the bookkeeping period is for bookkeeping
		case r.Anchor == FiscalYearEnd && longer(r, bookkeepingBound):
			errs.Add(at("retention"), CodeRetentionTooLong)
		case r.Anchor == EventEnd && (longer(r, maxCustomRetention) || longer(r, bound) && reason == nil):
			errs.Add(at("retention"), CodeRetentionTooLong)
		}
	}
	cp := ConsentPurpose(s.ConsentPurpose)
	var consent *ConsentText
	if s.LegalBasis.NeedsConsent() {
		// The field's own consent, with its own text: a consent given to
		// something else (news by e-mail, food allergies) never covers it.
		if cp != "" && cp != ConsentPurpose(s.Key) {
			errs.Add(at("consentPurpose"), CodeOwnConsent)
		}
		cp = ConsentPurpose(s.Key)
		var text Text
		if s.ConsentText != nil {
			text = Text{NB: strings.TrimSpace(s.ConsentText.NB), EN: strings.TrimSpace(s.ConsentText.EN)}
		}
		switch {
		case text.NB == "" || text.EN == "":
			errs.Add(at("consentText"), CodeOwnConsent)
		case len([]rune(text.NB)) > 1000 || len([]rune(text.EN)) > 1000:
			errs.Add(at("consentText"), CodeTooLong)
		default:
			c := ConsentText{Purpose: cp, Text: text}
			c.Version = c.SHA256()[:12]
			consent = &c
		}
	} else if cp != "" || s.ConsentText != nil {
		errs.Add(at("consentPurpose"), CodeInvalid)
	}
	v := Validation{Kind: KindText, MaxLength: defaultMax}
	if s.Validation != nil {
		v = *s.Validation
		if !slices.Contains(Kinds, v.Kind) {
			errs.Add(at("validation.kind"), CodeInvalid)
		}
		if v.MaxLength == 0 {
			v.MaxLength = defaultMax
		}
		if v.MaxLength < 1 || v.MaxLength > MaxLengthLimit {
			errs.Add(at("validation.maxLength"), CodeInvalid)
		}
		checkOptions(v, at, &errs)
	}
	if len(errs) > 0 {
		return Field{}, errs
	}
	return Field{
		Key: s.Key, Label: label, Category: s.Category, LegalBasis: s.LegalBasis,
		Purposes: slices.Clone(s.Purposes), Recipients: slices.Clone(s.Recipients),
		Retention: retention, ConsentPurpose: cp, Consent: consent, Validation: v, RetentionReason: reason,
	}, nil
}

var optionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// checkOptions checks a choice field's options: 2 to 50, each value
// unique (lower-case letters, digits, - and _, no comma) with a label in
// both languages; other kinds take none.
func checkOptions(v Validation, at func(string) string, errs *Errors) {
	choice := v.Kind == KindChoice || v.Kind == KindChoices
	switch {
	case !choice && len(v.Options) > 0:
		errs.Add(at("validation.options"), CodeUndeclared)
		return
	case choice && (len(v.Options) < 2 || len(v.Options) > 50):
		errs.Add(at("validation.options"), CodeInvalid)
		return
	}
	for i, o := range v.Options {
		path := at("validation.options[" + strconv.Itoa(i) + "]")
		switch {
		case !optionRE.MatchString(o.Value):
			errs.Add(path+".value", CodeInvalid)
		case slices.ContainsFunc(v.Options[:i], func(p Option) bool { return p.Value == o.Value }):
			errs.Add(path+".value", CodeDuplicate)
		}
		if l := o.Label; strings.TrimSpace(l.NB) == "" || strings.TrimSpace(l.EN) == "" || len(l.NB) > 100 || len(l.EN) > 100 || !SingleLine(l.NB) || !SingleLine(l.EN) {
			errs.Add(path+".label", CodeInvalid)
		}
	}
}
