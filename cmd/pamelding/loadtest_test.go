package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestLoadtestCommand runs a small rush through the command itself: the
// figures it prints are the ones the README quotes for 16,000 seats.
func TestLoadtestCommand(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"pamelding", "loadtest", "-seats", "300", "-requests", "400", "-clients", "32", "-json",
		// A loaded CI machine running the race detector answers slowly;
		// what is checked here is that every answer is right, not fast.
		"-timeout", "5m"},
		func(string) string { return "" }, &out, io.Discard)
	if err != nil {
		t.Fatalf("loadtest: %v\n%s", err, out.String())
	}
	var res loadResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Created != 300 || res.Full != 100 || res.Other != 0 || res.Limited != 0 || res.SeatsHeld != 300 || res.Oversold != 0 || res.Missing != 0 {
		t.Errorf("rush %+v", res)
	}
	// The floor ran in the same run, on the same rush, and sold exactly
	// its seats; the core count is stated with the figures.
	if f := res.Floor; f == nil || f.Created != 300 || f.Full != 100 || f.Elapsed <= 0 || res.Cores < 1 {
		t.Errorf("floor %+v, cores %d", res.Floor, res.Cores)
	}
	if res.P50 <= 0 || res.P99 < res.P50 {
		t.Errorf("latencies p50 %s p99 %s", res.P50, res.P99)
	}
}

// TestLoadtestAgainstLimit: against a running server whose per-address
// sign-up limit is on, the command counts the 429s apart, says why they
// came and what to do, and fails: such a run is not a rush.
func TestLoadtestAgainstLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := map[string]string{"PAMELDING_DATA_DIR": t.TempDir(), "PAMELDING_ADDR": addr, "PAMELDING_ADMIN_TOKEN": testAdminToken,
		"PAMELDING_LOG_LEVEL": "error", "PAMELDING_SIGNUP_RATE": "20"}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, func(k string) string { return env[k] }, io.Discard) }()
	t.Cleanup(func() { stop(); <-done })
	if err := waitHealthy(ctx, "http://"+addr, done); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = run(context.Background(), []string{"pamelding", "loadtest", "-url", "http://" + addr, "-seats", "100", "-requests", "60", "-clients", "4"},
		func(k string) string { return env[k] }, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "PAMELDING_SIGNUP_RATE=0") || !regexp.MustCompile(`429 [1-9]\d*`).MatchString(out.String()) {
		t.Errorf("a limited run: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "floor") {
		t.Errorf("a floor measured beside a server elsewhere:\n%s", out.String())
	}
	// The rush event went with its registrations; with -keep it stays.
	events := func() string {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/api/v1/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if strings.Contains(events(), "rush-") || !regexp.MustCompile(`201 [1-9]`).MatchString(out.String()) {
		t.Errorf("the rush event is left, or there was no rush to erase: %s\n%s", events(), out.String())
	}
	var errOut bytes.Buffer
	_ = run(context.Background(), []string{"pamelding", "loadtest", "-url", "http://" + addr, "-seats", "5", "-requests", "5", "-clients", "1", "-event", "kept", "-keep"},
		func(k string) string { return env[k] }, io.Discard, &errOut)
	if !strings.Contains(events(), `"kept"`) || strings.Contains(errOut.String(), "erased") {
		t.Errorf("-keep did not keep the event: %s\n%s", events(), errOut.String())
	}
}
