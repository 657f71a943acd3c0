package web_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/pamelding/pamelding/staff"
	"github.com/xuri/excelize/v2"
)

// moneyModel is what a registration's money should be, computed here from
// what the test did, apart from the service's own bookkeeping.
type moneyModel struct {
	id, token, kid string
	invoice        bool
	amount         int64 // the price at sign-up
	paid           int64
	cancelled      bool
	inTime         bool // cancelled before the refund deadline
}

// due − paid + refunded − credited, as the rules say it should be.
func (m *moneyModel) expect() (due, net int64) {
	var refunded, credited int64
	switch {
	case m.invoice:
		due = m.amount // an issued invoice stands until a credit note
		if m.cancelled && m.inTime {
			credited = m.amount
		}
	case m.cancelled && m.inTime:
		refunded = m.paid
	case m.cancelled:
		if m.paid > 0 {
			due = m.amount
		}
	default:
		due = m.amount
	}
	return due, due - m.paid + refunded - credited
}

type reportJSON struct {
	Rows []struct {
		Registration                                                                 string
		AmountDue, AmountPaid, AmountRefunded, AmountCredited, Outstanding, ToRefund int64
		Anomalies                                                                    []string
	}
	Totals struct {
		Rows                                                                int
		Due, Paid, Refunded, Credited, Outstanding, ToRefund, UnmatchedBank int64
	}
}

// TestMoneyModel runs random sequences of sign-ups (card and invoice),
// card payments, bank imports (short, exact and over), cancellations
// before and after the refund deadline and price changes, and after every
// step checks the reconciliation report: each row and the totals keep
// due − paid + refunded − credited = outstanding − toRefund, and every
// row's amounts match the model computed here.
func TestMoneyModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { moneyRun(t, seed) })
	}
}

func moneyRun(t *testing.T, seed uint64) {
	e := newEnv(t)
	e.mustEvent(t, "m", func(b map[string]any) {
		b["vatRate"] = 25
		b["refundDeadline"] = "2026-12-15T00:00:00+01:00"
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "organisation"},
			{"key": "invoice_org_number"}, {"key": "invoice_address"}, {"key": "invoice_reference"}}
	})
	finance := e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "f"})
	rng := rand.New(rand.NewPCG(seed, 42))
	var regs []*moneyModel
	deadlinePassed := false
	imports := 0
	pick := func(ok func(*moneyModel) bool) *moneyModel {
		var c []*moneyModel
		for _, m := range regs {
			if ok(m) {
				c = append(c, m)
			}
		}
		if len(c) == 0 {
			return nil
		}
		return c[rng.IntN(len(c))]
	}
	var did []string
	for step := range 30 {
		e.clock.add(time.Second)
		switch op := rng.IntN(8); {
		case op == 0 || len(regs) < 2:
			invoice := rng.IntN(2) == 0
			email := fmt.Sprintf("p%d@example.no", len(regs))
			body := person(email)
			if invoice {
				body = invoiceBuyer(email)
			}
			s := e.mustSignup(t, "m", body)
			d := e.reg(t, s.ID)
			m := &moneyModel{id: s.ID, token: s.ManageToken, invoice: invoice, amount: d.Payment.Amount, kid: d.Payment.KID}
			if m.amount <= 0 || (invoice && m.kid == "") {
				t.Fatalf("precondition: a priced sign-up (%+v)", d.Payment)
			}
			regs = append(regs, m)
			did = append(did, fmt.Sprintf("signup invoice=%v %d", invoice, m.amount))
		case op == 1:
			m := pick(func(m *moneyModel) bool { return !m.invoice && !m.cancelled && m.paid == 0 && !deadlinePassed })
			if m == nil {
				continue
			}
			sid := e.reg(t, m.id).Payment.SessionID
			if r := e.webhook(t, stripeEvent(fmt.Sprintf("evt_%d_%d", seed, step), "checkout.session.completed", session(sid, m.id, m.amount, true)), time.Now(), webhookSecret); r.status != 200 {
				t.Fatalf("card payment: %d %s", r.status, r.body)
			}
			m.paid = m.amount
			did = append(did, "pay card")
		case op == 2 || op == 3:
			m := pick(func(m *moneyModel) bool { return m.invoice })
			if m == nil {
				continue
			}
			amount := []int64{m.amount / 2, m.amount, 2 * m.amount}[rng.IntN(3)]
			imports++
			r := e.do(t, "POST", "/api/v1/finance/bank-statements", finance, camtCredits(fmt.Sprintf("M%d-%d", seed, imports), amount, m.kid), "Content-Type", "application/xml")
			if r.status != 200 {
				t.Fatalf("import: %d %s", r.status, r.body)
			}
			m.paid += amount
			did = append(did, fmt.Sprintf("import %d", amount))
		case op == 4 || op == 5:
			m := pick(func(m *moneyModel) bool { return !m.cancelled })
			if m == nil {
				continue
			}
			if r := e.do(t, "DELETE", "/api/v1/me/registration", m.token, nil); r.status != 200 {
				t.Fatalf("cancel: %d %s", r.status, r.body)
			}
			m.cancelled, m.inTime = true, !deadlinePassed
			did = append(did, fmt.Sprintf("cancel inTime=%v", m.inTime))
		case op == 6:
			price := []int{100000, 150000, 200000}[rng.IntN(3)]
			if r := e.do(t, "PATCH", "/api/v1/events/m", adminToken, map[string]any{"price": map[string]any{"amount": price, "currency": "NOK"}}); r.status != 200 {
				t.Fatalf("price change: %d %s", r.status, r.body)
			}
			did = append(did, fmt.Sprintf("price %d", price))
		case op == 7 && !deadlinePassed:
			e.clock.add(time.Date(2026, 12, 16, 0, 0, 0, 0, time.UTC).Sub(e.clock.now()))
			deadlinePassed = true
			did = append(did, "deadline passes")
		}
		// Settlements the job would make (refunds, credit notes) are made at
		// once by the cancellation here; the job is run too, for any left.
		if _, err := e.a.Payments.SettleDue(t.Context()); err != nil {
			t.Fatal(err)
		}

		var rep reportJSON
		r := e.do(t, "GET", "/api/v1/finance/reconciliation?event=m", finance, nil)
		if r.status != 200 {
			t.Fatalf("report: %d %s", r.status, r.body)
		}
		r.json(t, &rep)
		tot := rep.Totals
		if tot.Due-tot.Paid+tot.Refunded-tot.Credited != tot.Outstanding-tot.ToRefund || tot.Rows != len(regs) {
			t.Fatalf("after %v: totals break the model: %+v", did, tot)
		}
		byID := map[string]int{}
		for i, row := range rep.Rows {
			byID[row.Registration] = i
			if row.AmountDue-row.AmountPaid+row.AmountRefunded-row.AmountCredited != row.Outstanding-row.ToRefund {
				t.Fatalf("after %v: row breaks the model: %+v", did, row)
			}
		}
		for _, m := range regs {
			i, ok := byID[m.id]
			if !ok {
				t.Fatalf("after %v: no row for %s", did, m.id)
			}
			row := rep.Rows[i]
			due, net := m.expect()
			if row.AmountDue != due || row.AmountPaid != m.paid || row.Outstanding-row.ToRefund != net {
				t.Fatalf("after %v: %+v\nwant due %d, paid %d, outstanding − toRefund %d (model %+v)", did, row, due, m.paid, net, *m)
			}
		}
	}
	if len(did) < 10 {
		t.Fatalf("precondition: a sequence of some length, got %v", did)
	}
	checkJournal(t, e, finance, regs, did)
}

