package privacy_test

import (
	"slices"
	"strings"
	"testing"
	"time"

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

// healthField makes a custom health field with its own consent, then
// changes it.
func healthField(change func(*privacy.CustomFieldSpec)) func(*privacy.CustomFieldSpec) {
	return func(s *privacy.CustomFieldSpec) {
		s.Category, s.LegalBasis, s.Recipients = privacy.Health, privacy.ExplicitConsent, []privacy.Recipient{privacy.Catering}
		s.ConsentText = &privacy.Text{NB: "Jeg samtykker til at arrangøren bruker opplysningen om medisinske behov.", EN: "I consent to the organiser using what I state about medical needs."}
		if change != nil {
			change(s)
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
		{"MarketingOnContract", func(s *privacy.CustomFieldSpec) { s.Purposes = []privacy.Purpose{"registration", "marketing"} }, privacy.FieldError{Field: "c.purposes[1]", Code: "purpose_basis_mismatch"}},
		{"BookkeepingOnContract", func(s *privacy.CustomFieldSpec) { s.Purposes = []privacy.Purpose{"bookkeeping"} }, privacy.FieldError{Field: "c.purposes[0]", Code: "purpose_basis_mismatch"}},
		{"PartnerListPurpose", func(s *privacy.CustomFieldSpec) { s.Purposes = []privacy.Purpose{"partner_sharing"} }, privacy.FieldError{Field: "c.purposes[0]", Code: "purpose_basis_mismatch"}},
		{"RecipientsMissing", func(s *privacy.CustomFieldSpec) { s.Recipients = nil }, privacy.FieldError{Field: "c.recipients", Code: "required"}},
		{"RecipientPartners", func(s *privacy.CustomFieldSpec) { s.Recipients = []privacy.Recipient{privacy.Partners} }, privacy.FieldError{Field: "c.recipients[0]", Code: "recipient_not_allowed"}},
		{"RecipientPublic", func(s *privacy.CustomFieldSpec) { s.Recipients = []privacy.Recipient{privacy.Public} }, privacy.FieldError{Field: "c.recipients[0]", Code: "recipient_not_allowed"}},
		{"RetentionOverAYear", func(s *privacy.CustomFieldSpec) { s.Retention = "event_end+13m" }, privacy.FieldError{Field: "c.retention", Code: "retention_too_long"}},
		{"RetentionBookkeepingWithoutObligation", func(s *privacy.CustomFieldSpec) { s.Retention = "fiscal_year_end+5y" }, privacy.FieldError{Field: "c.retention", Code: "invalid"}},
		{"OKRetentionLongerWithReason", func(s *privacy.CustomFieldSpec) {
			s.Retention = "event_end+3y"
			s.RetentionReason = &privacy.Text{NB: "Krav fra forsikringen", EN: "Required by the insurance"}
		}, privacy.FieldError{}},
		{"RetentionOverTenYearsWithReason", func(s *privacy.CustomFieldSpec) {
			s.Retention = "event_end+999y"
			s.RetentionReason = &privacy.Text{NB: "Fordi", EN: "Because"}
		}, privacy.FieldError{Field: "c.retention", Code: "retention_too_long"}},
		{"OKHealthWithOwnConsent", healthField(nil), privacy.FieldError{}},
		{"HealthUnderMarketingConsent", healthField(func(s *privacy.CustomFieldSpec) { s.ConsentPurpose = "marketing" }), privacy.FieldError{Field: "c.consentPurpose", Code: "own_consent_required"}},
		{"HealthWithoutConsentText", healthField(func(s *privacy.CustomFieldSpec) { s.ConsentText = nil }), privacy.FieldError{Field: "c.consentText", Code: "own_consent_required"}},
		{"HealthToFinance", healthField(func(s *privacy.CustomFieldSpec) { s.Recipients = []privacy.Recipient{privacy.Finance} }), privacy.FieldError{Field: "c.recipients[0]", Code: "recipient_not_allowed"}},
		{"HealthKeptAYear", healthField(func(s *privacy.CustomFieldSpec) { s.Retention = "event_end+1y" }), privacy.FieldError{Field: "c.retention", Code: "retention_too_long"}},
		{"UntilWithdrawnWithoutConsent", func(s *privacy.CustomFieldSpec) { s.Retention = "until_withdrawn" }, privacy.FieldError{Field: "c.retention", Code: "invalid"}},
		{"RetentionMissing", func(s *privacy.CustomFieldSpec) { s.Retention = "" }, privacy.FieldError{Field: "c.retention", Code: "required"}},
		{"RetentionInvalid", func(s *privacy.CustomFieldSpec) { s.Retention = "forever" }, privacy.FieldError{Field: "c.retention", Code: "invalid"}},
		{"HealthWithoutExplicitConsent", func(s *privacy.CustomFieldSpec) { s.Category = privacy.Health }, privacy.FieldError{Field: "c.legalBasis", Code: "invalid"}},
		{"ConsentWithoutOwnText", func(s *privacy.CustomFieldSpec) { s.LegalBasis = privacy.Consent }, privacy.FieldError{Field: "c.consentText", Code: "own_consent_required"}},
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
				if f.Key != s.Key || f.Validation.Kind != privacy.KindText || f.Retention.String() != s.Retention ||
					(s.LegalBasis.NeedsConsent() && (f.Consent == nil || f.ConsentPurpose != privacy.ConsentPurpose(s.Key) || f.Consent.Version == "")) {
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

func TestValidationCheck(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		kind privacy.Kind
		max  int
		in   string
		out  string
		code string
	}{
		{privacy.KindText, 200, "  Kari Nordmann  ", "Kari Nordmann", ""},
		{privacy.KindText, 200, "   ", "", ""},
		{privacy.KindText, 5, "Kari N", "", "invalid"},
		{privacy.KindText, 5, "Åsgård", "", "invalid"},
		{privacy.KindText, 6, "Åsgård", "Åsgård", ""},
		{privacy.KindText, 200, "line\nbreak", "", "invalid"},
		{privacy.KindText, 200, "nul\x00", "", "invalid"},
		{privacy.KindText, 200, "bidi\u202eevil", "", "invalid"},
		{privacy.KindText, 200, "bad \xff utf8", "", "invalid"},
		{privacy.KindMultiline, 200, "Storgata 1\r\n2211 Kongsvinger", "Storgata 1\n2211 Kongsvinger", ""},
		{privacy.KindEmail, 254, "kari@example.no", "kari@example.no", ""},
		{privacy.KindEmail, 254, "kari@", "", "invalid"},
		{privacy.KindPhone, 16, "912 34 567", "+4791234567", ""},
		{privacy.KindPhone, 16, "+4791234567", "+4791234567", ""},
		{privacy.KindPhone, 16, "+46701234567", "+46701234567", ""},
		{privacy.KindPhone, 16, "1234", "", "invalid"},
		{privacy.KindPhone, 16, "01234567", "", "invalid"},
		{privacy.KindPastDate, 10, "1990-05-17", "1990-05-17", ""},
		{privacy.KindPastDate, 10, "2030-01-01", "", "invalid"},
		{privacy.KindPastDate, 10, "17.05.1990", "", "invalid"},
		{privacy.KindPastDate, 10, "1990-02-30", "", "invalid"},
		{privacy.KindOrgNumber, 11, "923 609 016", "923609016", ""},
		{privacy.KindOrgNumber, 9, "923609017", "", "invalid"},
	} {
		out, code := privacy.Validation{Kind: tc.kind, MaxLength: tc.max}.Check(tc.in, now)
		if out != tc.out || code != tc.code {
			t.Errorf("%s %q = %q, %q; want %q, %q", tc.kind, tc.in, out, code, tc.out, tc.code)
		}
	}
}

func TestSealing(t *testing.T) {
	master := make([]byte, 32)
	k, err := privacy.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	dek, wrapped := k.NewValueKey("reg1", "dietary")
	s, err := privacy.SealValue(dek, "reg1", "dietary", "nøtteallergi")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(s.Data), "nøtt") {
		t.Fatal("sealed value holds the plaintext")
	}
	dek2, err := k.UnwrapValueKey("reg1", "dietary", wrapped)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := privacy.OpenValue(dek2, "reg1", "dietary", s); err != nil || v != "nøtteallergi" {
		t.Fatalf("open = %q, %v", v, err)
	}
	t.Run("BoundToRegistration", func(t *testing.T) {
		if _, err := k.UnwrapValueKey("reg2", "dietary", wrapped); err == nil {
			t.Error("a data key unwrapped for another registration")
		}
		if _, err := k.UnwrapValueKey("reg1", "phone", wrapped); err == nil {
			t.Error("a data key unwrapped for another field")
		}
		if _, err := privacy.OpenValue(dek2, "reg2", "dietary", s); err == nil {
			t.Error("a value opened for another registration")
		}
	})
	t.Run("OtherMasterKey", func(t *testing.T) {
		other := make([]byte, 32)
		other[0] = 1
		k2, _ := privacy.NewKeyring(other)
		if _, err := k2.UnwrapValueKey("reg1", "dietary", wrapped); err == nil {
			t.Error("another master key unwrapped the data key")
		}
	})
	t.Run("EmailKey", func(t *testing.T) {
		if k.EmailKey(" Kari@Example.NO ") != k.EmailKey("kari@example.no") {
			t.Error("normalised addresses differ")
		}
		if strings.Contains(k.EmailKey("kari@example.no"), "kari") {
			t.Error("the key shows the address")
		}
	})
}

func TestRetentionText(t *testing.T) {
	for rule, want := range map[string][2]string{
		"event_end+1y":       {"1 år etter arrangementet", "1 year after the event"},
		"event_end+30d":      {"30 dager etter arrangementet", "30 days after the event"},
		"event_end+1m":       {"1 måned etter arrangementet", "1 month after the event"},
		"fiscal_year_end+5y": {"5 år etter utløpet av regnskapsåret (bokføringsloven § 13)", "5 years after the end of the fiscal year (Bookkeeping Act § 13)"},
		"with_registration":  {"sammen med påmeldingen", "with the registration"},
	} {
		r := privacy.MustRetention(rule)
		if nb, en := privacy.RetentionText(r, "nb"), privacy.RetentionText(r, "en"); nb != want[0] || en != want[1] {
			t.Errorf("%s: %q / %q", rule, nb, en)
		}
	}
}

func TestDeleteAt(t *testing.T) {
	end := time.Date(2027, 3, 1, 16, 0, 0, 0, time.UTC)
	a := privacy.Anchors{EventEnd: end, FiscalYearEnd: privacy.EndOfFiscalYear(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))}
	if at, ok := privacy.MustRetention("event_end+30d").DeleteAt(a); !ok || !at.Equal(end.AddDate(0, 0, 30)) {
		t.Errorf("event_end+30d: %v", at)
	}
	// The end of fiscal 2026 in Oslo is 2026-12-31 23:00 UTC; + 5 years.
	if at, ok := privacy.MustRetention("fiscal_year_end+5y").DeleteAt(a); !ok || at.Year() != 2031 || at.Month() != 12 || at.Day() != 31 {
		t.Errorf("fiscal_year_end+5y: %v", at)
	}
	if _, ok := privacy.MustRetention("with_registration").DeleteAt(a); ok {
		t.Error("with_registration has a date")
	}
}

func TestAddMonths(t *testing.T) {
	for _, tc := range []struct {
		from, want string
		n          int
	}{
		{"2027-01-31", "2027-02-28", 1},
		{"2028-01-31", "2028-02-29", 1},
		{"2027-03-31", "2027-04-30", 1},
		{"2027-01-15", "2027-02-15", 1},
		{"2027-12-31", "2028-01-31", 1},
		{"2027-01-31", "2027-04-30", 3},
		{"2027-11-30", "2028-02-29", 3},
	} {
		from, _ := time.Parse(time.DateOnly, tc.from)
		if got := privacy.AddMonths(from, tc.n).Format(time.DateOnly); got != tc.want {
			t.Errorf("%s + %d months = %s, want %s", tc.from, tc.n, got, tc.want)
		}
	}
}
