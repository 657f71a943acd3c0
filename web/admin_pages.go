package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
)

// maxAdminRows is the most rows a back office list shows; the downloads
// have them all.
const maxAdminRows = 500

// eventRow is one event of the back office's list.
type eventRow struct {
	Slug, Title, When, Status string
	Capacity, Taken, Waiting  int
	Paid                      string
}

// handleAdminEvents lists the events the principal reaches: seats taken
// and left, the waiting list and what was paid.
func (as *adminState) handleAdminEvents() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		evs, err := as.a.Events.List(c.UserContext())
		if err != nil {
			return err
		}
		rows := []eventRow{}
		for _, e := range evs {
			if !p.CanEvent(e.Slug) {
				continue
			}
			sum, err := as.a.Registrations.SummaryOf(c.UserContext(), e.Slug)
			if err != nil {
				return err
			}
			status := t(lang, "admin.event.open")
			if e.CancelledAt != nil {
				status = t(lang, "admin.event.cancelled")
			}
			rows = append(rows, eventRow{Slug: e.Slug, Title: e.Title.In(lang), When: e.StartsAt.In(oslo).Format("02.01.2006 15:04"),
				Status: status, Capacity: e.Capacity, Taken: e.Capacity - e.SeatsLeft, Waiting: sum.ByStatus[registration.Waitlisted],
				Paid: events.Money(sum.Paid, "NOK", lang)})
		}
		return as.render(c, "admin_events", lang, fiber.Map{"Page": "admin-events", "Title": t(lang, "admin.events"), "Events": rows,
			"CanCreate": p.Is(staff.Admin, staff.Organiser) && p.Scope() == nil})
	}
}

// participantRow is one registration in the back office's list.
type participantRow struct {
	ID, Status, Category, Payment, CheckedIn string
	// Who names the row for screen readers' buttons: the name, else the id.
	Who              string
	Values           []string
	Restricted, Live bool
	// Movable: it holds a seat, so staff may move it to another category.
	Movable bool
}

