package mongodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// Errors at the store boundary; domain packages wrap them in their own.
var (
	// ErrNotFound: no document matched.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: a unique index refused the write.
	ErrDuplicate = errors.New("duplicate key")
	// ErrUnavailable: the store did not answer in time.
	ErrUnavailable = errors.New("store unavailable")
)

// mapErr turns driver errors into the errors above, keeping the driver's
// error in the chain for logs.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return ErrNotFound
	case mongo.IsDuplicateKeyError(err):
		// The driver's message quotes the duplicate value: drop it.
		return ErrDuplicate
	case mongo.IsTimeout(err), mongo.IsNetworkError(err),
		errors.Is(err, mongo.ErrClientDisconnected),
		errors.Is(err, context.DeadlineExceeded):
		return errors.Join(ErrUnavailable, err)
	}
	var sse topology.ServerSelectionError
	if errors.As(err, &sse) {
		return errors.Join(ErrUnavailable, err)
	}
	var se mongo.ServerError
	if errors.As(err, &se) && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		// FerretDB v1 reports an update that breaks a unique index (other
		// than _id) as InternalError with SQLite's message.
		return ErrDuplicate
	}
	if errors.As(err, &se) {
		// Server messages can quote documents; keep only the codes so an
		// error that reaches a log carries no personal data.
		return &serverError{codes: serverCodes(se)}
	}
	return err
}

type serverError struct{ codes []int }

func (e *serverError) Error() string { return fmt.Sprintf("store: server error, codes %v", e.codes) }

func serverCodes(se mongo.ServerError) []int {
	var codes []int
	switch e := se.(type) {
	case mongo.CommandError:
		codes = append(codes, int(e.Code))
	case mongo.WriteException:
		for _, we := range e.WriteErrors {
			codes = append(codes, we.Code)
		}
		if e.WriteConcernError != nil {
			codes = append(codes, e.WriteConcernError.Code)
		}
	case mongo.BulkWriteException:
		for _, we := range e.WriteErrors {
			codes = append(codes, we.Code)
		}
	}
	return codes
}

// Collection is a MongoDB collection whose writes take the embedded store's
// process-wide lock, which gives FerretDB MongoDB's single-document
// atomicity. Reads never wait for it.
type Collection struct {
	c      *mongo.Collection
	lock   *sync.Mutex
	faults *faults
	sql    *embeddedSQL
}

func (c *Collection) write() func() {
	if c.lock == nil {
		return func() {}
	}
	c.lock.Lock()
	return c.lock.Unlock
}

// smallCollections hold a document per event, job or series.
var smallCollections = []string{Events, Leases, Counters}

// byID returns the _id of a conditional single-document write in
// embedded mode: a filter naming a string _id and more. FerretDB v1
// finds a document by its primary key only when the filter is {_id}
// alone; any other filter reads and decodes the whole collection, which
// made every conditional transition O(n).
//
// Collections that hold a handful of documents (one per event, job or
// invoice series) are left to the scan: reading them is cheaper than the
// extra round trip (measured on the seat claim, the hottest write there
// is: 1.6 ms against 1.8 ms).
func (c *Collection) byID(filter any) (string, bool) {
	if c.lock == nil || slices.Contains(smallCollections, c.c.Name()) {
		return "", false
	}
	m, ok := filter.(bson.M)
	if !ok || len(m) < 2 {
		return "", false
	}
	id, ok := m["_id"].(string)
	return id, ok
}

// matchByID reports whether the document with the id matches the whole
// filter: it is found by its primary key (an aggregation's first $match
// of {_id} alone is pushed down) and the filter tested on it alone, by
// the store's own matcher. Called under the embedded write lock, so the
// write that follows by {_id} sees the same document: one conditional
// write, as atomic as before.
func (c *Collection) matchByID(ctx context.Context, id string, filter any) (bool, error) {
	cur, err := c.c.Aggregate(ctx, bson.A{bson.M{"$match": bson.M{"_id": id}}, bson.M{"$match": filter}})
	if err != nil {
		return false, mapErr(err)
	}
	defer cur.Close(ctx)
	found := cur.Next(ctx)
	if err := cur.Err(); err != nil {
		return false, mapErr(err)
	}
	return found, nil
}

