// Package webhooks tells organisers' own systems when a registration is
// confirmed, cancelled or paid. Payloads are thin (ids and the event type,
// never personal data), signed with HMAC-SHA256 over a timestamp and the
// body, and retried with backoff for up to three days. The delivery log
// keeps outcomes, never bodies.
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// Errors of outgoing webhooks.
var ErrEndpointNotFound = errors.New("webhook endpoint not found")

// GiveUpAfter is how long a delivery is retried.
const GiveUpAfter = 72 * time.Hour

// Endpoint is an organiser's receiver.
type Endpoint struct {
	ID     string         `bson:"_id" json:"id"`
	URL    string         `bson:"url" json:"url"`
	Events []string       `bson:"events" json:"events"`
	Secret privacy.Sealed `bson:"secret" json:"-"`
	// Created by the staff token with this id.
	CreatedBy string    `bson:"createdBy" json:"createdBy"`
	CreatedAt time.Time `bson:"createdAt" json:"createdAt"`
}

// Delivery is one event to one endpoint, as logged: no body.
type Delivery struct {
	ID           string     `bson:"_id" json:"id"`
	Endpoint     string     `bson:"endpoint" json:"endpoint"`
	Type         string     `bson:"type" json:"type"`
	Registration string     `bson:"registration" json:"registration"`
	Event        string     `bson:"event" json:"event"`
	CreatedAt    time.Time  `bson:"createdAt" json:"createdAt"`
	Attempts     int        `bson:"attempts" json:"attempts"`
	NextAt       *time.Time `bson:"nextAt,omitempty" json:"nextAt,omitempty"`
	DeliveredAt  *time.Time `bson:"deliveredAt,omitempty" json:"deliveredAt,omitempty"`
	GaveUpAt     *time.Time `bson:"gaveUpAt,omitempty" json:"gaveUpAt,omitempty"`
	// LastStatus is the receiver's last HTTP status, 0 when unreachable.
	LastStatus int `bson:"lastStatus" json:"lastStatus"`
}

// Hooks is what dispatching asks of the registrations' owner (package
// registration): the hook events waiting, and taking them off once they
// are deliveries. *registration.Store satisfies it.
type Hooks interface {
	HooksWaiting(ctx context.Context, limit int64) ([]registration.Registration, error)
	HooksDispatched(ctx context.Context, id string, keys []string, hooksAt *time.Time) error
}

// Service keeps endpoints and delivers events.
type Service struct {
	endpoints  *mongodb.Collection
	deliveries *mongodb.Collection
	hooks      Hooks
	keys       *privacy.Keyring
	client     *http.Client
	log        *slog.Logger
	now        func() time.Time
	// AllowHTTP lets receivers on loopback use plain HTTP (tests, local
	// development); everywhere else HTTPS is required.
	AllowLoopbackHTTP bool
}

