// Package stripetest starts stripe-mock, Stripe's own mock of its API
// (installed as a Go tool: go get -tool github.com/stripe/stripe-mock),
// for tests of the code that talks to Stripe.
package stripetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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

// WithFixtures starts a stripe-mock of its own, for one test, whose
// answers are its bundled fixtures with patch's fields set (resource name,
// as in stripe-mock's fixtures3.json, to field to value): Stripe's own
// mock answering with recorded objects, e.g. a payout and the balance
// transaction it paid out, which the bundled fixtures give in USD with
// no fee. It is stopped when the test ends.
func WithFixtures(tb testing.TB, patch map[string]map[string]any) string {
	tb.Helper()
	URL(tb) // builds the tool, or says what to install
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/stripe/stripe-mock").Output()
	if err != nil {
		tb.Fatalf("stripe-mock's module: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "embedded", "openapi", "fixtures3.json"))
	if err != nil {
		tb.Fatalf("stripe-mock's fixtures: %v", err)
	}
	var fx struct {
		Resources map[string]map[string]any `json:"resources"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		tb.Fatal(err)
	}
	for res, fields := range patch {
		if fx.Resources[res] == nil {
			tb.Fatalf("stripe-mock has no fixture %q", res)
		}
		maps.Copy(fx.Resources[res], fields)
	}
	path := filepath.Join(tb.TempDir(), "fixtures.json")
	if raw, err = json.Marshal(fx); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		tb.Fatal(err)
	}
	url, cmd, err := run("-fixtures", path)
	if err != nil {
		tb.Fatalf("stripe-mock with fixtures: %v", err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return url
}

func start() (string, error) {
	url, _, err := run()
	return url, err
}

// run starts stripe-mock with args on a free port and waits for it.
func run(args ...string) (string, *exec.Cmd, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// go tool -n builds the tool (the first time) and prints its path; the
	// binary is then run directly, so that it dies with the test process.
	out, err := exec.Command("go", "tool", "-n", "stripe-mock").Output()
	if err != nil {
		return "", nil, fmt.Errorf("go tool -n stripe-mock: %w", err)
	}
	cmd := exec.Command(strings.TrimSpace(string(out)), append([]string{"-http-port", fmt.Sprint(port)}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(120 * time.Second) // the first run compiles it
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/v1/charges")
		if err == nil {
			resp.Body.Close()
			return url, cmd, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return "", nil, fmt.Errorf("did not answer on port %d within 120 s", port)
}
