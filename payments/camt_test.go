package payments_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/payments"
)

// sellerAccount is the seller's account as configured (a BBAN with dots);
// the fixtures write it as 12345678903 or as IBAN NO7112345678903.
const sellerAccount = "1234.56.78903"

// wantKIDs are the KIDs of invoices 1 to 4.
var wantKIDs = []string{"18", "26", "34", "42"}

// newCamtFixture is newFixture with the seller's bank account set to
// account, and n invoices of 999.00 issued: numbers 1..n, KIDs 18, 26, 34,
// 42.
func newCamtFixture(t *testing.T, account string, n int) *fixture {
	t.Helper()
	f := buildFixture(t, time.Now, payments.Seller{Name: "Kurs AS", OrgNumber: "923609016", BankAccount: account}, nil, kursSettings())
	for i := range n {
		f.invoiceSignup(t, i)
		inv := f.invoice(t, int64(i+1))
		if inv.KID != wantKIDs[i] || inv.Total != 99900 || inv.PaidAmount != 0 {
			t.Fatalf("precondition: invoice %d has KID %s, total %d, paid %d; want KID %s, 99900, 0", i+1, inv.KID, inv.Total, inv.PaidAmount, wantKIDs[i])
		}
	}
	return f
}

func (f *fixture) invoice(t *testing.T, n int64) *payments.Invoice {
	t.Helper()
	inv, err := f.inv.Invoice(context.Background(), n)
	if err != nil {
		t.Fatalf("invoice %d: %v", n, err)
	}
	return inv
}

// paid lists what invoices 1..n have been paid.
func (f *fixture) paid(t *testing.T, n int) []int64 {
	t.Helper()
	out := make([]int64, n)
	for i := range out {
		out[i] = f.invoice(t, int64(i+1)).PaidAmount
	}
	return out
}

