// Package eventstest helps tests make events.
package eventstest

import (
	"reflect"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/privacy"
)

// Request is the create request for an event with the settings s: every
// member of s that is not zero is set, the others take their defaults.
func Request(slug string, s events.Settings) events.CreateRequest {
	r := events.CreateRequest{Slug: slug}
	sv := reflect.ValueOf(s)
	pv := reflect.ValueOf(&r.PatchRequest).Elem()
	for i := range sv.NumField() {
		f := sv.Type().Field(i)
		v := sv.Field(i)
		if v.IsZero() {
			continue
		}
		if f.Name == "CustomFields" {
			specs := make([]privacy.CustomFieldSpec, len(s.CustomFields))
			for j, cf := range s.CustomFields {
				specs[j] = Spec(cf)
			}
			r.CustomFields = &specs
			continue
		}
		dst := pv.FieldByName(f.Name)
		p := reflect.New(v.Type())
		p.Elem().Set(v)
		dst.Set(p)
	}
	return r
}

// Spec is the declaration that makes a custom field.
func Spec(f privacy.Field) privacy.CustomFieldSpec {
	label, v := f.Label, f.Validation
	return privacy.CustomFieldSpec{
		Key: f.Key, Label: &label, Category: f.Category, LegalBasis: f.LegalBasis,
		Purposes: f.Purposes, Recipients: f.Recipients, Retention: f.Retention.String(),
		ConsentPurpose: string(f.ConsentPurpose), Validation: &v,
	}
}
