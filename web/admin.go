package web

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/session"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/staff"
)

// The back office (/admin): server-rendered pages for staff, in the
// participant pages' style (no scripts, CSRF on every form). A staff
// member signs in with a link mailed to their account's address, or with
// a staff token (the first admin, automation); the session is kept in the
// store like the participants' (hashed id, SameSite=Strict, HttpOnly),
// ends after adminIdle without a request and adminAbsolute after sign-in,
// and acts as the account's (or token's) principal, which every request
// re-reads: a disabled account or revoked token ends it at once. The
// access log names the acting account on every request.

const (
	adminCookie   = "pamelding_admin"
	adminIdle     = 30 * time.Minute
	adminAbsolute = 12 * time.Hour
	// Session keys: the account's id, or the hash of the token signed in
	// with; when the session began.
	adminAccount = "account"
	adminToken   = "token"
	adminSince   = "since"
	adminSeen    = "seen"
)

// adminState holds the back office's sessions.
type adminState struct {
	sessions *session.Store
	a        *app.App
	cfg      Config
}

func newAdminState(d Deps, ps *pageState) *adminState {
	return &adminState{
		sessions: session.New(session.Config{
			Storage: ps.store, Expiration: adminIdle, KeyLookup: "cookie:" + adminCookie, CookiePath: "/admin",
			CookieHTTPOnly: true, CookieSameSite: "Strict", CookieSecure: strings.HasPrefix(d.Config.PublicURL, "https://"),
			CookieSessionOnly: true,
		}),
		a: d.App, cfg: d.Config,
	}
}

// principal is who the session acts for, or ok false (no session, or
// one that ended). A session in use is saved again, so its idle expiry
// moves on.
func (as *adminState) principal(c *fiber.Ctx) (staff.Principal, bool, error) {
	sess, err := as.sessions.Get(c)
	if err != nil {
		return staff.Principal{}, false, err
	}
	// Both expiries by the service's clock (the store's own expiry of the
	// session, by the wall clock, is only a backstop).
	now := as.a.Now()
	since, _ := sess.Get(adminSince).(int64)
	seen, _ := sess.Get(adminSeen).(int64)
	if sess.Fresh() || since == 0 || now.Sub(time.Unix(since, 0)) > adminAbsolute || now.Sub(time.Unix(seen, 0)) > adminIdle {
		if !sess.Fresh() {
			_ = sess.Destroy()
		}
		return staff.Principal{}, false, nil
	}
	var p staff.Principal
	if id, _ := sess.Get(adminAccount).(string); id != "" {
		p, err = as.a.Staff.AccountPrincipal(c.UserContext(), id)
	} else if h, _ := sess.Get(adminToken).(string); h != "" {
		p, err = as.a.Staff.AuthenticateHash(c.UserContext(), h)
	} else {
		err = staff.ErrUnauthenticated
	}
	if errors.Is(err, staff.ErrUnauthenticated) {
		_ = sess.Destroy()
		return staff.Principal{}, false, nil
	}
	if err != nil {
		return staff.Principal{}, false, err
	}
	sess.Set(adminSeen, now.Unix())
	return p, true, sess.Save()
}

// signIn starts a fresh session (a new id: a planted one is worthless)
// for an account (key adminAccount) or a token's hash (adminToken).
func (as *adminState) signIn(c *fiber.Ctx, key, value string) error {
	sess, err := freshSession(as.sessions, c)
	if err != nil {
		return err
	}
	sess.Delete(adminAccount)
	sess.Delete(adminToken)
	sess.Set(key, value)
	sess.Set(adminSince, as.a.Now().Unix())
	sess.Set(adminSeen, as.a.Now().Unix())
	return sess.Save()
}

// adminPage lets through a signed-in staff member of one of the roles
// (none: any role), with the principal in the request's locals (and so in
// the access log); without a session it sends the browser to sign in, a
// role not allowed gets 403.
func (as *adminState) adminPage(roles ...staff.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, ok, err := as.principal(c)
		if err != nil {
			return err
		}
		if !ok {
			return c.Redirect("/admin/signin?lang="+pageLang(c), fiber.StatusSeeOther)
		}
		c.Locals(localPrincipal, p)
		if len(roles) > 0 && !p.Is(roles...) {
			return as.forbidden(c, pageLang(c))
		}
		return c.Next()
	}
}

// forbidden is the page of a role or scope that does not reach it.
func (as *adminState) forbidden(c *fiber.Ctx, lang string) error {
	return as.render(c.Status(fiber.StatusForbidden), "message", lang, fiber.Map{"Title": t(lang, "admin.forbidden"),
		"Paragraphs": []string{t(lang, "admin.forbidden.text")}})
}

// adminEvent checks the principal's scope covers the :slug event.
func (as *adminState) adminEvent(c *fiber.Ctx) error {
	if !principal(c).CanEvent(c.Params("slug")) {
		return as.forbidden(c, pageLang(c))
	}
	return c.Next()
}

// navItem is a link of the back office's menu.
type navItem struct {
	Href, Text string
	Current    bool
}

// wholeBooks lets on only a principal not limited to some events: what
// spans every event (the journal) is not for an account of a few.
func (as *adminState) wholeBooks(c *fiber.Ctx) error {
	if principal(c).Scope() != nil {
		return as.forbidden(c, pageLang(c))
	}
	return c.Next()
}

