package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/payments"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Limits are the abuse limits, per client address and per instance.
type Limits struct {
	// SignupsPerMinute limits public form posts (sign-ups); 0 turns it off.
	SignupsPerMinute int
	// AuthFailuresPerMinute limits failed token authentications; a client
	// past it is refused before its token is even looked at.
	AuthFailuresPerMinute int
	// TrustedProxies may set X-Forwarded-For; from anyone else it is
	// ignored, so it cannot be spoofed.
	TrustedProxies []netip.Prefix
}

// ParseProxies reads "10.0.0.1, 10.1.0.0/16" into prefixes.
func ParseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			a, err := netip.ParseAddr(p)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, err
		}
		out = append(out, pr.Masked())
	}
	return out, nil
}

func (l Limits) trusted(a netip.Addr) bool {
	for _, p := range l.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// clientIP is the address of the client: the connection's, unless it
// comes from a trusted proxy; then X-Forwarded-For is read from the right,
// past the trusted proxies, so entries a client wrote itself on the left
// are never taken.
func (l Limits) clientIP(c *fiber.Ctx) string {
	host, _, err := net.SplitHostPort(c.Context().RemoteAddr().String())
	if err != nil {
		host = c.Context().RemoteAddr().String()
	}
	remote, err := netip.ParseAddr(host)
	if err != nil || !l.trusted(remote) {
		return host
	}
	hops := strings.Split(c.Get(fiber.HeaderXForwardedFor), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !l.trusted(a) {
			return a.String()
		}
	}
	return host
}

// warnUntrustedForwarding logs once when requests carry X-Forwarded-For
// but no proxy is trusted: behind a reverse proxy every client then has
// the proxy's address, and the limits are shared by everyone.
func (l Limits) warnUntrustedForwarding(log *slog.Logger) fiber.Handler {
	var once sync.Once
	return func(c *fiber.Ctx) error {
		if len(l.TrustedProxies) == 0 && c.Get(fiber.HeaderXForwardedFor) != "" {
			once.Do(func() {
				log.WarnContext(c.UserContext(), "requests carry X-Forwarded-For but PAMELDING_TRUSTED_PROXIES is empty: every client behind the proxy shares one address for the rate limits; set it to the proxy's address")
			})
		}
		return c.Next()
	}
}

func rateLimited(c *fiber.Ctx) error {
	return problem(fiber.StatusTooManyRequests, "rate_limited", "Too many requests from this address; wait a little (see Retry-After).")
}

// signupLimit limits public posts per client address.
func (l Limits) signupLimit() fiber.Handler {
	if l.SignupsPerMinute <= 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return limiter.New(limiter.Config{
		Max: l.SignupsPerMinute, Expiration: time.Minute,
		KeyGenerator:      l.clientIP,
		LimitReached:      rateLimited,
		LimiterMiddleware: limiter.SlidingWindow{},
	})
}

// authGuard limits failed authentications without ever refusing a valid
// credential. Tokens are 256-bit secrets, so guessing one is hopeless; the
// limit keeps scanners and broken clients off the store and tells them to
// back off. Two counts, both shared by every instance through the store
// (WebState, swept by its job) and keyed by an HMAC, never a raw address
// or token:
//
//   - the failing credential from one address backs off exponentially:
//     after 3 failures it is refused for 1 s, then 2 s, 4 s, … up to 15
//     minutes, before it is even looked up;
//   - an address past AuthFailuresPerMinute failures gets 429 instead of
//     401 for the rest of the minute, but only for credentials that fail:
//     a valid token from the same address (the admin behind the same
//     proxy) is looked up and let through.
type authGuard struct {
	limits Limits
	c      *mongodb.Collection
	key    []byte
	now    func() time.Time
	log    *slog.Logger

	mu      sync.Mutex
	blocked map[string]time.Time // credential key -> refused until
}

const (
	// freeFailures a credential may fail before it backs off.
	freeFailures = 3
	// maxBackoff is the longest a failing credential is refused.
	maxBackoff = 15 * time.Minute
)

func newAuthGuard(d Deps) *authGuard {
	return &authGuard{
		limits: d.Limits, c: d.App.Store.Collection(mongodb.WebState),
		key: d.App.Keys.Derive("pamelding auth failures v1"), now: time.Now, log: d.App.Log,
		blocked: map[string]time.Time{},
	}
}

func (g *authGuard) on() bool { return g != nil && g.limits.AuthFailuresPerMinute > 0 }

func (g *authGuard) mac(parts ...string) string {
	m := hmac.New(sha256.New, g.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func (g *authGuard) credential(c *fiber.Ctx, token string) string {
	return g.mac("credential", g.limits.clientIP(c), token)
}

// check runs before the lookup: a credential that failed from this
// address and is backing off is refused. A valid credential never failed,
// so it is never refused here.
func (g *authGuard) check(c *fiber.Ctx, token string) error {
	if !g.on() {
		return nil
	}
	k := g.credential(c, token)
	g.mu.Lock()
	until, ok := g.blocked[k]
	g.mu.Unlock()
	if now := g.now(); ok && now.Before(until) {
		return tooManyFailures(c, until.Sub(now))
	}
	return nil
}

type failureDoc struct {
	N int `bson:"n"`
}

// failed counts a failed authentication and returns the 429 to answer
// instead of 401, or nil. The counts are the store's, so they hold behind
// a load balancer; if the store cannot count, the 401 stands.
func (g *authGuard) failed(c *fiber.Ctx, token string) error {
	if !g.on() {
		return nil
	}
	ctx, now := c.UserContext(), g.now().UTC()
	minute := now.Truncate(time.Minute)
	perAddress, err := g.count(ctx, "authfail:a:"+g.mac("address", g.limits.clientIP(c))+":"+strconv.FormatInt(minute.Unix(), 10), minute.Add(2*time.Minute))
	if err != nil {
		g.log.WarnContext(ctx, "auth failure not counted", "err", err)
		return nil
	}
	k := g.credential(c, token)
	perCredential, err := g.count(ctx, "authfail:c:"+k, now.Add(time.Hour))
	if err != nil {
		g.log.WarnContext(ctx, "auth failure not counted", "err", err)
		return nil
	}
	if perCredential > freeFailures {
		wait := min(time.Second<<min(perCredential-freeFailures-1, 20), maxBackoff)
		g.mu.Lock()
		if len(g.blocked) > 10000 {
			for k, until := range g.blocked {
				if !now.Before(until) {
					delete(g.blocked, k)
				}
			}
		}
		g.blocked[k] = now.Add(wait)
		g.mu.Unlock()
		return tooManyFailures(c, wait)
	}
	if perAddress > g.limits.AuthFailuresPerMinute {
		return tooManyFailures(c, minute.Add(time.Minute).Sub(now))
	}
	return nil
}

// count adds one to a shared counter and returns it.
func (g *authGuard) count(ctx context.Context, id string, expires time.Time) (int, error) {
	_, err := g.c.UpdateOne(ctx, bson.M{"_id": id},
		bson.M{"$inc": bson.M{"n": 1}, "$set": bson.M{"expiresAt": expires}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return 0, err
	}
	var d failureDoc
	err = g.c.FindOne(ctx, bson.M{"_id": id}, &d)
	return d.N, err
}

func tooManyFailures(c *fiber.Ctx, wait time.Duration) error {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Round(time.Second)/time.Second)+1))
	return problem(fiber.StatusTooManyRequests, "rate_limited", "Too many failed authentications; wait a little (see Retry-After).")
}

// Body limits by route: nothing for reads, a bank statement or a Stripe
// event where those are posted, 64 KiB (maxJSONBody) for everything else.
// The server reads at most maxJSONBody before a handler runs
// (StreamRequestBody); limitBody reads the rest only up to the route's
// limit, so an unauthenticated client cannot make it hold megabytes.
func bodyLimitFor(method, path string) int {
	switch {
	case method == fiber.MethodGet || method == fiber.MethodHead || method == fiber.MethodOptions:
		return 0
	case method == fiber.MethodPost && path == "/api/v1/finance/bank-statements":
		return payments.MaxStatement
	case method == fiber.MethodPost && path == "/api/v1/payments/stripe/webhook":
		return payments.MaxWebhookBody
	}
	return maxJSONBody
}

func limitBody(c *fiber.Ctx) error {
	max := bodyLimitFor(c.Method(), c.Path())
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		// Compressed bodies are not taken: a small one can unpack to
		// gigabytes.
		return problem(fiber.StatusUnsupportedMediaType, "unsupported_media_type", "Send the body uncompressed.")
	}
	req := c.Request()
	if max > maxJSONBody {
		// A large body (a bank statement) is read by its handler, after
		// authentication: an anonymous client cannot make the server
		// hold megabytes. Past the first 64 KiB it stays unread until
		// then, so the connection is not reused.
		if n := req.Header.ContentLength(); n > max {
			c.Context().SetConnectionClose()
			return tooLarge(max)
		}
		c.Context().SetConnectionClose()
		return c.Next()
	}
	if n := req.Header.ContentLength(); n > max {
		// The body is left unread, so the connection cannot carry
		// another request.
		c.Context().SetConnectionClose()
		return tooLarge(max)
	}
	if s := c.Context().RequestBodyStream(); s != nil {
		b, err := io.ReadAll(io.LimitReader(s, int64(max)+1))
		if err != nil {
			return problem(fiber.StatusBadRequest, "bad_body", "The body could not be read.")
		}
		if len(b) > max {
			c.Context().SetConnectionClose()
			return tooLarge(max)
		}
		req.SetBody(b)
	}
	return c.Next()
}

func tooLarge(max int) error {
	if max == 0 {
		return problem(fiber.StatusRequestEntityTooLarge, "too_large", "This route takes no body.")
	}
	return problem(fiber.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("The body is larger than this route takes (%d KiB).", max>>10))
}

// requestBody is the body of a route whose handler reads it (see
// limitBody): streamed when it was larger than what is read up front.
// The reader's consumer bounds what it reads.
func requestBody(c *fiber.Ctx) io.Reader {
	if s := c.Context().RequestBodyStream(); s != nil {
		return s
	}
	return bytes.NewReader(c.BodyRaw())
}
