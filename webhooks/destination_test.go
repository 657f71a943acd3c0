package webhooks

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// TestWebhookPublicAddress: every special-purpose range is refused,
// public unicast is not, and IPv4 hidden in IPv6 is judged by the IPv4
// address.
func TestWebhookPublicAddress(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.255.255.254", // loopback
		"10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.1.10", // RFC 1918
		"169.254.169.254", "169.254.0.1", // link-local, cloud metadata
		"100.64.0.1", "100.127.255.254", // CGNAT
		"0.0.0.0", "0.1.2.3", // unspecified, "this network"
		"224.0.0.1", "239.255.255.250", // multicast
		"255.255.255.255", "240.0.0.1", // broadcast, reserved
		"192.0.2.1", "198.51.100.7", "203.0.113.9", // documentation
		"198.18.0.1", "198.19.255.254", // benchmarking
		"192.0.0.170", "192.88.99.1", // IETF protocol assignments, 6to4 relay
		"::", "::1", // unspecified, loopback
		"fc00::1", "fd12:3456::1", "fd00:ec2::254", // ULA, EC2 metadata
		"fe80::1", "fe80::1%eth0", "fec0::1", // link-local, site-local
		"ff02::1", "ff0e::1", // multicast
		"2001:db8::1", "3fff::1", // documentation
		"2001::1", "2001:2::1", // Teredo, benchmarking
		"100::1",                                                        // discard-only
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", // IPv4-mapped
		"::127.0.0.1",                       // IPv4-compatible
		"64:ff9b::a00:1", "64:ff9b::7f00:1", // NAT64 of 10.0.0.1, 127.0.0.1
		"2002:7f00:1::1", "2002:a9fe:a9fe::1", // 6to4 of 127.0.0.1, 169.254.169.254
	}
	public := []string{
		"8.8.8.8", "1.1.1.1", "93.184.215.14", "100.63.255.255", "100.128.0.1",
		"172.15.255.255", "172.32.0.1", "198.17.255.255", "198.20.0.1", "223.255.255.254",
		"2606:4700:4700::1111", "2a00:1450:400f:80d::200e", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range refused {
		if Public(netip.MustParseAddr(s)) {
			t.Errorf("%s counts as public", s)
		}
	}
	for _, s := range public {
		if !Public(netip.MustParseAddr(s)) {
			t.Errorf("%s counts as not public", s)
		}
	}
	if Public(netip.Addr{}) {
		t.Error("the zero address counts as public")
	}
}

// TestWebhookDialerRefusesNonPublic: the dialer's control refuses a
// loopback address at connect time, whatever resolved it, and the
// listener sees no connection; with AllowPrivate the same dial goes
// through.
func TestWebhookDialerRefusesNonPublic(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	s := &Service{}
	s.client = s.newClient()
	ctx := context.Background()

	if c, err := s.dialer.DialContext(ctx, "tcp", ln.Addr().String()); !errors.Is(err, ErrNotPublic) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial 127.0.0.1 directly: %v, want ErrNotPublic", err)
	}
	// Through the client, with a resolver that says the name is public
	// when asked and loopback when dialled: refused at connect time.
	s.Lookup = func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if _, err := s.client.Get("http://rebound.example.no:" + port + "/"); !errors.Is(err, ErrNotPublic) {
		t.Fatalf("client to a name resolving to loopback: %v, want ErrNotPublic", err)
	}
	select {
	case <-accepted:
		t.Fatal("a connection reached the loopback listener")
	case <-time.After(100 * time.Millisecond):
	}

	s.AllowPrivate = true
	c, err := s.dialer.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("with AllowPrivate: %v", err)
	}
	c.Close()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("with AllowPrivate the listener saw no connection")
	}
}

// TestWebhookDeliveryClient: no proxy from the environment (it would make
// the connection, unchecked), no redirect followed, no connection reused.
func TestWebhookDeliveryClient(t *testing.T) {
	s := &Service{}
	s.client = s.newClient()
	tr, ok := s.client.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport %T", s.client.Transport)
	}
	if tr.Proxy != nil {
		t.Error("the delivery transport takes a proxy")
	}
	if !tr.DisableKeepAlives {
		t.Error("connections are reused: a later delivery would skip the connect-time check")
	}
	if s.client.CheckRedirect == nil || s.client.CheckRedirect(nil, nil) != http.ErrUseLastResponse {
		t.Error("redirects are followed")
	}
}
