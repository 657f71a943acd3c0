package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pamelding/pamelding/mongodb/mongotest"
)

// TestSIGTERM builds the real binary, starts it as a child process and
// stops it with SIGTERM: it must shut down gracefully and exit 0.
func TestSIGTERM(t *testing.T) {
	c := startChild(t, []string{"PAMELDING_DATA_DIR=" + mongotest.ShortTempDir(t) + "/data"})
	cmd, logs := c.cmd, c.logs
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still running 30 s after SIGTERM")
	}
	if !strings.Contains(logs.String(), `"msg":"shutting down"`) {
		t.Errorf("no graceful shutdown logged:\n%s", logs.String())
	}
}
