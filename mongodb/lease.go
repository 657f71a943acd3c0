package mongodb

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Jobs runs background jobs, each on one instance at a time when several
// share a MongoDB: a job runs only while its instance holds the job's
// lease document.
//
// A lease is short (Term, renewed while the job runs) and given up when
// its process stops gracefully, so a crashed holder delays a job by one
// term at most and a restarted one not at all. The lease document also
// records the job's last and next run: a job that came due while no
// instance ran (a restart, a deploy) runs at the next tick, not a whole
// interval later.
type Jobs struct {
	// OnRun, when set, is told of every run (metrics).
	OnRun func(job string, err error)
	// Term is how long a lease lasts unless renewed.
	Term time.Duration
	// Tick is how often an instance looks whether a job is due; a job's
	// own interval, when shorter, is used instead.
	Tick time.Duration

	c     *Collection
	owner string
	log   *slog.Logger
	now   func() time.Time

	mu    sync.Mutex
	kicks map[string]chan struct{}
}

// JobStatus is a job's lease document: who holds it, and when the job ran
// and runs next. Errors are stored as their text, which job functions
// keep free of personal data.
type JobStatus struct {
	Name         string     `bson:"_id" json:"name"`
	Owner        string     `bson:"owner" json:"owner,omitempty"`
	Until        time.Time  `bson:"until" json:"leaseUntil"`
	Every        int64      `bson:"everySeconds" json:"everySeconds"`
	LastRunAt    *time.Time `bson:"lastRunAt,omitempty" json:"lastRunAt,omitempty"`
	LastDuration int64      `bson:"lastDurationMs" json:"lastDurationMs"`
	LastError    string     `bson:"lastError,omitempty" json:"lastError,omitempty"`
	NextRunAt    *time.Time `bson:"nextRunAt,omitempty" json:"nextRunAt,omitempty"`
	Runs         int64      `bson:"runs" json:"runs"`
	Failures     int64      `bson:"failures" json:"failures"`
}

// Lag is how long a job is overdue at now; 0 when it is not.
func (s JobStatus) Lag(now time.Time) time.Duration {
	if s.NextRunAt == nil || !now.After(*s.NextRunAt) {
		return 0
	}
	return now.Sub(*s.NextRunAt)
}

// NewJobs returns this process's job runner (a random lease owner id).
func (s *Store) NewJobs(log *slog.Logger, now func() time.Time) *Jobs {
	return &Jobs{c: s.Collection(Leases), owner: rand.Text()[:12], log: log, now: now,
		Term: time.Minute, Tick: 15 * time.Second, kicks: map[string]chan struct{}{}}
}

// Acquire takes or renews the named lease for the runner's term and
// returns the job's status; ok is false when another live owner holds it.
func (l *Jobs) Acquire(ctx context.Context, name string) (st JobStatus, ok bool, err error) {
	now := l.now().UTC()
	until := now.Add(l.Term)
	err = l.c.FindOneAndUpdate(ctx,
		bson.M{"_id": name, "$or": bson.A{bson.M{"owner": l.owner}, bson.M{"until": bson.M{"$lt": now}}}},
		bson.M{"$set": bson.M{"owner": l.owner, "until": until}}, &st)
	if err == nil {
		return st, true, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return st, false, err
	}
	st = JobStatus{Name: name, Owner: l.owner, Until: until}
	err = l.c.InsertOne(ctx, st)
	if errors.Is(err, ErrDuplicate) {
		return st, false, nil
	}
	return st, err == nil, err
}

// Release gives the named lease up if this runner holds it.
func (l *Jobs) Release(ctx context.Context, name string) error {
	_, err := l.c.UpdateOne(ctx, bson.M{"_id": name, "owner": l.owner},
		bson.M{"$set": bson.M{"owner": "", "until": time.Unix(0, 0).UTC()}})
	return err
}

// Kick makes the named job run in this process at once (if it can take
// its lease), whether due or not; a kick while one is pending is merged.
func (l *Jobs) Kick(name string) {
	select {
	case l.kickChan(name) <- struct{}{}:
	default:
	}
}