// handleAdminEvent is an event's page: its figures, its participants as
// the principal's role may see them (catering: the dietary list, only
// where consented), with filters and search, and the partner lists to
// download with who they leave out and why.
func (as *adminState) handleAdminEvent() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		ctx := c.UserContext()
		e, err := as.a.Events.Get(ctx, c.Params("slug"))
		if err != nil {
			return err
		}
		sum, err := as.a.Registrations.SummaryOf(ctx, e.Slug)
		if err != nil {
			return err
		}
		data := fiber.Map{"Page": "admin-event", "Title": e.Title.In(lang), "Event": e, "Slug": e.Slug,
			"When": e.StartsAt.In(oslo).Format("02.01.2006 15:04"), "Capacity": e.Capacity, "Taken": e.Capacity - e.SeatsLeft,
			"Left": e.SeatsLeft, "Waiting": sum.ByStatus[registration.Waitlisted], "CheckedIn": sum.CheckedIn,
			"Paid": events.Money(sum.Paid, "NOK", lang), "Objected": sum.Objected, "Restricted": sum.Restricted}
		data["Door"] = p.Is(staff.Admin, staff.Organiser, staff.CheckIn)
		data["Manage"] = p.Is(staff.Admin, staff.Organiser)
		data["Log"] = p.Is(staff.Admin, staff.Organiser, staff.Privacy)
		data["Cancelled"] = e.CancelledAt != nil
		if e.CancelledAt != nil && p.Is(staff.Admin, staff.Organiser, staff.Finance) {
			m, err := as.a.Money(ctx, e.Slug)
			if err != nil {
				return err
			}
			data["Progress"] = fmt.Sprintf(t(lang, "admin.event.progress"), m.Refunded, m.RefundsDue+m.Refunding, m.CreditNotes, m.CreditsDue)
		}
		if f := flash(lang, "admin.event.done.", c.Query("done")); f != "" {
			data["Flash"] = f
			if c.Query("done") == "message" {
				data["Flash"] = fmt.Sprintf(f, c.QueryInt("n"))
			}
		}
		if p.Is(staff.Admin, staff.Organiser, staff.Partner) {
			var partners []fiber.Map
			for _, pa := range e.Partners {
				if p.Role != staff.Partner || pa.ID == p.Partner {
					partners = append(partners, fiber.Map{"ID": pa.ID, "Name": pa.Name})
				}
			}
			data["Partners"] = partners
		}
		// Money and door facts are for those whose work they are.
		data["Money"] = p.Is(staff.Admin, staff.Organiser, staff.Finance)
		data["Extra"] = p.Is(staff.Admin, staff.Organiser, staff.Finance)
		if !p.Is(staff.Admin, staff.Organiser, staff.Catering, staff.Finance) {
			return as.render(c, "admin_event", lang, data)
		}

		// Filters: status, category, paid, checked in, and a search in
		// what the role sees (name, e-mail).
		f := struct{ Status, Category, Paid, In, Q string }{c.Query("status"), c.Query("category"), c.Query("paid"), c.Query("in"),
			strings.ToLower(strings.TrimSpace(c.Query("q")))}
		data["Filter"] = f
		a := audience(p)
		cols := registration.Columns(e, a)
		var heads []string
		for _, col := range cols {
			heads = append(heads, col.Label.In(lang))
		}
		rows, err := as.a.Lists.List(ctx, e, a, registration.ListQuery{}, p.ID)
		if err != nil {
			return err
		}
		var out []participantRow
		matched := 0
		for row, err := range rows {
			if err != nil {
				return err
			}
			paid := row.Payment == registration.PaymentPaid || row.Payment == registration.PaymentOverpaid
			switch {
			case f.Status != "" && string(row.Status) != f.Status,
				f.Category != "" && row.Category != f.Category,
				f.Paid == "yes" && !paid, f.Paid == "no" && paid,
				f.In == "yes" && !row.CheckedIn, f.In == "no" && row.CheckedIn:
				continue
			}
			values := make([]string, len(cols))
			hit := f.Q == ""
			for i, col := range cols {
				values[i] = row.Values[col.Key]
				hit = hit || strings.Contains(strings.ToLower(values[i]), f.Q)
			}
			if !hit {
				continue
			}
			matched++
			if len(out) == maxAdminRows {
				continue
			}
			pr := participantRow{ID: row.ID, Status: t(lang, "status."+string(row.Status)), Category: row.Category,
				Values: values, Restricted: row.Restricted, CheckedIn: t(lang, "admin.no"),
				Live: row.Status != registration.Cancelled && row.Status != registration.Expired, Who: cmp.Or(row.Values["name"], row.ID),
				Movable: len(e.Categories) > 1 && (row.Status == registration.Confirmed || row.Status == registration.PendingPayment)}
			if row.Payment != "" {
				pr.Payment = t(lang, "admin.payment."+string(row.Payment))
			}
			if row.CheckedIn {
				pr.CheckedIn = t(lang, "admin.yes")
			}
			out = append(out, pr)
		}
		var cats []fiber.Map
		for _, cat := range e.Categories {
			cats = append(cats, fiber.Map{"Key": cat.Key, "Name": cat.Name.In(lang), "Selected": cat.Key == f.Category})
		}
		var statuses []fiber.Map
		for _, st := range []registration.Status{registration.Confirmed, registration.PendingPayment, registration.Waitlisted,
			registration.Offered, registration.PendingGuardian, registration.Cancelled, registration.Expired} {
			statuses = append(statuses, fiber.Map{"Value": st, "Name": t(lang, "status."+string(st)), "Selected": string(st) == f.Status})
		}
		data["Heads"], data["Rows"], data["Matched"], data["Shown"] = heads, out, matched, len(out)
		data["Categories"], data["Statuses"], data["List"] = cats, statuses, true
		return as.render(c, "admin_event", lang, data)
	}
}

// handleAdminFinance lists invoices with a status filter, and takes a
// bank statement (camt.053/.054) to upload: what it matched, and what not
// and why.
func (as *adminState) handleAdminFinance() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		ctx := c.UserContext()
		data := fiber.Map{}
		if c.Method() == fiber.MethodPost {
			fh, err := c.FormFile("statement")
			if err != nil {
				data["UploadError"] = t(lang, "admin.finance.nofile")
			} else {
				f, err := fh.Open()
				if err != nil {
					return err
				}
				res, err := as.a.Payments.ImportStatement(ctx, io.LimitReader(f, 10<<20), p.Scope())
				f.Close()
				var se *payments.StatementError
				switch {
				case errors.As(err, &se):
					c.Status(fiber.StatusUnprocessableEntity)
					data["UploadError"] = t(lang, "admin.finance.badfile") + " " + se.Detail()
				case errors.Is(err, payments.ErrBadStatement):
					c.Status(fiber.StatusUnprocessableEntity)
					data["UploadError"] = t(lang, "admin.finance.badfile")
				case err != nil:
					return err
				default:
					data["Import"] = res
					var out []fiber.Map
					for _, be := range res.Unmatched {
						out = append(out, fiber.Map{"Date": be.Date.Format("02.01.2006"), "Ref": be.Ref, "KID": be.KID,
							"Amount": events.Money(be.Amount, be.Currency, lang)})
					}
					data["ImportUnmatched"] = out
				}
			}
		}
		return as.financePage(c, lang, data)
	}
}

