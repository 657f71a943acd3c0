package registration

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// keyDoc holds a registration's data keys, in the key store: one key per
// value, wrapped by the master key. Destroying a key makes its value
// unreadable wherever a copy of the sealed value lies: a backup of the
// data store, a free page, a replica. The key store deletes physically
// (see mongodb.Options.Keys and Store.Checkpoint).
type keyDoc struct {
	ID    string `bson:"_id"`
	Event string `bson:"event"`
	// At is when the registration was made (see openAll).
	At   time.Time                 `bson:"at"`
	Keys map[string]privacy.Sealed `bson:"keys"`
}

// vault seals and opens a registration's values with the keys of the key
// store.
type vault struct {
	store *mongodb.Store
	c     *mongodb.Collection
	keys  *privacy.Keyring
}

// ErrKeyDestroyed: the value's key was destroyed (erasure, withdrawal,
// retention); the sealed value can never be opened again.
var ErrKeyDestroyed = errors.New("data key destroyed")

// seal seals values for a new registration, each under a new key; the
// keys are returned for the key store.
func (v *vault) seal(id, event string, at time.Time, values map[string]string) (map[string]privacy.Sealed, *keyDoc, error) {
	doc := &keyDoc{ID: id, Event: event, At: at, Keys: map[string]privacy.Sealed{}}
	sealed := map[string]privacy.Sealed{}
	for field, value := range values {
		dek, wrapped := v.keys.NewValueKey(id, field)
		s, err := privacy.SealValue(dek, id, field, value)
		if err != nil {
			return nil, nil, err
		}
		sealed[field], doc.Keys[field] = s, wrapped
	}
	return sealed, doc, nil
}