// journalJSON is the journal as the API answers it.
type journalJSON struct {
	Lines []struct {
		Voucher, Kind, Number, VATCode, Description string
		Debit, Credit                               int64
	}
	Balances []struct {
		Number        string
		Debit, Credit int64
	}
}

// checkJournal: the journal of the whole run agrees to the øre with what
// the test did: each voucher balances; receivables hold what invoices
// still claim (invoiced − credited − paid to the bank), the bank what was
// paid to it, Stripe's clearing account what cards paid less refunds, and
// revenue with its VAT what stands sold.
func checkJournal(t *testing.T, e *env, finance string, regs []*moneyModel, did []string) {
	t.Helper()
	var j journalJSON
	r := e.do(t, "GET", "/api/v1/finance/journal?from=2026-11-01&to=2027-01-31", finance, nil)
	if r.status != 200 {
		t.Fatalf("journal: %d %s", r.status, r.body)
	}
	r.json(t, &j)
	vouchers := map[string]int64{}
	for _, l := range j.Lines {
		vouchers[l.Voucher] += l.Debit - l.Credit
	}
	for v, sum := range vouchers {
		if sum != 0 {
			t.Errorf("voucher %s is off by %d øre", v, sum)
		}
	}
	var receivables, bank, stripe, sold int64
	for _, m := range regs {
		due, net := m.expect()
		switch {
		case m.invoice:
			receivables += net
			bank += m.paid
			sold += due
			if m.cancelled && m.inTime {
				sold -= m.amount
			}
		case m.paid > 0 && m.cancelled && m.inTime:
		case m.paid > 0:
			stripe += m.paid
			sold += m.paid
		}
	}
	got := map[string]int64{}
	for _, b := range j.Balances {
		got[b.Number] = b.Debit - b.Credit
	}
	if got["1500"] != receivables || got["1920"] != bank || got["1570"] != stripe || -(got["3000"]+got["3200"]+got["2700"]) != sold {
		t.Errorf("after %v: journal balances %v, want receivables %d, bank %d, Stripe %d, sold %d", did, got, receivables, bank, stripe, sold)
	}
	if len(vouchers) == 0 || sold == 0 {
		t.Errorf("precondition: money moved (%d vouchers, %d sold)", len(vouchers), sold)
	}
}

