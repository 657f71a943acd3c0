package payments

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// ErrNoEHF: the invoice cannot be an EHF document, because its buyer has
// no organisation number to address it to (Peppol's endpoint, scheme
// 0192). Its PDF is the invoice.
var ErrNoEHF = errors.New("no EHF for a buyer without an organisation number")

// EHF (Peppol BIS Billing 3.0, UBL 2.1) identifiers.
const (
	ehfCustomization = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
	ehfProfile       = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
	// schemeOrgNumber is the ISO 6523 code of the Norwegian Enhetsregisteret.
	schemeOrgNumber = "0192"
)

// EHF renders an invoice or credit note as Peppol BIS Billing 3.0 (UBL
// 2.1), the format Norwegian public buyers must receive: seller and buyer
// addressed by their org numbers (scheme 0192), the buyer's reference
// (BT-10; their name for the order when they gave none), the KID as
// payment id with the seller's account, one line per invoice line with a
// code's discount as a price allowance, and the VAT broken down per
// category and rate. VAT categories: S (standard, the rate) for a
// VAT-registered seller's rated lines, E (exempt) for their 0 % lines, O
// (not subject to VAT) when the seller is not registered: then no VAT
// identifier is printed, as BR-O-02 requires.
//
// Amounts are positive on a credit note, which names the invoice it
// credits (BillingReference). The document passes the EN 16931 and
// Peppol schematron rules (TestEHFValidates runs them).
func (inv *Invoice) EHF() ([]byte, error) {
	if inv.Buyer.OrgNumber == "" {
		return nil, ErrNoEHF
	}
	credit := inv.Kind == KindCreditNote
	sign := int64(1)
	if credit {
		sign = -1
	}
	cur := inv.Currency
	if cur == "" {
		cur = "NOK"
	}
	money := func(øre int64) ublAmount { return ublAmount{Currency: cur, Value: Kroner(øre)} }

	d := ublDocument{
		Cac: "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
		Cbc: "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",

		CustomizationID: ehfCustomization, ProfileID: ehfProfile,
		ID: strconv.FormatInt(inv.Number, 10), IssueDate: inv.IssueDate.Format("2006-01-02"),
		DocumentCurrencyCode: cur,
		BuyerReference:       inv.Buyer.Reference,
		Supplier:             ublParty{Party: inv.sellerParty()},
		Customer:             ublParty{Party: inv.buyerParty()},
	}
	if d.BuyerReference == "" {
		d.BuyerReference = inv.Buyer.Contact
	}
	if d.BuyerReference == "" {
		d.BuyerReference = inv.Buyer.Name
	}
	if !inv.DeliveryDate.IsZero() {
		d.Delivery = &ublDelivery{Date: inv.DeliveryDate.Format("2006-01-02")}
	}
	if credit {
		d.XMLName = xml.Name{Local: "CreditNote"}
		d.Xmlns = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
		d.CreditNoteTypeCode = "381"
		ref := &ublDocRef{ID: strconv.FormatInt(inv.Credits, 10)}
		if !inv.CreditsDate.IsZero() {
			ref.IssueDate = inv.CreditsDate.Format("2006-01-02")
		}
		d.BillingReference = &ublBillingRef{Invoice: ref}
	} else {
		d.XMLName = xml.Name{Local: "Invoice"}
		d.Xmlns = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
		d.InvoiceTypeCode = "380"
		d.DueDate = inv.DueDate.Format("2006-01-02")
		d.PaymentMeans = &ublPaymentMeans{Code: "30", PaymentID: inv.KID}
		if bban, ok := normalizeBBAN(inv.Seller.BankAccount); ok {
			d.PaymentMeans.Account = &ublAccount{ID: bban, Name: inv.Seller.Name}
		}
		d.PaymentTerms = &ublNote{Note: fmt.Sprintf("Betales innen %s med KID %s.", day(inv.DueDate), inv.KID)}
	}

	var tax ublTaxTotal
	var net int64
	for i, l := range inv.Lines {
		cat := inv.vatCategory(l.VATRate)
		qty, lineNet := sign*l.Quantity, sign*l.Net
		net += lineNet
		line := ublLine{ID: strconv.Itoa(i + 1), LineExtensionAmount: money(lineNet),
			Item: ublItem{Name: l.Description, Tax: ublTaxCategory{ID: cat.ID, Percent: cat.Percent, Scheme: ublScheme{ID: "VAT"}}}}
		q := &ublQuantity{Unit: "EA", Value: strconv.FormatInt(qty, 10)}
		if credit {
			line.CreditedQuantity = q
		} else {
			line.InvoicedQuantity = q
		}
		line.Price.Amount = ublAmount{Currency: cur, Value: ratio(lineNet, qty)}
		if l.Discount > 0 && qty != 0 {
			// The price before the code, net of VAT as the price is.
			before := Kroner(netOf(l.UnitGross+l.Discount, l.VATRate, inv.Seller.VATRegistered))
			off := new(big.Rat).Sub(rat(before), rat(line.Price.Amount.Value))
			line.Price.Allowance = &ublPriceAllowance{Indicator: false,
				Amount: ublAmount{Currency: cur, Value: ratString(off)}, Base: ublAmount{Currency: cur, Value: before}}
		}
		if credit {
			d.CreditLines = append(d.CreditLines, line)
		} else {
			d.InvoiceLines = append(d.InvoiceLines, line)
		}
		tax.add(cat, lineNet, sign*l.VAT, cur)
	}
	tax.Amount = money(sign * inv.VAT)
	d.TaxTotal = tax
	d.Totals = ublTotals{LineExtension: money(net), TaxExclusive: money(net),
		TaxInclusive: money(sign * inv.Total), Payable: money(sign * inv.Total)}

	out, err := xml.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), out...), nil
}