// financePage renders the finance page with what data already holds (an
// import's result, an upload's or a match's fault).
func (as *adminState) financePage(c *fiber.Ctx, lang string, data fiber.Map) error {
	p, ctx := principal(c), c.UserContext()
	data["Page"], data["Title"] = "admin-finance", t(lang, "admin.finance")
	status, event := c.Query("status"), c.Query("event")
	invs, err := as.a.Invoices.List(ctx, payments.InvoiceQuery{Status: status, Event: event})
	if err != nil {
		return err
	}
	// The events the principal may see, to filter by and to scope the
	// downloads to (an account limited to some events names one).
	evs, err := as.a.Events.List(ctx)
	if err != nil {
		return err
	}
	var evRows []fiber.Map
	for _, e := range evs {
		if p.CanEvent(e.Slug) {
			evRows = append(evRows, fiber.Map{"Slug": e.Slug, "Name": e.Title.In(lang), "Selected": e.Slug == event})
		}
	}
	data["Events"] = evRows
	invs = slices.DeleteFunc(invs, func(inv payments.Invoice) bool { return !p.CanEvent(inv.Event) })
	slices.SortStableFunc(invs, func(a, b payments.Invoice) int { return cmp.Compare(b.Number, a.Number) })
	type invRow struct {
		Number                                int64
		Kind, Event, Buyer, Issued, Due       string
		Total, Paid, Status, KID, ReminderFee string
	}
	var rows []invRow
	for _, inv := range invs {
		if len(rows) == maxAdminRows {
			break
		}
		r := invRow{Number: inv.Number, Kind: t(lang, "admin.invoice."+inv.Kind), Event: inv.Event, Buyer: inv.Buyer.Name,
			Issued: inv.IssueDate.Format("02.01.2006"), Due: inv.DueDate.Format("02.01.2006"),
			Total: events.Money(inv.Total, inv.Currency, lang), Paid: events.Money(inv.PaidAmount, inv.Currency, lang),
			Status: t(lang, "admin.invoice.status."+inv.Status), KID: inv.KID}
		if inv.ReminderFee > 0 {
			r.ReminderFee = events.Money(inv.ReminderFee, inv.Currency, lang)
		}
		rows = append(rows, r)
	}
	var statuses []fiber.Map
	for _, st := range []string{payments.StatusOverdue, payments.InvoiceOpen, payments.InvoicePartiallyPaid, payments.InvoicePaid,
		payments.InvoiceOverpaid, payments.InvoiceCredited} {
		statuses = append(statuses, fiber.Map{"Value": st, "Name": t(lang, "admin.invoice.status."+st), "Selected": st == status})
	}
	data["Invoices"], data["Statuses"], data["Global"] = rows, statuses, p.Scope() == nil
	if p.Scope() == nil { // credits no invoice claimed belong to no event
		es, err := as.a.Payments.UnmatchedEntries(ctx)
		if err != nil {
			return err
		}
		type entryRow struct{ ID, Date, Ref, KID, Amount string }
		var ers []entryRow
		for _, be := range es {
			ers = append(ers, entryRow{ID: be.ID, Date: be.Date.Format("02.01.2006"), Ref: be.Ref, KID: be.KID, Amount: events.Money(be.Amount, be.Currency, lang)})
		}
		data["Entries"] = ers
	}
	now := as.a.Now().In(oslo)
	data["From"], data["To"] = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, oslo).Format("2006-01-02"), now.Format("2006-01-02")
	if n := c.QueryInt("matched"); n > 0 {
		data["Flash"] = fmt.Sprintf(t(lang, "admin.finance.matchedflash"), n)
	}
	return as.render(c, "admin_finance", lang, data)
}

// handleAdminPrivacy is the privacy contact's inbox: open requests by
// deadline, the ones due within a week marked, the actions taken, and a
// form to register one that came by e-mail or letter.
func (as *adminState) handleAdminPrivacy() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return as.privacyInbox(c, pageLang(c), fiber.Map{})
	}
}

