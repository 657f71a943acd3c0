package web

import (
	"bytes"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/xuri/excelize/v2"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/metrics"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/staff"
)

// handleStripeWebhook reads the raw body (at most 64 KiB), leaves the
// signature check to stripe-go, and answers 2xx fast: 400 on a bad or old
// signature, 200 for an event handled now or before.
func handleStripeWebhook(p *payments.Service, m *metrics.Metrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		body := c.Body()
		if len(body) > payments.MaxWebhookBody {
			return problem(fiber.StatusRequestEntityTooLarge, "too_large", "The body is larger than 64 KiB.")
		}
		typ, outcome, err := p.HandleWebhook(c.UserContext(), bytes.Clone(body), c.Get("Stripe-Signature"))
		if m != nil {
			if err != nil {
				outcome = "refused"
				if _, internal := toProblem(err); internal {
					outcome = "error"
				}
			}
			m.Webhooks.WithLabelValues(typ, outcome).Inc()
		}
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"received": true})
	}
}

func handleMeCancelPaid(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		out, err := a.Cancel(c.UserContext(), participant(c))
		if err != nil {
			return err
		}
		return c.JSON(out)
	}
}

func handleOrganiserCancelPaid(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		reg, err := a.Signups.Get(c.UserContext(), c.Params("slug"), c.Params("id"))
		if err != nil {
			return err
		}
		out, err := a.Cancel(c.UserContext(), reg)
		if err != nil {
			return err
		}
		return c.JSON(out)
	}
}

func handleCancelEvent(a *app.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		out, err := a.CancelEvent(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		return c.JSON(out)
	}
}

// financeEvent is the event a finance request is about: a token scoped to
// events must name one of them.
func financeEvent(c *fiber.Ctx) (string, error) {
	ev := c.Query("event")
	p := principal(c)
	if ev == "" && p.Role != staff.Admin && len(p.Events) > 0 {
		return "", problem(fiber.StatusBadRequest, "bad_query", "This token is limited to some events: name one with ?event=.")
	}
	if ev != "" && !p.CanEvent(ev) {
		return "", staff.ErrForbidden
	}
	return ev, nil
}

type invoiceList struct {
	Invoices []payments.Invoice `json:"invoices"`
}

func handleListInvoices(p *payments.Invoices) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ev, err := financeEvent(c)
		if err != nil {
			return err
		}
		invs, err := p.List(c.UserContext(), payments.InvoiceQuery{Event: ev, Status: c.Query("status")})
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(invoiceList{Invoices: invs})
	}
}

// handleGetInvoice answers JSON, the PDF with ?format=pdf or Accept:
// application/pdf, or the EHF document with ?format=ehf or Accept:
// application/xml.
func handleGetInvoice(p *payments.Invoices) fiber.Handler {
	return func(c *fiber.Ctx) error {
		n, err := strconv.ParseInt(c.Params("number"), 10, 64)
		if err != nil || n < 1 {
			return payments.ErrInvoiceNotFound
		}
		inv, err := p.Invoice(c.UserContext(), n)
		if err != nil {
			return err
		}
		if !principal(c).CanEvent(inv.Event) {
			return staff.ErrForbidden
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		accept := c.Get(fiber.HeaderAccept)
		render, ext, mime := p.Render, ".pdf", "application/pdf"
		switch {
		case c.Query("format") == "pdf" || strings.HasPrefix(accept, "application/pdf"):
		case c.Query("format") == "ehf" || strings.HasPrefix(accept, "application/xml"):
			render, ext, mime = p.RenderEHF, ".xml", "application/xml"
		default:
			return c.JSON(inv)
		}
		b, err := render(c.UserContext(), inv)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, mime)
		file := "faktura-"
		if inv.Kind == payments.KindCreditNote {
			file = "kreditnota-"
		}
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+file+strconv.FormatInt(n, 10)+ext+`"`)
		return c.Send(b)
	}
}

// handleImportStatement takes a camt.053 or camt.054 file (XML, at most
// 10 MiB).
func handleImportStatement(p *payments.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
		if mt != "application/xml" && mt != "text/xml" {
			return problem(fiber.StatusUnsupportedMediaType, "unsupported_media_type", "Send the camt.053 or camt.054 file as application/xml.")
		}
		res, err := p.ImportStatement(c.UserContext(), requestBody(c), principal(c).Scope())
		if err != nil {
			return err
		}
		return c.JSON(res)
	}
}

type unmatchedList struct {
	Entries []payments.BankEntry `json:"entries"`
}

// handleUnmatched lists credits no invoice claimed: a token limited to
// some events may not see them, as they belong to no event.
func handleUnmatched(p *payments.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if principal(c).Scope() != nil {
			return staff.ErrForbidden
		}
		es, err := p.UnmatchedEntries(c.UserContext())
		if err != nil {
			return err
		}
		return c.JSON(unmatchedList{Entries: es})
	}
}

// handleJournal answers the period's postings (?from=&to=, dates), as
// JSON or, with format=csv or Accept: text/csv, in the journal's CSV
// layout. The journal is the seller's whole books: a token limited to
// some events cannot read it.
func handleJournal(p *payments.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		from, to, err := booksPeriod(c, "The journal")
		if err != nil {
			return err
		}
		j, err := p.Journal(c.UserContext(), payments.JournalQuery{From: from, To: to})
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		if c.Query("format") == "csv" || strings.HasPrefix(c.Get(fiber.HeaderAccept), "text/csv") {
			c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
			c.Set(fiber.HeaderContentDisposition, `attachment; filename="journal-`+c.Query("from")+`-`+c.Query("to")+`.csv"`)
			return j.WriteCSV(c)
		}
		return c.JSON(j)
	}
}

