package payments

import "testing"

func TestVATRounding(t *testing.T) {
	for _, tc := range []struct {
		gross    int64
		rate     int
		net, vat int64
	}{
		{150000, 25, 120000, 30000},
		{99900, 25, 79920, 19980},
		{100, 25, 80, 20},
		{1, 25, 1, 0}, // 0.2 øre rounds down
		{3, 25, 2, 1}, // 0.6 øre rounds up
		{10000, 15, 8696, 1304},
		{10000, 12, 8929, 1071},
		{99900, 0, 99900, 0},
	} {
		net, vat := vatOf(tc.gross, tc.rate)
		if net != tc.net || vat != tc.vat || net+vat != tc.gross {
			t.Errorf("vatOf(%d, %d) = %d + %d, want %d + %d", tc.gross, tc.rate, net, vat, tc.net, tc.vat)
		}
	}
}