func (as *adminState) privacyInbox(c *fiber.Ctx, lang string, data fiber.Map) error {
	p := principal(c)
	reqs, err := as.a.Requests.Requests(c.UserContext(), c.Query("all") == "yes", p.Scope())
	if err != nil {
		return err
	}
	type reqRow struct {
		ID, Type, Received, Deadline, Status, Actions string
		DaysLeft                                      int
		Soon, Overdue                                 bool
	}
	var rows []reqRow
	for _, r := range reqs {
		row := reqRow{ID: r.ID, Type: t(lang, "admin.request."+r.Type), Received: r.ReceivedAt.In(oslo).Format("02.01.2006"),
			Deadline: r.Deadline.In(oslo).Format("02.01.2006"), DaysLeft: r.DaysLeft, Overdue: r.Overdue,
			Soon: r.ClosedAt == nil && !r.Overdue && r.DaysLeft <= 7, Status: t(lang, "admin.request.open")}
		if r.ClosedAt != nil {
			row.Status = t(lang, "admin.request.closed")
		}
		var acts []string
		for _, a := range r.Actions {
			acts = append(acts, t(lang, "admin.action."+a.Action))
		}
		row.Actions = strings.Join(acts, ", ")
		rows = append(rows, row)
	}
	var types []fiber.Map
	for _, ty := range []string{"access", "portability", "rectification", "erasure", "restriction", "objection", "withdrawal"} {
		types = append(types, fiber.Map{"Value": ty, "Name": t(lang, "admin.request."+ty)})
	}
	data["Page"], data["Title"], data["Requests"], data["All"], data["Types"] = "admin-privacy", t(lang, "admin.privacy"), rows, c.Query("all") == "yes", types
	data["Today"] = as.a.Now().In(oslo).Format("2006-01-02")
	return as.render(c, "admin_privacy", lang, data)
}

// handleAdminStaff lists the staff accounts and invites one (admins).
func (as *adminState) handleAdminStaff() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		ctx := c.UserContext()
		data := fiber.Map{"Page": "admin-staff", "Title": t(lang, "admin.staff")}
		if f := flash(lang, "admin.staff.done.", c.Query("done")); f != "" {
			data["Flash"] = f
		}
		if c.Method() == fiber.MethodPost {
			req := staff.InviteRequest{Email: c.FormValue("email"), Name: c.FormValue("name"), Role: staff.Role(c.FormValue("role")),
				Partner: c.FormValue("partner")}
			for _, ev := range strings.Split(c.FormValue("events"), ",") {
				if ev = strings.TrimSpace(ev); ev != "" {
					req.Events = append(req.Events, ev)
				}
			}
			_, err := as.a.Staff.Invite(ctx, req, principal(c))
			msgs, invalid := fieldErrors(lang, err, func(f string) string { return t(lang, "admin.field."+strings.SplitN(f, "[", 2)[0]) })
			switch {
			case invalid:
				c.Status(fiber.StatusUnprocessableEntity)
				data["Errors"], data["In"] = msgs, req
			case errors.Is(err, staff.ErrAccountExists):
				c.Status(fiber.StatusConflict)
				data["Errors"], data["In"] = []string{t(lang, "admin.staff.exists")}, req
			case err != nil:
				return err
			default:
				data["Flash"] = t(lang, "admin.staff.invited")
			}
		}
		accts, err := as.a.Staff.Accounts(ctx)
		if err != nil {
			return err
		}
		type acctRow struct {
			ID, Email, Name, Role, Events string
			Disabled                      bool
		}
		var rows []acctRow
		for _, a := range accts {
			rows = append(rows, acctRow{ID: a.ID, Email: a.Email, Name: a.Name, Role: t(lang, "role."+string(a.Role)),
				Events: strings.Join(a.Events, ", "), Disabled: a.Disabled != nil})
		}
		var roles []fiber.Map
		for _, r := range staff.Roles {
			roles = append(roles, fiber.Map{"Value": r, "Name": t(lang, "role."+string(r)), "Selected": r == staff.Organiser})
		}
		data["Accounts"], data["Roles"] = rows, roles
		return as.render(c, "admin_staff", lang, data)
	}
}

