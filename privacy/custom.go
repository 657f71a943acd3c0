package privacy

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
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
	Validation     *Validation `json:"validation,omitempty"`
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
		}
	}
	if s.Recipients == nil {
		errs.Add(at("recipients"), CodeRequired)
	}
	for i, r := range s.Recipients {
		if !slices.Contains(Recipients, r) || r == Partners || r == PaymentProcessor {
			errs.Add(at("recipients["+strconv.Itoa(i)+"]"), CodeInvalid)
		}
	}
	var retention Retention
	if s.Retention == "" {
		errs.Add(at("retention"), CodeRequired)
	} else if r, err := ParseRetention(s.Retention); err != nil {
		errs.Add(at("retention"), CodeInvalid)
	} else {
		retention = r
	}
	cp := ConsentPurpose(s.ConsentPurpose)
	if s.LegalBasis.NeedsConsent() {
		if cp == "" {
			errs.Add(at("consentPurpose"), CodeRequired)
		} else if _, ok := consentTexts[cp]; !ok {
			errs.Add(at("consentPurpose"), CodeInvalid)
		}
	} else if cp != "" {
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
	}
	if len(errs) > 0 {
		return Field{}, errs
	}
	return Field{
		Key: s.Key, Label: label, Category: s.Category, LegalBasis: s.LegalBasis,
		Purposes: slices.Clone(s.Purposes), Recipients: slices.Clone(s.Recipients),
		Retention: retention, ConsentPurpose: cp, Validation: v,
	}, nil
}