// InsertOne inserts doc; ErrDuplicate when a unique index refuses it.
func (c *Collection) InsertOne(ctx context.Context, doc any) error {
	f, err := c.fault("insert")
	if err != nil {
		return err
	}
	defer c.write()()
	_, err = c.c.InsertOne(ctx, doc)
	return f.after(mapErr(err))
}

// InsertionOrder is a sort for documents in the order they were inserted
// (sign-up order, for registrations). MongoDB sorts by the given fields
// with an index. The embedded store gets no sort at all: FerretDB v1 then
// reads SQLite's table in rowid order, which is insertion order, one batch
// at a time; any sort it cannot push down (all but $natural, which it
// refuses for ordinary collections) makes it load and sort every matching
// document in memory (measured: a 100,000-row export peaked at 960 MiB
// sorted by createdAt, 15 MiB unsorted).
func (c *Collection) InsertionOrder(fields bson.D) bson.D {
	if c.lock != nil {
		return bson.D{}
	}
	return fields
}

// InsertMany inserts docs in order (bulk loads: benchmarks, imports).
func (c *Collection) InsertMany(ctx context.Context, docs []any) error {
	f, err := c.fault("insertMany")
	if err != nil {
		return err
	}
	defer c.write()()
	_, err = c.c.InsertMany(ctx, docs)
	return f.after(mapErr(err))
}

// InsertEach inserts docs in one command, unordered, for a group commit:
// each document stands alone. failed[i] says why docs[i] was refused for
// certain (ErrDuplicate, or a server error), nil where it was stored; err
// is a failure of the whole command (a timeout, the network), after which
// any of them may or may not be stored.
func (c *Collection) InsertEach(ctx context.Context, docs []any) (failed []error, err error) {
	f, err := c.fault("insert")
	if err != nil {
		return nil, err
	}
	failed = make([]error, len(docs))
	if len(docs) == 0 {
		return failed, nil
	}
	unlock := c.write()
	_, err = c.c.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	unlock()
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 {
		for _, we := range bwe.WriteErrors {
			if we.Index >= 0 && we.Index < len(docs) {
				if mongo.IsDuplicateKeyError(we) || strings.Contains(we.Message, "UNIQUE constraint failed") {
					failed[we.Index] = ErrDuplicate
				} else {
					failed[we.Index] = &serverError{codes: []int{we.Code}}
				}
			}
		}
		err = nil
	}
	return failed, f.after(mapErr(err))
}

// UpdateOne applies update to the first document matching filter and
// reports whether one matched.
func (c *Collection) UpdateOne(ctx context.Context, filter, update any, opts ...options.Lister[options.UpdateOneOptions]) (matched bool, err error) {
	f, err := c.fault("update")
	if err != nil {
		return false, err
	}
	defer c.write()()
	if id, ok := c.byID(filter); ok && len(opts) == 0 {
		if ok, err := c.matchByID(ctx, id, filter); err != nil || !ok {
			return false, err
		}
		filter = bson.M{"_id": id}
	}
	res, err := c.c.UpdateOne(ctx, filter, update, opts...)
	if err != nil {
		return false, mapErr(err)
	}
	return res.MatchedCount > 0 || res.UpsertedCount > 0, f.after(nil)
}

// UpdateMany applies update to every document matching filter and returns
// how many matched.
func (c *Collection) UpdateMany(ctx context.Context, filter, update any) (int64, error) {
	f, err := c.fault("updateMany")
	if err != nil {
		return 0, err
	}
	defer c.write()()
	res, err := c.c.UpdateMany(ctx, filter, update)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.MatchedCount, f.after(nil)
}

