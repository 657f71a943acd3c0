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

// Disclosure records one time personal data left the store for someone:
// a partner's export, or a list staff read (every decryption for staff is
// logged): to whom, when, by which token, which fields, how many
// registrations. Which registrations is in its chunks. It holds no
// personal data, so it outlives erasure, and each participant's access
// report lists the disclosures that included them.
type Disclosure struct {
	ID    string `bson:"_id" json:"id"`
	Event string `bson:"event" json:"event"`
	// Recipient is partners, or the staff role that read: organiser,
	// catering or finance.
	Recipient   string    `bson:"recipient" json:"recipient"`
	Partner     string    `bson:"partner,omitempty" json:"partner,omitempty"`
	PartnerName string    `bson:"partnerName,omitempty" json:"partnerName,omitempty"`
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

// disclosureLog writes one disclosure as its rows go out: a row is
// logged before it is sent, so the log may list one row too many, never
// one too few.
type disclosureLog struct {
	s   *Lists
	d   *Disclosure
	ids []string
	n   int
}

func (s *Lists) startDisclosure(ctx context.Context, d *Disclosure) (*disclosureLog, error) {
	d.ID, d.At = rand.Text(), s.d.now().UTC().Truncate(time.Millisecond)
	if err := s.disclosures.InsertOne(ctx, d); err != nil {
		return nil, fmt.Errorf("log disclosure: %w", err)
	}
	return &disclosureLog{s: s, d: d, ids: make([]string, 0, 64)}, nil
}

func (l *disclosureLog) add(ctx context.Context, id string) error {
	l.ids = append(l.ids, id)
	l.d.Count++
	if len(l.ids) == chunkSize {
		return l.flush(ctx)
	}
	return nil
}

func (l *disclosureLog) flush(ctx context.Context) error {
	if len(l.ids) == 0 {
		return nil
	}
	l.n++
	err := l.s.chunks.InsertOne(ctx, disclosureChunk{ID: fmt.Sprintf("%s-%d", l.d.ID, l.n), Disclosure: l.d.ID, Registrations: l.ids})
	l.ids = make([]string, 0, 64)
	return err
}

// finish writes what is left and whether the rows all went out.
func (l *disclosureLog) finish(ctx context.Context, rowErr error) error {
	ctx = context.WithoutCancel(ctx)
	if err := l.flush(ctx); err != nil && rowErr == nil {
		rowErr = err
	}
	if _, err := l.s.disclosures.UpdateOne(ctx, bson.M{"_id": l.d.ID}, bson.M{"$set": bson.M{"count": l.d.Count, "complete": rowErr == nil}}); err != nil && rowErr == nil {
		rowErr = err
	}
	l.d.Complete = rowErr == nil
	return rowErr
}

// Disclosed logs that the named fields of the registrations were opened
// for a staff role (finance reading its reconciliation report, say) by
// the token with the id.
func (s *Store) Disclosed(ctx context.Context, event, recipient, token string, fields, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	l := &Lists{d: &Domain{Store: s, now: s.now}, disclosures: s.disclosures, chunks: s.chunks}
	log, err := l.startDisclosure(ctx, &Disclosure{Event: event, Recipient: recipient, Token: token, Fields: fields, Format: "report"})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := log.add(ctx, id); err != nil {
			return log.finish(ctx, err)
		}
	}
	return log.finish(ctx, nil)
}

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
// not object to partner sharing, with PartnerColumns only, and only those
// who were told of this partner: at sign-up (their promise names it), or
// by the notice of a partner added later, once its objection window has
// passed. tokenID names the staff token that asked.
func (s *Lists) PartnerExport(ctx context.Context, ev *events.Event, partnerID, tokenID, format string, row func(values []string) error) (*Disclosure, error) {
	i := slices.IndexFunc(ev.Partners, func(p events.Partner) bool { return p.ID == partnerID })
	if i < 0 {
		return nil, ErrUnknownPartner
	}
	cols := PartnerColumns(ev)
	log, err := s.startDisclosure(ctx, &Disclosure{Event: ev.Slug, Recipient: string(privacy.Partners), Partner: partnerID,
		PartnerName: ev.Partners[i].Name, Token: tokenID, Fields: cols, Format: format})
	if err != nil {
		return nil, err
	}
	now := s.d.clock()
	projection := bson.M{"_id": 1, "createdAt": 1, "promise": 1, "partnerNotices": 1, "event": 1}
	for _, c := range cols {
		projection["sealed."+c] = 1
	}
	told := func(yield func(*Registration, error) bool) {
		for reg, err := range s.d.Store.each(ctx, bson.M{
			"event": ev.Slug, "status": Confirmed,
			"restricted": bson.M{"$ne": true}, "objections.partnerSharing": bson.M{"$ne": true},
		}, options.Find().SetProjection(projection).SetBatchSize(1000).SetSort(s.d.Store.insertionOrder())) {
			if err == nil {
				var ok bool
				if ok, err = s.toldOf(ctx, reg, partnerID, now); err == nil && !ok {
					continue
				}
			}
			if !yield(reg, err) {
				return
			}
		}
	}
	values := make([]string, len(cols))
	var rowErr error
	for doc, err := range s.d.Store.vault.openAll(ctx, ev.Slug, cols, told) {
		if err != nil {
			rowErr = err
			break
		}
		for j, c := range cols {
			values[j] = doc.Plain[c]
		}
		if err := log.add(ctx, doc.ID); err != nil {
			rowErr = err
			break
		}
		if err := row(values); err != nil {
			rowErr = err
			break
		}
	}
	return log.d, log.finish(ctx, rowErr)
}

// toldOf says whether a participant was told their name goes to the
// partner: at sign-up, or by the notice of a partner added later, whose
// objection window has passed.
func (s *Lists) toldOf(ctx context.Context, reg *Registration, partnerID string, now time.Time) (bool, error) {
	p, err := s.d.promise(ctx, reg)
	if err != nil {
		return false, err
	}
	if p.HasPartner(partnerID) {
		return true, nil
	}
	at, ok := reg.PartnerNotices[partnerID]
	return ok && !now.Before(at.Add(s.objectionWindow)), nil
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

// NoticePartners tells the participants who signed up before a partner
// was added (their promise does not name it) that it will get their name
// and organisation, and how to object, by mail with a new manage link; the
// partner's export includes them once the objection window since has
// passed. It returns how many it told; done when nobody is left to tell.
func (s *Lists) NoticePartners(ctx context.Context, ev *events.Event, partnerID string) (n int, done bool, err error) {
	live, err := s.d.Store.Live(ctx, ev.Slug)
	if err != nil {
		return 0, false, err
	}
	now := s.d.clock()
	objectBy := now.Add(s.objectionWindow)
	for i := range live {
		reg := &live[i]
		if _, told := reg.PartnerNotices[partnerID]; told {
			continue
		}
		p, err := s.d.promise(ctx, reg)
		if err != nil {
			return n, false, err
		}
		if p.HasPartner(partnerID) {
			continue
		}
		m := s.d.mailWithToken(mailPartner, now, newManageToken(reg.ID))
		m.Partner, m.ObjectBy = partnerID, &objectBy
		ok, err := s.d.Store.notePartner(ctx, reg.ID, partnerID, now, m)
		if err != nil {
			return n, false, err
		}
		if ok {
			n++
			s.d.notifyMail(reg.ID)
		}
	}
	return n, true, nil
}
