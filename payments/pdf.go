package payments

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// PDF renders an invoice or credit note with the content
// bokføringsforskriften § 5-1-1 requires: number and date, seller's name,
// org number (with "MVA" when VAT-registered) and address, buyer's name,
// org number and address, what was delivered and when, the amount with
// and without VAT, the VAT, the due date, the account and the KID.
//
// A seller not registered for VAT prints no VAT at all, and says so. A
// credit note is titled "Kreditnota", names the invoice it credits with
// its number and date, and shows the amounts credited as positive sums.
// Amounts are written the Norwegian way (1 500,00 kr), dates as Oslo
// calendar dates (DD.MM.YYYY).
func (inv *Invoice) PDF() ([]byte, error) {
	credit := inv.Kind == KindCreditNote
	vat := inv.Seller.VATRegistered
	title, numberLabel, dateLabel := "Faktura", "Fakturanummer:", "Fakturadato:"
	if credit {
		title, numberLabel, dateLabel = "Kreditnota", "Kreditnotanr.:", "Kreditnotadato:"
	}

	pdf := fpdf.New("P", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("") // UTF-8 to cp1252: æ, ø, å, no-break space
	pdf.SetTitle(tr(fmt.Sprintf("%s %d", title, inv.Number)), false)
	pdf.SetCreator("pamelding", false)
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 18)
	pdf.Cell(0, 10, tr(title))
	pdf.Ln(12)

	pdf.SetFont("Helvetica", "", 10)
	line := func(label, value string) {
		pdf.CellFormat(45, 6, tr(label), "", 0, "", false, 0, "")
		pdf.MultiCell(0, 6, tr(value), "", "", false)
	}
	seller := inv.Seller.Name + "\nOrg.nr. " + orgNumber(inv.Seller.OrgNumber)
	if vat {
		seller += " MVA"
	}
	if inv.Seller.Foretaksregisteret {
		seller += "\nForetaksregisteret"
	}
	if inv.Seller.Address != "" {
		seller += "\n" + inv.Seller.Address
	}
	line("Selger:", seller)
	buyer := inv.Buyer.Name
	if inv.Buyer.OrgNumber != "" {
		buyer += "\nOrg.nr. " + orgNumber(inv.Buyer.OrgNumber)
	}
	if inv.Buyer.Address != "" {
		buyer += "\n" + inv.Buyer.Address
	}
	line("Kjøper:", buyer)
	if inv.Buyer.Reference != "" {
		line("Deres referanse:", inv.Buyer.Reference)
	}
	pdf.Ln(2)
	line(numberLabel, strconv.FormatInt(inv.Number, 10))
	line(dateLabel, day(inv.IssueDate))
	if credit {
		credits := "Krediterer faktura nr. " + strconv.FormatInt(inv.Credits, 10)
		if !inv.CreditsDate.IsZero() {
			credits += " av " + day(inv.CreditsDate)
		}
		pdf.MultiCell(0, 6, tr(credits), "", "", false)
	}
	line("Leveringsdato:", day(inv.DeliveryDate))
	if !credit {
		line("Forfallsdato:", day(inv.DueDate))
		if inv.Seller.BankAccount != "" {
			line("Kontonummer:", bankAccount(inv.Seller.BankAccount))
		}
		line("KID:", inv.KID)
	}
	pdf.Ln(4)

	// A credit note's lines are stored negative; it shows what it credits.
	sign := int64(1)
	if credit {
		sign = -1
	}
	type column struct {
		w     float64
		label string
		value func(Line) string
	}
	columns := []column{
		{15, "Antall", func(l Line) string { return strconv.FormatInt(sign*l.Quantity, 10) }},
		{30, "Enhetspris", func(l Line) string { return amount(l.UnitGross) }},
		{30, "Beløp", func(l Line) string { return amount(sign * l.Gross) }},
	}
	if vat {
		columns = []column{
			{15, "Antall", func(l Line) string { return strconv.FormatInt(sign*l.Quantity, 10) }},
			{25, "Netto", func(l Line) string { return amount(sign * l.Net) }},
			{15, "MVA %", func(l Line) string { return strconv.Itoa(l.VATRate) }},
			{25, "MVA", func(l Line) string { return amount(sign * l.VAT) }},
			{30, "Beløp", func(l Line) string { return amount(sign * l.Gross) }},
		}
	}
	described := 190.0 // the page's width inside its margins
	for _, c := range columns {
		described -= c.w
	}
	pdf.SetFont("Helvetica", "B", 10)
	pdf.CellFormat(described, 7, "Beskrivelse", "B", 0, "", false, 0, "")
	for _, c := range columns {
		pdf.CellFormat(c.w, 7, tr(c.label), "B", 0, "R", false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 10)
	for _, l := range inv.Lines {
		y := pdf.GetY()
		pdf.MultiCell(described, 6, tr(l.Description), "", "", false)
		next := pdf.GetY()
		pdf.SetXY(10+described, y)
		for _, c := range columns {
			pdf.CellFormat(c.w, 6, tr(c.value(l)), "", 0, "R", false, 0, "")
		}
		pdf.SetY(next)
	}
	pdf.Ln(4)

	total := func(label string, v int64) {
		pdf.CellFormat(150, 6, tr(label), "", 0, "R", false, 0, "")
		pdf.CellFormat(40, 6, tr(inv.money(sign*v)), "", 1, "R", false, 0, "")
	}
	prefix := ""
	if credit {
		prefix = "Kreditert "
	}
	if vat {
		if credit {
			total("Kreditert eks. MVA:", inv.Net)
		} else {
			total("Sum eks. MVA:", inv.Net)
		}
		for _, r := range vatByRate(inv.Lines) {
			total(fmt.Sprintf("%sMVA %d %% av %s:", prefix, r.rate, inv.money(sign*r.net)), r.vat)
		}
	}
	pdf.SetFont("Helvetica", "B", 10)
	if credit {
		total("Kreditert:", inv.Total)
	} else {
		total("Å betale:", inv.Total)
	}
	pdf.SetFont("Helvetica", "", 9)
	pdf.Ln(6)
	if !credit && inv.Seller.BankAccount != "" {
		pdf.MultiCell(0, 5, tr(fmt.Sprintf("Betales til konto %s med KID %s innen %s.",
			bankAccount(inv.Seller.BankAccount), inv.KID, day(inv.DueDate))), "", "", false)
	}
	if vat {
		rated := slices.ContainsFunc(inv.Lines, func(l Line) bool { return l.VATRate > 0 })
		if rated {
			included := "Prisen er inklusive MVA."
			if credit {
				included = "Beløpene er inklusive MVA."
			}
			pdf.MultiCell(0, 5, tr(included), "", "", false)
			pdf.MultiCell(0, 5, tr("MVA = beløp × sats / (100 + sats), avrundet til nærmeste øre."), "", "", false)
		}
		if slices.ContainsFunc(inv.Lines, func(l Line) bool { return l.VATRate == 0 }) {
			what := "Linjer med 0 % MVA er"
			if !rated {
				what = "Dette er"
			}
			pdf.MultiCell(0, 5, tr(what+" unntatt fra merverdiavgift (merverdiavgiftsloven kapittel 3)."), "", "", false)
		}
	} else {
		pdf.MultiCell(0, 5, tr("Selger er ikke registrert i Merverdiavgiftsregisteret."), "", "", false)
	}

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Render is the PDF of an invoice or credit note.
func (s *Invoices) Render(ctx context.Context, inv *Invoice) ([]byte, error) {
	inv, err := s.complete(ctx, inv)
	if err != nil {
		return nil, err
	}
	return inv.PDF()
}

// complete fills in what a document stored by an older version lacks: a
// credit note stored before credit notes kept the date of the invoice
// they credit gets it from that invoice.
func (s *Invoices) complete(ctx context.Context, inv *Invoice) (*Invoice, error) {
	if inv.Kind == KindCreditNote && inv.CreditsDate.IsZero() && inv.Credits != 0 {
		credited, err := s.Invoice(ctx, inv.Credits)
		if err != nil {
			return nil, fmt.Errorf("credited invoice %d: %w", inv.Credits, err)
		}
		doc := *inv
		doc.CreditsDate = credited.IssueDate
		inv = &doc
	}
	return inv, nil
}

// Document is an invoice or credit note as its mail carries it: the PDF,
// and an invoice's due date.
func (s *Invoices) Document(ctx context.Context, number int64) (registration.Document, error) {
	inv, err := s.Invoice(ctx, number)
	if err != nil {
		return registration.Document{}, err
	}
	pdf, err := s.Render(ctx, inv)
	if err != nil {
		return registration.Document{}, err
	}
	d := registration.Document{PDF: pdf}
	if inv.SendEHF {
		if d.EHF, err = s.RenderEHF(ctx, inv); err != nil {
			return registration.Document{}, err
		}
	}
	if inv.Kind == KindInvoice {
		d.Due = inv.DueDate
	}
	return d, nil
}

// rateSum is the lines of one VAT rate, added up.
type rateSum struct {
	rate     int
	net, vat int64
}

// vatByRate adds the lines up per VAT rate, the highest rate first.
func vatByRate(lines []Line) []rateSum {
	var out []rateSum
	for _, l := range lines {
		i := slices.IndexFunc(out, func(r rateSum) bool { return r.rate == l.VATRate })
		if i < 0 {
			out = append(out, rateSum{rate: l.VATRate})
			i = len(out) - 1
		}
		out[i].net += l.Net
		out[i].vat += l.VAT
	}
	slices.SortFunc(out, func(a, b rateSum) int { return b.rate - a.rate })
	return out
}

// day prints a date as an Oslo calendar date. Invoice dates are stored as
// 00:00 UTC of their Oslo date (see Invoice), which is that same date in
// Oslo; a delivery date stored as the event's start (documents issued
// before dates were Oslo dates) prints as the start's date in Oslo.
func day(t time.Time) string { return t.In(privacy.Oslo).Format("02.01.2006") }

// nbsp is the no-break space: thousands are grouped with it, and it
// keeps "kr" on its amount's line.
const nbsp = "\u00a0"

// amount writes øre as Norwegian kroner: 1 500,00 (no-break space between
// thousands, decimal comma).
func amount(øre int64) string {
	sign := ""
	if øre < 0 {
		sign, øre = "-", -øre
	}
	kr := strconv.FormatInt(øre/100, 10)
	for i := len(kr) - 3; i > 0; i -= 3 {
		kr = kr[:i] + nbsp + kr[i:]
	}
	return fmt.Sprintf("%s%s,%02d", sign, kr, øre%100)
}

// money is an amount with its currency: "1 500,00 kr" for kroner.
func (inv *Invoice) money(øre int64) string {
	unit := "kr"
	if inv.Currency != "" && inv.Currency != "NOK" {
		unit = inv.Currency
	}
	return amount(øre) + nbsp + unit
}

// bankAccount groups a Norwegian account number as it is printed:
// 1234.56.78903. Anything else is printed as configured.
func bankAccount(v string) string {
	bban, ok := normalizeBBAN(v)
	if !ok {
		return v
	}
	return bban[:4] + "." + bban[4:6] + "." + bban[6:]
}

// orgNumber groups an org number as it is printed: 923 609 016.
func orgNumber(n string) string {
	if len(n) != 9 {
		return n
	}
	return n[:3] + " " + n[3:6] + " " + n[6:]
}
