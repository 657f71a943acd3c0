package registration

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// legacyDoc is a registration as the first version stored it: values in
// clear but health data, sealed under one data key in the document.
type legacyDoc struct {
	ID        string                    `bson:"_id"`
	Event     string                    `bson:"event"`
	Fields    map[string]string         `bson:"fields"`
	Sealed    map[string]privacy.Sealed `bson:"sealed"`
	DataKey   *privacy.Sealed           `bson:"dataKey"`
	CreatedAt time.Time                 `bson:"createdAt"`
	UpdatedAt time.Time                 `bson:"updatedAt"`
}

// MigrateLegacy seals the values of registrations stored by the first
// version (in clear, or under one key kept in the document) under keys of
// their own in the key store, and fixes their deletion dates. Each is one
// conditional update on the document as read; running it again, or on
// several instances at once, changes nothing twice. It returns how many
// were migrated.
func (d *Domain) MigrateLegacy(ctx context.Context) (int, error) {
	var docs []legacyDoc
	if err := d.Store.c.All(ctx, bson.M{"$or": bson.A{bson.M{"fields": bson.M{"$exists": true}}, bson.M{"dataKey": bson.M{"$exists": true}}}}, &docs); err != nil {
		return 0, fmt.Errorf("find legacy registrations: %w", err)
	}
	n := 0
	for _, doc := range docs {
		values := map[string]string{}
		for k, v := range doc.Fields {
			values[k] = v
		}
		if doc.DataKey != nil {
			dek, err := d.keys.UnwrapLegacyDataKey(doc.ID, *doc.DataKey)
			if err != nil {
				return n, fmt.Errorf("migrate %s: %w", doc.ID, err)
			}
			for k, s := range doc.Sealed {
				v, err := privacy.OpenValue(dek, doc.ID, k, s)
				if err != nil {
					return n, fmt.Errorf("migrate %s: %w", doc.ID, err)
				}
				values[k] = v
			}
		}
		reg := &Registration{ID: doc.ID, Event: doc.Event, CreatedAt: doc.CreatedAt}
		sealed, err := d.Store.vault.reseal(ctx, reg, values)
		if err != nil {
			return n, err
		}
		set := bson.M{"sealed": sealed}
		if ev, err := d.events.Get(ctx, doc.Event); err == nil {
			set["deleteAt"] = deadlines(ev, values)
		}
		ok, err := d.Store.set(ctx, "migrate registration", bson.M{"_id": doc.ID, "updatedAt": doc.UpdatedAt},
			bson.M{"$set": set, "$unset": bson.M{"fields": "", "dataKey": ""}})
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	m, err := d.migrateRequests(ctx)
	return n + m, err
}

// legacyRequest is a privacy request as the first version stored it: the
// address sealed under the master key itself, the notes in clear.
type legacyRequest struct {
	ID    string          `bson:"_id"`
	Email *privacy.Sealed `bson:"email"`
	Notes string          `bson:"notes"`
}

// migrateRequests seals the address and notes of requests stored by the
// first version under keys of their own, so that they can be shredded.
func (d *Domain) migrateRequests(ctx context.Context) (int, error) {
	requests := d.db.Collection(mongodb.PrivacyRequests)
	var docs []legacyRequest
	if err := requests.All(ctx, bson.M{"$or": bson.A{bson.M{"email": bson.M{"$exists": true}}, bson.M{"notes": bson.M{"$exists": true}}}}, &docs); err != nil {
		return 0, fmt.Errorf("find legacy privacy requests: %w", err)
	}
	n := 0
	for _, doc := range docs {
		values := map[string]string{}
		if doc.Email != nil && doc.Email.Data != nil {
			email, err := d.keys.OpenSecret("privacy-request:"+doc.ID, *doc.Email)
			if err != nil {
				return n, fmt.Errorf("migrate privacy request %s: %w", doc.ID, err)
			}
			values["email"] = email
		}
		if doc.Notes != "" {
			values["notes"] = doc.Notes
		}
		sealed, err := d.Store.vault.reseal(ctx, &Registration{ID: requestKeys(doc.ID), CreatedAt: d.now()}, values)
		if err != nil {
			return n, err
		}
		if _, err := requests.UpdateOne(ctx, bson.M{"_id": doc.ID, "sealed": bson.M{"$exists": false}},
			bson.M{"$set": bson.M{"sealed": sealed}, "$unset": bson.M{"email": "", "notes": ""}}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