type payoutList struct {
	Payouts []payments.Payout `json:"payouts"`
}

// handlePayouts lists Stripe's payouts arriving in the period (?from=&to=)
// with what each paid out and kept; like the journal, the seller's whole
// books.
func handlePayouts(p *payments.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		from, to, err := booksPeriod(c, "Stripe's payouts")
		if err != nil {
			return err
		}
		pos, err := p.Payouts(c.UserContext(), payments.PayoutQuery{From: from, To: to})
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(payoutList{Payouts: pos})
	}
}

// booksPeriod reads the required period (?from=&to=, at most a year) of
// a read of the seller's whole books (what), which a token limited to
// some events may not make.
func booksPeriod(c *fiber.Ctx, what string) (from, to time.Time, err error) {
	if pr := principal(c); pr.Role != staff.Admin && len(pr.Events) > 0 {
		return from, to, problem(fiber.StatusForbidden, "forbidden", what+" cover every event; a token limited to some events cannot read them.")
	}
	f, t, err := queryPeriod(c)
	if err != nil {
		return from, to, err
	}
	if f == nil || t == nil {
		field := "to"
		if f == nil {
			field = "from"
		}
		return from, to, problem(fiber.StatusBadRequest, "bad_query", "from and to are required dates (YYYY-MM-DD).",
			privacy.FieldError{Field: field, Code: privacy.CodeInvalid})
	}
	if t.Before(*f) || t.Sub(*f) > 366*24*time.Hour {
		return from, to, problem(fiber.StatusBadRequest, "bad_query", "to is on or after from, at most a year later.",
			privacy.FieldError{Field: "to", Code: privacy.CodeInvalid})
	}
	return *f, *t, nil
}

// queryPeriod reads ?from= and ?to=, dates (YYYY-MM-DD), each nil when
// not given.
func queryPeriod(c *fiber.Ctx) (from, to *time.Time, err error) {
	for _, b := range []struct {
		name string
		dst  **time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := c.Query(b.name); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return nil, nil, problem(fiber.StatusBadRequest, "bad_query", "from and to are dates (YYYY-MM-DD).",
					privacy.FieldError{Field: b.name, Code: privacy.CodeInvalid})
			}
			*b.dst = &t
		}
	}
	return from, to, nil
}

func handleReconciliation(p *payments.Service) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ev, err := financeEvent(c)
		if err != nil {
			return err
		}
		from, to, err := queryPeriod(c)
		if err != nil {
			return err
		}
		q := payments.ReportQuery{Event: ev, By: principal(c).ID, From: from, To: to}
		rep, err := p.Reconciliation(c.UserContext(), q)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		name := "reconciliation"
		if ev != "" {
			name += "-" + ev
		}
		switch {
		case c.Query("format") == "xlsx":
			b, err := reportXLSX(rep)
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
			c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.xlsx"`)
			return c.Send(b)
		case c.Query("format") == "csv" || strings.HasPrefix(c.Get(fiber.HeaderAccept), "text/csv"):
			w, err := newSheetWriter(c, c)
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
			c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
			// Norwegian Excel (;) also reads a decimal comma.
			comma := c.Query("sep") == "semicolon"
			_ = w.Write(payments.ReportColumns)
			for _, r := range rep.Rows {
				_ = w.Write(payments.Record(r.Cells(), comma))
			}
			_ = w.Write(payments.Record(rep.Totals.Cells(), comma))
			w.Flush()
			return w.Error()
		}
		return c.JSON(rep)
	}
}

func reportXLSX(rep *payments.Report) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "Avstemming"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	money, err := f.NewStyle(&excelize.Style{NumFmt: 4}) // #,##0.00
	if err != nil {
		return nil, err
	}
	when, err := f.NewStyle(&excelize.Style{NumFmt: 22}) // m/d/yy h:mm, localised by Excel
	if err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return nil, err
	}
	// Typed cells: amounts are numbers (SUM works), times are dates, text
	// is strings, never a formula.
	row := func(n int, vals []any) error {
		cells := make([]any, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case payments.Amount:
				cells[i] = excelize.Cell{StyleID: money, Value: v.Kroner()}
			case time.Time:
				// Excel has no zones: the Oslo wall clock is the value.
				cells[i] = excelize.Cell{StyleID: when, Value: time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), 0, time.UTC)}
			default:
				cells[i] = v
			}
		}
		cell, _ := excelize.CoordinatesToCellName(1, n)
		return sw.SetRow(cell, cells)
	}
	header := make([]any, len(payments.ReportColumns))
	for i, c := range payments.ReportColumns {
		header[i] = c
	}
	if err := row(1, header); err != nil {
		return nil, err
	}
	for i, r := range rep.Rows {
		if err := row(i+2, r.Cells()); err != nil {
			return nil, err
		}
	}
	if err := row(len(rep.Rows)+2, rep.Totals.Cells()); err != nil {
		return nil, err
	}
	if err := sw.Flush(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
