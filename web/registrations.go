package web

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/metrics"
	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
)

func handleSignup(s *registration.Signups, m *metrics.Metrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req registration.SignupRequest
		if err := decodeJSON(c, &req); err != nil {
			countSignup(m, nil, err)
			return err
		}
		key, err := submissionKey(c)
		if err != nil {
			return err
		}
		req.SubmissionKey = key
		res, err := s.Signup(c.UserContext(), c.Params("slug"), req, registration.API)
		countSignup(m, res, err)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		if res.Resubmitted {
			// A retry: the registration the first request made.
			return c.JSON(res)
		}
		return c.Status(fiber.StatusCreated).JSON(res)
	}
}

// submissionKey is a creating request's Idempotency-Key, which the
// domain also keeps (hashed) to find the first of retries.
func submissionKey(c *fiber.Ctx) (string, error) {
	key := c.Get("Idempotency-Key")
	if len(key) > 255 {
		return "", problem(fiber.StatusBadRequest, "bad_header", "Idempotency-Key is at most 255 characters.")
	}
	return key, nil
}

// audience is the list a staff role may read.
func audience(p staff.Principal) registration.Audience {
	switch p.Role {
	case staff.Catering:
		return registration.CateringStaff
	case staff.Finance:
		return registration.FinanceStaff
	}
	return registration.Organisers
}

type registrationPage struct {
	Registrations []registration.Row `json:"registrations"`
	Columns       []string           `json:"columns"`
	Offset        int64              `json:"offset"`
	Limit         int64              `json:"limit"`
	Total         int64              `json:"total"`
}

const maxPage = 500

// handleListRegistrations answers JSON pages (?offset=&limit=, at most
// 500) or, with ?format=csv or Accept: text/csv, the whole list as CSV
// streamed from the store. Columns depend on the role (see
// registration.Columns); health data only ever reaches catering.
func handleListRegistrations(ev *events.Service, s *registration.Lists) fiber.Handler {
	return func(c *fiber.Ctx) error {
		e, err := ev.Get(c.UserContext(), c.Params("slug"))
		if err != nil {
			return err
		}
		a := audience(principal(c))
		cols := registration.Columns(e, a)
		if c.Query("format") == "csv" || strings.HasPrefix(c.Get(fiber.HeaderAccept), "text/csv") {
			w, err := newSheetWriter(c, c)
			if err != nil {
				return err
			}
			rows, err := s.List(c.UserContext(), e, a, registration.ListQuery{}, principal(c).ID)
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
			c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+e.Slug+`-registrations.csv"`)
			c.Set(fiber.HeaderCacheControl, "no-store")
			header := []string{"id", "status", "created_at"}
			for _, col := range cols {
				header = append(header, col.Key)
			}
			if err := w.Write(header); err != nil {
				return err
			}
			for row, err := range rows {
				if err != nil {
					return err
				}
				rec := []string{row.ID, string(row.Status), row.CreatedAt.Format("2006-01-02T15:04:05Z")}
				for _, col := range cols {
					rec = append(rec, row.Values[col.Key])
				}
				if err := w.Write(rec); err != nil {
					return err
				}
			}
			w.Flush()
			return w.Error()
		}

		q := registration.ListQuery{Limit: 100}
		if v := c.Query("limit"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 || n > maxPage {
				return problem(fiber.StatusBadRequest, "bad_query", "limit must be 1 to 500.")
			}
			q.Limit = n
		}
		if v := c.Query("offset"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return problem(fiber.StatusBadRequest, "bad_query", "offset must be 0 or more.")
			}
			q.Offset = n
		}
		rows, err := s.List(c.UserContext(), e, a, q, principal(c).ID)
		if err != nil {
			return err
		}
		page := registrationPage{Registrations: []registration.Row{}, Offset: q.Offset, Limit: q.Limit}
		for _, col := range cols {
			page.Columns = append(page.Columns, col.Key)
		}
		for row, err := range rows {
			if err != nil {
				return err
			}
			page.Registrations = append(page.Registrations, row)
		}
		if page.Total, err = s.Count(c.UserContext(), e.Slug); err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(page)
	}
}

// countSignup counts a sign-up by its outcome: the status it got, or the
// problem code it was refused with.
func countSignup(m *metrics.Metrics, res *registration.Result, err error) {
	if m == nil {
		return
	}
	outcome := "error"
	switch {
	case err == nil:
		outcome = string(res.Status)
	default:
		if p, internal := toProblem(err); !internal {
			outcome = p.Code
		}
	}
	m.Registrations.WithLabelValues(outcome).Inc()
}
