package payments_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/text/encoding/charmap"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/registration"
)

// nb is the no-break space that groups thousands and ties "kr" to its
// amount.
const nb = "\u00a0"

var (
	vatSeller = payments.Seller{Name: "Kurs AS", OrgNumber: "923609016", VATRegistered: true, Foretaksregisteret: true,
		Address: "Storgata 1, 2211 Kongsvinger", BankAccount: "12345678903"}
	plainSeller = payments.Seller{Name: "Kurs AS", OrgNumber: "923609016", Foretaksregisteret: true,
		Address: "Storgata 1, 2211 Kongsvinger", BankAccount: "12345678903"}
	// newYear is 00:30 on 1 January 2027 in Oslo, still 2026 in UTC.
	newYear = time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC)
	// june2 is an event starting 00:30 on 2 June 2027 in Oslo (summer
	// time), 1 June in UTC.
	june2 = time.Date(2027, 6, 1, 22, 30, 0, 0, time.UTC)
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// newInvoiceFixture is an app on the embedded store whose clock is clk,
// invoicing as seller, with the event "kurs" starting at starts, 1 500,00
// kr, including 25 % VAT where the seller is VAT-registered (a seller
// that is not may not set a rate: 422 not_vat_registered).
func newInvoiceFixture(t *testing.T, clk *testClock, seller payments.Seller, starts time.Time, log *slog.Logger) *fixture {
	t.Helper()
	rate := 0
	if seller.VATRegistered {
		rate = 25
	}
	return buildFixture(t, clk.now, seller, log, events.Settings{StartsAt: starts, EndsAt: starts.Add(3 * time.Hour), Capacity: 50,
		Price: events.Price{Amount: 150000}, VATRate: rate,
		Fields: []events.FormField{{Key: "name", Required: true}, {Key: "email", Required: true}, {Key: "organisation"},
			{Key: "invoice_org_number"}, {Key: "invoice_address"}, {Key: "invoice_reference"}},
	})
}

// mustInvoiceBuyer signs up an organisation paying by invoice and
// returns its registration, invoiced.
func mustInvoiceBuyer(t *testing.T, f *fixture) *registration.Registration {
	t.Helper()
	ctx := context.Background()
	res, err := f.app.Signups.Signup(ctx, "kurs", registration.SignupRequest{
		Fields: map[string]string{"name": "Kari Nordmann", "email": "kari@example.no", "organisation": "Bedrift AS",
			"invoice_org_number": "974760673", "invoice_address": "Postboks 1, 0101 Oslo", "invoice_reference": "PO-77"},
		Payment: registration.PaymentRequest{Method: registration.Invoice},
	}, registration.API)
	if err != nil {
		t.Fatal(err)
	}
	if res.PaymentStatus != registration.PaymentInvoiced {
		t.Fatalf("precondition: payment status %s, want invoiced", res.PaymentStatus)
	}
	reg, err := f.app.Registrations.Get(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func mustInvoice(t *testing.T, f *fixture, n int64, kind string) *payments.Invoice {
	t.Helper()
	inv := f.invoice(t, n)
	if inv.Kind != kind {
		t.Fatalf("precondition: document %d is a %s, want %s", n, inv.Kind, kind)
	}
	return inv
}

// mustPDFLines renders a document and reads its text back: one string
// per printed line, top to bottom, its pieces left to right joined by a
// space.
func mustPDFLines(t *testing.T, render func() ([]byte, error)) []string {
	t.Helper()
	b, err := render()
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pdfText(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) < 10 {
		t.Fatalf("precondition: %d lines of text read from the PDF: %q", len(lines), lines)
	}
	return lines
}

// pdfText reads the text that fpdf wrote (each piece a "BT x y Td (...)
// Tj ET" in a Flate-compressed content stream, in cp1252) and groups it
// into lines by its baseline.
func pdfText(b []byte) ([]string, error) {
	type piece struct {
		x, y float64
		s    string
	}
	var pieces []piece
	for rest := b; ; {
		i := bytes.Index(rest, []byte("stream\n"))
		if i < 0 {
			break
		}
		rest = rest[i+len("stream\n"):]
		j := bytes.Index(rest, []byte("endstream"))
		if j < 0 {
			break
		}
		content := rest[:j]
		rest = rest[j:]
		if z, err := zlib.NewReader(bytes.NewReader(content)); err == nil {
			if d, err := io.ReadAll(z); err == nil {
				content = d
			}
		}
		for c := content; ; {
			k := bytes.Index(c, []byte("BT "))
			if k < 0 {
				break
			}
			c = c[k+3:]
			f := strings.Fields(string(c[:min(len(c), 40)]))
			if len(f) < 3 || f[2] != "Td" {
				continue
			}
			x, err1 := strconv.ParseFloat(f[0], 64)
			y, err2 := strconv.ParseFloat(f[1], 64)
			open := bytes.IndexByte(c, '(')
			if err1 != nil || err2 != nil || open < 0 {
				continue
			}
			var raw []byte
			p := open + 1
			for ; p < len(c) && c[p] != ')'; p++ {
				if c[p] == '\\' && p+1 < len(c) {
					p++
					switch c[p] {
					case 'n':
						raw = append(raw, '\n')
					case 'r':
						raw = append(raw, '\r')
					default:
						raw = append(raw, c[p])
					}
					continue
				}
				raw = append(raw, c[p])
			}
			s, err := charmap.Windows1252.NewDecoder().Bytes(raw)
			if err != nil {
				return nil, err
			}
			pieces = append(pieces, piece{x, y, string(s)})
			c = c[p:]
		}
	}
	sort.SliceStable(pieces, func(i, j int) bool {
		if pieces[i].y != pieces[j].y {
			return pieces[i].y > pieces[j].y // PDF's y grows upwards
		}
		return pieces[i].x < pieces[j].x
	})
	var lines []string
	for i, p := range pieces {
		if i > 0 && p.y == pieces[i-1].y {
			lines[len(lines)-1] += " " + p.s
			continue
		}
		lines = append(lines, p.s)
	}
	return lines, nil
}

// mustHaveLines asserts each line is printed, exactly.
func mustHaveLines(t *testing.T, lines []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("no line %q in\n%s", w, strings.Join(lines, "\n"))
		}
	}
}

