package web

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"golang.org/x/time/rate"
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

// authGuard refuses clients that failed authentication too often.
type authGuard struct {
	limits Limits
	mu     sync.Mutex
	by     map[string]*rate.Limiter
	swept  time.Time
}

func newAuthGuard(l Limits) *authGuard {
	return &authGuard{limits: l, by: map[string]*rate.Limiter{}}
}

func (g *authGuard) limiter(ip string) *rate.Limiter {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := time.Now(); now.Sub(g.swept) > 10*time.Minute {
		// Full buckets are forgotten: their clients are in good standing.
		for k, lim := range g.by {
			if lim.Tokens() >= float64(lim.Burst()) {
				delete(g.by, k)
			}
		}
		g.swept = now
	}
	lim, ok := g.by[ip]
	if !ok {
		n := g.limits.AuthFailuresPerMinute
		lim = rate.NewLimiter(rate.Every(time.Minute/time.Duration(n)), n)
		g.by[ip] = lim
	}
	return lim
}

// check runs before authentication: a client out of failures is refused.
func (g *authGuard) check(c *fiber.Ctx) error {
	if g == nil || g.limits.AuthFailuresPerMinute <= 0 {
		return nil
	}
	if lim := g.limiter(g.limits.clientIP(c)); lim.Tokens() < 1 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(time.Minute/time.Duration(g.limits.AuthFailuresPerMinute)/time.Second)+1))
		return rateLimited(c)
	}
	return nil
}

// failed counts a failed authentication.
func (g *authGuard) failed(c *fiber.Ctx) {
	if g == nil || g.limits.AuthFailuresPerMinute <= 0 {
		return
	}
	g.limiter(g.limits.clientIP(c)).Allow()
}
