package registration

import (
	"context"
	"crypto/rand"
	"errors"
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
// registered by the privacy contact. The subject's address is kept sealed
// (to answer them) and as a keyed hash (to find their registrations).
type Request struct {
	ID         string         `bson:"_id" json:"id"`
	Type       string         `bson:"type" json:"type"`
	SubjectKey string         `bson:"subjectKey" json:"-"`
	Email      privacy.Sealed `bson:"email" json:"-"`
	ReceivedAt time.Time      `bson:"receivedAt" json:"receivedAt"`
	// Deadline is one month after receipt (art. 12(3)).
	Deadline  time.Time       `bson:"deadline" json:"deadline"`
	Notes     string          `bson:"notes,omitempty" json:"notes,omitempty"`
	CreatedBy string          `bson:"createdBy" json:"createdBy"`
	Actions   []RequestAction `bson:"actions" json:"actions"`
	ClosedAt  *time.Time      `bson:"closedAt,omitempty" json:"closedAt,omitempty"`
	Outcome   string          `bson:"outcome,omitempty" json:"outcome,omitempty"`
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
	Email      string `json:"email" validate:"required,email,max=254"`
	ReceivedAt string `json:"receivedAt" validate:"required,datetime=2006-01-02"`
	Notes      string `json:"notes" validate:"max=2000"`
}

// RequestView is a request as the privacy contact sees it.
type RequestView struct {
	Request
	Email         string                `json:"email"`
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
}

// NewRequests returns the requests part.
func NewRequests(d *Domain) *Requests {
	return &Requests{d: d, requests: d.db.Collection(mongodb.PrivacyRequests)}
}

// CreateRequest registers a request; by names the staff token.
func (s *Requests) CreateRequest(ctx context.Context, r NewRequest, by string) (*RequestView, error) {
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
	req := &Request{
		ID: id, Type: r.Type, SubjectKey: s.d.keys.EmailKey(r.Email), Email: s.d.keys.SealSecret("privacy-request:"+id, r.Email),
		ReceivedAt: received, Deadline: received.AddDate(0, 1, 0), Notes: r.Notes, CreatedBy: by, Actions: []RequestAction{},
	}
	if err := s.requests.InsertOne(ctx, req); err != nil {
		return nil, err
	}
	return s.view(ctx, req, true)
}

func (s *Requests) view(ctx context.Context, req *Request, withRegistrations bool) (*RequestView, error) {
	email := "" // removed by retention a year after closing
	if req.Email.Data != nil {
		var err error
		if email, err = s.d.keys.OpenSecret("privacy-request:"+req.ID, req.Email); err != nil {
			return nil, err
		}
	}
	now := s.d.now()
	v := &RequestView{Request: *req, Email: email, Overdue: req.ClosedAt == nil && now.After(req.Deadline),
		DaysLeft: int(req.Deadline.Sub(now).Hours() / 24)}
	if withRegistrations && req.SubjectKey != "" {
		regs, err := s.d.Store.ofSubject(ctx, req.SubjectKey)
		if err != nil {
			return nil, err
		}
		v.Registrations = []SubjectRegistration{}
		for _, r := range regs {
			v.Registrations = append(v.Registrations, SubjectRegistration{ID: r.ID, Event: r.Event, Status: r.Status, CreatedAt: r.CreatedAt})
		}
	}
	return v, nil
}

// Requests lists requests by deadline; open only unless all.
func (s *Requests) Requests(ctx context.Context, all bool) ([]RequestView, error) {
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
		v, err := s.view(ctx, &reqs[i], false)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// GetRequest returns a request with the subject's registrations.
func (s *Requests) GetRequest(ctx context.Context, id string) (*RequestView, error) {
	req, err := s.request(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.view(ctx, req, true)
}

func (s *Requests) request(ctx context.Context, id string) (*Request, error) {
	var req Request
	err := s.requests.FindOne(ctx, bson.M{"_id": id}, &req)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, ErrRequestNotFound
	}
	return &req, err
}

// SubjectRegistration returns one of the request's subject's
// registrations, for an action on it; the request must be open.
func (s *Requests) SubjectRegistration(ctx context.Context, requestID, regID string) (*Registration, error) {
	req, err := s.request(ctx, requestID)
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
	if reg.EmailKey != req.SubjectKey {
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
func (s *Requests) CloseRequest(ctx context.Context, id, outcome string) (*RequestView, error) {
	outcome = strings.TrimSpace(outcome)
	if outcome == "" || len(outcome) > 2000 {
		return nil, privacy.Errors{{Field: "outcome", Code: privacy.CodeRequired}}
	}
	now := s.d.now().UTC().Truncate(time.Millisecond)
	var req Request
	err := s.requests.FindOneAndUpdate(ctx, bson.M{"_id": id, "closedAt": bson.M{"$exists": false}},
		bson.M{"$set": bson.M{"closedAt": now, "outcome": outcome}}, &req)
	if errors.Is(err, mongodb.ErrNotFound) {
		if _, gerr := s.request(ctx, id); gerr != nil {
			return nil, gerr
		}
		return nil, ErrRequestClosed
	}
	if err != nil {
		return nil, err
	}
	return s.view(ctx, &req, false)
}
