package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/pamelding/pamelding/privacy"
)

// Codes of a refused destination, in a problem's errors (field url) and
// as a delivery's lastError.
const (
	// CodeHTTPSRequired: plain HTTP without PAMELDING_WEBHOOKS_ALLOW_HTTP.
	CodeHTTPSRequired = "https_required"
	// CodeNotPublic: the host is, or resolves to, an address that is not
	// public (loopback, private, link-local, cloud metadata, CGNAT,
	// multicast, documentation, ...).
	CodeNotPublic = "destination_not_public"
	// CodeUnresolvable: the host name does not resolve.
	CodeUnresolvable = "unresolvable"
	// CodeUnreachable: no answer (connection refused, timeout, TLS).
	CodeUnreachable = "unreachable"
)

// ErrNotPublic is a destination that resolves to an address that is not
// public, refused before any connection is made.
var ErrNotPublic = errors.New("webhook destination is not a public address")

var (
	// errHTTPSRequired is a plain-HTTP destination when HTTP is not
	// allowed.
	errHTTPSRequired = errors.New("webhook destination must use https")
	errUnresolvable  = errors.New("webhook destination does not resolve")
)

// Options are development settings; both are off in production.
type Options struct {
	// AllowHTTP accepts http:// destinations
	// (PAMELDING_WEBHOOKS_ALLOW_HTTP); otherwise HTTPS is required.
	AllowHTTP bool
	// AllowPrivate accepts destinations on loopback, private and other
	// non-public addresses (PAMELDING_WEBHOOKS_ALLOW_PRIVATE): local
	// development and tests only, it turns the SSRF protection off.
	AllowPrivate bool
}

// special are the IPv4 ranges that are not public destinations (IANA
// special-purpose registry, RFC 6890 and its updates).
var special4 = prefixes(
	"0.0.0.0/8",       // "this network", unspecified
	"10.0.0.0/8",      // private (RFC 1918)
	"100.64.0.0/10",   // shared address space, CGNAT (RFC 6598)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local, cloud metadata (169.254.169.254)
	"172.16.0.0/12",   // private (RFC 1918)
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation (TEST-NET-1)
	"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
	"192.168.0.0/16",  // private (RFC 1918)
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation (TEST-NET-2)
	"203.0.113.0/24",  // documentation (TEST-NET-3)
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, and 255.255.255.255 broadcast
)

// IPv6 outside 2000::/3 (global unicast) is never public: that covers ::,
// ::1, fc00::/7 (ULA, with fd00:ec2::254, the EC2 metadata service),
// fe80::/10, ff00::/8 and fec0::/10. Inside it, these are not either.
var (
	global6  = netip.MustParsePrefix("2000::/3")
	special6 = prefixes(
		"2001::/23",     // IETF protocol assignments: Teredo, benchmarking (2001:2::/48), ORCHID
		"2001:db8::/32", // documentation
		"3fff::/20",     // documentation (RFC 9637)
	)
	// Prefixes that embed an IPv4 address, judged by it.
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// Public says whether an address is a public unicast destination.
func Public(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return false
	case a.Is4():
		return !inAny(special4, a)
	case nat64.Contains(a):
		b := a.As16()
		return Public(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		b := a.As16()
		return Public(netip.AddrFrom4([4]byte(b[2:6])))
	case !global6.Contains(a):
		return false
	default:
		return !inAny(special6, a)
	}
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// lookup resolves a host (an IP literal is itself) with s.Lookup.
func (s *Service) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := s.Lookup(ctx, host)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no address")
	}
	return addrs, err
}

// checkURL validates a destination: an absolute https URL (http with
// AllowHTTP) without credentials or fragment, whose host resolves to
// public addresses only (unless AllowPrivate). Problems go to errs under
// field; the cleaned URL is returned.
func (s *Service) checkURL(ctx context.Context, field, raw string, errs *privacy.Errors) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		errs.Add(field, privacy.CodeRequired)
		return ""
	case len(raw) > 2048:
		errs.Add(field, privacy.CodeTooLong)
		return ""
	case err != nil || !u.IsAbs() || u.Hostname() == "" || u.User != nil || u.Fragment != "" || u.Opaque != "":
		errs.Add(field, privacy.CodeInvalid)
		return ""
	case u.Scheme == "https":
	case u.Scheme == "http" && s.AllowHTTP:
	case u.Scheme == "http":
		errs.Add(field, CodeHTTPSRequired)
		return ""
	default:
		errs.Add(field, privacy.CodeInvalid)
		return ""
	}
	if !s.AllowPrivate {
		addrs, err := s.lookup(ctx, u.Hostname())
		switch {
		case err != nil:
			errs.Add(field, CodeUnresolvable)
		case !allPublic(addrs):
			errs.Add(field, CodeNotPublic)
		}
	}
	return u.String()
}

// allPublic: a name with any address that is not public is refused as a
// whole, whichever address a connection would pick.
func allPublic(addrs []netip.Addr) bool {
	for _, a := range addrs {
		if !Public(a) {
			return false
		}
	}
	return len(addrs) > 0
}

// control runs on every connection about to be made, with the address
// actually dialled: the last word on a destination, whatever DNS said
// before (rebinding) or whoever built the address.
func (s *Service) control(_, address string, _ syscall.RawConn) error {
	if s.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !Public(ap.Addr()) {
		return ErrNotPublic
	}
	return nil
}

// dial resolves the host itself (with s.Lookup), refuses a name with any
// address that is not public, and dials the addresses in turn with the
// dialer whose control checks each again.
func (s *Service) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := s.lookup(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnresolvable, err)
	}
	if !s.AllowPrivate && !allPublic(addrs) {
		return nil, ErrNotPublic
	}
	var errs []error
	for _, a := range addrs {
		c, err := s.dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// newClient is the HTTP client of deliveries: no proxy from the
// environment (a proxy would make the connection, unchecked), no
// redirects followed (a 3xx is a failed attempt), a fresh connection per
// delivery so each destination is checked when it is dialled.
func (s *Service) newClient() *http.Client {
	s.dialer = &net.Dialer{Timeout: 5 * time.Second, Control: s.control}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            s.dial,
			DisableKeepAlives:      true,
			ForceAttemptHTTP2:      true,
			TLSHandshakeTimeout:    5 * time.Second,
			ResponseHeaderTimeout:  10 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// failure classifies a failed attempt for the delivery log.
func failure(err error) string {
	switch {
	case errors.Is(err, ErrNotPublic):
		return CodeNotPublic
	case errors.Is(err, errHTTPSRequired):
		return CodeHTTPSRequired
	case errors.Is(err, errUnresolvable):
		return CodeUnresolvable
	default:
		return CodeUnreachable
	}
}
