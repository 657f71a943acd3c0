package payments

import (
	"bytes"
	"fmt"
	"time"

	"github.com/go-pdf/fpdf"
)

// PDF renders an invoice or credit note with the content
// bokføringsforskriften § 5-1-1 requires: number and date, seller's name,
// org number (with "MVA" when VAT-registered) and address, buyer's name,
// org number and address, what was delivered and when, the amount with
// and without VAT, the VAT, the due date, the account and the KID.
func (inv *Invoice) PDF() ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("") // UTF-8 to cp1252: æ, ø, å
	pdf.SetTitle(tr(fmt.Sprintf("Faktura %d", inv.Number)), false)
	pdf.SetCreator("pamelding", false)
	pdf.AddPage()
	heading := "FAKTURA"
	if inv.Kind == KindCreditNote {
		heading = "KREDITNOTA"
	}
	pdf.SetFont("Helvetica", "B", 18)
	pdf.Cell(0, 10, heading)
	pdf.Ln(12)

	pdf.SetFont("Helvetica", "", 10)
	line := func(label, value string) {
		pdf.CellFormat(45, 6, tr(label), "", 0, "", false, 0, "")
		pdf.MultiCell(0, 6, tr(value), "", "", false)
	}
	seller := inv.Seller.Name + "\nOrg.nr. " + orgNumber(inv.Seller.OrgNumber)
	if inv.Seller.VATRegistered {
		seller += " MVA"
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
	line("Fakturanummer:", fmt.Sprint(inv.Number))
	if inv.Kind == KindCreditNote {
		line("Krediterer faktura:", fmt.Sprint(inv.Credits))
	}
	line("Fakturadato:", day(inv.IssueDate))
	line("Leveringsdato:", day(inv.DeliveryDate))
	if inv.Kind == KindInvoice {
		line("Forfallsdato:", day(inv.DueDate))
		if inv.Seller.BankAccount != "" {
			line("Kontonummer:", inv.Seller.BankAccount)
		}
		line("KID:", inv.KID)
	}
	pdf.Ln(4)

	pdf.SetFont("Helvetica", "B", 10)
	for _, h := range []struct {
		w     float64
		label string
	}{{80, "Beskrivelse"}, {15, "Antall"}, {25, "Netto"}, {15, "MVA %"}, {25, "MVA"}, {30, "Beløp"}} {
		pdf.CellFormat(h.w, 7, tr(h.label), "B", 0, "", false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 10)
	for _, l := range inv.Lines {
		y := pdf.GetY()
		pdf.MultiCell(80, 6, tr(l.Description), "", "", false)
		next := pdf.GetY()
		pdf.SetXY(90, y)
		pdf.CellFormat(15, 6, fmt.Sprint(l.Quantity), "", 0, "R", false, 0, "")
		pdf.CellFormat(25, 6, Kroner(l.Net), "", 0, "R", false, 0, "")
		pdf.CellFormat(15, 6, fmt.Sprint(l.VATRate), "", 0, "R", false, 0, "")
		pdf.CellFormat(25, 6, Kroner(l.VAT), "", 0, "R", false, 0, "")
		pdf.CellFormat(30, 6, Kroner(l.Gross), "", 0, "R", false, 0, "")
		pdf.SetY(next)
	}
	pdf.Ln(4)
	total := func(label string, v int64) {
		pdf.CellFormat(160, 6, tr(label), "", 0, "R", false, 0, "")
		pdf.CellFormat(30, 6, Kroner(v)+" "+inv.Currency, "", 1, "R", false, 0, "")
	}
	total("Sum eks. MVA", inv.Net)
	total("MVA", inv.VAT)
	pdf.SetFont("Helvetica", "B", 10)
	total("Å betale", inv.Total)
	pdf.SetFont("Helvetica", "", 8)
	pdf.Ln(6)
	pdf.MultiCell(0, 4, tr("Prisen er inklusive MVA. MVA = beløp × sats / (100 + sats), avrundet til nærmeste øre."), "", "", false)

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func day(t time.Time) string { return t.Format("02.01.2006") }

// orgNumber groups an org number as it is printed: 923 609 016.
func orgNumber(n string) string {
	if len(n) != 9 {
		return n
	}
	return n[:3] + " " + n[3:6] + " " + n[6:]
}
