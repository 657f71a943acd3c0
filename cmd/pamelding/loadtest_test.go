package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
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
	if res.Created != 300 || res.Full != 100 || res.Other != 0 || res.SeatsHeld != 300 || res.Oversold != 0 || res.Missing != 0 {
		t.Errorf("rush %+v", res)
	}
	if res.P50 <= 0 || res.P99 < res.P50 {
		t.Errorf("latencies p50 %s p99 %s", res.P50, res.P99)
	}
}
