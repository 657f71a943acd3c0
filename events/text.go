package events

import (
	"regexp"
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

// TextPart is a piece of plain text: words, or a web address to show as
// a link (URL set).
type TextPart struct{ Text, URL string }

var webAddress = regexp.MustCompile(`https?://[^\s<>"]+[^\s<>".,;:!?)]`)

// Linked splits plain text (an event's description, a mail's line) into
// words and the http(s) addresses in it; a template escapes both.
func Linked(s string) []TextPart {
	var parts []TextPart
	last := 0
	for _, m := range webAddress.FindAllStringIndex(s, -1) {
		parts = append(parts, TextPart{Text: s[last:m[0]]}, TextPart{Text: s[m[0]:m[1]], URL: s[m[0]:m[1]]})
		last = m[1]
	}
	return append(parts, TextPart{Text: s[last:]})
}
