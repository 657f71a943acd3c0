package registration

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// Errors of privacy requests.
var (
	ErrRequestNotFound = errors.New("privacy request not found")
	ErrRequestClosed   = errors.New("privacy request closed")
	// ErrNotSubject: the registration is not the requester's.
	ErrNotSubject = errors.New("registration is not the subject's")
)

// RequestTypes are the rights a request can invoke (GDPR art. 15-21).
var RequestTypes = []string{"access", "portability", "rectification", "erasure", "restriction", "objection", "withdrawal"}

// Request is a data-subject request that arrived by e-mail or letter,
// registered by the privacy contact. The subject's address (to answer
// them) and the notes (which may name them) are sealed, each under a key
// of its own in the key store, shredded a year after the request closed;
// the address is also kept as a keyed hash (to find their registrations).
type Request struct {
	ID         string                    `bson:"_id" json:"id"`
	Type       string                    `bson:"type" json:"type"`
	SubjectKey string                    `bson:"subjectKey" json:"-"`
	Sealed     map[string]privacy.Sealed `bson:"sealed,omitempty" json:"-"`
	ReceivedAt time.Time                 `bson:"receivedAt" json:"receivedAt"`
	// Deadline is one calendar month after receipt (art. 12(3)), later by
	// the extensions recorded.
	Deadline   time.Time       `bson:"deadline" json:"deadline"`
	Extensions []Extension     `bson:"extensions,omitempty" json:"extensions,omitempty"`
	CreatedBy  string          `bson:"createdBy" json:"createdBy"`
	Actions    []RequestAction `bson:"actions" json:"actions"`
	// Events is the scope the request was registered under (the staff
	// token's events); it reaches only registrations of these events and
	// only tokens whose scope covers them. Empty: every event.
	Events   []string   `bson:"events,omitempty" json:"events,omitempty"`
	ClosedAt *time.Time `bson:"closedAt,omitempty" json:"closedAt,omitempty"`
	Outcome  string     `bson:"outcome,omitempty" json:"outcome,omitempty"`
	// Outbox is mail to the requester (an extension's notice); sent ones
	// stay, without their text. MailDue is when the next attempt is due,
	// absent when nothing waits.
	Outbox  []RequestMail `bson:"outbox,omitempty" json:"-"`
	MailDue *time.Time    `bson:"mailDue,omitempty" json:"-"`
}

// Extension is a prolonged deadline (art. 12(3): by two further months
// at most, the requester told within the first month with the reasons).
type Extension struct {
	At          time.Time `bson:"at" json:"at"`
	Months      int       `bson:"months" json:"months"`
	Reason      string    `bson:"reason" json:"reason"`
	By          string    `bson:"by" json:"by"`
	NewDeadline time.Time `bson:"newDeadline" json:"newDeadline"`
}

// RequestMail is a mail to a requester.
type RequestMail struct {
	Kind     string     `bson:"kind"`
	At       time.Time  `bson:"at"`
	Attempts int        `bson:"attempts"`
	SentAt   *time.Time `bson:"sentAt,omitempty"`
}

// RequestAction is one thing done for a request.
type RequestAction struct {
	At           time.Time `bson:"at" json:"at"`
	Action       string    `bson:"action" json:"action"`
	Registration string    `bson:"registration" json:"registration"`
	By           string    `bson:"by" json:"by"`
}

// NewRequest is the body of POST /api/v1/privacy/requests.
type NewRequest struct {
	Type       string `json:"type" validate:"required,oneof=access portability rectification erasure restriction objection withdrawal"`
	Email      string `json:"email" validate:"required,email,max=254,singleline"`
	ReceivedAt string `json:"receivedAt" validate:"required,datetime=2006-01-02"`
	Notes      string `json:"notes" validate:"max=2000"`
}

// RequestView is a request as the privacy contact sees it.
type RequestView struct {
	Request
	Email         string                `json:"email"`
	Notes         string                `json:"notes,omitempty"`
	Overdue       bool                  `json:"overdue"`
	DaysLeft      int                   `json:"daysLeft"`
	Registrations []SubjectRegistration `json:"registrations,omitempty"`
}

