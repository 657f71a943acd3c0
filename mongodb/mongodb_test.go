package mongodb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/mongodb/mongotest"
)

// TestEmbeddedWriteLock is the measurement DESIGN.md describes, turned into
// a guarantee: without the lock FerretDB v1 oversells.
func TestEmbeddedWriteLock(t *testing.T) {
	ctx := context.Background()
	s := mongotest.Open(t)
	if !s.Embedded() {
		t.Fatal("expected the embedded store")
	}
	seats := s.Collection(mongodb.Seats)
	if err := seats.InsertOne(ctx, bson.M{"_id": "race", "remaining": 100}); err != nil {
		t.Fatal(err)
	}

	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var doc bson.M
				err := seats.FindOneAndUpdate(ctx,
					bson.M{"_id": "race", "remaining": bson.M{"$gt": 0}},
					bson.M{"$inc": bson.M{"remaining": -1}}, &doc)
				if errors.Is(err, mongodb.ErrNotFound) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				granted.Add(1)
			}
		}()
	}
	wg.Wait()

	if got := granted.Load(); got != 100 {
		t.Errorf("granted %d seats, want exactly 100", got)
	}
	var doc struct {
		Remaining int `bson:"remaining"`
	}
	if err := seats.FindOne(ctx, bson.M{"_id": "race"}, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Remaining != 0 {
		t.Errorf("remaining = %d, want 0", doc.Remaining)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	s := mongotest.Open(t)
	c := s.Collection(mongodb.Events)

	t.Run("ErrDuplicate", func(t *testing.T) {
		if err := c.InsertOne(ctx, bson.M{"_id": "a", "slug": "same"}); err != nil {
			t.Fatal(err)
		}
		err := c.InsertOne(ctx, bson.M{"_id": "b", "slug": "same"})
		if !errors.Is(err, mongodb.ErrDuplicate) {
			t.Fatalf("err = %v, want ErrDuplicate from the unique slug index", err)
		}
		if n, _ := c.Count(ctx, bson.M{"slug": "same"}); n != 1 {
			t.Errorf("%d documents with the slug, want 1", n)
		}
	})
	t.Run("ErrDuplicateOnUpdate", func(t *testing.T) {
		if err := c.InsertOne(ctx, bson.M{"_id": "c", "slug": "other"}); err != nil {
			t.Fatal(err)
		}
		var out bson.M
		err := c.FindOneAndUpdate(ctx, bson.M{"_id": "c"}, bson.M{"$set": bson.M{"slug": "same"}}, &out)
		if !errors.Is(err, mongodb.ErrDuplicate) {
			t.Fatalf("findAndModify: err = %v, want ErrDuplicate", err)
		}
		if _, err := c.UpdateOne(ctx, bson.M{"_id": "c"}, bson.M{"$set": bson.M{"slug": "same"}}); !errors.Is(err, mongodb.ErrDuplicate) {
			t.Fatalf("update: err = %v, want ErrDuplicate", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		var out bson.M
		if err := c.FindOne(ctx, bson.M{"_id": "nope"}, &out); !errors.Is(err, mongodb.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
}

func TestEmbeddedDataDir(t *testing.T) {
	dir := filepath.Join(mongotest.ShortTempDir(t), "data")
	s, err := mongodb.Open(context.Background(), mongodb.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode = %o, want 700", perm)
	}
	fi, err = os.Stat(filepath.Join(dir, mongodb.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("%s is not a socket", mongodb.SocketName)
	}

	t.Run("SecondServerRefused", func(t *testing.T) {
		_, err := mongodb.Open(context.Background(), mongodb.Options{DataDir: dir})
		if err == nil {
			t.Fatal("a second embedded store on the same directory started")
		}
	})
	t.Run("Attach", func(t *testing.T) {
		s2, err := mongodb.Open(context.Background(), mongodb.Options{DataDir: dir, Attach: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close(context.Background())
		if err := s2.Collection(mongodb.Tokens).InsertOne(context.Background(), bson.M{"_id": "x"}); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Collection(mongodb.Tokens).Count(context.Background(), bson.M{"_id": "x"}); n != 1 {
			t.Error("a document written through the attached client is not in the server's store")
		}
	})
}

// TestInsertionOrder guards what InsertionOrder relies on: the embedded
// store returns documents unsorted in the order they were inserted, also
// past the first batch and with a filter.
func TestInsertionOrder(t *testing.T) {
	ctx := context.Background()
	s := mongotest.Open(t)
	c := s.Collection(mongodb.Registrations)
	ids := make([]string, 0, 600)
	for i := range 600 {
		// Ids in an order unlike insertion: the store must not sort by _id.
		id := fmt.Sprintf("%03d-%d", (i*7919)%1000, i)
		ids = append(ids, id)
		if err := c.InsertOne(ctx, bson.M{"_id": id, "event": "e", "n": i}); err != nil {
			t.Fatal(err)
		}
	}
	cur, err := c.Find(ctx, bson.M{"event": "e"}, options.Find().SetSort(c.InsertionOrder(bson.D{{Key: "n", Value: 1}})).SetBatchSize(100))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for cur.Next(ctx) {
		var d struct {
			ID string `bson:"_id"`
		}
		if err := cur.Decode(&d); err != nil {
			t.Fatal(err)
		}
		got = append(got, d.ID)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("order differs from insertion order (first %v)", got[:5])
	}
}
