package payments

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// StatementError is why a bank statement file is refused whole: Path
// names the element (Ntfctn[1]/Ntry[3]/Amt), Rule what it breaks. It is
// an ErrBadStatement; nothing of a refused file is written.
type StatementError struct {
	Path string
	Rule string
}

func (e *StatementError) Error() string { return ErrBadStatement.Error() + ": " + e.Detail() }

// Detail is the path and the rule, for the client: "Ntry[3]/Amt: not a
// decimal amount".
func (e *StatementError) Detail() string { return e.Path + ": " + e.Rule }

func (e *StatementError) Unwrap() error { return ErrBadStatement }

func refuse(path, rule string, args ...any) error {
	return &StatementError{Path: path, Rule: fmt.Sprintf(rule, args...)}
}

// StatementLine is a line of a statement the import did not apply, or
// applied with a remark: where it is in the file, the bank's reference,
// the KID, the amount as written, and why. Never the payer's name or
// account.
type StatementLine struct {
	// Line is the element: Stmt[1]/Ntry[3] or Stmt[1]/Ntry[3]/NtryDtls[1]/TxDtls[2].
	Line     string `json:"line"`
	Ref      string `json:"ref,omitempty"`
	KID      string `json:"kid,omitempty"`
	Amount   string `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"`
	// Reason is a stable word (see the Reason constants), Detail says it
	// for a human.
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// Why a statement line is not applied.
const (
	// ReasonAccount: the statement is for another account than the seller's.
	ReasonAccount = "account"
	// ReasonDebit: money out (or a debit transaction inside a credit entry).
	ReasonDebit = "debit"
	// ReasonNotBooked: the entry's status is not BOOK (pending, info, future).
	ReasonNotBooked = "not_booked"
	// ReasonReversal: a credit that reverses a debit (RvslInd).
	ReasonReversal = "reversal"
	// ReasonCurrency: not NOK; invoices are in NOK.
	ReasonCurrency = "currency"
	// ReasonPrecision: a NOK amount with a non-zero third decimal, which
	// is no whole number of øre.
	ReasonPrecision = "amount_precision"
	// ReasonZeroAmount: a credit of 0.
	ReasonZeroAmount = "zero_amount"
	// ReasonBatchWithoutAmounts: an entry of several transactions of which
	// some carry no amount of their own: who paid what cannot be told.
	ReasonBatchWithoutAmounts = "batch_without_amounts"
	// ReasonExceedsEntry: the transactions add up to more than the entry.
	ReasonExceedsEntry = "transactions_exceed_entry"
)

// Remarks on lines that were applied.
const (
	// AnomalyBelowEntry: an entry's transactions add up to less than the
	// entry; only the transactions were applied.
	AnomalyBelowEntry = "transactions_below_entry"
	// AnomalySeveralReferences: a transaction names several creditor
	// references without amounts that add up to it; the whole amount went
	// to the first valid KID.
	AnomalySeveralReferences = "several_references"
)

// The parts of ISO 20022 camt.053 (statement) and camt.054 (debit/credit
// notification), versions .001.02 to .001.08, that matching needs.
// The element names read here are the same in all seven; what differs is
// that .08 writes the entry status as <Sts><Cd>BOOK</Cd></Sts> (the
// earlier ones as <Sts>BOOK</Sts>) and that from .03 on a transaction may
// carry its own Amt besides AmtDtls/TxAmt/Amt. Own structs: the Go
// library for these is deprecated.
type camtDocument struct {
	Stmt   *camtMessage `xml:"BkToCstmrStmt"`
	Ntfctn *camtMessage `xml:"BkToCstmrDbtCdtNtfctn"`
}

type camtMessage struct {
	CreDtTm string          `xml:"GrpHdr>CreDtTm"`
	Stmt    []camtStatement `xml:"Stmt"`
	Ntfctn  []camtStatement `xml:"Ntfctn"`
}

type camtStatement struct {
	CreDtTm string      `xml:"CreDtTm"`
	Acct    camtAccount `xml:"Acct"`
	Ntry    []camtEntry `xml:"Ntry"`
}

type camtAccount struct {
	IBAN  string `xml:"Id>IBAN"`
	Other string `xml:"Id>Othr>Id"`
}

type camtAmount struct {
	Value string `xml:",chardata"`
	Ccy   string `xml:"Ccy,attr"`
}

type camtStatus struct {
	Text  string `xml:",chardata"`
	Cd    string `xml:"Cd"`
	Prtry string `xml:"Prtry"`
}

// value is the status code in either form.
func (s camtStatus) value() string {
	for _, v := range []string{s.Cd, s.Prtry, s.Text} {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

type camtEntry struct {
	NtryRef     string         `xml:"NtryRef"`
	Amt         *camtAmount    `xml:"Amt"`
	CdtDbtInd   string         `xml:"CdtDbtInd"`
	RvslInd     string         `xml:"RvslInd"`
	Sts         camtStatus     `xml:"Sts"`
	BookgDt     camtDate       `xml:"BookgDt"`
	ValDt       camtDate       `xml:"ValDt"`
	AcctSvcrRef string         `xml:"AcctSvcrRef"`
	NtryDtls    []camtNtryDtls `xml:"NtryDtls"`
}

type camtNtryDtls struct {
	TxDtls []camtTxDtls `xml:"TxDtls"`
}

type camtDate struct {
	Dt   string `xml:"Dt"`
	DtTm string `xml:"DtTm"`
}

type camtTxDtls struct {
	AcctSvcrRef string      `xml:"Refs>AcctSvcrRef"`
	EndToEndID  string      `xml:"Refs>EndToEndId"`
	Amt         *camtAmount `xml:"Amt"`
	TxAmt       *camtAmount `xml:"AmtDtls>TxAmt>Amt"`
	CdtDbtInd   string      `xml:"CdtDbtInd"`
	Strd        []camtStrd  `xml:"RmtInf>Strd"`
}

type camtStrd struct {
	Ref     string      `xml:"CdtrRefInf>Ref"`
	RmtdAmt *camtAmount `xml:"RfrdDocAmt>RmtdAmt"`
}

// camtNamespace is the namespace of a camt.053 or camt.054 document.
var camtNamespace = regexp.MustCompile(`^urn:iso:std:iso:20022:tech:xsd:camt\.(053|054)\.001\.(\d\d)$`)

// camtVersions are the versions read.
var camtVersions = map[string]bool{"02": true, "03": true, "04": true, "05": true, "06": true, "07": true, "08": true}

// money is an amount in 10⁻⁵ of the currency's unit (ISO 20022 amounts
// have at most five decimals), with the currency and the text as written.
type money struct {
	units int64
	ccy   string
	text  string
}

// øre: 10⁻⁵ kroner per øre.
const unitsPerØre = 1000

// readAmount reads an ActiveOrHistoricCurrencyAndAmount: xs:decimal, at
// most 5 fraction digits, not negative, a three-letter currency.
func readAmount(a *camtAmount, path string) (money, error) {
	if a == nil {
		return money{}, refuse(path, "missing")
	}
	text := strings.TrimSpace(a.Value)
	units, err := parseDecimal(text)
	if err != nil {
		return money{}, refuse(path, "%v", err)
	}
	ccy := strings.TrimSpace(a.Ccy)
	if len(ccy) != 3 || strings.ToUpper(ccy) != ccy || !isLetters(ccy) {
		return money{}, refuse(path+"/@Ccy", "not a three-letter currency code (ISO 4217)")
	}
	return money{units: units, ccy: ccy, text: text}, nil
}

func isLetters(s string) bool {
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// parseDecimal reads an ISO 20022 amount into 10⁻⁵ units: digits, an
// optional point and at most 5 significant fraction digits (trailing
// zeros beyond them are allowed, as xs:decimal allows them), no sign but
// an optional +, below 10¹³.
func parseDecimal(v string) (int64, error) {
	notDecimal := errors.New("not a decimal amount (ISO 20022: digits, a point, at most 5 decimals, not negative)")
	if strings.HasPrefix(v, "-") {
		return 0, errors.New("negative: an amount is never negative, the direction is CdtDbtInd")
	}
	v = strings.TrimPrefix(v, "+")
	whole, frac, _ := strings.Cut(v, ".")
	if whole == "" && frac == "" || !allDigitsOrEmpty(whole) || !allDigitsOrEmpty(frac) {
		return 0, notDecimal
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 5 {
		return 0, errors.New("more than 5 decimals (ISO 20022 amounts have at most 5)")
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 13 {
		return 0, errors.New("too large (13 digits before the point at most)")
	}
	var w int64
	if whole != "" {
		w, _ = strconv.ParseInt(whole, 10, 64) // at most 13 digits
	}
	f, _ := strconv.ParseInt(frac+strings.Repeat("0", 5-len(frac)), 10, 64)
	return w*100000 + f, nil
}

func allDigitsOrEmpty(s string) bool { return s == "" || allDigits(s) }

// formatUnits writes 10⁻⁵ units as a decimal with at least two decimals.
func formatUnits(u int64) string {
	s := fmt.Sprintf("%d.%05d", u/100000, u%100000)
	for strings.HasSuffix(s, "0") && len(s)-strings.IndexByte(s, '.') > 3 {
		s = s[:len(s)-1]
	}
	return s
}

// camtCredit is a credit to apply: the bank entry as it is stored, and
// the id an import before issue 18 gave the same transaction, when that
// was another (checked too, so a file imported before counts once).
type camtCredit struct {
	entry  BankEntry
	legacy string
}

// statementPlan is what a file holds, read whole before anything is
// written.
type statementPlan struct {
	credits   []camtCredit
	ignored   []StatementLine
	anomalies []StatementLine
}

// parseStatement reads and checks a camt.053 or camt.054 file: every
// refusal names the element and the rule. seller is the seller's BBAN.
func parseStatement(raw []byte, seller string) (*statementPlan, error) {
	if bytes.Contains(raw, []byte("<!DOCTYPE")) || bytes.Contains(raw, []byte("<!ENTITY")) {
		// encoding/xml expands no external entities, but a statement has
		// no use for a DTD: refuse it outright.
		return nil, refuse("Document", "a DTD (<!DOCTYPE or <!ENTITY) is not accepted")
	}
	dec := xml.NewDecoder(bytes.NewReader(raw))
	dec.Strict = true
	var root xml.StartElement
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, xmlRefusal(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			root = se
			break
		}
	}
	if root.Name.Local != "Document" {
		return nil, refuse("/", "the root element is <%s>, not a camt.053 or camt.054 <Document>", clip(root.Name.Local))
	}
	m := camtNamespace.FindStringSubmatch(root.Name.Space)
	if m == nil {
		return nil, refuse("Document/@xmlns", "namespace %q is not camt.053 or camt.054 (urn:iso:std:iso:20022:tech:xsd:camt.053.001.NN)", clip(root.Name.Space))
	}
	kind, version := m[1], m[2]
	if !camtVersions[version] {
		return nil, refuse("Document/@xmlns", "camt.%s.001.%s is not a version read here (.001.02 to .001.08 are)", kind, version)
	}
	var doc camtDocument
	if err := dec.DecodeElement(&doc, &root); err != nil {
		return nil, xmlRefusal(err)
	}
	msg, elem, stmts := doc.Stmt, "Stmt", []camtStatement(nil)
	if kind == "053" {
		if msg == nil {
			return nil, refuse("Document/BkToCstmrStmt", "missing: a camt.053 document holds a BkToCstmrStmt")
		}
		stmts = msg.Stmt
	} else {
		msg, elem = doc.Ntfctn, "Ntfctn"
		if msg == nil {
			return nil, refuse("Document/BkToCstmrDbtCdtNtfctn", "missing: a camt.054 document holds a BkToCstmrDbtCdtNtfctn")
		}
		stmts = msg.Ntfctn
	}
	if len(stmts) == 0 {
		return nil, refuse("Document/"+map[string]string{"053": "BkToCstmrStmt/Stmt", "054": "BkToCstmrDbtCdtNtfctn/Ntfctn"}[kind], "missing: the file holds no %s", elem)
	}

	p := &statementPlan{}
	r := camtReader{plan: p, seller: seller, groupCreated: msg.CreDtTm, seen: map[string]int{}}
	var others []string
	forSeller := false
	for si, st := range stmts {
		sp := fmt.Sprintf("%s[%d]", elem, si+1)
		acct, written, err := st.Acct.bban(sp)
		if err != nil {
			return nil, err
		}
		if acct == seller {
			forSeller = true
		} else {
			others = append(others, maskAccount(written))
		}
		for ei, e := range st.Ntry {
			if err := r.entry(st, acct, written, e, fmt.Sprintf("%s/Ntry[%d]", sp, ei+1)); err != nil {
				return nil, err
			}
		}
	}
	if !forSeller {
		return nil, refuse(elem+"/Acct/Id", "the file is for account %s, not the seller's account %s (accepted written as BBAN or as IBAN %s)",
			strings.Join(others, ", "), seller, mustIBAN(seller))
	}
	return p, nil
}

func mustIBAN(bban string) string {
	iban, _ := ibanOf(bban)
	return iban
}

// xmlRefusal names where the XML broke.
func xmlRefusal(err error) error {
	var se *xml.SyntaxError
	switch {
	case errors.As(err, &se):
		return refuse(fmt.Sprintf("line %d", se.Line), "not well-formed XML: %s", clip(se.Msg))
	case errors.Is(err, io.EOF):
		return refuse("Document", "empty or cut short: no root element")
	case strings.Contains(err.Error(), "CharsetReader"):
		return refuse("?xml/@encoding", "only UTF-8 is read")
	}
	return refuse("Document", "not readable XML: %s", clip(err.Error()))
}

// clip keeps what a message echoes from the file short.
func clip(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return s
}

// bban is the statement's account as a BBAN ("" when it is not a
// Norwegian account) and as written.
func (a camtAccount) bban(sp string) (bban, written string, err error) {
	switch {
	case strings.TrimSpace(a.IBAN) != "":
		written = strings.TrimSpace(a.IBAN)
		if !validIBAN(compactAccount(written)) {
			return "", "", refuse(sp+"/Acct/Id/IBAN", "not an IBAN with correct check digits (ISO 13616, mod 97)")
		}
	case strings.TrimSpace(a.Other) != "":
		written = strings.TrimSpace(a.Other)
		if c := compactAccount(written); looksLikeIBAN(c) && !validIBAN(c) {
			return "", "", refuse(sp+"/Acct/Id/Othr/Id", "written as an IBAN whose check digits are wrong (ISO 13616, mod 97)")
		}
	default:
		return "", "", refuse(sp+"/Acct/Id", "missing: neither IBAN nor Othr/Id names the account")
	}
	bban, _ = normalizeBBAN(written)
	return bban, written, nil
}

// camtReader turns entries into credits and ignored lines.
type camtReader struct {
	plan         *statementPlan
	seller       string
	groupCreated string
	// seen counts credits without any bank reference by what identifies
	// them, so two identical ones in a file count as two.
	seen map[string]int
}

func (r *camtReader) ignore(l StatementLine, reason, detail string, args ...any) {
	l.Reason, l.Detail = reason, fmt.Sprintf(detail, args...)
	r.plan.ignored = append(r.plan.ignored, l)
}

func (r *camtReader) remark(l StatementLine, reason, detail string, args ...any) {
	l.Reason, l.Detail = reason, fmt.Sprintf(detail, args...)
	r.plan.anomalies = append(r.plan.anomalies, l)
}

// camtTx is a transaction of an entry with where it is.
type camtTx struct {
	d    camtTxDtls
	path string
	// idx is its position among the entry's transactions, from 0.
	idx int
	amt money
}

func (r *camtReader) entry(st camtStatement, acct, written string, e camtEntry, ep string) error {
	amt, err := readAmount(e.Amt, ep+"/Amt")
	if err != nil {
		return err
	}
	ind := strings.TrimSpace(e.CdtDbtInd)
	if ind != "CRDT" && ind != "DBIT" {
		return refuse(ep+"/CdtDbtInd", "neither CRDT nor DBIT")
	}
	sts := e.Sts.value()
	if sts == "" {
		return refuse(ep+"/Sts", "missing: every entry has a status (BOOK, PDNG, INFO …)")
	}
	line := StatementLine{Line: ep, Ref: firstNonEmpty(strings.TrimSpace(e.AcctSvcrRef), strings.TrimSpace(e.NtryRef), ""), Amount: amt.text, Currency: amt.ccy}
	switch {
	case acct != r.seller:
		r.ignore(line, ReasonAccount, "the statement is for account %s, not the seller's", maskAccount(written))
		return nil
	case ind == "DBIT":
		r.ignore(line, ReasonDebit, "a debit: only credits pay invoices")
		return nil
	case sts != "BOOK":
		r.ignore(line, ReasonNotBooked, "status %s: only booked entries (BOOK) are applied", clip(sts))
		return nil
	case isTrue(e.RvslInd):
		r.ignore(line, ReasonReversal, "a reversal (RvslInd): it takes back a debit, it pays no invoice")
		return nil
	case amt.ccy != "NOK":
		r.ignore(line, ReasonCurrency, "in %s: only NOK credits pay invoices", amt.ccy)
		return nil
	}
	date, day, err := r.date(st, e, ep)
	if err != nil {
		return err
	}

	var txs []camtTx
	for k, nd := range e.NtryDtls {
		for j, d := range nd.TxDtls {
			txs = append(txs, camtTx{d: d, idx: len(txs), path: fmt.Sprintf("%s/NtryDtls[%d]/TxDtls[%d]", ep, k+1, j+1)})
		}
	}
	if len(txs) == 0 {
		txs = []camtTx{{path: ep}}
	}
	missing := 0
	for i := range txs {
		tx := &txs[i]
		src, where := tx.d.Amt, "/Amt"
		if src == nil {
			src, where = tx.d.TxAmt, "/AmtDtls/TxAmt/Amt"
		}
		if src == nil {
			missing++
			tx.amt = amt
			continue
		}
		if tx.amt, err = readAmount(src, tx.path+where); err != nil {
			return err
		}
		if ti := strings.TrimSpace(tx.d.CdtDbtInd); ti != "" && ti != "CRDT" && ti != "DBIT" {
			return refuse(tx.path+"/CdtDbtInd", "neither CRDT nor DBIT")
		}
	}
	if len(txs) > 1 && missing > 0 {
		r.ignore(line, ReasonBatchWithoutAmounts, "%d transactions, %d without an amount of its own (Amt or AmtDtls/TxAmt/Amt): what each paid cannot be told", len(txs), missing)
		return nil
	}
	var sum int64
	sameCcy := true
	for _, tx := range txs {
		switch {
		case tx.amt.ccy != amt.ccy:
			sameCcy = false
		case strings.TrimSpace(tx.d.CdtDbtInd) == "DBIT":
			sum -= tx.amt.units
		default:
			sum += tx.amt.units
		}
	}
	if sum > amt.units {
		r.ignore(line, ReasonExceedsEntry, "the transactions add up to %s %s, more than the entry's %s", formatUnits(sum), amt.ccy, amt.text)
		return nil
	}
	if sum < amt.units && sameCcy {
		r.remark(line, AnomalyBelowEntry, "the transactions add up to %s %s, less than the entry's %s: only they were applied", formatUnits(sum), amt.ccy, amt.text)
	}

	txRefs := map[string]int{}
	for _, tx := range txs {
		txRefs[strings.TrimSpace(tx.d.AcctSvcrRef)]++
	}
	for _, tx := range txs {
		if err := r.tx(e, tx, acct, written, date, day, txRefs); err != nil {
			return err
		}
	}
	return nil
}

func isTrue(v string) bool {
	v = strings.TrimSpace(v)
	return v == "true" || v == "1"
}

// date is the entry's booking date, else its value date, else when the
// statement (or the message) was made; day is it as written, for ids.
func (r *camtReader) date(st camtStatement, e camtEntry, ep string) (time.Time, string, error) {
	for _, d := range []struct {
		path string
		d    camtDate
	}{{ep + "/BookgDt", e.BookgDt}, {ep + "/ValDt", e.ValDt}} {
		if v := strings.TrimSpace(d.d.Dt); v != "" {
			t, err := parseISODate(v)
			if err != nil {
				return time.Time{}, "", refuse(d.path+"/Dt", "not a date (YYYY-MM-DD)")
			}
			return t, t.Format(time.DateOnly), nil
		}
		if v := strings.TrimSpace(d.d.DtTm); v != "" {
			t, err := parseISODateTime(v)
			if err != nil {
				return time.Time{}, "", refuse(d.path+"/DtTm", "not a date and time (YYYY-MM-DDThh:mm:ss, with or without a zone)")
			}
			return t.UTC(), v[:10], nil
		}
	}
	for _, v := range []string{st.CreDtTm, r.groupCreated} {
		if t, err := parseISODateTime(strings.TrimSpace(v)); err == nil {
			return t.UTC(), strings.TrimSpace(v)[:10], nil
		}
	}
	return time.Time{}, "", refuse(ep+"/BookgDt", "missing, as are ValDt and the statement's CreDtTm: the entry has no date")
}

// parseISODate reads an xs:date, with or without a zone.
func parseISODate(v string) (time.Time, error) {
	if len(v) > 10 {
		if _, err := time.Parse("Z07:00", v[10:]); err != nil {
			return time.Time{}, err
		}
		v = v[:10]
	}
	return time.Parse(time.DateOnly, v)
}

// parseISODateTime reads an xs:dateTime, with or without a zone and
// fractions of a second.
func parseISODateTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05", v)
}

// creditorRef is a structured creditor reference of a transaction.
type creditorRef struct {
	kid  string
	amt  *camtAmount
	path string
}

// tx turns one transaction into credits: one, or one per creditor
// reference when each names its amount and they add up.
func (r *camtReader) tx(e camtEntry, tx camtTx, acct, written string, date time.Time, day string, txRefs map[string]int) error {
	var refs []creditorRef
	for k, s := range tx.d.Strd {
		if kid := strings.TrimSpace(s.Ref); kid != "" {
			refs = append(refs, creditorRef{kid: kid, amt: s.RmtdAmt, path: fmt.Sprintf("%s/RmtInf/Strd[%d]", tx.path, k+1)})
		}
	}
	kid := ""
	if len(refs) > 0 {
		kid = refs[0].kid
	}
	ref, derived := r.ref(e, tx, acct, day, refs, txRefs)
	line := StatementLine{Line: tx.path, Ref: ref, KID: kid, Amount: tx.amt.text, Currency: tx.amt.ccy}
	if derived {
		line.Ref = ""
	}
	switch {
	case strings.TrimSpace(tx.d.CdtDbtInd) == "DBIT":
		r.ignore(line, ReasonDebit, "a debit transaction: only credits pay invoices")
		return nil
	case tx.amt.ccy != "NOK":
		r.ignore(line, ReasonCurrency, "in %s: only NOK credits pay invoices", tx.amt.ccy)
		return nil
	case tx.amt.units == 0:
		r.ignore(line, ReasonZeroAmount, "a credit of 0")
		return nil
	case tx.amt.units%unitsPerØre != 0:
		r.ignore(line, ReasonPrecision, "%s NOK is no whole number of øre (NOK has 2 decimals)", tx.amt.text)
		return nil
	}
	øre := tx.amt.units / unitsPerØre
	legacy := legacyID(e, tx, written)

	type part struct {
		kid    string
		øre    int64
		suffix string
	}
	parts := []part{{kid: kid, øre: øre}}
	if len(refs) > 1 {
		split, why, err := splitByReference(refs, tx.amt)
		if err != nil {
			return err
		}
		if split != nil {
			parts = parts[:0]
			for k, o := range split {
				parts = append(parts, part{kid: refs[k].kid, øre: o, suffix: "#" + strconv.Itoa(k+1)})
			}
		} else {
			chosen := 0
			for k, c := range refs {
				if ValidKID(c.kid) {
					chosen = k
					break
				}
			}
			parts[0].kid = refs[chosen].kid
			line.KID = refs[chosen].kid
			r.remark(line, AnomalySeveralReferences, "%d creditor references (Strd) %s: the whole amount went to reference %d, the first valid KID", len(refs), why, chosen+1)
		}
	}
	for _, pt := range parts {
		r.plan.credits = append(r.plan.credits, camtCredit{
			entry: BankEntry{ID: acct + ":" + ref + pt.suffix, Account: acct, Ref: ref + pt.suffix, KID: pt.kid,
				Amount: pt.øre, Currency: "NOK", Date: date},
			legacy: legacy,
		})
	}
	return nil
}

// splitByReference gives each creditor reference its amount
// (Strd/RfrdDocAmt/RmtdAmt), when every one has one in the
// transaction's currency, in whole øre, and they add up to the
// transaction; otherwise nil and why not.
func splitByReference(refs []creditorRef, total money) ([]int64, string, error) {
	out := make([]int64, len(refs))
	var sum int64
	for k, c := range refs {
		if c.amt == nil {
			return nil, "without an amount each (RfrdDocAmt/RmtdAmt)", nil
		}
		m, err := readAmount(c.amt, c.path+"/RfrdDocAmt/RmtdAmt")
		if err != nil {
			return nil, "", err
		}
		if m.ccy != total.ccy || m.units == 0 || m.units%unitsPerØre != 0 {
			return nil, "whose amounts are not all whole øre in " + total.ccy, nil
		}
		out[k] = m.units / unitsPerØre
		sum += m.units
	}
	if sum != total.units {
		return nil, fmt.Sprintf("whose amounts add up to %s, not the transaction's %s", formatUnits(sum), total.text), nil
	}
	return out, "", nil
}

// ref is the bank's reference of a transaction, which with the account
// makes its id: what a camt.054 and the camt.053 of the same day both
// say of it, so the same credit counts once whichever comes first.
//
//   - its own Refs/AcctSvcrRef, when no other transaction of the entry
//     shares it;
//   - else the entry's AcctSvcrRef (or, lacking that, NtryRef, or the
//     shared transaction reference) and the transaction's position in
//     the entry: 20261125000101/1;
//   - with no reference at all: "derived:" and a hash of the booking
//     date, amount, KIDs, end-to-end id and how many such credits came
//     before it in the file. Two credits alike in all of these count as
//     two in one file, but a later file's one counts as the same.
func (r *camtReader) ref(e camtEntry, tx camtTx, acct, day string, refs []creditorRef, txRefs map[string]int) (string, bool) {
	own := strings.TrimSpace(tx.d.AcctSvcrRef)
	if own != "" && txRefs[own] == 1 {
		return own, false
	}
	pos := "/" + strconv.Itoa(tx.idx)
	for _, v := range []string{e.AcctSvcrRef, e.NtryRef, own} {
		if v = strings.TrimSpace(v); v != "" {
			return v + pos, false
		}
	}
	kids := make([]string, len(refs))
	for k, c := range refs {
		kids[k] = c.kid
	}
	key := strings.Join([]string{acct, day, strconv.FormatInt(tx.amt.units, 10), tx.amt.ccy,
		strings.Join(kids, ","), strings.TrimSpace(tx.d.EndToEndID)}, "|")
	r.seen[key]++
	sum := sha256.Sum256([]byte(key + "|" + strconv.Itoa(r.seen[key])))
	return "derived:" + hex.EncodeToString(sum[:10]), true
}

// legacyID is the id imports before issue 18 gave a transaction: the
// account as written and the first reference of the transaction, the
// entry's AcctSvcrRef or NtryRef with the position.
func legacyID(e camtEntry, tx camtTx, written string) string {
	j := strconv.Itoa(tx.idx)
	ref := firstNonEmpty(tx.d.AcctSvcrRef, e.AcctSvcrRef+"/"+j, e.NtryRef+"/"+j)
	if strings.HasPrefix(ref, "/") {
		return ""
	}
	return written + ":" + ref
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" && !strings.HasPrefix(v, "/") {
			return v
		}
	}
	return vs[len(vs)-1]
}