// TestReportFiles: the report's XLSX holds numbers Excel can sum and
// dates, and the CSV for Norwegian Excel has ';' and a decimal comma.
func TestReportFiles(t *testing.T) {
	e := newEnv(t)
	e.invoiceEvent(t, "seminar")
	s := e.mustSignup(t, "seminar", invoiceBuyer("kari@example.no"))
	kid := e.reg(t, s.ID).Payment.KID
	if r := e.do(t, "POST", "/api/v1/finance/bank-statements", adminToken, camtCredits("F1", 150000, kid), "Content-Type", "application/xml"); r.status != 200 {
		t.Fatalf("precondition: the invoice is paid (%d %s)", r.status, r.body)
	}
	x := e.do(t, "GET", "/api/v1/finance/reconciliation?event=seminar&format=xlsx", adminToken, nil)
	f, err := excelize.OpenReader(bytes.NewReader(x.body))
	if err != nil {
		t.Fatal(err)
	}
	const sheet = "Avstemming"
	if h, _ := f.GetCellValue(sheet, "I1"); h != "amount_paid" {
		t.Fatalf("column I is %q, want amount_paid", h)
	}
	if err := f.SetCellFormula(sheet, "Z1", "SUM(I2:I2)"); err != nil {
		t.Fatal(err)
	}
	if sum, err := f.CalcCellValue(sheet, "Z1"); err != nil || sum != "1500" {
		t.Errorf("SUM over the paid column: %q %v, want 1500", sum, err)
	}
	if typ, _ := f.GetCellType(sheet, "V2"); typ == excelize.CellTypeInlineString || typ == excelize.CellTypeSharedString {
		t.Errorf("paid_at is a text cell (%v), want a date", typ)
	}

	c := e.do(t, "GET", "/api/v1/finance/reconciliation?event=seminar&format=csv&sep=semicolon", adminToken, nil)
	if !bytes.HasPrefix(c.body, []byte("\uFEFF")) || !bytes.Contains(c.body, []byte(`"1500,00"`)) || !bytes.Contains(c.body, []byte(`"amount_due";"amount_paid"`)) {
		t.Errorf("Norwegian CSV:\n%s", c.body)
	}
	if d := e.do(t, "GET", "/api/v1/finance/reconciliation?event=seminar&format=csv", adminToken, nil); !bytes.Contains(d.body, []byte(`"1500.00"`)) {
		t.Errorf("standard CSV:\n%s", d.body)
	}
}

// camtBatch is a camt.054 with one booked entry of several transactions,
// each paying a KID with its own amount (øre).
func camtBatch(prefix string, pays map[string]int64) string {
	kr := func(øre int64) string { return fmt.Sprintf("%d.%02d", øre/100, øre%100) }
	var total int64
	var txs strings.Builder
	i := 0
	for kid, amount := range pays {
		i++
		total += amount
		fmt.Fprintf(&txs, `<TxDtls><Refs><AcctSvcrRef>%s-t%d</AcctSvcrRef></Refs><Amt Ccy="NOK">%s</Amt>`+
			`<RmtInf><Strd><CdtrRefInf><Ref>%s</Ref></CdtrRefInf></Strd></RmtInf></TxDtls>`, prefix, i, kr(amount), kid)
	}
	return `<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn>` +
		`<GrpHdr><MsgId>` + prefix + `</MsgId><CreDtTm>2026-12-20T06:00:00+01:00</CreDtTm></GrpHdr><Ntfctn><Id>` + prefix + `</Id>` +
		`<Acct><Id><Othr><Id>12345678903</Id></Othr></Id><Ccy>NOK</Ccy></Acct>` +
		`<Ntry><Amt Ccy="NOK">` + kr(total) + `</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-12-20</Dt></BookgDt>` +
		`<AcctSvcrRef>` + prefix + `</AcctSvcrRef><NtryDtls>` + txs.String() + `</NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>`
}

