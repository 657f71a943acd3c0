package payments_test

import (
	"testing"

	"github.com/pamelding/pamelding/payments"
)

func TestValidAccountNumber(t *testing.T) {
	for v, want := range map[string]bool{
		"1234.56.78903":      true,
		"12345678903":        true,
		"NO71 1234 5678 903": true,
		"1234.56.78904":      false, // wrong check digit
		"abcdefghijk":        false,
		"1234567890":         false,
		"NO7212345678903":    false, // IBAN check digits wrong
	} {
		if got := payments.ValidAccountNumber(v); got != want {
			t.Errorf("ValidAccountNumber(%q) = %v, want %v", v, got, want)
		}
	}
}