// RenderEHF is the EHF document of an invoice or credit note, completed
// as Render completes the PDF's.
func (s *Invoices) RenderEHF(ctx context.Context, inv *Invoice) ([]byte, error) {
	inv, err := s.complete(ctx, inv)
	if err != nil {
		return nil, err
	}
	return inv.EHF()
}

// netOf is a VAT-inclusive price without the VAT the seller charges.
func netOf(gross int64, rate int, registered bool) int64 {
	if !registered {
		return gross
	}
	n, _ := vatOf(gross, rate)
	return n
}

// vatCategory is a line's VAT category (UNCL5305) and rate as printed.
func (inv *Invoice) vatCategory(rate int) ublTaxCategory {
	switch {
	case !inv.Seller.VATRegistered:
		return ublTaxCategory{ID: "O", Reason: "Selger er ikke registrert i Merverdiavgiftsregisteret"}
	case rate == 0:
		return ublTaxCategory{ID: "E", Percent: "0", Reason: "Unntatt fra merverdiavgift (merverdiavgiftsloven kapittel 3)"}
	default:
		return ublTaxCategory{ID: "S", Percent: strconv.Itoa(rate)}
	}
}

// sellerParty is the seller: org number as endpoint and legal id, the
// VAT number (NO…MVA) when registered.
func (inv *Invoice) sellerParty() ublPartyBody {
	p := ublPartyBody{
		Endpoint: ublID{Scheme: schemeOrgNumber, Value: inv.Seller.OrgNumber},
		Name:     &ublName{Name: inv.Seller.Name},
		Address:  postalAddress(inv.Seller.Address),
		Legal:    ublLegal{Name: inv.Seller.Name, CompanyID: &ublID{Scheme: schemeOrgNumber, Value: inv.Seller.OrgNumber}},
	}
	if inv.Seller.VATRegistered {
		p.TaxSchemes = append(p.TaxSchemes, ublPartyTax{CompanyID: "NO" + inv.Seller.OrgNumber + "MVA", Scheme: ublScheme{ID: "VAT"}})
	}
	if inv.Seller.Foretaksregisteret {
		p.TaxSchemes = append(p.TaxSchemes, ublPartyTax{CompanyID: "Foretaksregisteret", Scheme: ublScheme{ID: "TAX"}})
	}
	return p
}

func (inv *Invoice) buyerParty() ublPartyBody {
	name := inv.Buyer.Organisation
	if name == "" {
		name = inv.Buyer.Name
	}
	return ublPartyBody{
		Endpoint: ublID{Scheme: schemeOrgNumber, Value: inv.Buyer.OrgNumber},
		Name:     &ublName{Name: name},
		Address:  postalAddress(inv.Buyer.Address),
		Legal:    ublLegal{Name: name, CompanyID: &ublID{Scheme: schemeOrgNumber, Value: inv.Buyer.OrgNumber}},
	}
}

var postcode = regexp.MustCompile(`^(\d{4})\s+(\S.*)$`)

