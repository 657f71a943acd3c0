package payments_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// install is what the Peppol validation needs on the machine; make test
// installs it.
const install = "apt-get install libsaxonhe-java default-jre-headless libxml2-utils (make test does)"

// saxonJar is Debian's Saxon-HE (libsaxonhe-java), or $SAXON_JAR.
func saxonJar(t *testing.T) string {
	t.Helper()
	jar := os.Getenv("SAXON_JAR")
	if jar == "" {
		jar = "/usr/share/java/Saxon-HE.jar"
	}
	if _, err := os.Stat(jar); err != nil {
		t.Fatalf("Saxon-HE is missing (%v): %s", err, install)
	}
	for _, tool := range []string{"java", "xmllint"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: %s", tool, install)
		}
	}
	return jar
}

// peppol validates UBL documents as an access point does: the UBL 2.1
// schema, then the EN 16931 and the Peppol BIS Billing 3.0 schematron
// (testdata/peppol, compiled by SchXslt and run by Saxon-HE).
type peppol struct {
	jar, dir string
	rules    []string // compiled rule sets
}

func newPeppol(t *testing.T) *peppol {
	t.Helper()
	p := &peppol{jar: saxonJar(t), dir: t.TempDir()}
	compiler, _ := filepath.Abs("testdata/peppol/schxslt/2.0/pipeline-for-svrl.xsl")
	for _, sch := range []string{"CEN-EN16931-UBL", "PEPPOL-EN16931-UBL"} {
		out := filepath.Join(p.dir, sch+".xsl")
		p.saxon(t, "-s:"+filepath.Join("testdata/peppol", sch+".sch"), "-xsl:"+compiler, "-o:"+out)
		p.rules = append(p.rules, out)
	}
	return p
}

