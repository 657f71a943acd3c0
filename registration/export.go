package registration

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// ErrUnknownPartner: the event has no partner with that id.
var ErrUnknownPartner = errors.New("unknown partner")

// Disclosure records one partner export: to whom, when, by which token,
// which fields, how many registrations. Which registrations is in its
// chunks. It holds no personal data, so it outlives erasure.
type Disclosure struct {
	ID          string    `bson:"_id" json:"id"`
	Event       string    `bson:"event" json:"event"`
	Partner     string    `bson:"partner" json:"partner"`
	PartnerName string    `bson:"partnerName" json:"partnerName"`
	At          time.Time `bson:"at" json:"at"`
	Token       string    `bson:"token" json:"token"`
	Fields      []string  `bson:"fields" json:"fields"`
	Format      string    `bson:"format" json:"format"`
	Count       int       `bson:"count" json:"count"`
	// Complete is false while the export streams, or if it broke off; the
	// chunks then list what was sent.
	Complete bool `bson:"complete" json:"complete"`
}

type disclosureChunk struct {
	ID            string   `bson:"_id"`
	Disclosure    string   `bson:"disclosure"`
	Registrations []string `bson:"registrations"`
}

const chunkSize = 5000

// PartnerColumns are the fields a partner receives of the event: exactly
// those whose catalog recipients include partners (name and organisation
// among the built-ins), computed from the catalog, never listed by hand.
func PartnerColumns(ev *events.Event) []string {
	var cols []string
	for _, df := range ev.Form() {
		if df.SharedWith(privacy.Partners) {
			cols = append(cols, df.Key)
		}
	}
	return cols
}

// PartnerExport streams the partner-safe list of an event to row, and logs
// the disclosure: confirmed registrations that are not restricted and did
// not object to partner sharing, with PartnerColumns only. tokenID names
// the staff token that asked.
func (s *Lists) PartnerExport(ctx context.Context, ev *events.Event, partnerID, tokenID, format string, row func(values []string) error) (*Disclosure, error) {
	i := slices.IndexFunc(ev.Partners, func(p events.Partner) bool { return p.ID == partnerID })
	if i < 0 {
		return nil, ErrUnknownPartner
	}
	cols := PartnerColumns(ev)
	d := &Disclosure{
		ID: rand.Text(), Event: ev.Slug, Partner: partnerID, PartnerName: ev.Partners[i].Name,
		At: s.d.now().UTC().Truncate(time.Millisecond), Token: tokenID, Fields: cols, Format: format,
	}
	if err := s.disclosures.InsertOne(ctx, d); err != nil {
		return nil, fmt.Errorf("log disclosure: %w", err)
	}
	projection := bson.M{"_id": 1, "createdAt": 1}
	for _, c := range cols {
		projection["sealed."+c] = 1
	}
	regs := s.d.Store.vault.openAll(ctx, ev.Slug, cols, s.d.Store.each(ctx, bson.M{
		"event": ev.Slug, "status": Confirmed,
		"restricted": bson.M{"$ne": true}, "objections.partnerSharing": bson.M{"$ne": true},
	}, options.Find().SetProjection(projection).SetBatchSize(1000).SetSort(s.d.Store.insertionOrder())))

	ids := make([]string, 0, chunkSize)
	chunk := 0
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		chunk++
		err := s.chunks.InsertOne(ctx, disclosureChunk{ID: fmt.Sprintf("%s-%d", d.ID, chunk), Disclosure: d.ID, Registrations: ids})
		ids = ids[:0]
		return err
	}
	values := make([]string, len(cols))
	var rowErr error
	for doc, err := range regs {
		if err != nil {
			rowErr = err
			break
		}
		for j, c := range cols {
			values[j] = doc.Plain[c]
		}
		// Logged before it is sent: a disclosure log may list one row
		// too many, never one too few.
		ids = append(ids, doc.ID)
		d.Count++
		if len(ids) == chunkSize {
			if err := flush(); err != nil {
				rowErr = err
				break
			}
		}
		if err := row(values); err != nil {
			rowErr = err
			break
		}
	}
	ctx = context.WithoutCancel(ctx)
	if err := flush(); err != nil && rowErr == nil {
		rowErr = err
	}
	if _, err := s.disclosures.UpdateOne(ctx, bson.M{"_id": d.ID}, bson.M{"$set": bson.M{"count": d.Count, "complete": rowErr == nil}}); err != nil && rowErr == nil {
		rowErr = err
	}
	d.Complete = rowErr == nil
	return d, rowErr
}

// disclosuresOf returns the disclosures that included a registration.
func disclosuresOf(ctx context.Context, db *mongodb.Store, id string) ([]Disclosure, error) {
	var chunks []disclosureChunk
	if err := db.Collection(mongodb.DisclosureChunks).All(ctx, bson.M{"registrations": id}, &chunks, options.Find().SetProjection(bson.M{"disclosure": 1})); err != nil {
		return nil, err
	}
	out := []Disclosure{}
	seen := map[string]bool{}
	for _, c := range chunks {
		if seen[c.Disclosure] {
			continue
		}
		seen[c.Disclosure] = true
		var d Disclosure
		if err := db.Collection(mongodb.Disclosures).FindOne(ctx, bson.M{"_id": c.Disclosure}, &d); err != nil && !errors.Is(err, mongodb.ErrNotFound) {
			return nil, err
		} else if err == nil {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b Disclosure) int { return a.At.Compare(b.At) })
	return out, nil
}

// Disclosures returns an event's disclosure log.
func (s *Lists) Disclosures(ctx context.Context, slug string) ([]Disclosure, error) {
	out := []Disclosure{}
	err := s.disclosures.All(ctx, bson.M{"event": slug}, &out, options.Find().SetSort(bson.D{{Key: "at", Value: 1}}))
	return out, err
}
