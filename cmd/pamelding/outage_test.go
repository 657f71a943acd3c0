package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/mongodb/mongotest"
)

// storeProxy stands between the service and its store and can go dark.
type storeProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func (p *storeProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		u, err := net.Dial("unix", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(u, c); u.Close() }()
		go func() { _, _ = io.Copy(c, u); c.Close() }()
	}
}

func (p *storeProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestStoreOutage: the store stops answering. /readyz says 503, a sign-up
// gets 503 with Retry-After and writes nothing, and once the store is
// back the service recovers without a restart.
func TestStoreOutage(t *testing.T) {
	dir := mongotest.ShortTempDir(t)
	db, err := mongodb.Open(context.Background(), mongodb.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	proxy := &storeProxy{ln: ln, target: filepath.Join(dir, mongodb.SocketName)}
	go proxy.serve()

	s := startServer(t, map[string]string{
		"MONGODB_URI":              "mongodb://" + ln.Addr().String() + "/?directConnection=true&serverSelectionTimeoutMS=1500",
		"PAMELDING_ENCRYPTION_KEY": testKey,
		"PAMELDING_ADMIN_TOKEN":    testAdminToken,
	})
	ev := event("outage")
	ev["capacity"] = 10
	if st, b := s.call(t, "POST", "/api/v1/events", testAdminToken, ev); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	signup := func(email string) (int, http.Header) {
		req, _ := http.NewRequest("POST", s.url+"/api/v1/events/outage/registrations",
			strings.NewReader(`{"fields": {"name": "N", "email": "`+email+`"}}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	if st, _ := signup("before@example.no"); st != 201 {
		t.Fatalf("before the outage: %d", st)
	}

	proxy.setDown(true)
	if st, _ := s.call(t, "GET", "/readyz", "", nil); st != 503 {
		t.Errorf("readyz during the outage: %d", st)
	}
	st, h := signup("during@example.no")
	if st != 503 || h.Get("Retry-After") == "" {
		t.Errorf("sign-up during the outage: %d, Retry-After %q", st, h.Get("Retry-After"))
	}

	proxy.setDown(false)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st, _ := s.call(t, "GET", "/readyz", "", nil); st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready again 20 s after the store came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, _ := signup("after@example.no"); st != 201 {
		t.Fatalf("after the outage: %d", st)
	}
	// Nothing half-written: two registrations, two seats taken.
	_, b := s.call(t, "GET", "/api/v1/events/outage/registrations", testAdminToken, nil)
	if !strings.Contains(string(b), `"total":2`) {
		t.Errorf("registrations after the outage: %s", b)
	}
	if _, b := s.call(t, "GET", "/api/v1/events/outage", "", nil); !strings.Contains(string(b), `"seatsLeft":8`) {
		t.Errorf("seats after the outage: %s", b)
	}
}
