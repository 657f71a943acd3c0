package mongodb_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/mongodb/mongotest"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func status(t *testing.T, j *mongodb.Jobs, name string) mongodb.JobStatus {
	t.Helper()
	sts, err := j.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no status for %s in %+v", name, sts)
	return mongodb.JobStatus{}
}

// TestJobLeases: a job's lease outlives neither a graceful stop nor, by
// more than its short term, a crash; and a job due while no instance ran
// runs as soon as one does. Before, a restarted process waited for the
// old lease (3 hours for the hourly retention job) and a restart every
// few hours kept retention from ever running.
func TestJobLeases(t *testing.T) {
	ctx := context.Background()
	s := mongotest.Open(t)
	clk := &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	log := slog.New(slog.DiscardHandler)
	var runs atomic.Int64
	job := func(context.Context) error { runs.Add(1); return nil }

	a := s.NewJobs(log, clk.now)
	if ran, err := a.RunOnce(ctx, "retention", time.Hour, job); err != nil || !ran {
		t.Fatalf("first run: %v %v", ran, err)
	}
	st := status(t, a, "retention")
	if st.LastRunAt == nil || st.NextRunAt == nil || !st.NextRunAt.Equal(clk.now().Add(time.Hour)) || st.Runs != 1 {
		t.Fatalf("after a run: %+v", st)
	}

	t.Run("ErrCrashedHolder", func(t *testing.T) {
		// a crashed without giving its lease up: b waits one term at most.
		b := s.NewJobs(log, clk.now)
		if _, ok, err := b.Acquire(ctx, "retention"); err != nil || ok {
			t.Fatalf("took a live lease: %v %v", ok, err)
		}
		clk.add(a.Term + time.Second)
		if _, ok, err := b.Acquire(ctx, "retention"); err != nil || !ok {
			t.Fatalf("lease of a crashed holder not taken after its term: %v %v", ok, err)
		}
		if err := b.Release(ctx, "retention"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("DueAfterRestart", func(t *testing.T) {
		// A new process, an hour later: the job is due and runs on the
		// first tick, under a lease nobody holds.
		clk.add(time.Hour)
		c := s.NewJobs(log, clk.now)
		before := runs.Load()
		loopCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); c.Loop(loopCtx, "retention", time.Hour, job) }()
		deadline := time.Now().Add(5 * time.Second)
		for runs.Load() == before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if runs.Load() != before+1 {
			t.Fatalf("the due job did not run at start: %d runs", runs.Load()-before)
		}
		stop()
		<-done
		// A graceful stop gives the lease up.
		if st := status(t, c, "retention"); st.Owner != "" || st.Until.After(clk.now()) {
			t.Errorf("lease kept after a graceful stop: %+v", st)
		}
	})
	t.Run("NotDueNotRun", func(t *testing.T) {
		d := s.NewJobs(log, clk.now)
		before := runs.Load()
		if ran, err := d.RunOnce(ctx, "retention", time.Hour, job); !ran || err != nil {
			t.Fatalf("forced run: %v %v", ran, err)
		}
		loopCtx, stop := context.WithTimeout(ctx, 300*time.Millisecond)
		defer stop()
		d.Loop(loopCtx, "retention", time.Hour, job)
		if got := runs.Load() - before; got != 1 {
			t.Errorf("%d runs, want only the forced one: the job was not due", got)
		}
	})
	t.Run("FailureRecorded", func(t *testing.T) {
		e := s.NewJobs(log, clk.now)
		if _, err := e.RunOnce(ctx, "sweep", time.Minute, func(context.Context) error { return errors.New("3 of 7 items failed") }); err == nil {
			t.Fatal("no error")
		}
		st := status(t, e, "sweep")
		if st.LastError != "3 of 7 items failed" || st.Failures != 1 || st.Lag(clk.now()) != 0 || st.Lag(clk.now().Add(2*time.Minute)) != time.Minute {
			t.Errorf("status %+v", st)
		}
	})
}

// TestInjectFaults: an injected fault fails a write before or after it is
// made, as a store outage or a lost answer would.
func TestInjectFaults(t *testing.T) {
	ctx := context.Background()
	s := mongotest.Open(t)
	c := s.Collection(mongodb.Seats)
	s.InjectFaults(func(coll, op string) mongodb.Fault {
		if coll == mongodb.Seats && op == "insert" {
			return mongodb.FailAfter
		}
		return mongodb.NoFault
	})
	err := c.InsertOne(ctx, bson.M{"_id": "x"})
	if !errors.Is(err, mongodb.ErrUnavailable) || mongodb.NotApplied(err) {
		t.Fatalf("err %v: want an ambiguous unavailable", err)
	}
	if n, _ := c.Count(ctx, bson.M{"_id": "x"}); n != 1 {
		t.Errorf("FailAfter did not make the write")
	}
	s.InjectFaults(func(string, string) mongodb.Fault { return mongodb.FailBefore })
	if _, err := c.UpdateOne(ctx, bson.M{"_id": "x"}, bson.M{"$set": bson.M{"y": 1}}); !errors.Is(err, mongodb.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
	s.InjectFaults(nil)
	var doc bson.M
	if err := c.FindOne(ctx, bson.M{"_id": "x"}, &doc); err != nil || doc["y"] != nil {
		t.Errorf("FailBefore made the write: %v %v", doc, err)
	}
	if err := c.InsertOne(ctx, bson.M{"_id": "x"}); !mongodb.NotApplied(err) {
		t.Errorf("a duplicate is definitely not applied: %v", err)
	}
}

// TestConditionalWriteByID: a conditional write in embedded mode is found
// by its _id and tested against the whole filter: it matches exactly
// what the filter says, and is as atomic as before under contention.
func TestConditionalWriteByID(t *testing.T) {
	ctx := context.Background()
	s := mongotest.Open(t)
	c := s.Collection(mongodb.Seats)
	if err := c.InsertOne(ctx, bson.M{"_id": "e", "left": 3, "tags": bson.A{"a"}, "at": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		filter bson.M
		want   bool
	}{
		{"OK", bson.M{"_id": "e", "left": bson.M{"$gt": 0}}, true},
		{"OKOr", bson.M{"_id": "e", "$or": bson.A{bson.M{"gone": bson.M{"$exists": true}}, bson.M{"at": bson.M{"$lt": time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}}}}, true},
		{"OKIn", bson.M{"_id": "e", "tags": bson.M{"$in": bson.A{"a", "b"}}}, true},
		{"ErrCondition", bson.M{"_id": "e", "left": bson.M{"$gt": 5}}, false},
		{"ErrOtherID", bson.M{"_id": "f", "left": bson.M{"$gt": 0}}, false},
		{"ErrNin", bson.M{"_id": "e", "tags": bson.M{"$nin": bson.A{"a"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := c.UpdateOne(ctx, tc.filter, bson.M{"$set": bson.M{"seen": tc.name}})
			if err != nil || ok != tc.want {
				t.Fatalf("matched %v, %v; want %v", ok, err, tc.want)
			}
			var doc bson.M
			_ = c.FindOne(ctx, bson.M{"_id": "e"}, &doc)
			if (doc["seen"] == tc.name) != tc.want {
				t.Errorf("document %v", doc)
			}
			var out bson.M
			err = c.FindOneAndUpdate(ctx, tc.filter, bson.M{"$set": bson.M{"seen2": tc.name}}, &out)
			if tc.want != (err == nil) || (!tc.want && !errors.Is(err, mongodb.ErrNotFound)) {
				t.Errorf("findAndModify: %v", err)
			}
			if tc.want && out["seen2"] != tc.name {
				t.Errorf("findAndModify returned %v, want the document after the update", out)
			}
		})
	}
	t.Run("OKAtomic", func(t *testing.T) {
		var granted atomic.Int64
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				for {
					ok, err := c.UpdateOne(ctx, bson.M{"_id": "e", "left": bson.M{"$gt": 0}}, bson.M{"$inc": bson.M{"left": -1}})
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						return
					}
					granted.Add(1)
				}
			})
		}
		wg.Wait()
		if granted.Load() != 3 {
			t.Errorf("granted %d of 3", granted.Load())
		}
	})
}
