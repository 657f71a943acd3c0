package privacy_test

import (
	"slices"
	"testing"

	"github.com/pamelding/pamelding/privacy"
)

func TestCatalogKeys(t *testing.T) {
	want := []string{"name", "email", "phone", "organisation", "title", "dietary", "date_of_birth", "club",
		"guardian_name", "guardian_email", "emergency_contact", "invoice_org_number", "invoice_address", "invoice_reference"}
	var got []string
	for _, f := range privacy.Catalog() {
		got = append(got, f.Key)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("catalog keys = %v, want %v", got, want)
	}
}

func TestCatalogTags(t *testing.T) {
	for _, f := range privacy.Catalog() {
		t.Run(f.Key, func(t *testing.T) {
			if f.Label.NB == "" || f.Label.EN == "" {
				t.Error("label missing")
			}
			if !slices.Contains(privacy.Categories, f.Category) {
				t.Errorf("category %q unknown", f.Category)
			}
			if _, ok := privacy.LegalBases[f.LegalBasis]; !ok {
				t.Errorf("legal basis %q unknown", f.LegalBasis)
			}
			if len(f.Purposes) == 0 {
				t.Error("no purpose")
			}
			for _, p := range f.Purposes {
				if _, ok := privacy.Purposes[p]; !ok {
					t.Errorf("purpose %q unknown", p)
				}
			}
			if f.Retention.IsZero() {
				t.Error("no retention")
			}
			if f.LegalBasis.NeedsConsent() != (f.ConsentPurpose != "") {
				t.Errorf("consent purpose %q with basis %s", f.ConsentPurpose, f.LegalBasis)
			}
			if f.Category.Special() && f.LegalBasis != privacy.ExplicitConsent {
				t.Error("health data without explicit consent")
			}
			if f.Validation.MaxLength <= 0 || !slices.Contains(privacy.Kinds, f.Validation.Kind) {
				t.Errorf("validation %+v", f.Validation)
			}
			// The Janteloppet promise: partners get name and organisation only.
			if f.SharedWith(privacy.Partners) != (f.Key == "name" || f.Key == "organisation") {
				t.Errorf("shared with partners = %v", f.SharedWith(privacy.Partners))
			}
		})
	}
	d, _ := privacy.Lookup("dietary")
	if d.Category != privacy.Health || d.LegalBasis != privacy.ExplicitConsent || d.ConsentPurpose != privacy.ConsentHealth {
		t.Errorf("dietary = %+v", d)
	}
}

func TestCatalogIsACopy(t *testing.T) {
	c := privacy.Catalog()
	c[0].Recipients[0] = "someone"
	if f, _ := privacy.Lookup(c[0].Key); f.Recipients[0] == "someone" {
		t.Fatal("changing a returned field changed the catalog")
	}
}

func TestRetention(t *testing.T) {
	for _, tc := range []struct {
		in  string
		ok  bool
		out string
	}{
		{"event_end+30d", true, "event_end+30d"},
		{"fiscal_year_end+5y", true, "fiscal_year_end+5y"},
		{"event_end+6m", true, "event_end+6m"},
		{"with_registration", true, "with_registration"},
		{"until_withdrawn", true, "until_withdrawn"},
		{"event_end", true, "event_end"},
		{"with_registration+1y", false, ""},
		{"forever", false, ""},
		{"event_end+0d", false, ""},
		{"event_end+30w", false, ""},
		{"", false, ""},
	} {
		r, err := privacy.ParseRetention(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseRetention(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && r.String() != tc.out {
			t.Errorf("ParseRetention(%q) = %q", tc.in, r.String())
		}
	}
}

func TestCustomField(t *testing.T) {
	good := func() privacy.CustomFieldSpec {
		return privacy.CustomFieldSpec{
			Key: "tshirt_size", Label: &privacy.Text{NB: "T-skjorte", EN: "T-shirt"},
			Category: privacy.Identity, LegalBasis: privacy.Contract,
			Purposes: []privacy.Purpose{"registration"}, Recipients: []privacy.Recipient{},
			Retention: "event_end+30d",
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*privacy.CustomFieldSpec)
		want   privacy.FieldError
	}{
		{"OK", func(*privacy.CustomFieldSpec) {}, privacy.FieldError{}},
		{"KeyMissing", func(s *privacy.CustomFieldSpec) { s.Key = "" }, privacy.FieldError{Field: "c.key", Code: "required"}},
		{"KeyBuiltin", func(s *privacy.CustomFieldSpec) { s.Key = "email" }, privacy.FieldError{Field: "c.key", Code: "duplicate"}},
		{"KeyInvalid", func(s *privacy.CustomFieldSpec) { s.Key = "Bad Key" }, privacy.FieldError{Field: "c.key", Code: "invalid"}},
		{"LabelMissing", func(s *privacy.CustomFieldSpec) { s.Label = nil }, privacy.FieldError{Field: "c.label.nb", Code: "required"}},
		{"CategoryMissing", func(s *privacy.CustomFieldSpec) { s.Category = "" }, privacy.FieldError{Field: "c.category", Code: "required"}},
		{"LegalBasisMissing", func(s *privacy.CustomFieldSpec) { s.LegalBasis = "" }, privacy.FieldError{Field: "c.legalBasis", Code: "required"}},
		{"PurposesMissing", func(s *privacy.CustomFieldSpec) { s.Purposes = nil }, privacy.FieldError{Field: "c.purposes", Code: "required"}},
		{"PurposeUnknown", func(s *privacy.CustomFieldSpec) { s.Purposes = []privacy.Purpose{"profiling"} }, privacy.FieldError{Field: "c.purposes[0]", Code: "invalid"}},
		{"RecipientsMissing", func(s *privacy.CustomFieldSpec) { s.Recipients = nil }, privacy.FieldError{Field: "c.recipients", Code: "required"}},
		{"RecipientPartners", func(s *privacy.CustomFieldSpec) { s.Recipients = []privacy.Recipient{privacy.Partners} }, privacy.FieldError{Field: "c.recipients[0]", Code: "invalid"}},
		{"RetentionMissing", func(s *privacy.CustomFieldSpec) { s.Retention = "" }, privacy.FieldError{Field: "c.retention", Code: "required"}},
		{"RetentionInvalid", func(s *privacy.CustomFieldSpec) { s.Retention = "forever" }, privacy.FieldError{Field: "c.retention", Code: "invalid"}},
		{"HealthWithoutExplicitConsent", func(s *privacy.CustomFieldSpec) { s.Category = privacy.Health }, privacy.FieldError{Field: "c.legalBasis", Code: "invalid"}},
		{"ConsentWithoutPurpose", func(s *privacy.CustomFieldSpec) { s.LegalBasis = privacy.Consent }, privacy.FieldError{Field: "c.consentPurpose", Code: "required"}},
		{"MaxLengthTooBig", func(s *privacy.CustomFieldSpec) {
			s.Validation = &privacy.Validation{Kind: privacy.KindText, MaxLength: 1 << 20}
		}, privacy.FieldError{Field: "c.validation.maxLength", Code: "invalid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good()
			tc.change(&s)
			f, errs := privacy.CustomField("c", s)
			if tc.want.Code == "" {
				if errs != nil {
					t.Fatalf("errors %v", errs)
				}
				if f.Key != s.Key || f.Validation.Kind != privacy.KindText || f.Retention.String() != "event_end+30d" {
					t.Errorf("field = %+v", f)
				}
				return
			}
			if !slices.Contains(errs, tc.want) {
				t.Fatalf("errors %v, want %v among them", errs, tc.want)
			}
		})
	}
}