// FindOneAndUpdate atomically updates the first document matching filter
// (in sort order, when given) and decodes it into out as it is after the
// update; ErrNotFound when none matched.
func (c *Collection) FindOneAndUpdate(ctx context.Context, filter, update, out any, sort ...bson.E) error {
	f, err := c.fault("findAndModify")
	if err != nil {
		return err
	}
	defer c.write()()
	o := options.FindOneAndUpdate().SetReturnDocument(options.After)
	if len(sort) > 0 {
		o.SetSort(bson.D(sort))
	} else if id, ok := c.byID(filter); ok {
		if ok, err := c.matchByID(ctx, id, filter); err != nil || !ok {
			if err == nil {
				err = ErrNotFound
			}
			return err
		}
		filter = bson.M{"_id": id}
	}
	res := c.c.FindOneAndUpdate(ctx, filter, update, o)
	if err := res.Err(); err != nil {
		return mapErr(err)
	}
	return f.after(mapErr(res.Decode(out)))
}

// DeleteOne deletes the first document matching filter and reports whether
// there was one.
func (c *Collection) DeleteOne(ctx context.Context, filter any) (bool, error) {
	f, err := c.fault("delete")
	if err != nil {
		return false, err
	}
	defer c.write()()
	if id, ok := c.byID(filter); ok {
		if ok, err := c.matchByID(ctx, id, filter); err != nil || !ok {
			return false, err
		}
		filter = bson.M{"_id": id}
	}
	res, err := c.c.DeleteOne(ctx, filter)
	if err != nil {
		return false, mapErr(err)
	}
	return res.DeletedCount > 0, f.after(nil)
}

// DeleteMany deletes every document matching filter and says how many.
func (c *Collection) DeleteMany(ctx context.Context, filter any) (int64, error) {
	f, err := c.fault("deleteMany")
	if err != nil {
		return 0, err
	}
	defer c.write()()
	res, err := c.c.DeleteMany(ctx, filter)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.DeletedCount, f.after(nil)
}

// FindOne decodes the first document matching filter into out;
// ErrNotFound when none does. On the embedded store a filter SQL says
// exactly is looked up on FerretDB's indexes (see pushdown.go); which
// document is "first" is then the index's order: ask for a sort where
// the order matters.
func (c *Collection) FindOne(ctx context.Context, filter, out any, opts ...options.Lister[options.FindOneOptions]) error {
	if _, err := c.fault("find"); err != nil {
		return err
	}
	if len(opts) == 0 {
		if ok, err := c.findOne(ctx, filter, out); ok || err != nil {
			return err
		}
	}
	res := c.c.FindOne(ctx, filter, opts...)
	if err := res.Err(); err != nil {
		return mapErr(err)
	}
	return mapErr(res.Decode(out))
}

// Find returns a cursor over the documents matching filter. The caller
// closes it.
func (c *Collection) Find(ctx context.Context, filter any, opts ...options.Lister[options.FindOptions]) (*mongo.Cursor, error) {
	if _, err := c.fault("find"); err != nil {
		return nil, err
	}
	cur, err := c.c.Find(ctx, filter, opts...)
	return cur, mapErr(err)
}

// All decodes every document matching filter into out, a pointer to a
// slice.
func (c *Collection) All(ctx context.Context, filter, out any, opts ...options.Lister[options.FindOptions]) error {
	cur, err := c.Find(ctx, filter, opts...)
	if err != nil {
		return err
	}
	return mapErr(cur.All(ctx, out))
}

// Count counts the documents matching filter; on the embedded store, in
// SQL where that is exact (see pushdown.go).
func (c *Collection) Count(ctx context.Context, filter any) (int64, error) {
	if _, err := c.fault("count"); err != nil {
		return 0, err
	}
	if n, ok, err := c.sql.count(ctx, c.c.Name(), filter); ok {
		return n, err
	}
	n, err := c.c.CountDocuments(ctx, filter)
	return n, mapErr(err)
}

// NotApplied reports whether err says for certain that a write was not
// made: a unique index or the server refused it. A timeout, a network
// error or a cancelled context leave it open (the write may have been
// committed), and so does anything unknown.
func NotApplied(err error) bool {
	var se *serverError
	return errors.Is(err, ErrDuplicate) || errors.As(err, &se)
}
