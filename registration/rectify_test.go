package registration_test

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// TestRectifyKeepsTheOtherValues: correcting one value, or withdrawing a
// consent no field depends on, leaves every other value readable. Before,
// both destroyed every key of the registration (an empty list of fields
// meant "all"): a participant who fixed a typo in their name lost their
// registration's data. A replaced value gets a new key, the old one
// destroyed.
func TestRectifyKeepsTheOtherValues(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	res, err := f.app.Signups.Signup(ctx, "gala", registration.SignupRequest{
		Fields: map[string]string{"name": "Kari", "email": "kari@example.no"}, Consents: registration.ConsentsRequest{privacy.ConsentMarketing: true},
	}, registration.API)
	if err != nil {
		t.Fatal(err)
	}
	keyOf := func(field string) bson.Raw {
		var doc struct {
			Keys map[string]bson.Raw `bson:"keys"`
		}
		_ = f.app.KeyStore.Collection(mongodb.DataKeys).FindOne(ctx, bson.M{"_id": res.ID}, &doc)
		if _, ok := doc.Keys[field+"~prev"]; ok {
			t.Errorf("the replaced key of %s stays", field)
		}
		return doc.Keys[field]
	}
	oldName := keyOf("name")
	if oldName == nil {
		t.Fatal("precondition: the name's key is in the key store")
	}
	reg, _ := f.app.Registrations.Get(ctx, res.ID)
	if _, err := f.app.Rights.Rectify(ctx, reg, registration.RectifyRequest{Fields: map[string]string{"name": "Kari Nordmann"}}); err != nil {
		t.Fatal(err)
	}
	reg, _ = f.app.Registrations.Get(ctx, res.ID)
	if _, err := f.app.Rights.WithdrawConsent(ctx, reg, privacy.ConsentMarketing); err != nil {
		t.Fatal(err)
	}
	reg, _ = f.app.Registrations.Get(ctx, res.ID)
	v, err := f.app.Registrations.Open(ctx, reg)
	if err != nil || v["email"] != "kari@example.no" || v["name"] != "Kari Nordmann" {
		t.Errorf("values after a correction and a withdrawal: %v, %v", v, err)
	}
	if newName := keyOf("name"); newName == nil || string(newName) == string(oldName) {
		t.Error("the corrected name is sealed under the key of the old one")
	}
}