// handleAdminAccount disables a staff account, or enables it again, by
// op (admins).
func (as *adminState) handleAdminAccount(op func(ctx context.Context, id string) error, done string, confirm bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		back := "/admin/staff?lang=" + pageLang(c) + "&done="
		if confirm && c.FormValue("confirm") != "yes" {
			return c.Redirect(back+"confirm_missing", fiber.StatusSeeOther)
		}
		if err := op(c.UserContext(), c.Params("id")); err != nil && !errors.Is(err, staff.ErrAccountNotFound) {
			return err
		}
		return c.Redirect(back+done, fiber.StatusSeeOther)
	}
}

// handleAdminCheckIn is the door: a ticket code typed (or read by the
// device's camera where the browser can, see assets/checkin.js) checks
// the participant in once, green with their name, or red with the reason.
func (as *adminState) handleAdminCheckIn() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		e, err := as.a.Events.Get(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		// The page's one script (the camera) is its own, from /assets.
		c.Set("Content-Security-Policy", strings.Replace(contentSecurityPolicy, "default-src 'none';", "default-src 'none'; script-src 'self';", 1))
		data := fiber.Map{"Page": "admin-checkin", "Title": t(lang, "admin.checkin") + ": " + e.Title.In(lang), "Slug": e.Slug}
		if c.Method() == fiber.MethodPost {
			code := strings.TrimSpace(c.FormValue("code"))
			arr, err := as.a.CheckIns.CheckIn(c.UserContext(), e.Slug, code, p.ID)
			switch {
			case code == "" || len(code) > 100 || errors.Is(err, registration.ErrTicketInvalid):
				data["Red"] = t(lang, "admin.checkin.invalid")
			case errors.Is(err, registration.ErrTicketCancelled):
				data["Red"] = t(lang, "admin.checkin.cancelled")
			case errors.Is(err, registration.ErrTicketUnpaid):
				data["Red"] = t(lang, "admin.checkin.unpaid")
			case errors.Is(err, registration.ErrTicketNoSeat):
				data["Red"] = t(lang, "admin.checkin.noseat")
			case err != nil:
				return err
			case arr.Again:
				data["Red"] = fmt.Sprintf(t(lang, "admin.checkin.again"), arr.Name, arr.CheckIn.At.In(oslo).Format("15:04"))
			default:
				data["Green"] = arr.Name
				data["Category"] = arr.Category
			}
			if data["Red"] != nil {
				c.Status(fiber.StatusUnprocessableEntity)
			}
		}
		return as.render(c, "admin_checkin", lang, data)
	}
}

// handleAdminDoorList is the door list to print: everyone who may come
// in, by name, with a box to tick (logged as a disclosure of the names).
func (as *adminState) handleAdminDoorList() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		e, err := as.a.Events.Get(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		entries, err := as.a.CheckIns.DoorList(c.UserContext(), e, p.ID)
		if err != nil {
			return err
		}
		type doorRow struct{ Name, Category, At string }
		var rows []doorRow
		for _, en := range entries {
			r := doorRow{Name: en.Name, Category: en.Category}
			if en.CheckedIn != nil {
				r.At = en.CheckedIn.In(oslo).Format("15:04")
			}
			rows = append(rows, r)
		}
		return as.render(c, "admin_doorlist", lang, fiber.Map{"Page": "admin-doorlist", "Title": t(lang, "admin.doorlist") + ": " + e.Title.In(lang),
			"Entries": rows, "Slug": e.Slug})
	}
}

// handleAdminMatch matches a credit no invoice claimed to the invoice
// finance names (a token of every event: such credits belong to none).
func (as *adminState) handleAdminMatch() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		if p.Scope() != nil {
			return staff.ErrForbidden
		}
		n, err := strconv.ParseInt(strings.TrimSpace(c.FormValue("invoice")), 10, 64)
		if err == nil {
			_, err = as.a.Payments.MatchEntry(c.UserContext(), c.FormValue("entry"), n, nil)
		}
		var reason string
		switch {
		case err == nil:
			return c.Redirect("/admin/finance?lang="+lang+"&matched="+strconv.FormatInt(n, 10), fiber.StatusSeeOther)
		case errors.Is(err, strconv.ErrSyntax) || errors.Is(err, strconv.ErrRange) || errors.Is(err, payments.ErrInvoiceNotFound):
			reason = t(lang, "admin.finance.noinvoice")
		case errors.Is(err, payments.ErrEntryMatched) || errors.Is(err, payments.ErrEntryNotFound):
			reason = t(lang, "admin.finance.entrygone")
		default:
			return err
		}
		c.Status(fiber.StatusUnprocessableEntity)
		return as.financePage(c, lang, fiber.Map{"MatchError": reason})
	}
}

