package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/staff"
)

// camtCredits is a camt.054 notification of booked NOK credits, one entry
// per KID, each of amount øre.
func camtCredits(prefix string, amount int64, kids ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn>` +
		`<GrpHdr><MsgId>` + prefix + `</MsgId><CreDtTm>2026-11-25T06:00:00+01:00</CreDtTm></GrpHdr><Ntfctn><Id>` + prefix + `</Id>` +
		`<Acct><Id><Othr><Id>12345678903</Id></Othr></Id><Ccy>NOK</Ccy></Acct>`)
	for i, kid := range kids {
		amt := fmt.Sprintf("%d.%02d", amount/100, amount%100)
		fmt.Fprintf(&b, `<Ntry><Amt Ccy="NOK">%s</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-25</Dt></BookgDt>`+
			`<AcctSvcrRef>%s-%d</AcctSvcrRef><NtryDtls><TxDtls><Refs><AcctSvcrRef>%s-%d-1</AcctSvcrRef></Refs><Amt Ccy="NOK">%s</Amt>`+
			`<RmtInf><Strd><CdtrRefInf><Ref>%s</Ref></CdtrRefInf></Strd></RmtInf></TxDtls></NtryDtls></Ntry>`, amt, prefix, i, prefix, i, amt, kid)
	}
	b.WriteString(`</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>`)
	return b.String()
}

// TestScopeHoldsForSideEffects: a token limited to one event reaches
// nothing of another through routes that name no event: a finance token's
// bank statement pays only its events' invoices, a privacy token's request
// reaches only its events' registrations.
func TestScopeHoldsForSideEffects(t *testing.T) {
	e := newEnv(t)
	e.invoiceEvent(t, "a")
	e.invoiceEvent(t, "b")
	inA := e.mustSignup(t, "a", invoiceBuyer("kari@example.no"))
	inB := e.mustSignup(t, "b", invoiceBuyer("kari@example.no"))
	kidA, kidB := e.reg(t, inA.ID).Payment.KID, e.reg(t, inB.ID).Payment.KID
	if kidA == "" || kidB == "" {
		t.Fatalf("precondition: both invoiced (%q, %q)", kidA, kidB)
	}

	t.Run("BankStatement", func(t *testing.T) {
		financeA := e.token(t, staff.CreateRequest{Role: staff.Finance, Name: "fa", Events: []string{"a"}})
		file := camtCredits("S1", 150000, kidA, kidB, "99999999")
		r := e.do(t, "POST", "/api/v1/finance/bank-statements", financeA, file, "Content-Type", "application/xml")
		var res struct {
			Matched    int
			Unmatched  []struct{ KID string }
			OutOfScope []struct{ KID string }
		}
		r.json(t, &res)
		if r.status != 200 || res.Matched != 1 || len(res.Unmatched) != 0 || len(res.OutOfScope) != 2 {
			t.Fatalf("scoped import: %d %s", r.status, r.body)
		}
		if s := e.reg(t, inB.ID).Payment.Status; s == "paid" {
			t.Fatal("a finance token of event a marked event b's invoice paid")
		}
		if s := e.reg(t, inA.ID).Payment.Status; s != "paid" {
			t.Errorf("its own event's invoice: %s, want paid", s)
		}
		if n := e.count(t, mongodb.BankEntries); n != 1 {
			t.Errorf("%d bank entries recorded, want only the one applied", n)
		}
		mustProblem(t, e.do(t, "GET", "/api/v1/finance/bank-statements/unmatched", financeA, nil), 403)
		// A token of every event imports the rest of the same file.
		r = e.do(t, "POST", "/api/v1/finance/bank-statements", adminToken, file, "Content-Type", "application/xml")
		r.json(t, &res)
		if res.Matched != 1 || len(res.Unmatched) != 1 || e.reg(t, inB.ID).Payment.Status != "paid" {
			t.Errorf("full import after the scoped one: %s", r.body)
		}
	})

	t.Run("PrivacyRequest", func(t *testing.T) {
		privacyA := e.token(t, staff.CreateRequest{Role: staff.Privacy, Name: "pa", Events: []string{"a"}})
		var mine struct {
			ID            string
			Registrations []struct{ ID, Event string }
		}
		r := e.do(t, "POST", "/api/v1/privacy/requests", privacyA, map[string]any{"type": "access", "email": "kari@example.no", "receivedAt": "2026-11-20"})
		r.json(t, &mine)
		if r.status != 201 || len(mine.Registrations) != 1 || mine.Registrations[0].Event != "a" {
			t.Fatalf("scoped request: %d %s", r.status, r.body)
		}
		before := e.count(t, mongodb.Disclosures)
		mustProblem(t, e.do(t, "POST", "/api/v1/privacy/requests/"+mine.ID+"/actions", privacyA, map[string]any{"action": "export", "registration": inB.ID}), 404)
		if after := e.count(t, mongodb.Disclosures); after != before {
			t.Error("the refused export was disclosed")
		}
		if r := e.do(t, "POST", "/api/v1/privacy/requests/"+mine.ID+"/actions", privacyA, map[string]any{"action": "export", "registration": inA.ID}); r.status != 200 || !strings.Contains(string(r.body), inA.ID) {
			t.Errorf("export of its own event's registration: %d %s", r.status, r.body)
		}

		var all struct{ ID string }
		e.do(t, "POST", "/api/v1/privacy/requests", adminToken, map[string]any{"type": "access", "email": "kari@example.no", "receivedAt": "2026-11-20"}).json(t, &all)
		if all.ID == "" {
			t.Fatal("precondition: the admin's request exists")
		}
		mustProblem(t, e.do(t, "GET", "/api/v1/privacy/requests/"+all.ID, privacyA, nil), 404)
		mustProblem(t, e.do(t, "POST", "/api/v1/privacy/requests/"+all.ID+"/actions", privacyA, map[string]any{"action": "export", "registration": inB.ID}), 404)
		list := e.do(t, "GET", "/api/v1/privacy/requests", privacyA, nil)
		if strings.Contains(string(list.body), all.ID) || !strings.Contains(string(list.body), mine.ID) {
			t.Errorf("the scoped list: %s", list.body)
		}
		if r := e.do(t, "GET", "/api/v1/privacy/requests/"+mine.ID, adminToken, nil); r.status != 200 {
			t.Errorf("the admin reads every request: %d", r.status)
		}
	})
}