// postalAddress reads an address as people write it ("Storgata 1, 2211
// Kongsvinger", or one part a line): the part "NNNN Place" is the post
// code and town, the part before it the street, anything between an
// additional line. Norway is the country.
func postalAddress(s string) ublAddress {
	var parts []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	a := ublAddress{Country: ublCountry{Code: "NO"}}
	if n := len(parts); n > 0 {
		if m := postcode.FindStringSubmatch(parts[n-1]); m != nil {
			a.PostalZone, a.City = m[1], m[2]
			parts = parts[:n-1]
		}
	}
	if len(parts) > 0 {
		a.Street = parts[0]
	}
	if len(parts) > 1 {
		a.Additional = strings.Join(parts[1:], ", ")
	}
	return a
}

// ratio is øre ÷ n as a decimal in kroner, exact where it ends within
// six decimals (a unit price: 1 000,00 for three is 333.333333).
func ratio(øre, n int64) string {
	if n == 0 {
		return Kroner(øre)
	}
	return ratString(big.NewRat(øre, 100*n))
}

func ratString(r *big.Rat) string {
	s := r.FloatString(6)
	s = strings.TrimRight(s, "0")
	if i := strings.IndexByte(s, '.'); len(s)-i < 3 {
		s += strings.Repeat("0", 3-(len(s)-i))
	}
	return s
}

func rat(s string) *big.Rat {
	r, _ := new(big.Rat).SetString(s)
	return r
}

// The UBL document, in the element order the UBL 2.1 schema requires.
type ublDocument struct {
	XMLName xml.Name
	Xmlns   string `xml:"xmlns,attr"`
	Cac     string `xml:"xmlns:cac,attr"`
	Cbc     string `xml:"xmlns:cbc,attr"`

	CustomizationID      string           `xml:"cbc:CustomizationID"`
	ProfileID            string           `xml:"cbc:ProfileID"`
	ID                   string           `xml:"cbc:ID"`
	IssueDate            string           `xml:"cbc:IssueDate"`
	DueDate              string           `xml:"cbc:DueDate,omitempty"`
	InvoiceTypeCode      string           `xml:"cbc:InvoiceTypeCode,omitempty"`
	CreditNoteTypeCode   string           `xml:"cbc:CreditNoteTypeCode,omitempty"`
	DocumentCurrencyCode string           `xml:"cbc:DocumentCurrencyCode"`
	BuyerReference       string           `xml:"cbc:BuyerReference"`
	BillingReference     *ublBillingRef   `xml:"cac:BillingReference"`
	Supplier             ublParty         `xml:"cac:AccountingSupplierParty"`
	Customer             ublParty         `xml:"cac:AccountingCustomerParty"`
	Delivery             *ublDelivery     `xml:"cac:Delivery"`
	PaymentMeans         *ublPaymentMeans `xml:"cac:PaymentMeans"`
	PaymentTerms         *ublNote         `xml:"cac:PaymentTerms"`
	TaxTotal             ublTaxTotal      `xml:"cac:TaxTotal"`
	Totals               ublTotals        `xml:"cac:LegalMonetaryTotal"`
	InvoiceLines         []ublLine        `xml:"cac:InvoiceLine"`
	CreditLines          []ublLine        `xml:"cac:CreditNoteLine"`
}

type ublAmount struct {
	Currency string `xml:"currencyID,attr"`
	Value    string `xml:",chardata"`
}

type ublQuantity struct {
	Unit  string `xml:"unitCode,attr"`
	Value string `xml:",chardata"`
}

type ublID struct {
	Scheme string `xml:"schemeID,attr,omitempty"`
	Value  string `xml:",chardata"`
}

type ublBillingRef struct {
	Invoice *ublDocRef `xml:"cac:InvoiceDocumentReference"`
}

type ublDocRef struct {
	ID        string `xml:"cbc:ID"`
	IssueDate string `xml:"cbc:IssueDate,omitempty"`
}

type ublParty struct {
	Party ublPartyBody `xml:"cac:Party"`
}

type ublPartyBody struct {
	Endpoint   ublID         `xml:"cbc:EndpointID"`
	Name       *ublName      `xml:"cac:PartyName"`
	Address    ublAddress    `xml:"cac:PostalAddress"`
	TaxSchemes []ublPartyTax `xml:"cac:PartyTaxScheme"`
	Legal      ublLegal      `xml:"cac:PartyLegalEntity"`
}

type ublName struct {
	Name string `xml:"cbc:Name"`
}