// handleAdminParticipant does an organiser's action on one registration:
// cancel it (with its refund or credit note, as the participant's own
// cancellation would; ticked to confirm) or mail the participant a new
// link to their registration.
func (as *adminState) handleAdminParticipant() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		ctx := c.UserContext()
		back := "/admin/events/" + c.Params("slug") + "?lang=" + lang
		reg, err := as.a.Signups.Get(ctx, c.Params("slug"), c.Params("id"))
		if err != nil {
			return err
		}
		done := ""
		switch {
		case c.Params("action") == "cancel" && c.FormValue("confirm") != "yes":
			done = "confirm_missing"
		case c.Params("action") == "cancel":
			if _, err := as.a.Cancel(ctx, reg); err != nil && !errors.Is(err, registration.ErrNotCancellable) {
				return err
			} else if err == nil {
				done = "cancelled"
			}
		case c.Params("action") == "move":
			_, err := as.a.Signups.Move(ctx, reg, c.FormValue("category"))
			if done = moveOutcome(err); done == "" {
				return err
			}
		case c.Params("action") == "link":
			sent, err := as.a.Rights.ResendLink(ctx, reg)
			if err != nil {
				return err
			}
			if sent {
				done = "link"
			} else {
				done = "link_recent"
			}
		}
		if done != "" {
			back += "&done=" + done
		}
		return c.Redirect(back, fiber.StatusSeeOther)
	}
}

// moveOutcome names what a move to another category came to, for the
// event page's flash; "" for an error that is not the participant's or
// the staff member's to mend.
func moveOutcome(err error) string {
	var soldOut *events.SoldOutError
	switch {
	case err == nil:
		return "moved"
	case errors.As(err, &soldOut):
		return "move_full"
	case errors.Is(err, registration.ErrPriceDiffers):
		return "move_price"
	case errors.Is(err, registration.ErrMoveAddon):
		return "move_addon"
	case errors.Is(err, registration.ErrMoveAge):
		return "move_age"
	case errors.Is(err, registration.ErrMoveNotAllowed), errors.Is(err, events.ErrNoCategory):
		return "move_not"
	}
	return ""
}

// handleAdminMessage is the form that e-mails an event's participants:
// queued in each one's outbox (not to those whose processing is
// restricted), sent from the organiser.
func (as *adminState) handleAdminMessage() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang, p := pageLang(c), principal(c)
		e, err := as.a.Events.Get(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		data := fiber.Map{"Page": "admin-message", "Title": t(lang, "admin.message") + ": " + e.Title.In(lang), "Slug": e.Slug,
			"In": registration.MessageRequest{To: "confirmed"}}
		if c.Method() == fiber.MethodPost {
			req := registration.MessageRequest{Subject: c.FormValue("subject"), Text: c.FormValue("text"), To: c.FormValue("to")}
			n, err := as.a.Mailer.QueueMessage(c.UserContext(), e.Slug, req, p.ID)
			if msgs, invalid := fieldErrors(lang, err, func(f string) string { return t(lang, "admin.message."+f) }); invalid {
				c.Status(fiber.StatusUnprocessableEntity)
				data["Errors"], data["In"] = msgs, req
				return as.render(c, "admin_message", lang, data)
			}
			if err != nil {
				return err
			}
			return c.Redirect(fmt.Sprintf("/admin/events/%s?lang=%s&done=message&n=%d", e.Slug, lang, n), fiber.StatusSeeOther)
		}
		return as.render(c, "admin_message", lang, data)
	}
}

// handleAdminCancelEvent cancels an event, ticked to confirm: sign-up
// closes, every registration is cancelled, card payments refunded and
// invoices credited (what the request's time does not finish, the
// settlement job does; the event page shows how far it has come).
func (as *adminState) handleAdminCancelEvent() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		back := "/admin/events/" + c.Params("slug") + "?lang=" + lang
		if c.FormValue("confirm") != "yes" {
			return c.Redirect(back+"&done=confirm_missing", fiber.StatusSeeOther)
		}
		if _, err := as.a.CancelEvent(c.UserContext(), c.Params("slug")); err != nil {
			return err
		}
		return c.Redirect(back+"&done=event_cancelled", fiber.StatusSeeOther)
	}
}
