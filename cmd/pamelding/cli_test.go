package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/mongodb/mongotest"
)

// TestHelp: help and --help/-h on every command print help and exit 0,
// without doing anything else. Before, "serve --help" started the
// server, "config --help" printed the configuration, -h exited 1, and the
// help left out retention, loadtest's flags and the privacy role.
func TestHelp(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"serve", "token", "config", "retention", "loadtest", "version"}},
		{[]string{"--help"}, []string{"serve", "retention"}},
		{[]string{"-h"}, []string{"serve", "retention"}},
		{[]string{"serve", "--help"}, []string{"SIGTERM", "PAMELDING_DATA_DIR"}},
		{[]string{"config", "-h"}, []string{"environment variable"}},
		{[]string{"help", "token", "create"}, []string{"privacy", "--partner", "--event"}},
		{[]string{"token", "create", "--help"}, []string{"privacy", "--role"}},
		{[]string{"retention", "run", "--help"}, []string{"--dry-run", "stop the server first"}},
		{[]string{"loadtest", "-h"}, []string{"-seats", "-clients", "-requests", "-url"}},
		{[]string{"loadtest", "--help"}, []string{"-seats"}},
		{[]string{"version"}, []string{"pamelding "}},
		{[]string{"--version"}, []string{"pamelding "}},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := run(ctx, append([]string{"pamelding"}, tc.args...), noEnv, &out, &errOut); err != nil {
				t.Fatalf("exit with %v (stderr %q)", err, errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out.String())
				}
			}
			if strings.Contains(out.String(), "PAMELDING_ADDR  ") {
				t.Error("help printed the configuration")
			}
		})
	}
	t.Run("ErrUnknownFlag", func(t *testing.T) {
		err := run(context.Background(), []string{"pamelding", "serve", "--frobnicate"}, noEnv, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "frobnicate") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestRetentionAfterRestart: a server restarted on the same data
// directory runs the hourly retention job at once when it is due, and
// the lease of the server before it does not hold it back. Before, each
// process waited for the last one's lease (3 hours for retention).
func TestRetentionAfterRestart(t *testing.T) {
	dir := mongotest.ShortTempDir(t) + "/data"
	env := map[string]string{"PAMELDING_DATA_DIR": dir, "PAMELDING_ADMIN_TOKEN": testAdminToken, "PAMELDING_JOB_INTERVAL": "200ms"}
	retention := func(s *server) mongodb.JobStatus {
		t.Helper()
		_, b := s.call(t, "GET", "/api/v1/jobs", testAdminToken, nil)
		var out struct{ Jobs []mongodb.JobStatus }
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		for _, j := range out.Jobs {
			if j.Name == "retention" {
				return j
			}
		}
		return mongodb.JobStatus{}
	}
	waitRuns := func(s *server, n int64) mongodb.JobStatus {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if st := retention(s); st.Runs >= n {
				return st
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("retention did not run a %d. time within 20 s: %+v", n, retention(s))
		return mongodb.JobStatus{}
	}

	s := startServer(t, env)
	first := waitRuns(s, 1)
	if first.NextRunAt == nil || first.NextRunAt.Sub(*first.LastRunAt) != time.Hour {
		t.Fatalf("after the first run: %+v", first)
	}
	s.stop()

	// An hour goes by while no server runs.
	store, err := mongodb.Open(context.Background(), mongodb.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var lease mongodb.JobStatus
	leases := store.Collection(mongodb.Leases)
	if err := leases.FindOne(context.Background(), bson.M{"_id": "retention"}, &lease); err != nil {
		t.Fatal(err)
	}
	if lease.Owner != "" {
		t.Errorf("the stopped server kept its lease: %+v", lease)
	}
	if _, err := leases.UpdateOne(context.Background(), bson.M{"_id": "retention"},
		bson.M{"$set": bson.M{"nextRunAt": time.Now().Add(-time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	_ = store.Close(context.Background())

	s = startServer(t, env)
	start := time.Now()
	second := waitRuns(s, 2)
	t.Logf("retention ran %s after the restart", time.Since(start).Round(time.Millisecond))
	if second.LastRunAt == nil || !second.LastRunAt.After(*first.LastRunAt) {
		t.Errorf("second run %+v", second)
	}
}