// mustEndALine asserts a line ends with suffix (a table row, whose
// description may wrap).
func mustEndALine(t *testing.T, lines []string, suffix string) {
	t.Helper()
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, suffix) }) {
		t.Errorf("no line ends with %q in\n%s", suffix, strings.Join(lines, "\n"))
	}
}

// mustNotPrint asserts no line contains any of the strings.
func mustNotPrint(t *testing.T, lines []string, not ...string) {
	t.Helper()
	for _, n := range not {
		for _, l := range lines {
			if strings.Contains(l, n) {
				t.Errorf("line %q contains %q", l, n)
			}
		}
	}
}

// TestInvoicePDFContents: the invoice carries everything that makes it payable
// and lawful, amounts written the Norwegian way.
func TestInvoicePDFContents(t *testing.T) {
	t.Run("VATRegistered", func(t *testing.T) {
		f := newInvoiceFixture(t, &testClock{t: newYear}, vatSeller, june2, nil)
		mustInvoiceBuyer(t, f)
		inv := mustInvoice(t, f, 1, payments.KindInvoice)
		if inv.VAT != 30000 || inv.Net != 120000 || inv.Total != 150000 {
			t.Fatalf("precondition: net %d, VAT %d, total %d; want 120000 + 30000 = 150000", inv.Net, inv.VAT, inv.Total)
		}
		lines := mustPDFLines(t, inv.PDF)
		mustHaveLines(t, lines,
			"Faktura",
			"Selger: Kurs AS", "Org.nr. 923 609 016 MVA", "Foretaksregisteret", "Storgata 1, 2211 Kongsvinger",
			"Kjøper: Bedrift AS", "Org.nr. 974 760 673", "Postboks 1, 0101 Oslo", "Deres referanse: PO-77",
			"Fakturanummer: 1", "Fakturadato: 01.01.2027", "Leveringsdato: 02.06.2027", "Forfallsdato: 15.01.2027",
			"Kontonummer: 1234.56.78903", "KID: 18",
			"Beskrivelse Antall Netto MVA % MVA Beløp",
			"Sum eks. MVA: 1"+nb+"200,00"+nb+"kr",
			"MVA 25 % av 1"+nb+"200,00"+nb+"kr: 300,00"+nb+"kr",
			"Å betale: 1"+nb+"500,00"+nb+"kr",
			"Prisen er inklusive MVA.",
			"Betales til konto 1234.56.78903 med KID 18 innen 15.01.2027.",
		)
		mustEndALine(t, lines, " 1 1"+nb+"200,00 25 300,00 1"+nb+"500,00")
		mustNotPrint(t, lines, "1500", "NOK", "Merverdiavgiftsregisteret")
	})
	t.Run("VATExempt", func(t *testing.T) {
		f := newInvoiceFixture(t, &testClock{t: newYear}, vatSeller, june2, nil)
		zero := 0
		if _, err := f.app.Events.Patch(context.Background(), "kurs", events.PatchRequest{VATRate: &zero}, nil); err != nil {
			t.Fatal(err)
		}
		mustInvoiceBuyer(t, f)
		inv := mustInvoice(t, f, 1, payments.KindInvoice)
		if inv.VAT != 0 || inv.Total != 150000 || inv.Lines[0].VATRate != 0 {
			t.Fatalf("precondition: VAT %d at %d %%, total %d", inv.VAT, inv.Lines[0].VATRate, inv.Total)
		}
		lines := mustPDFLines(t, inv.PDF)
		mustHaveLines(t, lines, "Org.nr. 923 609 016 MVA", "Å betale: 1"+nb+"500,00"+nb+"kr",
			"Dette er unntatt fra merverdiavgift (merverdiavgiftsloven kapittel 3).")
		mustNotPrint(t, lines, "Prisen er inklusive MVA.", "Merverdiavgiftsregisteret")
	})
	t.Run("NotVATRegistered", func(t *testing.T) {
		f := newInvoiceFixture(t, &testClock{t: newYear}, plainSeller, june2, nil)
		mustInvoiceBuyer(t, f)
		inv := mustInvoice(t, f, 1, payments.KindInvoice)
		if inv.VAT != 0 || inv.Net != 150000 || inv.Total != 150000 || inv.Lines[0].VATRate != 0 {
			t.Fatalf("precondition: net %d, VAT %d at %d %%, total %d; want no VAT on 150000", inv.Net, inv.VAT, inv.Lines[0].VATRate, inv.Total)
		}
		lines := mustPDFLines(t, inv.PDF)
		mustHaveLines(t, lines,
			"Selger: Kurs AS", "Org.nr. 923 609 016",
			"Kontonummer: 1234.56.78903", "KID: 18", "Forfallsdato: 15.01.2027",
			"Beskrivelse Antall Enhetspris Beløp",
			"Å betale: 1"+nb+"500,00"+nb+"kr",
			"Selger er ikke registrert i Merverdiavgiftsregisteret.",
		)
		mustEndALine(t, lines, " 1 1"+nb+"500,00 1"+nb+"500,00")
		mustNotPrint(t, lines, "MVA", "1500", "NOK")
	})
}

