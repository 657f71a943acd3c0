package mongodb

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Jobs runs background jobs on one instance at a time when several share
// a MongoDB: a job runs only while its instance holds the job's lease
// document.
type Jobs struct {
	// OnRun, when set, is told of every run (metrics).
	OnRun func(job string, err error)
	c     *Collection
	owner string
	log   *slog.Logger
	now   func() time.Time
}

// NewJobs returns this process's job runner (a random lease owner id).
func (s *Store) NewJobs(log *slog.Logger, now func() time.Time) *Jobs {
	return &Jobs{c: s.Collection(Leases), owner: rand.Text()[:12], log: log, now: now}
}

// Acquire takes or renews the named lease for ttl. It reports false when
// another owner holds it.
func (l *Jobs) Acquire(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	now := l.now().UTC()
	until := now.Add(ttl)
	ok, err := l.c.UpdateOne(ctx,
		bson.M{"_id": name, "$or": bson.A{bson.M{"owner": l.owner}, bson.M{"until": bson.M{"$lt": now}}}},
		bson.M{"$set": bson.M{"owner": l.owner, "until": until}})
	if err != nil || ok {
		return ok, err
	}
	err = l.c.InsertOne(ctx, bson.M{"_id": name, "owner": l.owner, "until": until})
	if errors.Is(err, ErrDuplicate) {
		return false, nil
	}
	return err == nil, err
}

// Loop runs fn every interval while this process holds the named lease,
// until ctx ends. Errors are logged (fn's errors must carry no personal
// data) and the loop goes on.
func (l *Jobs) Loop(ctx context.Context, name string, interval time.Duration, fn func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := l.Acquire(ctx, name, 3*interval+30*time.Second)
		if err != nil && ctx.Err() == nil {
			l.log.WarnContext(ctx, "job lease", "job", name, "err", err)
		}
		if ok {
			err := fn(ctx)
			if err != nil && ctx.Err() == nil {
				l.log.ErrorContext(ctx, "job failed", "job", name, "err", err)
			}
			if l.OnRun != nil && ctx.Err() == nil {
				l.OnRun(name, err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
