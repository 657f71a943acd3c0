package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pamelding/pamelding/mongodb/mongotest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the real program once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pmdbin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pamelding")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type child struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
}

func startChild(t *testing.T, env []string) *child {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary(t))
	cmd.Env = append(os.Environ(), append(env, "PAMELDING_ADDR="+addr)...)
	logs := &bytes.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	c := &child{cmd: cmd, url: "http://" + addr, logs: logs}
	if err := waitHealthy(context.Background(), c.url, nil); err != nil {
		t.Fatalf("child: %v\n%s", err, logs)
	}
	return c
}

// TestKillDuringRush kills the server with SIGKILL in the middle of a
// rush and restarts it on the same data directory: every registration
// answered 201 is there, and the seats left equal the capacity minus the
// registrations holding seats.
func TestKillDuringRush(t *testing.T) {
	dir := mongotest.ShortTempDir(t) + "/data"
	env := []string{"PAMELDING_DATA_DIR=" + dir, "PAMELDING_ADMIN_TOKEN=" + testAdminToken, "PAMELDING_SIGNUP_RATE=0", "PAMELDING_LOG_LEVEL=error"}
	c := startChild(t, env)
	client := &http.Client{Timeout: 30 * time.Second}
	// CI kills after 300 of 3,000; PAMELDING_TEST_CRASH_SEATS=16000 kills
	// in the middle of the README's rush.
	seats, killAt := 3000, int64(300)
	if v, err := strconv.Atoi(os.Getenv("PAMELDING_TEST_CRASH_SEATS")); err == nil && v > 0 {
		seats, killAt = v, int64(v/2)
	}
	ev := event("crash")
	ev["capacity"] = seats
	if st, b, err := call(context.Background(), client, "POST", c.url+"/api/v1/events", testAdminToken, ev); err != nil || st != 201 {
		t.Fatalf("create: %d %s %v", st, b, err)
	}

	var created sync.Map
	var n201, next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(seats) {
					return
				}
				st, b, err := call(context.Background(), client, "POST", c.url+"/api/v1/events/crash/registrations", "",
					map[string]any{"fields": map[string]string{"name": "Runner", "email": fmt.Sprintf("r%d@crash.example", i)}})
				if err == nil && st == 201 {
					var r struct{ ID string }
					_ = json.Unmarshal(b, &r)
					created.Store(r.ID, true)
					n201.Add(1)
				}
			}
		})
	}
	// Killed once killAt sign-ups were answered, or, on a machine too
	// loaded to answer that many, when the clients gave up: the check
	// below holds either way, and it never waits forever.
	clientsDone := make(chan struct{})
	go func() { wg.Wait(); close(clientsDone) }()
	for waiting := true; waiting && n201.Load() < killAt; {
		select {
		case <-clientsDone:
			waiting = false
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = c.cmd.Process.Wait()
	<-clientsDone
	if n201.Load() == 0 {
		t.Fatal("precondition: no sign-up was answered 201 before the kill")
	}
	t.Logf("killed after %d answers of 201", n201.Load())

	c = startChild(t, env)
	st, b, err := call(context.Background(), client, "GET", c.url+"/api/v1/events/crash/registrations?format=csv", testAdminToken, nil)
	if err != nil || st != 200 {
		t.Fatalf("read back: %d %v", st, err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	held := 0
	for _, rec := range recs[1:] {
		stored[rec[0]] = true
		if rec[1] == "confirmed" {
			held++
		}
	}
	missing := 0
	created.Range(func(k, _ any) bool {
		if !stored[k.(string)] {
			missing++
		}
		return true
	})
	if missing > 0 {
		t.Errorf("%d registrations answered 201 are missing after the restart", missing)
	}
	_, b, _ = call(context.Background(), client, "GET", c.url+"/api/v1/events/crash", "", nil)
	var pub struct{ SeatsLeft int }
	_ = json.Unmarshal(b, &pub)
	if pub.SeatsLeft != seats-held {
		t.Errorf("seats left %d, but %d of %d are held", pub.SeatsLeft, held, seats)
	}
	t.Logf("after restart: %d registrations stored, %d answered 201, seats left %d", len(stored), n201.Load(), pub.SeatsLeft)
}
