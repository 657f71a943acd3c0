package payments

import (
	"strconv"
)

// KIDMod10 appends the MOD10 (Luhn) check digit to a number: the KID
// (kundeidentifikasjon) a payer types in the bank. 1234 gives 12344.
func KIDMod10(n int64) string {
	s := strconv.FormatInt(n, 10)
	return s + strconv.Itoa(mod10(s))
}

// KIDMod11 appends the MOD11 check digit, for banks that want it: 1234
// gives 12343. ok is false when the remainder makes no digit (10): such a
// number cannot carry a MOD11 KID.
func KIDMod11(n int64) (string, bool) {
	s := strconv.FormatInt(n, 10)
	d := mod11(s)
	if d < 0 {
		return "", false
	}
	return s + strconv.Itoa(d), true
}

// ValidKID reports whether a KID's last digit is its MOD10 or MOD11 check
// digit.
func ValidKID(kid string) bool {
	if len(kid) < 2 || len(kid) > 25 {
		return false
	}
	for _, r := range kid {
		if r < '0' || r > '9' {
			return false
		}
	}
	body, check := kid[:len(kid)-1], int(kid[len(kid)-1]-'0')
	return mod10(body) == check || mod11(body) == check
}

// mod10 is the Luhn check digit: from the right, every other digit
// doubled (digits of the product summed).
func mod10(s string) int {
	sum := 0
	double := true
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}

// mod11 is the check digit with weights 2..7 from the right; -1 when the
// remainder leaves 10.
func mod11(s string) int {
	sum, w := 0, 2
	for i := len(s) - 1; i >= 0; i-- {
		sum += int(s[i]-'0') * w
		w++
		if w > 7 {
			w = 2
		}
	}
	switch r := sum % 11; r {
	case 0:
		return 0
	case 1:
		return -1
	default:
		return 11 - r
	}
}