// TestFinanceDay replays the finance audit's day: a VAT-registered seller,
// six invoice and five card sign-ups, cancellations before and after the
// refund deadline, a credit note, a batch bank entry paying three
// invoices, a short payment and money on a credited invoice; every øre is
// accounted for in the report.
func TestFinanceDay(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "day", func(b map[string]any) {
		b["vatRate"] = 25
		b["refundDeadline"] = "2026-12-15T00:00:00+01:00"
		b["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}, {"key": "organisation"},
			{"key": "invoice_org_number"}, {"key": "invoice_address"}, {"key": "invoice_reference"}}
	})
	var inv, card []signup
	kid := map[string]string{}
	for i := range 6 {
		e.clock.add(time.Second)
		s := e.mustSignup(t, "day", invoiceBuyer(fmt.Sprintf("i%d@example.no", i)))
		kid[s.ID] = e.reg(t, s.ID).Payment.KID
		inv = append(inv, s)
	}
	for i := range 5 {
		e.clock.add(time.Second)
		s := e.mustSignup(t, "day", person(fmt.Sprintf("c%d@example.no", i)))
		sid := e.reg(t, s.ID).Payment.SessionID
		if r := e.webhook(t, stripeEvent(fmt.Sprintf("evt_day_%d", i), "checkout.session.completed", session(sid, s.ID, 150000, true)), time.Now(), webhookSecret); r.status != 200 {
			t.Fatalf("card payment %d: %d", i, r.status)
		}
		card = append(card, s)
	}
	cancel := func(s signup) {
		t.Helper()
		if r := e.do(t, "DELETE", "/api/v1/me/registration", s.ManageToken, nil); r.status != 200 {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
	}
	cancel(inv[0])  // before the deadline: credited
	cancel(card[0]) // before the deadline: refunded
	e.clock.add(time.Date(2026, 12, 16, 12, 0, 0, 0, time.UTC).Sub(e.clock.now()))
	cancel(inv[1])  // after: the invoice stands
	cancel(card[1]) // after: the payment stands
	if _, err := e.a.Payments.SettleDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{
		camtBatch("B1", map[string]int64{kid[inv[1].ID]: 150000, kid[inv[2].ID]: 150000, kid[inv[3].ID]: 150000}),
		camtCredits("B2", 75000, kid[inv[4].ID]),
		camtCredits("B3", 150000, kid[inv[0].ID]), // paid although credited
	} {
		if r := e.do(t, "POST", "/api/v1/finance/bank-statements", adminToken, file, "Content-Type", "application/xml"); r.status != 200 {
			t.Fatalf("import: %d %s", r.status, r.body)
		}
	}
	var rep reportJSON
	e.do(t, "GET", "/api/v1/finance/reconciliation?event=day", adminToken, nil).json(t, &rep)
	want := reportJSON{}.Totals
	want.Rows, want.Due, want.Paid, want.Refunded, want.Credited, want.Outstanding, want.ToRefund =
		11, 1500000, 1425000, 150000, 150000, 225000, 150000
	got := rep.Totals
	got.UnmatchedBank = 0
	if got != want {
		t.Errorf("totals %+v\nwant   %+v", got, want)
	}
}

// TestJournalCSV: the journal's CSV is in its documented layout, carries
// no personal data (no name, e-mail or organisation of a participant or
// buyer), and is refused to a token limited to some events, and without
// a period.
func TestJournalCSV(t *testing.T) {
	e := newEnv(t)
	e.invoiceEvent(t, "seminar")
	e.mustSignup(t, "seminar", invoiceBuyer("kari@example.no"))
	finance := e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "f"})
	r := e.do(t, "GET", "/api/v1/finance/journal?from=2026-11-01&to=2026-11-30&format=csv", finance, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("journal CSV: %d %s", r.status, r.body)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := "date,voucher,kind,account,account_name,saft_standard_account,vat_code,vat_rate,debit,credit,currency,event,reference,description"
	if len(rows) != 4 || strings.Join(rows[0], ",") != want {
		t.Fatalf("journal CSV rows %q", rows)
	}
	// 1 500,00 invoiced at 25 %: receivables 1500.00 against sales 1200.00
	// and VAT 300.00, code 3.
	got := map[string]string{}
	for _, row := range rows[1:] {
		if row[0] != "2026-11-21" || row[1] != "F1" || row[2] != "invoice" {
			t.Errorf("row %q", row)
		}
		got[row[3]] = row[6] + " " + row[8] + " " + row[9]
	}
	if got["1500"] != " 1500.00 0.00" || got["3000"] != "3 0.00 1200.00" || got["2700"] != "3 0.00 300.00" {
		t.Errorf("postings %v", got)
	}
	for _, personal := range []string{"Kari", "kari@", "Acme", "974760673", "Postboks"} {
		if bytes.Contains(r.body, []byte(personal)) {
			t.Errorf("the journal carries %q:\n%s", personal, r.body)
		}
	}
	scoped := e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "fs", Events: []string{"seminar"}})
	mustProblem(t, e.do(t, "GET", "/api/v1/finance/journal?from=2026-11-01&to=2026-11-30", scoped, nil), 403)
	if p := mustProblem(t, e.do(t, "GET", "/api/v1/finance/journal?from=2026-11-01", finance, nil), 400); !p.has("to", "invalid") {
		t.Errorf("without to: %+v", p.Errors)
	}
}
