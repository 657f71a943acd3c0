package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

func TestRetentionCommand(t *testing.T) {
	env := embeddedEnv(t)
	s := startServer(t, env)
	if st, b := s.call(t, "POST", "/api/v1/events", testAdminToken, event("old")); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), []string{"pamelding", "retention", "run", "--dry-run"}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "stop the server first") {
		t.Fatalf("beside a running embedded server: %v", err)
	}
	s.stop()

	var out bytes.Buffer
	if err := run(context.Background(), []string{"pamelding", "retention", "run", "--dry-run"}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rec struct {
		ID     string
		DryRun bool
		Values []any
	}
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil || rec.ID == "" || !rec.DryRun {
		t.Fatalf("receipt %q: %v", out.String(), err)
	}
}
