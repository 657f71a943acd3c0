package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// Promise is what a participant is told when they sign up: every field of
// the form with its tags as they hold for the event then (category, legal
// basis, purposes, recipients, retention, consent), the partners named,
// the consent texts, whether a public list is published, and who the
// controller is. Each registration keeps the id of the promise it was
// given, and every later use of its data (lists, exports, mail, the access
// report) obeys that promise, not the event's current settings. A promise
// is stored once and never changed: its id is the hash of its content.
type Promise struct {
	ID         string                `bson:"_id" json:"id"`
	Event      string                `bson:"event" json:"event"`
	Fields     []DeclaredField       `bson:"fields" json:"fields"`
	Partners   []Partner             `bson:"partners" json:"partners"`
	Consents   []privacy.ConsentText `bson:"consents" json:"consents"`
	PublicList bool                  `bson:"publicList" json:"publicList"`
	Controller Organiser             `bson:"controller" json:"controller"`
	CreatedAt  time.Time             `bson:"createdAt" json:"createdAt"`
}

// Field returns the promised field with the key.
func (p *Promise) Field(key string) (DeclaredField, bool) {
	i := slices.IndexFunc(p.Fields, func(f DeclaredField) bool { return f.Key == key })
	if i < 0 {
		return DeclaredField{}, false
	}
	return p.Fields[i], true
}

// Allows reports whether the promise lets a field go to a recipient.
func (p *Promise) Allows(key string, r privacy.Recipient) bool {
	f, ok := p.Field(key)
	return ok && f.SharedWith(r)
}

// HasPartner reports whether the promise named the partner.
func (p *Promise) HasPartner(id string) bool {
	return slices.ContainsFunc(p.Partners, func(x Partner) bool { return x.ID == id })
}

// promise is what the event promises now.
func (e *Event) promise() *Promise {
	p := &Promise{Event: e.Slug, Fields: e.Form(), Partners: slices.Clone(e.Partners), PublicList: e.PublicList, Controller: e.Organiser}
	for i := range p.Partners {
		p.Partners[i].AddedAt = time.Time{} // when is not part of what was said
	}
	for _, c := range e.ConsentPurposes() {
		if t, ok := e.ConsentText(c); ok {
			p.Consents = append(p.Consents, t)
		}
	}
	for _, c := range []privacy.ConsentPurpose{privacy.ConsentMarketing, privacy.ConsentGuardian} {
		t, _ := privacy.ConsentTextFor(c)
		p.Consents = append(p.Consents, t)
	}
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	p.ID = hex.EncodeToString(sum[:12])
	return p
}

// promises keeps promises, and a cache of them: they never change.
type promises struct {
	c     *mongodb.Collection
	mu    sync.Mutex
	cache map[string]*Promise
}

// keep stores a promise once; storing it again changes nothing.
func (s *promises) keep(ctx context.Context, p *Promise, now time.Time) error {
	p.CreatedAt = now.UTC().Truncate(time.Millisecond)
	if err := s.c.InsertOne(ctx, p); err != nil && !errors.Is(err, mongodb.ErrDuplicate) {
		return fmt.Errorf("store promise: %w", err)
	}
	return nil
}

// ErrNoPromise: no promise has that id.
var ErrNoPromise = errors.New("promise not found")

// Promise returns the promise with the id.
func (s *Service) Promise(ctx context.Context, id string) (*Promise, error) {
	s.promises.mu.Lock()
	p, ok := s.promises.cache[id]
	s.promises.mu.Unlock()
	if ok {
		return p, nil
	}
	var out Promise
	err := s.promises.c.FindOne(ctx, bson.M{"_id": id}, &out)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, fmt.Errorf("promise %s: %w", id, ErrNoPromise)
	}
	if err != nil {
		return nil, fmt.Errorf("read promise: %w", err)
	}
	s.promises.mu.Lock()
	s.promises.cache[id] = &out
	s.promises.mu.Unlock()
	return &out, nil
}
