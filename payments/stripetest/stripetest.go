// Package stripetest starts stripe-mock, Stripe's own mock of its API
// (installed as a Go tool: go get -tool github.com/stripe/stripe-mock),
// for tests of the code that talks to Stripe.
package stripetest

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	once     sync.Once
	baseURL  string
	startErr error
)

// URL starts stripe-mock once per test binary and returns its base URL.
// It fails the test, saying what to install, when stripe-mock cannot run.
func URL(tb testing.TB) string {
	tb.Helper()
	once.Do(func() { baseURL, startErr = start() })
	if startErr != nil {
		tb.Fatalf("stripe-mock: %v (it is a Go tool of this module: run `make test`, or `go get -tool github.com/stripe/stripe-mock@v0.183.0`)", startErr)
	}
	return baseURL
}

func start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// go tool -n builds the tool (the first time) and prints its path; the
	// binary is then run directly, so that it dies with the test process.
	out, err := exec.Command("go", "tool", "-n", "stripe-mock").Output()
	if err != nil {
		return "", fmt.Errorf("go tool -n stripe-mock: %w", err)
	}
	cmd := exec.Command(strings.TrimSpace(string(out)), "-http-port", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(120 * time.Second) // the first run compiles it
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/v1/charges")
		if err == nil {
			resp.Body.Close()
			return url, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return "", fmt.Errorf("did not answer on port %d within 120 s", port)
}