func (p *peppol) saxon(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("java", append([]string{"-jar", p.jar}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("saxon %v: %v\n%s", args, err, out)
	}
}

// finding is a rule that failed on a document.
type finding struct {
	ID, Flag, Location, Text string
}

// report is what the validation said of one document.
type report struct {
	schema   string // xmllint's complaint, if any
	fired    int    // rules that applied
	findings []finding
}

func (r report) fatal() []finding {
	var out []finding
	for _, f := range r.findings {
		if f.Flag != "warning" && f.Flag != "information" {
			out = append(out, f)
		}
	}
	return out
}

// validate checks each document (by name) and reports on each.
func (p *peppol) validate(t *testing.T, docs map[string][]byte) map[string]report {
	t.Helper()
	in := filepath.Join(p.dir, "in")
	os.RemoveAll(in)
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	reports := map[string]report{}
	for name, b := range docs {
		path := filepath.Join(in, name+".xml")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		xsd := "testdata/peppol/ubl-2.1/xsd/maindoc/UBL-Invoice-2.1.xsd"
		if bytes.Contains(b, []byte("<CreditNote ")) {
			xsd = "testdata/peppol/ubl-2.1/xsd/maindoc/UBL-CreditNote-2.1.xsd"
		}
		var r report
		if out, err := exec.Command("xmllint", "--noout", "--schema", xsd, path).CombinedOutput(); err != nil {
			r.schema = string(out)
		}
		reports[name] = r
	}
	for i, rules := range p.rules {
		out := filepath.Join(p.dir, fmt.Sprintf("out%d", i))
		os.RemoveAll(out)
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		p.saxon(t, "-s:"+in, "-xsl:"+rules, "-o:"+out)
		for name := range docs {
			b, err := os.ReadFile(filepath.Join(out, name+".xml"))
			if err != nil {
				t.Fatalf("report of %s: %v", name, err)
			}
			r := reports[name]
			fired, findings := readSVRL(t, b)
			r.fired += fired
			r.findings = append(r.findings, findings...)
			reports[name] = r
		}
	}
	return reports
}

// readSVRL counts the rules that fired and lists the asserts that failed
// (and reports that were made) in a Schematron report.
func readSVRL(t *testing.T, b []byte) (int, []finding) {
	t.Helper()
	var doc struct {
		Fired  []struct{} `xml:"fired-rule"`
		Failed []struct {
			ID       string `xml:"id,attr"`
			Flag     string `xml:"flag,attr"`
			Location string `xml:"location,attr"`
			Text     string `xml:"text"`
		} `xml:"failed-assert"`
		Reports []struct {
			ID       string `xml:"id,attr"`
			Flag     string `xml:"flag,attr"`
			Location string `xml:"location,attr"`
			Text     string `xml:"text"`
		} `xml:"successful-report"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("svrl: %v", err)
	}
	var out []finding
	for _, f := range append(doc.Failed, doc.Reports...) {
		out = append(out, finding{ID: f.ID, Flag: f.Flag, Location: f.Location, Text: strings.TrimSpace(f.Text)})
	}
	return len(doc.Fired), out
}

// ehfOf is an invoice's EHF document, read back.
func ehfOf(t *testing.T, f *fixture, n int64) ([]byte, *payments.Invoice) {
	t.Helper()
	inv := f.invoice(t, n)
	b, err := f.inv.RenderEHF(context.Background(), inv)
	if err != nil {
		t.Fatalf("EHF of %d: %v", n, err)
	}
	return b, inv
}

// TestEHFValidates: the EHF of a single ticket (25 % VAT), of a
// five-participant order with an add-on at 15 % and a discount code, of a
// credit note crediting one of its participants, of a VAT-exempt course
// and of a seller not registered for VAT pass the UBL 2.1 schema and the
// official EN 16931 and Peppol BIS Billing 3.0 rules with no fatal
// finding; the same validator fails a document without the buyer's
// reference (PEPPOL-EN16931-R003) and one out of schema order, so a pass
// means something.
func TestEHFValidates(t *testing.T) {
	ctx := context.Background()
	docs := map[string][]byte{}

	// A single ticket to an organisation, 25 % VAT.
	single := newInvoiceFixture(t, &testClock{t: time.Now()}, vatSeller, time.Now().Add(72*time.Hour), nil)
	reg := mustInvoiceBuyer(t, single)
	docs["single-ticket"], _ = ehfOf(t, single, reg.Payment.InvoiceNumber)

	// Kongsvinger kommune sends five: standard price less 20 % with a
	// code, lunch (15 %) for two of them; one cancels.
	ev := kursSettings()
	ev.VATRate = 25
	ev.Fields = append(ev.Fields, events.FormField{Key: "invoice_reference"})
	ev.Categories = []events.Category{{Key: "standard", Name: privacy.Text{NB: "Standardpris", EN: "Standard price"}, Price: 120000, VATRate: 25}}
	ev.Addons = []events.Addon{{Key: "lunsj", Name: privacy.Text{NB: "Lunsj", EN: "Lunch"}, Price: 25000, VATRate: 15, Capacity: 100}}
	order := buildFixture(t, time.Now, vatSeller, nil, ev)
	if _, err := order.app.Events.CreateCode(ctx, "kurs", events.CodeRequest{Code: "KOMMUNE20", Percent: 20, MaxUses: 10}); err != nil {
		t.Fatal(err)
	}
	req := municipalityOrder(5)
	req.Code = "KOMMUNE20"
	for i := range req.Participants {
		req.Participants[i].Category = "standard"
		if i < 2 {
			req.Participants[i].Addons = []registration.AddonChoice{{Key: "lunsj"}}
		}
	}
	res, err := order.app.Signups.Order(ctx, "kurs", req, registration.API)
	if err != nil {
		t.Fatal(err)
	}
	b, inv := ehfOf(t, order, 1)
	docs["order-addon-discount"] = b
	// 5 × 1 200,00 less 20 % = 4 800,00 and 2 × 250,00 lunch.
	if len(inv.Lines) != 7 || inv.Total != 5*96000+2*25000 || inv.Lines[0].Discount != 24000 {
		t.Fatalf("precondition: order invoice %d lines, total %d, first %+v", len(inv.Lines), inv.Total, inv.Lines[0])
	}
	second, _ := order.app.Domain.Store.Get(ctx, res.Participants[1].ID)
	if _, err := order.app.Signups.Cancel(ctx, second, false); err != nil {
		t.Fatal(err)
	}
	if _, err := order.app.Payments.SettleDue(ctx); err != nil {
		t.Fatal(err)
	}
	cn, credit := ehfOf(t, order, 2)
	if credit.Kind != payments.KindCreditNote || credit.Credits != 1 || credit.Total != -(96000+25000) {
		t.Fatalf("precondition: credit note %+v", credit)
	}
	docs["credit-note"] = cn

	// A course exempt from VAT, from a VAT-registered seller.
	exempt := newInvoiceFixture(t, &testClock{t: time.Now()}, vatSeller, time.Now().Add(72*time.Hour), nil)
	zero := 0
	if _, err := exempt.app.Events.Patch(ctx, "kurs", events.PatchRequest{VATRate: &zero}, nil); err != nil {
		t.Fatal(err)
	}
	reg = mustInvoiceBuyer(t, exempt)
	docs["vat-exempt-course"], _ = ehfOf(t, exempt, reg.Payment.InvoiceNumber)

	// A seller not registered for VAT: not subject to VAT.
	plain := newInvoiceFixture(t, &testClock{t: time.Now()}, plainSeller, time.Now().Add(72*time.Hour), nil)
	reg = mustInvoiceBuyer(t, plain)
	docs["unregistered-seller"], _ = ehfOf(t, plain, reg.Payment.InvoiceNumber)

	// Controls: the validator must be able to fail.
	docs["control-no-reference"] = cutElement(docs["single-ticket"], "<cbc:BuyerReference>", "</cbc:BuyerReference>")
	// The currency moved before the type code, where the schema does not
	// allow it.
	currency := []byte("<cbc:DocumentCurrencyCode>NOK</cbc:DocumentCurrencyCode>")
	docs["control-schema-order"] = bytes.Replace(bytes.Replace(docs["single-ticket"], currency, nil, 1),
		[]byte("<cbc:InvoiceTypeCode>"), append(currency, "<cbc:InvoiceTypeCode>"...), 1)

	p := newPeppol(t)
	reports := p.validate(t, docs)
	for name, r := range reports {
		if strings.HasPrefix(name, "control-") {
			continue
		}
		if r.schema != "" {
			t.Errorf("%s: UBL 2.1 schema: %s", name, r.schema)
		}
		if r.fired < 20 {
			t.Errorf("%s: only %d rules applied: the rules did not run", name, r.fired)
		}
		for _, f := range r.fatal() {
			t.Errorf("%s: %s %s at %s: %s", name, f.Flag, f.ID, f.Location, f.Text)
		}
		for _, f := range r.findings {
			if f.Flag == "warning" {
				// The sellers are in Foretaksregisteret (NO-R-002) and
				// nothing else should be left to warn of either.
				t.Errorf("%s: warning %s: %s", name, f.ID, f.Text)
			}
		}
	}
	if !hasFinding(reports["control-no-reference"], "PEPPOL-EN16931-R003") {
		t.Errorf("a document without the buyer's reference passed: %+v", reports["control-no-reference"])
	}
	if reports["control-schema-order"].schema == "" {
		t.Error("a document with its elements out of order passed the UBL schema")
	}
	if t.Failed() || os.Getenv("EHF_DUMP") != "" {
		for name, b := range docs {
			t.Logf("%s:\n%s", name, b)
		}
	}
}

func hasFinding(r report, id string) bool {
	for _, f := range r.findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

// cutElement removes the first element from open to close.
func cutElement(b []byte, open, close string) []byte {
	i := bytes.Index(b, []byte(open))
	j := bytes.Index(b, []byte(close))
	if i < 0 || j < i {
		return b
	}
	return append(append([]byte{}, b[:i]...), b[j+len(close):]...)
}

// TestEHFContent: what a public buyer's system reads off the EHF: the
// buyer addressed by org number (scheme 0192), their reference, the KID
// as payment id to the seller's account, the due date, VAT per rate, and
// a buyer without an org number refused (ErrNoEHF).
func TestEHFContent(t *testing.T) {
	ctx := context.Background()
	ev := kursSettings()
	ev.VATRate = 25
	ev.Fields = append(ev.Fields, events.FormField{Key: "invoice_reference"})
	ev.Addons = []events.Addon{{Key: "lunsj", Name: privacy.Text{NB: "Lunsj", EN: "Lunch"}, Price: 25000, VATRate: 15, Capacity: 100}}
	f := buildFixture(t, time.Now, vatSeller, nil, ev)
	req := municipalityOrder(2)
	req.Participants[0].Addons = []registration.AddonChoice{{Key: "lunsj"}}
	if _, err := f.app.Signups.Order(ctx, "kurs", req, registration.API); err != nil {
		t.Fatal(err)
	}
	b, inv := ehfOf(t, f, 1)
	var doc struct {
		XMLName   xml.Name
		Reference string `xml:"BuyerReference"`
		Due       string `xml:"DueDate"`
		Buyer     struct {
			Endpoint struct {
				Scheme string `xml:"schemeID,attr"`
				Value  string `xml:",chardata"`
			} `xml:"Party>EndpointID"`
			Street string `xml:"Party>PostalAddress>StreetName"`
			Zone   string `xml:"Party>PostalAddress>PostalZone"`
			City   string `xml:"Party>PostalAddress>CityName"`
		} `xml:"AccountingCustomerParty"`
		SellerTax []struct {
			CompanyID string `xml:"CompanyID"`
			Scheme    string `xml:"TaxScheme>ID"`
		} `xml:"AccountingSupplierParty>Party>PartyTaxScheme"`
		Payment struct {
			Code    string `xml:"PaymentMeansCode"`
			ID      string `xml:"PaymentID"`
			Account string `xml:"PayeeFinancialAccount>ID"`
		} `xml:"PaymentMeans"`
		Subtotals []struct {
			Taxable string `xml:"TaxableAmount"`
			Tax     string `xml:"TaxAmount"`
			Cat     string `xml:"TaxCategory>ID"`
			Percent string `xml:"TaxCategory>Percent"`
		} `xml:"TaxTotal>TaxSubtotal"`
		Payable string `xml:"LegalMonetaryTotal>PayableAmount"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.XMLName.Local != "Invoice" || doc.Reference != "PO-4711" || doc.Buyer.Endpoint.Scheme != "0192" || doc.Buyer.Endpoint.Value != "974760673" ||
		doc.Buyer.Street != "Rådhuset" || doc.Buyer.Zone != "2226" || doc.Buyer.City != "Kongsvinger" || len(doc.SellerTax) != 2 ||
		doc.SellerTax[0].CompanyID != "NO923609016MVA" || doc.SellerTax[0].Scheme != "VAT" || doc.SellerTax[1].CompanyID != "Foretaksregisteret" {
		t.Errorf("parties: %+v", doc)
	}
	if doc.Payment.Code != "30" || doc.Payment.ID != inv.KID || inv.KID == "" || doc.Payment.Account != "12345678903" ||
		doc.Due != inv.DueDate.Format("2006-01-02") {
		t.Errorf("payment %+v due %s, invoice KID %s", doc.Payment, doc.Due, inv.KID)
	}
	// 2 × 999,00 at 25 %: 1 598,40 + 399,60; 250,00 at 15 %: 217,39 + 32,61.
	if len(doc.Subtotals) != 2 || doc.Subtotals[0].Cat != "S" || doc.Subtotals[0].Percent != "25" || doc.Subtotals[0].Taxable != "1598.40" ||
		doc.Subtotals[0].Tax != "399.60" || doc.Subtotals[1].Percent != "15" || doc.Subtotals[1].Taxable != "217.39" || doc.Subtotals[1].Tax != "32.61" ||
		doc.Payable != "2248.00" {
		t.Errorf("VAT breakdown %+v payable %s", doc.Subtotals, doc.Payable)
	}

	// A private buyer has no Peppol address.
	private := *inv
	private.Buyer.OrgNumber = ""
	if _, err := private.EHF(); !errors.Is(err, payments.ErrNoEHF) {
		t.Errorf("EHF without the buyer's org number: %v", err)
	}
}