// render renders a back office page: the menu the principal's role
// reaches, and who is signed in.
func (as *adminState) render(c *fiber.Ctx, name, lang string, data fiber.Map) error {
	p := principal(c)
	if p.Role != "" {
		var nav []navItem
		add := func(href, key string, roles ...staff.Role) {
			if p.Is(roles...) {
				nav = append(nav, navItem{Href: href + "?lang=" + lang, Text: t(lang, key),
					Current: c.Path() == href || (href != "/admin" && strings.HasPrefix(c.Path(), href+"/"))})
			}
		}
		add("/admin", "admin.nav.events", staff.Admin, staff.Organiser, staff.Catering, staff.Finance, staff.Privacy, staff.CheckIn, staff.Partner)
		add("/admin/finance", "admin.nav.finance", staff.Admin, staff.Finance)
		add("/admin/privacy", "admin.nav.privacy", staff.Admin, staff.Privacy)
		add("/admin/staff", "admin.nav.staff", staff.Admin)
		data["Nav"], data["Who"] = nav, fmt.Sprintf(t(lang, "admin.who"), p.Name, t(lang, "role."+string(p.Role)))
	}
	data["Admin"] = true
	return render(c, name, lang, data)
}

// handleAdminSignIn is the sign-in page: an e-mail address gets a link
// (the answer is the same whether or not it has an account), or a staff
// token signs in at once.
func (as *adminState) handleAdminSignIn() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		data := fiber.Map{"Page": "admin-signin", "Title": t(lang, "admin.signin")}
		if c.Method() == fiber.MethodPost {
			switch {
			case c.FormValue("token") != "":
				h := staff.TokenHash(strings.TrimSpace(c.FormValue("token")))
				if _, err := as.a.Staff.AuthenticateHash(c.UserContext(), h); err == nil {
					if err := as.signIn(c, adminToken, h); err != nil {
						return err
					}
					return c.Redirect("/admin?lang="+lang, fiber.StatusSeeOther)
				} else if !errors.Is(err, staff.ErrUnauthenticated) {
					return err
				}
				c.Status(fiber.StatusUnauthorized)
				data["TokenError"] = t(lang, "admin.signin.badtoken")
			case c.FormValue("email") != "":
				err := as.a.MailSignInLink(c.UserContext(), c.FormValue("email"), lang)
				if errors.Is(err, app.ErrNoSender) {
					// Said for every address: it tells nothing about accounts.
					c.Status(fiber.StatusServiceUnavailable)
					data["EmailError"] = t(lang, "admin.signin.nomail")
					return as.render(c, "admin_signin", lang, data)
				}
				if err != nil {
					return err
				}
				return as.render(c, "message", lang, fiber.Map{"Page": "admin-link-sent", "Title": t(lang, "admin.signin"),
					"Paragraphs": []string{t(lang, "admin.signin.sent")}})
			}
		}
		return as.render(c, "admin_signin", lang, data)
	}
}

// handleAdminLink is the page a mailed sign-in link opens: one click (a
// POST with the page's CSRF token) signs in, so a link fetched by another
// site or a mail scanner signs nobody in, and uses it up.
func (as *adminState) handleAdminLink() fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := pageLang(c)
		c.Set(fiber.HeaderCacheControl, "no-store")
		if c.Method() != fiber.MethodPost {
			if _, err := as.a.Staff.CheckLink(c.UserContext(), c.Params("link")); err != nil {
				return as.linkFailed(c, lang, err)
			}
			return as.render(c, "confirm", lang, fiber.Map{"Page": "admin-link", "Title": t(lang, "admin.signin"),
				"Text": t(lang, "admin.link.text"), "Action": c.Path() + "?lang=" + lang, "Button": t(lang, "admin.link.button"), "ButtonID": "open",
				"SwitchURL": ""})
		}
		acct, err := as.a.Staff.RedeemLink(c.UserContext(), c.Params("link"))
		if err != nil {
			return as.linkFailed(c, lang, err)
		}
		if err := as.signIn(c, adminAccount, acct.ID); err != nil {
			return err
		}
		c.Locals(localPrincipal, acct.Principal())
		return c.Redirect("/admin?lang="+lang, fiber.StatusSeeOther)
	}
}

func (as *adminState) linkFailed(c *fiber.Ctx, lang string, err error) error {
	if !errors.Is(err, staff.ErrLinkInvalid) {
		return err
	}
	return as.render(c.Status(fiber.StatusNotFound), "message", lang, fiber.Map{"Page": "admin-link-expired", "Title": t(lang, "admin.signin"),
		"Paragraphs": []string{t(lang, "admin.link.expired")}, "Link": "/admin/signin?lang=" + lang, "LinkText": t(lang, "admin.signin.again"), "SwitchURL": ""})
}

// handleAdminSignOut ends the session.
func (as *adminState) handleAdminSignOut() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if sess, err := as.sessions.Get(c); err == nil {
			_ = sess.Destroy()
		}
		return c.Redirect("/admin/signin?lang="+pageLang(c), fiber.StatusSeeOther)
	}
}
