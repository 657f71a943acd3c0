package events

import (
	"strconv"
	"strings"
)

// Money writes an amount of øre for a participant, as each language
// writes money: "1 500 kr" and "1 500,50 kr" in nb (thousands grouped by
// a no-break space, decimal comma, øre only when there are any),
// "NOK 1,500" and "NOK 1,500.50" in en.
func Money(øre int64, currency, lang string) string {
	if currency == "" {
		currency = "NOK"
	}
	sign := ""
	if øre < 0 {
		sign, øre = "-", -øre
	}
	group, dec := "\u00a0", ","
	if lang == "en" {
		group, dec = ",", "."
	}
	kr := strconv.FormatInt(øre/100, 10)
	var b strings.Builder
	for i, r := range kr {
		if i > 0 && (len(kr)-i)%3 == 0 {
			b.WriteString(group)
		}
		b.WriteRune(r)
	}
	n := sign + b.String()
	if frac := øre % 100; frac != 0 {
		n += dec + strconv.FormatInt(frac/10, 10) + strconv.FormatInt(frac%10, 10)
	}
	if lang == "en" {
		return currency + "\u00a0" + n
	}
	if currency == "NOK" {
		currency = "kr"
	}
	return n + "\u00a0" + currency
}

// Text is the price as a participant reads it.
func (p Price) Text(lang string) string { return Money(p.Amount, p.Currency, lang) }
