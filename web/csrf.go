package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"regexp"

	"github.com/gofiber/fiber/v2"
)

// csrfCookie holds the random value the pages' CSRF tokens are signed
// from.
const csrfCookie = "pamelding_csrf"

// csrfGuard protects the pages' forms with a signed double-submit token
// (OWASP's recommended stateless pattern): the browser gets 256 random
// bits in an HttpOnly, SameSite=Strict cookie, every form carries their
// HMAC under a key derived from the master key, and a form post whose
// token is not the HMAC of its own cookie is refused. Nothing is stored,
// so a page view costs no store write and any instance checks any token;
// another site can neither read the cookie nor make the token.
type csrfGuard struct {
	key    []byte
	secure bool
	deny   fiber.Handler
}

func (g *csrfGuard) token(value string) string {
	m := hmac.New(sha256.New, g.key)
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// formToken is the token of one sign-up form (its path and one-time
// submission id), for a browser that keeps no cookie for this site: a
// form framed on an organiser's site (third-party cookies are blocked or
// SameSite-withheld there).
func (g *csrfGuard) formToken(path, submission string) string {
	return g.token("form\x00" + path + "\x00" + submission)
}

// signupPath is a sign-up form's address: /e/{slug}.
var signupPath = regexp.MustCompile(`^/e/[a-z0-9-]{1,64}$`)

// handle sets the cookie on a first visit and the form token for the
// page (Locals "csrf"), and refuses an unsafe request without a valid one.
//
// A sign-up post that comes without the cookie may instead carry its
// form's own token (formToken). Signing up needs no authority (the API
// takes it from anyone), so that token proves only that the form was
// ours; such a post is marked "cookieless" and starts no session, so
// another site cannot sign a visitor's browser in to a registration it
// made (login CSRF).
func (g *csrfGuard) handle(c *fiber.Ctx) error {
	c.Locals("csrfGuard", g)
	value := c.Cookies(csrfCookie)
	if b, err := base64.RawURLEncoding.DecodeString(value); err != nil || len(b) != 32 {
		value = ""
	}
	if value == "" && c.Method() == fiber.MethodPost && signupPath.MatchString(c.Path()) {
		sub := c.FormValue("submission")
		if sub != "" && len(sub) <= 64 && hmac.Equal([]byte(c.FormValue("_form")), []byte(g.formToken(c.Path(), sub))) {
			c.Locals("cookieless", true)
			return c.Next()
		}
	}
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions, fiber.MethodTrace:
		if value == "" {
			b := make([]byte, 32)
			_, _ = rand.Read(b)
			value = base64.RawURLEncoding.EncodeToString(b)
			c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: value, Path: "/", HTTPOnly: true, Secure: g.secure,
				SameSite: fiber.CookieSameSiteStrictMode, SessionOnly: true})
		}
	default:
		if value == "" || !hmac.Equal([]byte(c.FormValue("_csrf")), []byte(g.token(value))) {
			return g.deny(c)
		}
	}
	c.Locals("csrf", g.token(value))
	return c.Next()
}