func (f *fixture) bankEntries(t *testing.T) int64 {
	t.Helper()
	n, err := f.db.Collection(mongodb.BankEntries).Count(context.Background(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) importBytes(t *testing.T, b []byte) (*payments.ImportResult, error) {
	t.Helper()
	return f.app.Payments.ImportStatement(context.Background(), bytes.NewReader(b), nil)
}

// mustImport imports a file of testdata that must be taken.
func (f *fixture) mustImport(t *testing.T, name string) *payments.ImportResult {
	t.Helper()
	res, err := f.importBytes(t, readFixture(t, name))
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return res
}

// mustRefuse asserts a refusal naming the element path (a trailing *
// matches any rest) and a rule that contains want, and that nothing was
// written.
func (f *fixture) mustRefuse(t *testing.T, b []byte, path, want string) *payments.StatementError {
	t.Helper()
	before := f.bankEntries(t)
	res, err := f.importBytes(t, b)
	var se *payments.StatementError
	if !errors.As(err, &se) || !errors.Is(err, payments.ErrBadStatement) {
		t.Fatalf("import: %+v, %v; want a StatementError", res, err)
	}
	pathOK := se.Path == path || strings.HasSuffix(path, "*") && strings.HasPrefix(se.Path, strings.TrimSuffix(path, "*"))
	if !pathOK || !strings.Contains(se.Rule, want) {
		t.Errorf("refused with %q; want %s: …%s…", se.Detail(), path, want)
	}
	if after := f.bankEntries(t); after != before {
		t.Errorf("a refused file wrote %d bank entries", after-before)
	}
	return se
}

// reasons lists the ignored lines as "line reason".
func reasons(res *payments.ImportResult) []string {
	var out []string
	for _, l := range res.IgnoredLines {
		out = append(out, l.Line+" "+l.Reason)
	}
	return out
}

func anomalies(res *payments.ImportResult) []string {
	var out []string
	for _, l := range res.Anomalies {
		out = append(out, l.Line+" "+l.Reason)
	}
	return out
}

// TestImportBatchEntry: an entry carrying several payments credits each
// its own amount (issue 18, defect 1). Before, every transaction got the
// whole entry's amount, and of two Strd blocks only the last KID counted.
func TestImportBatchEntry(t *testing.T) {
	t.Run("OwnAmounts", func(t *testing.T) {
		f := newCamtFixture(t, sellerAccount, 2)
		res := f.mustImport(t, "batch.xml")
		if res.Entries != 2 || res.Matched != 2 || len(res.IgnoredLines) != 0 {
			t.Errorf("result %+v", res)
		}
		if got := f.paid(t, 2); !slices.Equal(got, []int64{99900, 99900}) {
			t.Errorf("paid %v, want 999.00 each (the entry is 1998.00)", got)
		}
		for n := range int64(2) {
			if st := f.invoice(t, n+1).Status; st != payments.InvoicePaid {
				t.Errorf("invoice %d: %s, want paid", n+1, st)
			}
		}
	})
	t.Run("ReferencesWithAmountsSplit", func(t *testing.T) {
		f := newCamtFixture(t, sellerAccount, 4)
		res := f.mustImport(t, "two-references.xml")
		// 1998.00 split 999.00/999.00 over KID 18 and 26 by RfrdDocAmt;
		// 999.00 naming 34 and 42 without amounts: all to 34, remarked.
		if got := f.paid(t, 4); !slices.Equal(got, []int64{99900, 99900, 99900, 0}) {
			t.Errorf("paid %v, want [99900 99900 99900 0]", got)
		}
		if res.Entries != 3 || res.Matched != 3 {
			t.Errorf("result %+v", res)
		}
		want := []string{"Ntfctn[1]/Ntry[2]/NtryDtls[1]/TxDtls[1] " + payments.AnomalySeveralReferences}
		if got := anomalies(res); !slices.Equal(got, want) || res.Anomalies[0].KID != "34" {
			t.Errorf("anomalies %v (%+v), want %v with KID 34", got, res.Anomalies, want)
		}
		again := f.mustImport(t, "two-references.xml")
		if again.Duplicates != 3 || again.Matched != 0 {
			t.Errorf("again: %+v", again)
		}
		if got := f.paid(t, 4); !slices.Equal(got, []int64{99900, 99900, 99900, 0}) {
			t.Errorf("after importing again, paid %v", got)
		}
	})
	t.Run("Inconsistent", func(t *testing.T) {
		f := newCamtFixture(t, sellerAccount, 4)
		res := f.mustImport(t, "batch-inconsistent.xml")
		want := []string{
			"Ntfctn[1]/Ntry[1] " + payments.ReasonBatchWithoutAmounts,
			"Ntfctn[1]/Ntry[2] " + payments.ReasonExceedsEntry,
		}
		if got := reasons(res); !slices.Equal(got, want) {
			t.Errorf("ignored %v, want %v", got, want)
		}
		if res.Ignored != 2 {
			t.Errorf("ignored count %d", res.Ignored)
		}
		if got := anomalies(res); !slices.Equal(got, []string{"Ntfctn[1]/Ntry[3] " + payments.AnomalyBelowEntry}) {
			t.Errorf("anomalies %v", got)
		}
		if got := f.paid(t, 4); !slices.Equal(got, []int64{0, 0, 99900, 99900}) {
			t.Errorf("paid %v: only the third entry's two transactions apply", got)
		}
	})
}

// TestImportSharedTransactionRef: two transactions of one entry with the
// same Refs/AcctSvcrRef both count at the first import (issue 18, defect
// 2; before, the second was dropped as a duplicate), and importing the
// file again changes nothing.
func TestImportSharedTransactionRef(t *testing.T) {
	f := newCamtFixture(t, sellerAccount, 2)
	res := f.mustImport(t, "shared-ref.xml")
	if res.Matched != 2 || res.Duplicates != 0 {
		t.Errorf("first import %+v: both transactions are new", res)
	}
	if got := f.paid(t, 2); !slices.Equal(got, []int64{99900, 99900}) {
		t.Errorf("paid %v", got)
	}
	if n := f.bankEntries(t); n != 2 {
		t.Errorf("%d bank entries, want 2", n)
	}
	again := f.mustImport(t, "shared-ref.xml")
	if again.Duplicates != 2 || again.Matched != 0 {
		t.Errorf("again %+v", again)
	}
	if got := f.paid(t, 2); !slices.Equal(got, []int64{99900, 99900}) {
		t.Errorf("after importing again, paid %v", got)
	}
}

// TestImportVersions: booked credits are applied in camt.053 and camt.054
// of .001.02 to .001.08, with the status as <Sts>BOOK</Sts> or
// <Sts><Cd>BOOK</Cd></Sts> (issue 18, defect 3: .08 credits were ignored;
// issue 17: .03, .05 and .07 were refused). The odd versions are their
// neighbours' files under their own namespace: the elements read are
// the same.
func TestImportVersions(t *testing.T) {
	for _, tc := range []struct {
		file, status, as string
	}{
		{"v02.camt053.xml", "PDNG", ""}, {"v04.camt054.xml", "PDNG", ""}, {"v06.camt053.xml", "INFO", ""},
		{"v08.camt053.xml", "PDNG", ""}, {"v08.camt054.xml", "PDNG", ""},
		{"v02.camt053.xml", "PDNG", "03"}, {"v04.camt054.xml", "PDNG", "05"}, {"v06.camt053.xml", "INFO", "07"},
	} {
		t.Run(tc.file+tc.as, func(t *testing.T) {
			f := newCamtFixture(t, sellerAccount, 2)
			var res *payments.ImportResult
			if tc.as == "" {
				res = f.mustImport(t, tc.file)
			} else {
				b := regexp.MustCompile(`(xsd:camt\.05[34]\.001\.)\d\d`).ReplaceAll(readFixture(t, tc.file), []byte("${1}"+tc.as))
				if !bytes.Contains(b, []byte(".001."+tc.as)) {
					t.Fatalf("precondition: the namespace of %s was not rewritten", tc.file)
				}
				var err error
				if res, err = f.importBytes(t, b); err != nil {
					t.Fatalf("import %s as .001.%s: %v", tc.file, tc.as, err)
				}
			}
			if res.Entries != 1 || res.Matched != 1 {
				t.Errorf("result %+v, want the booked credit matched", res)
			}
			if got := f.paid(t, 2); !slices.Equal(got, []int64{99900, 0}) {
				t.Errorf("paid %v, want [99900 0]", got)
			}
			line := "Stmt[1]/Ntry[2]"
			if strings.Contains(tc.file, "camt054") {
				line = "Ntfctn[1]/Ntry[2]"
			}
			if len(res.IgnoredLines) != 1 || res.IgnoredLines[0].Reason != payments.ReasonNotBooked ||
				res.IgnoredLines[0].Line != line || !strings.Contains(res.IgnoredLines[0].Detail, tc.status) {
				t.Errorf("ignored %+v, want Ntry[2] not booked (%s)", res.IgnoredLines, tc.status)
			}
		})
	}
	t.Run("UnsupportedVersion", func(t *testing.T) {
		f := newCamtFixture(t, sellerAccount, 0)
		b := bytes.Replace(readFixture(t, "v08.camt054.xml"), []byte("xsd:camt.054.001.08"), []byte("xsd:camt.054.001.10"), 1)
		f.mustRefuse(t, b, "Document/@xmlns", "camt.054.001.10 is not a version read here")
	})
	t.Run("WrongMessageForNamespace", func(t *testing.T) {
		f := newCamtFixture(t, sellerAccount, 0)
		b := bytes.Replace(readFixture(t, "v08.camt054.xml"), []byte("xsd:camt.054.001.08"), []byte("xsd:camt.053.001.08"), 1)
		f.mustRefuse(t, b, "Document/BkToCstmrStmt", "missing")
	})
}

// TestImportAccountAndCurrency: only the seller's account, written as
// BBAN or IBAN, and only NOK (issue 18, defect 4).
func TestImportAccountAndCurrency(t *testing.T) {
	t.Run("Currency", func(t *testing.T) {
		f := newCamtFixture(t, sellerAccount, 3)
		res := f.mustImport(t, "currency.xml")
		want := []string{"Ntfctn[1]/Ntry[1] currency", "Ntfctn[1]/Ntry[3]/NtryDtls[1]/TxDtls[1] currency"}
		if got := reasons(res); !slices.Equal(got, want) {
			t.Errorf("ignored %v, want %v", got, want)
		}
		if got := f.paid(t, 3); !slices.Equal(got, []int64{0, 99900, 0}) {
			t.Errorf("paid %v: only the NOK credit pays", got)
		}
		if len(res.IgnoredLines) == 0 || res.IgnoredLines[0].Currency != "EUR" || res.IgnoredLines[0].Amount != "85.00" || res.IgnoredLines[0].Ref != "C1" {
			t.Errorf("lines %+v, want the first for 85.00 EUR, ref C1", res.IgnoredLines)
		}
	})
	t.Run("OtherAccountRefused", func(t *testing.T) {
		f := newCamtFixture(t, sellerAccount, 1)
		se := f.mustRefuse(t, readFixture(t, "other-account.xml"), "Stmt/Acct/Id", "not the seller's account 12345678903")
		if !strings.Contains(se.Rule, "…7947") || strings.Contains(se.Rule, "86011117947") {
			t.Errorf("rule %q: names the file's account by its last digits only", se.Rule)
		}
		if got := f.paid(t, 1); got[0] != 0 {
			t.Errorf("paid %v", got)
		}
	})
	t.Run("OtherAccountInTheSameFileIgnored", func(t *testing.T) {
		f := newCamtFixture(t, sellerAccount, 2)
		res := f.mustImport(t, "two-accounts.xml")
		want := []string{"Stmt[2]/Ntry[1] account", "Stmt[2]/Ntry[2] account"}
		if got := reasons(res); !slices.Equal(got, want) {
			t.Errorf("ignored %v, want %v", got, want)
		}
		if got := f.paid(t, 2); !slices.Equal(got, []int64{99900, 0}) {
			t.Errorf("paid %v", got)
		}
	})
	t.Run("SameCreditAsBBANThenIBAN", func(t *testing.T) {
		f := newCamtFixture(t, sellerAccount, 2)
		first := f.mustImport(t, "same-credit.camt054.xml")
		if first.Matched != 1 {
			t.Fatalf("camt.054: %+v", first)
		}
		res := f.mustImport(t, "same-credit.camt053.xml")
		if res.Duplicates != 1 || res.Matched != 1 {
			t.Errorf("camt.053 %+v: D1-1 counted before, D2-1 is new", res)
		}
		if got := f.paid(t, 2); !slices.Equal(got, []int64{99900, 99900}) {
			t.Errorf("paid %v", got)
		}
		var be payments.BankEntry
		if err := f.db.Collection(mongodb.BankEntries).FindOne(context.Background(), bson.M{"_id": "12345678903:D1-1"}, &be); err != nil || be.Account != "12345678903" {
			t.Errorf("entry keyed by the BBAN: %+v, %v", be, err)
		}
	})
	t.Run("ImportedBeforeTheFix", func(t *testing.T) {
		// An import before issue 18 keyed entries by the account as
		// written: the IBAN. That entry still counts.
		f := newCamtFixture(t, sellerAccount, 2)
		if err := f.db.Collection(mongodb.BankEntries).InsertOne(context.Background(), payments.BankEntry{
			ID: "NO7112345678903:D1-1", Account: "NO7112345678903", Ref: "D1-1", KID: "18", Amount: 99900, Currency: "NOK", Matched: true, Invoice: 1, Outcome: "paid",
		}); err != nil {
			t.Fatal(err)
		}
		res := f.mustImport(t, "same-credit.camt053.xml")
		if res.Duplicates != 1 || res.Matched != 1 {
			t.Errorf("result %+v", res)
		}
		if got := f.paid(t, 2); !slices.Equal(got, []int64{0, 99900}) {
			t.Errorf("paid %v: the entry imported before is not applied again", got)
		}
	})
	t.Run("BadIBANRefused", func(t *testing.T) {
		f := newCamtFixture(t, sellerAccount, 0)
		b := bytes.Replace(readFixture(t, "same-credit.camt053.xml"), []byte("NO7112345678903"), []byte("NO7212345678903"), 1)
		f.mustRefuse(t, b, "Stmt[1]/Acct/Id/IBAN", "check digits")
	})
	t.Run("NoSellerAccountConfigured", func(t *testing.T) {
		f := newCamtFixture(t, "", 0)
		f.mustRefuse(t, readFixture(t, "batch.xml"), "Acct/Id", "no seller bank account is configured")
	})
}

// TestImportDecimalsAndMissingReferences: an amount with a third decimal
// and entries without any bank reference no longer refuse the file
// (issue 18, defect 5); a refusal names the element and the rule.
func TestImportDecimalsAndMissingReferences(t *testing.T) {
	f := newCamtFixture(t, sellerAccount, 4)
	res := f.mustImport(t, "decimals-and-no-refs.xml")
	if got := reasons(res); !slices.Equal(got, []string{"Ntfctn[1]/Ntry[1]/NtryDtls[1]/TxDtls[1] " + payments.ReasonPrecision}) {
		t.Errorf("ignored %v", got)
	}
	if res.Entries != 4 || res.Matched != 4 {
		t.Errorf("result %+v", res)
	}
	// 999.000 and 999.00000 are 999.00; the two alike 100.00 credits
	// without references are two payments.
	if got := f.paid(t, 4); !slices.Equal(got, []int64{0, 99900, 99900, 20000}) {
		t.Errorf("paid %v, want [0 99900 99900 20000]", got)
	}
	again := f.mustImport(t, "decimals-and-no-refs.xml")
	if again.Duplicates != 4 || again.Matched != 0 || again.Ignored != 1 {
		t.Errorf("again %+v", again)
	}
	if got := f.paid(t, 4); !slices.Equal(got, []int64{0, 99900, 99900, 20000}) {
		t.Errorf("after importing again, paid %v", got)
	}

	t.Run("RefusalNamesTheElement", func(t *testing.T) {
		for _, tc := range []struct {
			name, old, new, path, rule string
		}{
			{"NotADecimal", "<Amt Ccy=\"NOK\">999.000</Amt>", "<Amt Ccy=\"NOK\">999,00</Amt>", "Ntfctn[1]/Ntry[2]/Amt", "not a decimal amount"},
			{"SixDecimals", "<Amt Ccy=\"NOK\">999.000</Amt>", "<Amt Ccy=\"NOK\">999.000001</Amt>", "Ntfctn[1]/Ntry[2]/Amt", "more than 5 decimals"},
			{"Negative", "<Amt Ccy=\"NOK\">999.000</Amt>", "<Amt Ccy=\"NOK\">-999.00</Amt>", "Ntfctn[1]/Ntry[2]/Amt", "negative"},
			{"NoCurrency", "<Amt Ccy=\"NOK\">999.000</Amt>", "<Amt>999.00</Amt>", "Ntfctn[1]/Ntry[2]/Amt/@Ccy", "currency code"},
			{"NoStatus", "<Sts>BOOK</Sts>", "", "Ntfctn[1]/Ntry[1]/Sts", "missing"},
			{"BadDate", "<BookgDt><Dt>2026-11-25</Dt></BookgDt>", "<BookgDt><Dt>25.11.2026</Dt></BookgDt>", "Ntfctn[1]/Ntry[1]/BookgDt/Dt", "not a date"},
			{"BadIndicator", "<CdtDbtInd>CRDT</CdtDbtInd>", "<CdtDbtInd>CR</CdtDbtInd>", "Ntfctn[1]/Ntry[1]/CdtDbtInd", "neither CRDT nor DBIT"},
			{"NotXML", "</Ntfctn>", "</Ntfctn", "line *", "not well-formed XML"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := readFixture(t, "decimals-and-no-refs.xml")
				if !bytes.Contains(b, []byte(tc.old)) {
					t.Fatalf("precondition: the fixture holds no %s", tc.old)
				}
				before := f.paid(t, 4)
				f.mustRefuse(t, bytes.Replace(b, []byte(tc.old), []byte(tc.new), 1), tc.path, tc.rule)
				if got := f.paid(t, 4); !slices.Equal(got, before) {
					t.Errorf("a refused file paid: %v, was %v", got, before)
				}
			})
		}
	})
}

// TestImportMOD11KID: invoices carry MOD10 KIDs only (KIDMod10); a credit
// whose KID is the MOD11 one of an invoice number is not that invoice's
// payment: it stays unmatched, for finance (issue 18, defect 6; the
// README said it was accepted).
func TestImportMOD11KID(t *testing.T) {
	f := newCamtFixture(t, sellerAccount, 1)
	if kid, ok := payments.KIDMod11(1); !ok || kid != "19" {
		t.Fatalf("precondition: MOD11 KID of 1 is %s, want 19", kid)
	}
	res := f.mustImport(t, "mod11.xml")
	if res.Matched != 0 || len(res.Unmatched) != 1 || res.Unmatched[0].KID != "19" {
		t.Errorf("result %+v", res)
	}
	if got := f.paid(t, 1); got[0] != 0 {
		t.Errorf("invoice 1 paid %d by a KID it does not carry", got[0])
	}
}

// TestImportScope: a token limited to some events applies none of the
// credits to invoices of other events, and records nothing of them.
func TestImportScope(t *testing.T) {
	f := newCamtFixture(t, sellerAccount, 2)
	res, err := f.app.Payments.ImportStatement(context.Background(), bytes.NewReader(readFixture(t, "batch.xml")), []string{"another-event"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.OutOfScope) != 2 || res.Matched != 0 {
		t.Errorf("result %+v", res)
	}
	if n := f.bankEntries(t); n != 0 {
		t.Errorf("%d bank entries recorded for out-of-scope credits", n)
	}
	if got := f.paid(t, 2); !slices.Equal(got, []int64{0, 0}) {
		t.Errorf("paid %v", got)
	}
}

// TestImportSamples: files in the shapes other banks and public camt
// parsers' test files have (testdata/samples, see its README) are each
// taken with every line applied or ignored with a reason, or refused
// naming the element and the rule. PAMELDING_CAMT_SAMPLES names a
// directory of more camt files to put through the same check, verbatim
// and with their accounts made the seller's.
func TestImportSamples(t *testing.T) {
	type want struct {
		refused            string // the refusal's path, when refused
		entries, matched   int
		reasons, anomalies []string
		unmatchedKIDs      []string
	}
	wants := map[string]want{
		"foreign-eur-three-decimals.camt053.v02.xml": {refused: "Stmt/Acct/Id"},
		"nordic-multi-statement.camt053.v02.xml": {entries: 1, matched: 1,
			reasons: []string{"Stmt[1]/Ntry[1] account", "Stmt[2]/Ntry[1] debit"}},
		"othr-iban-structured-status.camt053.v08.xml": {entries: 1, unmatchedKIDs: []string{"RF18539007547034"},
			reasons: []string{"Stmt[1]/Ntry[2] not_booked"}},
		"debit-batch-and-references.camt054.v08.xml": {entries: 1, unmatchedKIDs: []string{"Ref number V3 block 1"},
			reasons:   []string{"Ntfctn[1]/Ntry[1] debit"},
			anomalies: []string{"Ntfctn[1]/Ntry[2]/NtryDtls[1]/TxDtls[1] several_references"}},
		"pending-reversal-no-details.camt054.v04.xml": {entries: 1, unmatchedKIDs: []string{""},
			reasons: []string{"Ntfctn[1]/Ntry[1] not_booked", "Ntfctn[1]/Ntry[2] reversal", "Ntfctn[1]/Ntry[4] amount_precision"}},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "samples", "*.xml"))
	if len(files) != len(wants) {
		t.Fatalf("precondition: %d sample files, %d expectations", len(files), len(wants))
	}
	f := newCamtFixture(t, sellerAccount, 1)
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			w, ok := wants[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			res, err := f.importBytes(t, b)
			checkAccounted(t, b, res, err)
			if w.refused != "" {
				var se *payments.StatementError
				if !errors.As(err, &se) || se.Path != w.refused {
					t.Errorf("%v, want refused at %s", err, w.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, u := range res.Unmatched {
				kids = append(kids, u.KID)
			}
			if res.Entries != w.entries || res.Matched != w.matched || !slices.Equal(kids, w.unmatchedKIDs) ||
				!slices.Equal(reasons(res), w.reasons) || !slices.Equal(anomalies(res), w.anomalies) {
				t.Errorf("entries %d, matched %d, unmatched %q, ignored %v, anomalies %v; want %+v",
					res.Entries, res.Matched, kids, reasons(res), anomalies(res), w)
			}
			for _, l := range append(res.IgnoredLines, res.Anomalies...) {
				if strings.Contains(l.Detail+l.Ref+l.KID, "Example") || strings.Contains(l.Detail, "Kurs AS") {
					t.Errorf("line %+v holds a party's name", l)
				}
			}
		})
	}

	dir := os.Getenv("PAMELDING_CAMT_SAMPLES")
	if dir == "" {
		return
	}
	more, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(more) == 0 {
		t.Fatalf("PAMELDING_CAMT_SAMPLES=%s holds no .xml file", dir)
	}
	acctID := regexp.MustCompile(`(?s)(<Acct>\s*<Id>).*?(</Id>\s*(<[A-Z]|</Acct>))`)
	for _, file := range more {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, variant := range []struct {
			name string
			b    []byte
		}{
			{"verbatim", b},
			{"seller's account", acctID.ReplaceAll(b, []byte("${1}<IBAN>NO7112345678903</IBAN>${2}"))},
		} {
			t.Run(filepath.Base(file)+"/"+variant.name, func(t *testing.T) {
				res, err := f.importBytes(t, variant.b)
				checkAccounted(t, variant.b, res, err)
				if err != nil {
					t.Logf("refused: %v", err)
				} else {
					t.Logf("entries %d, matched %d, unmatched %d, duplicates %d, ignored %v, anomalies %v",
						res.Entries, res.Matched, len(res.Unmatched), res.Duplicates, reasons(res), anomalies(res))
				}
			})
		}
	}
}

// checkAccounted: a file is refused by a StatementError naming an element
// and a rule, or taken with every entry accounted for: as a credit read
// or as ignored lines with a reason. Never an import of nothing without
// a reason.
func checkAccounted(t *testing.T, b []byte, res *payments.ImportResult, err error) {
	t.Helper()
	if err != nil {
		var se *payments.StatementError
		if !errors.As(err, &se) || se.Path == "" || se.Rule == "" {
			t.Errorf("refused without naming the element and the rule: %v", err)
		}
		return
	}
	ntries := bytes.Count(b, []byte("<Ntry>"))
	if res.Entries+len(res.IgnoredLines) < ntries {
		t.Errorf("%d entries in the file, %d credits read and %d lines ignored", ntries, res.Entries, len(res.IgnoredLines))
	}
	for _, l := range res.IgnoredLines {
		if l.Line == "" || l.Reason == "" || l.Detail == "" {
			t.Errorf("ignored line without a reason: %+v", l)
		}
	}
	if res.Ignored != len(res.IgnoredLines) {
		t.Errorf("ignored %d, %d lines", res.Ignored, len(res.IgnoredLines))
	}
}
