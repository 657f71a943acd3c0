package payments

import "testing"

func TestIBAN(t *testing.T) {
	for bban, want := range map[string]string{
		"12345678903":   "NO7112345678903",
		"1234.56.78903": "NO7112345678903",
		"8601 11 17947": "NO9386011117947", // ISO 13616's own Norwegian example
	} {
		if got, err := ibanOf(bban); err != nil || got != want {
			t.Errorf("ibanOf(%q) = %q, %v; want %s", bban, got, err, want)
		}
		if !validIBAN(want) {
			t.Errorf("validIBAN(%s) = false", want)
		}
	}
	for v, want := range map[string]string{
		"NO7112345678903": "12345678903", "NO71 1234 5678 903": "12345678903", "no7112345678903": "12345678903",
		"1234.56.78903": "12345678903", "NO7212345678903": "", "NL91ABNA0417164300": "", "123456789": "", "": "",
	} {
		if got, ok := normalizeBBAN(v); got != want || ok != (want != "") {
			t.Errorf("normalizeBBAN(%q) = %q, %v; want %q", v, got, ok, want)
		}
	}
	if !validIBAN("NL91ABNA0417164300") || validIBAN("NL92ABNA0417164300") {
		t.Error("mod 97 of NL91ABNA0417164300")
	}
	if _, err := ibanOf("NO7112345678903"); err == nil {
		t.Error("ibanOf took an IBAN")
	}
}

func TestParseDecimal(t *testing.T) {
	for v, want := range map[string]int64{
		"999.00": 99900000, "999": 99900000, "999.": 99900000, ".5": 50000, "+1.5": 150000,
		"999.005": 99900500, "0.00001": 1, "1.000000": 100000, "0012.30": 1230000, "9999999999999.99999": 999999999999999999,
	} {
		if got, err := parseDecimal(v); err != nil || got != want {
			t.Errorf("parseDecimal(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	for _, v := range []string{"", ".", "1,50", "1.5.0", "-1.00", "1e3", "0.000001", "10000000000000", " 1", "1 500.00", "NaN"} {
		if got, err := parseDecimal(v); err == nil {
			t.Errorf("parseDecimal(%q) = %d, want an error", v, got)
		}
	}
	for u, want := range map[int64]string{99900000: "999.00", 99900500: "999.005", 1: "0.00001", 0: "0.00"} {
		if got := formatUnits(u); got != want {
			t.Errorf("formatUnits(%d) = %s, want %s", u, got, want)
		}
	}
}