// keysOf reads a registration's wrapped keys; none when all were
// destroyed.
func (v *vault) keysOf(ctx context.Context, id string) (map[string]privacy.Sealed, error) {
	var doc keyDoc
	err := v.c.FindOne(ctx, bson.M{"_id": id}, &doc)
	if errors.Is(err, mongodb.ErrNotFound) {
		return map[string]privacy.Sealed{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read data keys: %w", err)
	}
	return doc.Keys, nil
}

// open opens a registration's values (only those named, if any are); a
// value whose key was destroyed is left out.
func (v *vault) open(ctx context.Context, reg *Registration, fields ...string) (map[string]string, error) {
	if len(reg.Sealed) == 0 {
		return map[string]string{}, nil
	}
	keys, err := v.keysOf(ctx, reg.ID)
	if err != nil {
		return nil, err
	}
	return v.openWith(reg, keys, fields...)
}

// openAll opens the named values of a stream of registrations of one
// event, for an export that opens them all: fetching keys row by row is a
// round trip per row. Against MongoDB the keys of each batch of 500 are
// read by their ids. The embedded store cannot find many ids at once
// without reading every document, but reads a collection in insertion
// order, and a registration's keys are stored just before it: its keys
// are read alongside the registrations, in one pass, looking ahead past
// keys stored out of step (concurrent sign-ups) and keeping those until
// their registration comes.
func (v *vault) openAll(ctx context.Context, event string, fields []string, regs iter.Seq2[*Registration, error]) iter.Seq2[*Registration, error] {
	projection := bson.M{"_id": 1}
	for _, f := range fields {
		projection["keys."+f], projection["keys."+f+prevKey] = 1, 1
	}
	open := func(reg *Registration, keys map[string]privacy.Sealed) error {
		values, err := v.openWith(reg, keys, fields...)
		reg.Plain = values
		return err
	}
	if !v.store.Embedded() {
		return func(yield func(*Registration, error) bool) {
			batch := make([]*Registration, 0, 500)
			flush := func() bool {
				ids := make([]string, len(batch))
				for i, r := range batch {
					ids[i] = r.ID
				}
				var docs []keyDoc
				if err := v.c.All(ctx, bson.M{"_id": bson.M{"$in": ids}}, &docs, options.Find().SetProjection(projection)); err != nil {
					return yield(nil, fmt.Errorf("read data keys: %w", err))
				}
				keys := map[string]map[string]privacy.Sealed{}
				for _, d := range docs {
					keys[d.ID] = d.Keys
				}
				for _, r := range batch {
					if err := open(r, keys[r.ID]); err != nil {
						return yield(nil, err)
					}
					if !yield(r, nil) {
						return false
					}
				}
				batch = batch[:0]
				return true
			}
			for r, err := range regs {
				if err != nil {
					yield(nil, err)
					return
				}
				if batch = append(batch, r); len(batch) == cap(batch) && !flush() {
					return
				}
			}
			if len(batch) > 0 {
				flush()
			}
		}
	}
	return func(yield func(*Registration, error) bool) {
		cur, err := v.c.Find(ctx, bson.M{"event": event}, options.Find().SetProjection(projection).SetBatchSize(1000))
		if err != nil {
			yield(nil, fmt.Errorf("read data keys: %w", err))
			return
		}
		defer cur.Close(context.WithoutCancel(ctx))
		ahead := map[string]map[string]privacy.Sealed{}
		for r, err := range regs {
			if err != nil {
				yield(nil, err)
				return
			}
			keys, ok := ahead[r.ID]
			delete(ahead, r.ID)
			for !ok && len(r.Sealed) > 0 && cur.Next(ctx) {
				var d keyDoc
				if err := cur.Decode(&d); err != nil {
					yield(nil, err)
					return
				}
				switch {
				case d.ID == r.ID:
					keys, ok = d.Keys, true
				case d.At.IsZero() || !d.At.Before(r.CreatedAt.Add(-lookBehind)):
					ahead[d.ID] = d.Keys
				}
			}
			if err := cur.Err(); err != nil {
				yield(nil, err)
				return
			}
			if !ok && len(r.Sealed) > 0 {
				if keys, err = v.keysOf(ctx, r.ID); err != nil {
					yield(nil, err)
					return
				}
			}
			if err := open(r, keys); err != nil {
				yield(nil, err)
				return
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// lookBehind is how much earlier than a registration one made before it
// may have been stored (a slow sign-up); keys older than that are not
// kept while looking for a registration's keys.
const lookBehind = 30 * time.Second

// openWith opens a registration's values with its keys as read. A value
// being rectified may still be sealed under the key before (see reseal).
func (v *vault) openWith(reg *Registration, keys map[string]privacy.Sealed, fields ...string) (map[string]string, error) {
	out := map[string]string{}
	for field, sealed := range reg.Sealed {
		if len(fields) > 0 && !slices.Contains(fields, field) {
			continue
		}
		wrapped, ok := keys[field]
		if !ok {
			continue // destroyed: the value is gone
		}
		value, err := v.openValue(reg.ID, field, wrapped, sealed)
		if prev, ok := keys[field+prevKey]; errors.Is(err, privacy.ErrSealedValue) && ok {
			value, err = v.openValue(reg.ID, field, prev, sealed)
		}
		switch {
		case errors.Is(err, privacy.ErrSealedValue):
			// Sealed under a key since replaced (a copy of the data from
			// before a correction): that value is gone.
			continue
		case err != nil:
			return nil, err
		}
		out[field] = value
	}
	return out, nil
}

func (v *vault) openValue(id, field string, wrapped, sealed privacy.Sealed) (string, error) {
	dek, err := v.keys.UnwrapValueKey(id, field, wrapped)
	if err != nil {
		return "", err
	}
	return privacy.OpenValue(dek, id, field, sealed)
}

// prevKey marks a value's key before a rectification, kept until the new
// value is stored (see reseal).
const prevKey = "~prev"

// reseal seals new values of an existing registration, each under a new
// key: the key of a value replaced is destroyed (settle), so no copy of
// the old value can be read again. The new keys are stored before the
// values are, and the old ones kept beside them until settle: a reader
// in between opens either, and a crash leaves a key too many, never a
// value no key opens.
func (v *vault) reseal(ctx context.Context, reg *Registration, values map[string]string) (map[string]privacy.Sealed, error) {
	keys, err := v.keysOf(ctx, reg.ID)
	if err != nil {
		return nil, err
	}
	out := map[string]privacy.Sealed{}
	added := bson.M{}
	for _, field := range slices.Sorted(maps.Keys(values)) {
		dek, wrapped := v.keys.NewValueKey(reg.ID, field)
		added["keys."+field] = wrapped
		if old, ok := keys[field]; ok {
			added["keys."+field+prevKey] = old
		}
		if out[field], err = privacy.SealValue(dek, reg.ID, field, values[field]); err != nil {
			return nil, err
		}
	}
	if len(added) > 0 {
		added["event"], added["at"] = reg.Event, reg.CreatedAt
		if _, err := v.c.UpdateOne(ctx, bson.M{"_id": reg.ID}, bson.M{"$set": added}, options.UpdateOne().SetUpsert(true)); err != nil {
			return nil, fmt.Errorf("store data keys: %w", err)
		}
	}
	return out, nil
}

// settle destroys the keys the values resealed were sealed under before,
// once the new values are stored; the caller checkpoints.
func (v *vault) settle(ctx context.Context, id string, fields []string) error {
	if len(fields) == 0 {
		return nil
	}
	unset := bson.M{}
	for _, f := range fields {
		unset["keys."+f+prevKey] = ""
	}
	if _, err := v.c.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$unset": unset}); err != nil {
		return fmt.Errorf("destroy replaced data keys: %w", err)
	}
	return nil
}

// destroy destroys the keys of the named values of a registration; none
// named, none destroyed. The caller then checkpoints the key store, so no
// copy of the keys is left in its log, and tidies the sealed values away:
// without their keys they are noise.
func (v *vault) destroy(ctx context.Context, id string, fields []string) error {
	if len(fields) == 0 {
		return nil
	}
	unset := bson.M{}
	for _, f := range fields {
		unset["keys."+f], unset["keys."+f+prevKey] = "", ""
	}
	if _, err := v.c.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$unset": unset}); err != nil {
		return fmt.Errorf("destroy data keys: %w", err)
	}
	return nil
}

// destroyAll destroys every key of a registration (its key document).
func (v *vault) destroyAll(ctx context.Context, id string) error {
	if _, err := v.c.DeleteOne(ctx, bson.M{"_id": id}); err != nil {
		return fmt.Errorf("destroy data keys: %w", err)
	}
	return nil
}

// destroyEach destroys the data keys of many registrations (or orders),
// a thousand to a write.
func (v *vault) destroyEach(ctx context.Context, ids []string) error {
	for chunk := range slices.Chunk(ids, 1000) {
		if _, err := v.c.DeleteMany(ctx, bson.M{"_id": bson.M{"$in": chunk}}); err != nil {
			return fmt.Errorf("destroy data keys: %w", err)
		}
	}
	return nil
}

// checkpoint makes destroyed keys gone from the key store's log too.
func (v *vault) checkpoint(ctx context.Context) error {
	if err := v.store.Checkpoint(ctx); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	return nil
}
