package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/mongodb"
)

// stateStore is a fiber.Storage on the store, for the CSRF and session
// middleware, so every instance sees the same tokens. Keys are stored as
// SHA-256 hashes: a copy of the database does not hand out sessions.
type stateStore struct {
	c   *mongodb.Collection
	now func() time.Time
}

type stateDoc struct {
	ID        string     `bson:"_id"`
	Value     []byte     `bson:"value"`
	ExpiresAt *time.Time `bson:"expiresAt,omitempty"`
}

func stateKey(k string) string {
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:])
}

// The fiber.Storage interface has no context; these calls are short and
// bounded by the store's own timeouts.
var storageCtx = context.TODO()

func (s *stateStore) Get(key string) ([]byte, error) {
	if key == "" {
		return nil, nil
	}
	var d stateDoc
	err := s.c.FindOne(storageCtx, bson.M{"_id": stateKey(key)}, &d)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if d.ExpiresAt != nil && !s.now().Before(*d.ExpiresAt) {
		return nil, nil
	}
	return d.Value, nil
}

func (s *stateStore) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil
	}
	set := bson.M{"value": val}
	update := bson.M{"$set": set}
	if exp > 0 {
		set["expiresAt"] = s.now().Add(exp).UTC()
	} else {
		update["$unset"] = bson.M{"expiresAt": ""}
	}
	_, err := s.c.UpdateOne(storageCtx, bson.M{"_id": stateKey(key)}, update, options.UpdateOne().SetUpsert(true))
	return err
}

func (s *stateStore) Delete(key string) error {
	_, err := s.c.DeleteOne(storageCtx, bson.M{"_id": stateKey(key)})
	return err
}

// Reset is not offered: the collection is shared by every instance.
func (s *stateStore) Reset() error { return errors.New("state store: reset not supported") }

func (s *stateStore) Close() error { return nil }

// Sweep deletes expired entries; a job runs it.
func (s *stateStore) Sweep(ctx context.Context) (int64, error) {
	return s.c.DeleteMany(ctx, bson.M{"expiresAt": bson.M{"$lt": s.now().UTC()}})
}

// StateJob is the background job that sweeps the pages' expired sessions
// and CSRF tokens.
func StateJob(a *app.App, every time.Duration) app.Job {
	st := &stateStore{c: a.Store.Collection(mongodb.WebState), now: time.Now}
	return app.Job{Name: "web-state", Every: every, Run: func(ctx context.Context) error {
		_, err := st.Sweep(ctx)
		return err
	}}
}