// SubjectRegistration is one of the subject's registrations.
type SubjectRegistration struct {
	ID        string    `json:"id"`
	Event     string    `json:"event"`
	Status    Status    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// Requests are data-subject requests that arrive by e-mail or letter,
// registered and answered by the privacy contact.
type Requests struct {
	d        *Domain
	requests *mongodb.Collection
	sender   Sender
}

// NewRequests returns the requests part; sender mails requesters (nil:
// the mail waits).
func NewRequests(d *Domain, sender Sender) *Requests {
	return &Requests{d: d, requests: d.db.Collection(mongodb.PrivacyRequests), sender: sender}
}

// requestKeys names a request's keys in the key store.
func requestKeys(id string) string { return "request:" + id }

// CreateRequest registers a request; by names the staff token.
func (s *Requests) CreateRequest(ctx context.Context, r NewRequest, by string, scope []string) (*RequestView, error) {
	r.Email, r.Notes = strings.TrimSpace(r.Email), strings.TrimSpace(r.Notes)
	if errs := privacy.Struct("", &r); errs != nil {
		return nil, errs
	}
	received, _ := time.Parse(time.DateOnly, r.ReceivedAt)
	now := s.d.now()
	if received.After(now) {
		return nil, privacy.Errors{{Field: "receivedAt", Code: privacy.CodeInvalid}}
	}
	id := rand.Text()
	values := map[string]string{"email": r.Email}
	if r.Notes != "" {
		values["notes"] = r.Notes
	}
	sealed, keys, err := s.d.Store.vault.seal(requestKeys(id), "", now, values)
	if err != nil {
		return nil, err
	}
	req := &Request{
		ID: id, Type: r.Type, SubjectKey: s.d.keys.EmailKey(r.Email), Sealed: sealed,
		ReceivedAt: received, Deadline: privacy.AddMonths(received, 1), CreatedBy: by, Actions: []RequestAction{},
		Events: scope,
	}
	if err := s.d.Store.vault.c.InsertOne(ctx, keys); err != nil {
		return nil, fmt.Errorf("store request keys: %w", err)
	}
	if err := s.requests.InsertOne(ctx, req); err != nil {
		return nil, err
	}
	return s.view(ctx, req, true)
}

// opened is a request's address and notes, while their keys last.
func (s *Requests) opened(ctx context.Context, req *Request) (map[string]string, error) {
	return s.d.Store.vault.open(ctx, &Registration{ID: requestKeys(req.ID), Sealed: req.Sealed})
}

func (s *Requests) view(ctx context.Context, req *Request, withRegistrations bool) (*RequestView, error) {
	values, err := s.opened(ctx, req) // shredded a year after closing
	if err != nil {
		return nil, err
	}
	now := s.d.now()
	v := &RequestView{Request: *req, Email: values["email"], Notes: values["notes"], Overdue: req.ClosedAt == nil && now.After(req.Deadline),
		DaysLeft: int(req.Deadline.Sub(now).Hours() / 24)}
	if withRegistrations && req.SubjectKey != "" {
		regs, err := s.d.Store.ofSubject(ctx, req.SubjectKey)
		if err != nil {
			return nil, err
		}
		v.Registrations = []SubjectRegistration{}
		for _, r := range regs {
			if !req.reaches(r.Event) {
				continue
			}
			v.Registrations = append(v.Registrations, SubjectRegistration{ID: r.ID, Event: r.Event, Status: r.Status, CreatedAt: r.CreatedAt})
		}
	}
	return v, nil
}

// reaches reports whether the request may touch a registration of event.
func (r *Request) reaches(event string) bool {
	return len(r.Events) == 0 || slices.Contains(r.Events, event)
}

// within reports whether a token limited to scope (nil: all) may see the
// request: all of the request's events must be in its scope.
func (r *Request) within(scope []string) bool {
	if scope == nil {
		return true
	}
	if len(r.Events) == 0 {
		return false
	}
	for _, e := range r.Events {
		if !slices.Contains(scope, e) {
			return false
		}
	}
	return true
}

// Requests lists requests by deadline, those within scope (nil: all);
// open only unless all.
func (s *Requests) Requests(ctx context.Context, all bool, scope []string) ([]RequestView, error) {
	filter := bson.M{}
	if !all {
		filter["closedAt"] = bson.M{"$exists": false}
	}
	var reqs []Request
	if err := s.requests.All(ctx, filter, &reqs, options.Find().SetSort(bson.D{{Key: "deadline", Value: 1}})); err != nil {
		return nil, err
	}
	out := []RequestView{}
	for i := range reqs {
		if !reqs[i].within(scope) {
			continue
		}
		v, err := s.view(ctx, &reqs[i], false)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// GetRequest returns a request with the subject's registrations.
func (s *Requests) GetRequest(ctx context.Context, id string, scope []string) (*RequestView, error) {
	req, err := s.request(ctx, id, scope)
	if err != nil {
		return nil, err
	}
	return s.view(ctx, req, true)
}

// request is a request a token limited to scope may see: one outside it
// is not found, as if it did not exist.
func (s *Requests) request(ctx context.Context, id string, scope []string) (*Request, error) {
	var req Request
	err := s.requests.FindOne(ctx, bson.M{"_id": id}, &req)
	if errors.Is(err, mongodb.ErrNotFound) || (err == nil && !req.within(scope)) {
		return nil, ErrRequestNotFound
	}
	return &req, err
}

// SubjectRegistration returns one of the request's subject's
// registrations, for an action on it; the request must be open and within
// scope, the registration of an event the request reaches.
func (s *Requests) SubjectRegistration(ctx context.Context, requestID, regID string, scope []string) (*Registration, error) {
	req, err := s.request(ctx, requestID, scope)
	if err != nil {
		return nil, err
	}
	if req.ClosedAt != nil {
		return nil, ErrRequestClosed
	}
	reg, err := s.d.Store.Get(ctx, regID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotSubject
	}
	if err != nil {
		return nil, err
	}
	if reg.EmailKey != req.SubjectKey || !req.reaches(reg.Event) {
		return nil, ErrNotSubject
	}
	return reg, nil
}

// RecordAction logs what was done for a request.
func (s *Requests) RecordAction(ctx context.Context, requestID, action, regID, by string) error {
	_, err := s.requests.UpdateOne(ctx, bson.M{"_id": requestID, "closedAt": bson.M{"$exists": false}},
		bson.M{"$push": bson.M{"actions": RequestAction{At: s.d.now().UTC().Truncate(time.Millisecond), Action: action, Registration: regID, By: by}}})
	return err
}

// CloseRequest closes a request with its outcome.
func (s *Requests) CloseRequest(ctx context.Context, id, outcome string, scope []string) (*RequestView, error) {
	outcome = strings.TrimSpace(outcome)
	if outcome == "" || len(outcome) > 2000 {
		return nil, privacy.Errors{{Field: "outcome", Code: privacy.CodeRequired}}
	}
	if _, err := s.request(ctx, id, scope); err != nil {
		return nil, err
	}
	now := s.d.now().UTC().Truncate(time.Millisecond)
	var req Request
	err := s.requests.FindOneAndUpdate(ctx, bson.M{"_id": id, "closedAt": bson.M{"$exists": false}},
		bson.M{"$set": bson.M{"closedAt": now, "outcome": outcome}}, &req)
	if errors.Is(err, mongodb.ErrNotFound) {
		if _, gerr := s.request(ctx, id, scope); gerr != nil {
			return nil, gerr
		}
		return nil, ErrRequestClosed
	}
	if err != nil {
		return nil, err
	}
	return s.view(ctx, &req, false)
}

// ExtendRequest is the body of POST /api/v1/privacy/requests/{id}/extend.
type ExtendRequest struct {
	Months int    `json:"months" validate:"required,min=1,max=2"`
	Reason string `json:"reason" validate:"required,max=1000"`
}

// ErrTooLate: the deadline can no longer be extended.
var ErrTooLate = errors.New("extension not allowed")

// Extend prolongs an open request's deadline (art. 12(3)): by one or two
// months, never beyond three months after receipt, with the reason
// recorded and mailed to the requester.
func (s *Requests) Extend(ctx context.Context, id string, r ExtendRequest, by string, scope []string) (*RequestView, error) {
	r.Reason = strings.TrimSpace(r.Reason)
	if errs := privacy.Struct("", &r); errs != nil {
		return nil, errs
	}
	req, err := s.request(ctx, id, scope)
	if err != nil {
		return nil, err
	}
	if req.ClosedAt != nil {
		return nil, ErrRequestClosed
	}
	months := r.Months
	for _, e := range req.Extensions {
		months += e.Months
	}
	now := s.d.now().UTC().Truncate(time.Millisecond)
	if months > 2 || now.After(req.Deadline) {
		// Two further months in all, decided within the time to answer.
		return nil, ErrTooLate
	}
	deadline := privacy.AddMonths(req.ReceivedAt, 1+months)
	out := Request{}
	err = s.requests.FindOneAndUpdate(ctx, bson.M{"_id": id, "deadline": req.Deadline, "closedAt": bson.M{"$exists": false}},
		bson.M{"$set": bson.M{"deadline": deadline, "mailDue": now},
			"$push": bson.M{
				"extensions": Extension{At: now, Months: r.Months, Reason: r.Reason, By: by, NewDeadline: deadline},
				"outbox":     RequestMail{Kind: "extension", At: now},
			}}, &out)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, ErrTooLate // extended or closed meanwhile
	}
	if err != nil {
		return nil, err
	}
	return s.view(ctx, &out, false)
}

// SendDue sends the requesters' mail that waits (an extension's notice, in
// Norwegian and English: the language of a mail that came in is not
// known), and returns how many went.
func (s *Requests) SendDue(ctx context.Context) (int, error) {
	if s.sender == nil {
		return 0, nil
	}
	now := s.d.clock()
	var due []Request
	if err := s.requests.All(ctx, bson.M{"mailDue": bson.M{"$lte": now}}, &due); err != nil {
		return 0, err
	}
	sent := 0
	_, err := mongodb.Sweep(ctx, s.d.log, "request-mail", due, func(r Request) string { return r.ID }, func(ctx context.Context, req Request) error {
		values, err := s.opened(ctx, &req)
		if err != nil {
			return err
		}
		var failed error
		attempts := 0
		for i, m := range req.Outbox {
			if m.SentAt != nil || m.Attempts >= maxRequestMailAttempts {
				continue
			}
			err := s.sendExtension(ctx, &req, values["email"])
			field := fmt.Sprintf("outbox.%d.", i)
			update := bson.M{"$inc": bson.M{field + "attempts": 1}}
			if err == nil {
				update["$set"] = bson.M{field + "sentAt": now}
				sent++
			} else {
				failed = errors.Join(failed, err)
				attempts = max(attempts, m.Attempts+1)
			}
			if _, uerr := s.requests.UpdateOne(ctx, bson.M{"_id": req.ID}, update); uerr != nil {
				return uerr
			}
		}
		// Nothing left, or given up on: nothing is due. Else retry later,
		// backing off (1, 2, 4 ... minutes, at most a day).
		next := bson.M{"$unset": bson.M{"mailDue": ""}}
		if failed != nil && attempts < maxRequestMailAttempts {
			next = bson.M{"$set": bson.M{"mailDue": now.Add(min(time.Minute<<attempts, 24*time.Hour))}}
		}
		if _, err := s.requests.UpdateOne(ctx, bson.M{"_id": req.ID, "mailDue": req.MailDue}, next); err != nil {
			return err
		}
		return failed
	})
	return sent, err
}

// maxRequestMailAttempts is how often a requester's mail is tried.
const maxRequestMailAttempts = 12

func (s *Requests) sendExtension(ctx context.Context, req *Request, to string) error {
	if to == "" {
		return errors.New("no address")
	}
	last := req.Extensions[len(req.Extensions)-1]
	day := last.NewDeadline.In(oslo).Format("02.01.2006")
	text := "Hei!\n\nVi trenger mer tid til å svare på henvendelsen din om personopplysninger, mottatt " + req.ReceivedAt.Format("02.01.2006") +
		". Ny frist er " + day + " (personvernforordningen art. 12 nr. 3).\n\nBegrunnelse: " + last.Reason +
		"\n\n---\n\nHello,\n\nWe need more time to answer your request about personal data, received " + req.ReceivedAt.Format("2 January 2006") +
		". The new deadline is " + last.NewDeadline.In(oslo).Format("2 January 2006") + " (GDPR art. 12(3)).\n\nReason: " + last.Reason + "\n"
	return s.sender.Send(ctx, Message{To: to, Subject: "Svarfristen er forlenget / The deadline for our answer is extended", Text: text})
}