type ublAddress struct {
	Street     string     `xml:"cbc:StreetName,omitempty"`
	Additional string     `xml:"cbc:AdditionalStreetName,omitempty"`
	City       string     `xml:"cbc:CityName,omitempty"`
	PostalZone string     `xml:"cbc:PostalZone,omitempty"`
	Country    ublCountry `xml:"cac:Country"`
}

type ublCountry struct {
	Code string `xml:"cbc:IdentificationCode"`
}

type ublPartyTax struct {
	CompanyID string    `xml:"cbc:CompanyID"`
	Scheme    ublScheme `xml:"cac:TaxScheme"`
}

type ublScheme struct {
	ID string `xml:"cbc:ID"`
}

type ublLegal struct {
	Name      string `xml:"cbc:RegistrationName"`
	CompanyID *ublID `xml:"cbc:CompanyID"`
}

type ublDelivery struct {
	Date string `xml:"cbc:ActualDeliveryDate"`
}

type ublPaymentMeans struct {
	Code      string      `xml:"cbc:PaymentMeansCode"`
	PaymentID string      `xml:"cbc:PaymentID,omitempty"`
	Account   *ublAccount `xml:"cac:PayeeFinancialAccount"`
}

type ublAccount struct {
	ID   string `xml:"cbc:ID"`
	Name string `xml:"cbc:Name,omitempty"`
}

type ublNote struct {
	Note string `xml:"cbc:Note"`
}

type ublTaxTotal struct {
	Amount    ublAmount        `xml:"cbc:TaxAmount"`
	Subtotals []ublTaxSubtotal `xml:"cac:TaxSubtotal"`
}

type ublTaxSubtotal struct {
	Taxable  ublAmount      `xml:"cbc:TaxableAmount"`
	Tax      ublAmount      `xml:"cbc:TaxAmount"`
	Category ublTaxCategory `xml:"cac:TaxCategory"`

	net, vat int64
}

type ublTaxCategory struct {
	ID      string    `xml:"cbc:ID"`
	Percent string    `xml:"cbc:Percent,omitempty"`
	Reason  string    `xml:"cbc:TaxExemptionReason,omitempty"`
	Scheme  ublScheme `xml:"cac:TaxScheme"`
}

// add counts a line into the breakdown of its category and rate.
func (t *ublTaxTotal) add(cat ublTaxCategory, net, vat int64, cur string) {
	cat.Scheme = ublScheme{ID: "VAT"}
	i := 0
	for i < len(t.Subtotals) && (t.Subtotals[i].Category.ID != cat.ID || t.Subtotals[i].Category.Percent != cat.Percent) {
		i++
	}
	if i == len(t.Subtotals) {
		t.Subtotals = append(t.Subtotals, ublTaxSubtotal{Category: cat})
	}
	s := &t.Subtotals[i]
	s.net, s.vat = s.net+net, s.vat+vat
	s.Taxable = ublAmount{Currency: cur, Value: Kroner(s.net)}
	s.Tax = ublAmount{Currency: cur, Value: Kroner(s.vat)}
}

type ublTotals struct {
	LineExtension ublAmount `xml:"cbc:LineExtensionAmount"`
	TaxExclusive  ublAmount `xml:"cbc:TaxExclusiveAmount"`
	TaxInclusive  ublAmount `xml:"cbc:TaxInclusiveAmount"`
	Payable       ublAmount `xml:"cbc:PayableAmount"`
}

type ublLine struct {
	ID                  string       `xml:"cbc:ID"`
	InvoicedQuantity    *ublQuantity `xml:"cbc:InvoicedQuantity"`
	CreditedQuantity    *ublQuantity `xml:"cbc:CreditedQuantity"`
	LineExtensionAmount ublAmount    `xml:"cbc:LineExtensionAmount"`
	Item                ublItem      `xml:"cac:Item"`
	Price               ublPrice     `xml:"cac:Price"`
}

type ublItem struct {
	Name string         `xml:"cbc:Name"`
	Tax  ublTaxCategory `xml:"cac:ClassifiedTaxCategory"`
}

type ublPrice struct {
	Amount    ublAmount          `xml:"cbc:PriceAmount"`
	Allowance *ublPriceAllowance `xml:"cac:AllowanceCharge"`
}

type ublPriceAllowance struct {
	Indicator bool      `xml:"cbc:ChargeIndicator"`
	Amount    ublAmount `xml:"cbc:Amount"`
	Base      ublAmount `xml:"cbc:BaseAmount"`
}