func (l *Jobs) kickChan(name string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.kicks[name]
	if !ok {
		ch = make(chan struct{}, 1)
		l.kicks[name] = ch
	}
	return ch
}

// Loop runs fn whenever the named job is due (every interval, counted
// from its last run on any instance) or kicked, while this process holds
// the job's lease, until ctx ends; then it gives the lease up. Errors are
// logged (fn's errors must carry no personal data) and the loop goes on.
func (l *Jobs) Loop(ctx context.Context, name string, every time.Duration, fn func(context.Context) error) {
	tick := min(every, l.Tick)
	t := time.NewTicker(tick)
	defer t.Stop()
	kick := l.kickChan(name)
	defer func() {
		// A graceful stop frees the job for another instance at once.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := l.Release(rctx, name); err != nil {
			l.log.WarnContext(rctx, "job lease not released", "job", name, "err", err)
		}
	}()
	kicked := false
	for {
		l.runIfDue(ctx, name, every, kicked, fn)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			kicked = false
		case <-kick:
			kicked = true
		}
	}
}

// RunOnce runs fn under the named job's lease now, due or not, and records
// the run; it reports false when another instance holds the lease.
func (l *Jobs) RunOnce(ctx context.Context, name string, every time.Duration, fn func(context.Context) error) (bool, error) {
	return l.runIfDue(ctx, name, every, true, fn)
}

func (l *Jobs) runIfDue(ctx context.Context, name string, every time.Duration, force bool, fn func(context.Context) error) (bool, error) {
	st, ok, err := l.Acquire(ctx, name)
	if err != nil {
		if ctx.Err() == nil {
			l.log.WarnContext(ctx, "job lease", "job", name, "err", err)
		}
		return false, err
	}
	if !ok {
		return false, nil
	}
	start := l.now().UTC()
	if !force && st.NextRunAt != nil && start.Before(*st.NextRunAt) {
		return true, nil
	}
	runErr := l.withRenewal(ctx, name, fn)
	if ctx.Err() != nil {
		return true, runErr
	}
	if runErr != nil {
		l.log.ErrorContext(ctx, "job failed", "job", name, "err", runErr)
	}
	end := l.now().UTC()
	next := start.Add(every)
	if next.Before(end) {
		next = end
	}
	set := bson.M{"lastRunAt": start, "lastDurationMs": end.Sub(start).Milliseconds(), "nextRunAt": next, "everySeconds": int64(every / time.Second)}
	update := bson.M{"$set": set, "$inc": bson.M{"runs": 1}}
	if runErr != nil {
		set["lastError"] = runErr.Error()
		update["$inc"] = bson.M{"runs": 1, "failures": 1}
	} else {
		update["$unset"] = bson.M{"lastError": ""}
	}
	if _, err := l.c.UpdateOne(ctx, bson.M{"_id": name, "owner": l.owner}, update); err != nil {
		l.log.WarnContext(ctx, "job run not recorded", "job", name, "err", err)
	}
	if l.OnRun != nil {
		l.OnRun(name, runErr)
	}
	return true, runErr
}

// withRenewal runs fn while renewing the lease every third of its term.
func (l *Jobs) withRenewal(ctx context.Context, name string, fn func(context.Context) error) error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(l.Term / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if _, _, err := l.Acquire(ctx, name); err != nil && ctx.Err() == nil {
					l.log.WarnContext(ctx, "job lease not renewed", "job", name, "err", err)
				}
			}
		}
	})
	defer func() { close(done); wg.Wait() }()
	return fn(ctx)
}

// Status lists every job's lease document, by name.
func (l *Jobs) Status(ctx context.Context) ([]JobStatus, error) {
	var out []JobStatus
	if err := l.c.All(ctx, bson.M{}, &out, options.Find()); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b JobStatus) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	if out == nil {
		out = []JobStatus{}
	}
	return out, nil
}