// NewService returns the webhooks service.
func NewService(db *mongodb.Store, hooks Hooks, keys *privacy.Keyring, log *slog.Logger, now func() time.Time) *Service {
	return &Service{
		endpoints: db.Collection(mongodb.HookEndpoints), deliveries: db.Collection(mongodb.HookDeliveries),
		hooks: hooks, keys: keys, log: log, now: now,
		client: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// NewEndpoint is the body of POST /api/v1/webhooks.
type NewEndpoint struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// Create adds an endpoint and returns its signing secret, shown once.
func (s *Service) Create(ctx context.Context, r NewEndpoint, by string) (*Endpoint, string, error) {
	u, err := url.Parse(strings.TrimSpace(r.URL))
	var errs privacy.Errors
	switch {
	case r.URL == "":
		errs.Add("url", privacy.CodeRequired)
	case err != nil || u.Host == "" || u.User != nil:
		errs.Add("url", privacy.CodeInvalid)
	case u.Scheme == "https":
	case u.Scheme == "http" && s.AllowLoopbackHTTP && isLoopback(u.Hostname()):
	default:
		errs.Add("url", privacy.CodeInvalid)
	}
	if len(r.Events) > 100 {
		errs.Add("events", privacy.CodeInvalid)
	}
	if err := errs.Err(); err != nil {
		return nil, "", err
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := "whsec_pmd_" + base64.RawURLEncoding.EncodeToString(raw)
	e := &Endpoint{ID: rand.Text(), URL: u.String(), Events: slices.Clone(r.Events), CreatedBy: by, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if e.Events == nil {
		e.Events = []string{}
	}
	e.Secret = s.keys.SealSecret("webhook:"+e.ID, secret)
	if err := s.endpoints.InsertOne(ctx, e); err != nil {
		return nil, "", err
	}
	return e, secret, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// List returns every endpoint (without secrets).
func (s *Service) List(ctx context.Context) ([]Endpoint, error) {
	out := []Endpoint{}
	err := s.endpoints.All(ctx, bson.M{}, &out)
	return out, err
}

// Delete removes an endpoint; its pending deliveries are given up.
func (s *Service) Delete(ctx context.Context, id string) error {
	ok, err := s.endpoints.DeleteOne(ctx, bson.M{"_id": id})
	if err != nil {
		return err
	}
	if !ok {
		return ErrEndpointNotFound
	}
	now := s.now().UTC()
	_, err = s.deliveries.UpdateMany(ctx, bson.M{"endpoint": id, "deliveredAt": nil, "gaveUpAt": nil},
		bson.M{"$set": bson.M{"gaveUpAt": now}, "$unset": bson.M{"nextAt": ""}})
	return err
}

// Deliveries returns an endpoint's delivery log, newest first.
func (s *Service) Deliveries(ctx context.Context, id string) ([]Delivery, error) {
	if n, err := s.endpoints.Count(ctx, bson.M{"_id": id}); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, ErrEndpointNotFound
	}
	out := []Delivery{}
	err := s.deliveries.All(ctx, bson.M{"endpoint": id}, &out, options.Find().SetLimit(500))
	slices.Reverse(out)
	return out, err
}

// Dispatch turns the hook events waiting in registrations into deliveries,
// one per endpoint that wants the event. Ids are derived from the
// endpoint and the event, so running it twice creates nothing twice.
// Registrations are handled one by one: a failing one is logged and
// tried again next run.
func (s *Service) Dispatch(ctx context.Context) (int, error) {
	regs, err := s.hooks.HooksWaiting(ctx, 500)
	if err != nil || len(regs) == 0 {
		return 0, err
	}
	eps, err := s.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	_, err = mongodb.Sweep(ctx, s.log, "webhooks", regs, func(r registration.Registration) string { return r.ID },
		func(ctx context.Context, reg registration.Registration) error {
			keys := make([]string, 0, len(reg.Hooks))
			for key, h := range reg.Hooks {
				for _, ep := range eps {
					if len(ep.Events) > 0 && !slices.Contains(ep.Events, reg.Event) {
						continue
					}
					sum := sha256.Sum256([]byte(ep.ID + "|" + reg.ID + "|" + key))
					at := h.At
					d := Delivery{ID: "dlv_" + hex.EncodeToString(sum[:12]), Endpoint: ep.ID, Type: h.Type,
						Registration: reg.ID, Event: reg.Event, CreatedAt: h.At, NextAt: &at}
					if err := s.deliveries.InsertOne(ctx, d); err != nil && !errors.Is(err, mongodb.ErrDuplicate) {
						return err
					} else if err == nil {
						n++
					}
				}
				keys = append(keys, key)
			}
			return s.hooks.HooksDispatched(ctx, reg.ID, keys, reg.HooksAt)
		})
	return n, err
}

// payload is what a receiver gets: ids and the type, nothing personal.
type payload struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Registration string `json:"registration"`
		Event        string `json:"event"`
	} `json:"data"`
}

// Sign returns the Pamelding-Signature header for a body at a time:
// t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// backoff is the wait after n failed attempts: 30 s doubling, at most 6 h.
func backoff(n int) time.Duration {
	return min(30*time.Second<<min(n, 10), 6*time.Hour)
}

// Deliver sends the deliveries that are due and returns how many got a
// 2xx. Each is leased by a conditional update on its due time first, so
// instances sharing the store never send one twice at once; a failing one
// is logged and the others go on.
func (s *Service) Deliver(ctx context.Context) (int, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	var due []Delivery
	if err := s.deliveries.All(ctx, bson.M{"nextAt": bson.M{"$lte": now}}, &due, options.Find().SetLimit(200)); err != nil {
		return 0, err
	}
	eps := map[string]*Endpoint{}
	sent := 0
	_, err := mongodb.Sweep(ctx, s.log, "webhooks", due, func(d Delivery) string { return d.ID }, func(ctx context.Context, d Delivery) error {
		ok, err := s.deliverOne(ctx, d, eps, now)
		if ok {
			sent++
		}
		return err
	})
	return sent, err
}

// deliverOne leases, sends and records one delivery; ok when the
// receiver took it.
func (s *Service) deliverOne(ctx context.Context, d Delivery, eps map[string]*Endpoint, now time.Time) (bool, error) {
	leaseEnd := now.Add(time.Minute)
	if ok, err := s.deliveries.UpdateOne(ctx, bson.M{"_id": d.ID, "nextAt": d.NextAt}, bson.M{"$set": bson.M{"nextAt": leaseEnd}}); err != nil || !ok {
		return false, err
	}
	ep, ok := eps[d.Endpoint]
	if !ok {
		var e Endpoint
		err := s.endpoints.FindOne(ctx, bson.M{"_id": d.Endpoint}, &e)
		switch {
		case errors.Is(err, mongodb.ErrNotFound):
			// The endpoint was deleted: nothing to deliver to.
			_, err := s.deliveries.UpdateOne(ctx, bson.M{"_id": d.ID}, bson.M{"$set": bson.M{"gaveUpAt": now}, "$unset": bson.M{"nextAt": ""}})
			return false, err
		case err != nil:
			// A store error is no reason to give up: the lease runs out
			// and the delivery is tried again.
			return false, err
		}
		ep, eps[d.Endpoint] = &e, &e
	}
	status := s.post(ctx, ep, d)
	d.Attempts++
	set := bson.M{"attempts": d.Attempts, "lastStatus": status}
	update := bson.M{"$set": set}
	delivered := status >= 200 && status < 300
	switch {
	case delivered:
		set["deliveredAt"] = s.now().UTC().Truncate(time.Millisecond)
		update["$unset"] = bson.M{"nextAt": ""}
	case now.Sub(d.CreatedAt) >= GiveUpAfter:
		set["gaveUpAt"] = now
		update["$unset"] = bson.M{"nextAt": ""}
		s.log.WarnContext(ctx, "webhook delivery given up", "delivery", d.ID, "endpoint", d.Endpoint, "attempts", d.Attempts)
	default:
		set["nextAt"] = now.Add(backoff(d.Attempts))
	}
	_, err := s.deliveries.UpdateOne(ctx, bson.M{"_id": d.ID, "nextAt": leaseEnd}, update)
	return delivered, err
}

// post sends one delivery and returns the HTTP status (0: unreachable).
func (s *Service) post(ctx context.Context, ep *Endpoint, d Delivery) int {
	secret, err := s.keys.OpenSecret("webhook:"+ep.ID, ep.Secret)
	if err != nil {
		return 0
	}
	p := payload{ID: d.ID, Type: d.Type, Created: d.CreatedAt.Unix()}
	p.Data.Registration, p.Data.Event = d.Registration, d.Event
	body, _ := json.Marshal(p)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pamelding-webhooks/1")
	req.Header.Set("Pamelding-Signature", Sign(secret, s.now(), body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

// Run dispatches and delivers every interval until ctx ends (under the
// "webhooks" job lease).
func (s *Service) Run(ctx context.Context, jobs *mongodb.Jobs, interval time.Duration) {
	jobs.Loop(ctx, "webhooks", interval, func(ctx context.Context) error {
		if _, err := s.Dispatch(ctx); err != nil {
			return fmt.Errorf("dispatch: %w", err)
		}
		_, err := s.Deliver(ctx)
		return err
	})
}