// TestCreditNotePDF: a credit note says what it is, which invoice of
// which date it credits, and the amount credited as a positive sum. It
// was headed like an invoice with "Å betale -1500.00 NOK".
func TestCreditNotePDF(t *testing.T) {
	clk := &testClock{t: newYear}
	f := newInvoiceFixture(t, clk, vatSeller, june2, nil)
	reg := mustInvoiceBuyer(t, f)
	clk.set(time.Date(2027, 1, 10, 12, 0, 0, 0, time.UTC))
	out, err := f.app.Cancel(context.Background(), reg)
	if err != nil {
		t.Fatal(err)
	}
	if out.CreditNote != 2 {
		t.Fatalf("precondition: cancelled with credit note %d, want 2", out.CreditNote)
	}
	cn := mustInvoice(t, f, 2, payments.KindCreditNote)
	want := []string{
		"Kreditnota", "Kreditnotanr.: 2", "Kreditnotadato: 10.01.2027",
		"Krediterer faktura nr. 1 av 01.01.2027",
		"Selger: Kurs AS", "Org.nr. 923 609 016 MVA", "Kjøper: Bedrift AS",
		"Kreditert eks. MVA: 1" + nb + "200,00" + nb + "kr",
		"Kreditert MVA 25 % av 1" + nb + "200,00" + nb + "kr: 300,00" + nb + "kr",
		"Kreditert: 1" + nb + "500,00" + nb + "kr",
	}
	notWant := []string{"Faktura:", "Fakturanummer", "Fakturadato", "Forfallsdato", "Å betale", "KID", "-1", "NOK", "1500"}
	lines := mustPDFLines(t, cn.PDF)
	mustHaveLines(t, lines, want...)
	mustEndALine(t, lines, " 1 1"+nb+"200,00 25 300,00 1"+nb+"500,00")
	mustNotPrint(t, lines, notWant...)
}

// TestCreditNoteOfOldInvoice: a credit note stored before credit notes
// kept their invoice's date gets it from the invoice when rendered.
func TestCreditNoteOfOldInvoice(t *testing.T) {
	clk := &testClock{t: newYear}
	f := newInvoiceFixture(t, clk, vatSeller, june2, nil)
	reg := mustInvoiceBuyer(t, f)
	clk.set(time.Date(2027, 1, 10, 12, 0, 0, 0, time.UTC))
	if _, err := f.app.Cancel(context.Background(), reg); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n, err := f.db.Collection(mongodb.Invoices).UpdateOne(ctx, bson.M{"number": 2, "kind": payments.KindCreditNote},
		bson.M{"$unset": bson.M{"creditsDate": ""}}); err != nil || !n {
		t.Fatalf("precondition: credit note 2 not found to age (%v, %v)", n, err)
	}
	cn := mustInvoice(t, f, 2, payments.KindCreditNote)
	if !cn.CreditsDate.IsZero() {
		t.Fatalf("precondition: credit note still knows the date %v", cn.CreditsDate)
	}
	lines := mustPDFLines(t, func() ([]byte, error) { return f.inv.Render(ctx, cn) })
	mustHaveLines(t, lines, "Krediterer faktura nr. 1 av 01.01.2027")
}
