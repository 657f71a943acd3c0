package payments

import (
	"errors"
	"strings"
)

// Norwegian account numbers as statements write them: the BBAN (11
// digits, often grouped with dots: 1234.56.78903) or the IBAN (NO, two
// check digits, the BBAN: NO7112345678903). Statements are compared on
// the BBAN.

// normalizeBBAN returns the 11 digits of a Norwegian account number
// written as a BBAN (dots and spaces allowed) or as a Norwegian IBAN;
// ok is false for anything else.
func normalizeBBAN(v string) (string, bool) {
	v = compactAccount(v)
	if looksLikeIBAN(v) {
		if !validIBAN(v) || !strings.HasPrefix(v, "NO") || len(v) != 15 {
			return "", false
		}
		v = v[4:]
	}
	if len(v) != 11 || !allDigits(v) {
		return "", false
	}
	return v, true
}

// compactAccount drops the grouping a human writes into an account
// number (spaces, dots) and upper-cases the letters of an IBAN.
func compactAccount(v string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", ".", "", "\u00a0", "").Replace(strings.TrimSpace(v)))
}

// looksLikeIBAN: two letters, two digits, then letters and digits.
func looksLikeIBAN(v string) bool {
	if len(v) < 5 || len(v) > 34 {
		return false
	}
	for i, r := range v {
		switch {
		case i < 2 && (r < 'A' || r > 'Z'):
			return false
		case i >= 2 && i < 4 && (r < '0' || r > '9'):
			return false
		case i >= 4 && (r < '0' || r > '9') && (r < 'A' || r > 'Z'):
			return false
		}
	}
	return true
}

// validIBAN checks an IBAN's check digits (ISO 13616, ISO 7064 mod 97-10):
// the first four characters moved to the end, letters as 10..35, the
// number mod 97 is 1.
func validIBAN(v string) bool {
	if !looksLikeIBAN(v) {
		return false
	}
	return ibanMod97(v[4:]+v[:4]) == 1
}

// ibanOf returns the Norwegian IBAN of an 11-digit BBAN (dots and spaces
// allowed): NO, the check digits, the BBAN.
func ibanOf(bban string) (string, error) {
	b, ok := normalizeBBAN(bban)
	if !ok || looksLikeIBAN(compactAccount(bban)) {
		return "", errors.New("not an 11-digit Norwegian account number")
	}
	check := 98 - ibanMod97(b+"NO00")
	return "NO" + string(rune('0'+check/10)) + string(rune('0'+check%10)) + b, nil
}

func ibanMod97(s string) int {
	rem := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			rem = (rem*10 + int(r-'0')) % 97
		case r >= 'A' && r <= 'Z':
			rem = (rem*100 + int(r-'A') + 10) % 97
		}
	}
	return rem
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// maskAccount shows only the last four characters of an account, for
// messages: enough for finance to tell which account a file was for.
func maskAccount(v string) string {
	v = compactAccount(v)
	if len(v) <= 4 {
		return "…" + v
	}
	return "…" + v[len(v)-4:]
}

// ValidAccountNumber reports whether v is a Norwegian bank account number
// (11 digits, dots and spaces allowed, or its IBAN) whose last digit is
// the MOD11 check digit of the first ten (weights 5,4,3,2,7,6,5,4,3,2).
func ValidAccountNumber(v string) bool {
	bban, ok := normalizeBBAN(v)
	if !ok {
		return false
	}
	sum := 0
	for i, w := range []int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2} {
		sum += int(bban[i]-'0') * w
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && int(bban[10]-'0') == check
}
