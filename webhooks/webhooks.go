// Package webhooks tells organisers' own systems when a registration is
// confirmed, cancelled or paid. Payloads are thin (ids and the event type,
// never personal data), signed the Standard Webhooks way
// (https://www.standardwebhooks.com/: webhook-id, webhook-timestamp and
// webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>"), and
// retried with backoff for up to three days. Destinations must be public
// HTTPS addresses, checked when an endpoint is saved and again on every
// connection. The delivery log keeps outcomes, never bodies.
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
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
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

// Types are the webhook types an endpoint may ask for.
var Types = []string{registration.HookConfirmed, registration.HookCancelled, registration.HookPaid}

// Endpoint is an organiser's receiver. Types and Events filter what it
// gets (event types, event slugs); an empty filter lets all through.
type Endpoint struct {
	ID     string   `bson:"_id" json:"id"`
	URL    string   `bson:"url" json:"url"`
	Types  []string `bson:"types" json:"types"`
	Events []string `bson:"events" json:"events"`
	// Enabled: a disabled endpoint gets no deliveries.
	Enabled bool           `bson:"enabled" json:"enabled"`
	Secret  privacy.Sealed `bson:"secret" json:"-"`
	// Created by the staff token with this id.
	CreatedBy string     `bson:"createdBy" json:"createdBy"`
	CreatedAt time.Time  `bson:"createdAt" json:"createdAt"`
	UpdatedAt *time.Time `bson:"updatedAt,omitempty" json:"updatedAt,omitempty"`
}

// UnmarshalBSON reads an endpoint, also one stored before types and
// enabled existed: its events then held whatever was sent, types and
// slugs alike. Slugs have no dots and every type has one, so the known
// types become its type filter and the rest stay its event filter;
// it is enabled. The document is rewritten in the new form on its next
// update.
func (e *Endpoint) UnmarshalBSON(b []byte) error {
	type plain Endpoint
	if err := bson.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	raw := bson.Raw(b)
	if _, err := raw.LookupErr("enabled"); err != nil {
		e.Enabled = true
	}
	if _, err := raw.LookupErr("types"); err != nil {
		legacy := e.Events
		e.Types, e.Events = []string{}, []string{}
		for _, v := range legacy {
			if slices.Contains(Types, v) {
				e.Types = append(e.Types, v)
			} else {
				e.Events = append(e.Events, v)
			}
		}
	}
	if e.Types == nil {
		e.Types = []string{}
	}
	if e.Events == nil {
		e.Events = []string{}
	}
	return nil
}

// wants says whether the endpoint gets an event of a type.
func (e *Endpoint) wants(typ, event string) bool {
	return e.Enabled && (len(e.Types) == 0 || slices.Contains(e.Types, typ)) &&
		(len(e.Events) == 0 || slices.Contains(e.Events, event))
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
	// LastError says why the last attempt got no status:
	// destination_not_public, https_required, unresolvable, unreachable.
	LastError string `bson:"lastError,omitempty" json:"lastError,omitempty"`
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
	// Options may be changed before use (tests do).
	Options
	// Lookup resolves destination host names, when an endpoint is saved
	// and when a delivery connects (default: the system resolver). Tests
	// replace it.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

	endpoints  *mongodb.Collection
	deliveries *mongodb.Collection
	hooks      Hooks
	keys       *privacy.Keyring
	dialer     *net.Dialer
	client     *http.Client
	log        *slog.Logger
	now        func() time.Time
}

// NewService returns the webhooks service.
func NewService(db *mongodb.Store, hooks Hooks, keys *privacy.Keyring, log *slog.Logger, now func() time.Time, opts Options) *Service {
	s := &Service{
		Options: opts,
		Lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
		endpoints: db.Collection(mongodb.HookEndpoints), deliveries: db.Collection(mongodb.HookDeliveries),
		hooks: hooks, keys: keys, log: log, now: now,
	}
	s.client = s.newClient()
	if opts.AllowHTTP {
		log.Warn("webhooks: plain http destinations are accepted (PAMELDING_WEBHOOKS_ALLOW_HTTP, development only)")
	}
	if opts.AllowPrivate {
		log.Warn("webhooks: loopback, private and other non-public destinations are accepted (PAMELDING_WEBHOOKS_ALLOW_PRIVATE, development only)")
	}
	return s
}

// NewEndpoint is the body of POST /api/v1/webhooks.
type NewEndpoint struct {
	URL string `json:"url"`
	// Types are webhook types (registration.confirmed, ...), Events event
	// slugs; empty or left out: all.
	Types  []string `json:"types"`
	Events []string `json:"events"`
}

// EndpointChange is the body of PATCH /api/v1/webhooks/{id}: members
// left out stay as they are.
type EndpointChange struct {
	URL     *string   `json:"url"`
	Types   *[]string `json:"types"`
	Events  *[]string `json:"events"`
	Enabled *bool     `json:"enabled"`
}

// maxFilter bounds each filter.
const maxFilter = 100

var slugRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// checkTypes validates a type filter: known types only (field
// types[i], code unknown). It returns the filter sorted, without
// duplicates.
func checkTypes(types []string, errs *privacy.Errors) []string {
	if len(types) > maxFilter {
		errs.Add("types", privacy.CodeTooLong)
		return nil
	}
	for i, t := range types {
		if !slices.Contains(Types, t) {
			errs.Add("types["+strconv.Itoa(i)+"]", privacy.CodeUnknown)
		}
	}
	return sortedSet(types)
}

// checkEvents validates an event filter: event slugs (field events[i],
// code invalid; a type sent here is refused, not silently never matched).
func checkEvents(slugs []string, errs *privacy.Errors) []string {
	if len(slugs) > maxFilter {
		errs.Add("events", privacy.CodeTooLong)
		return nil
	}
	for i, v := range slugs {
		if len(v) > 64 || !slugRE.MatchString(v) {
			errs.Add("events["+strconv.Itoa(i)+"]", privacy.CodeInvalid)
		}
	}
	return sortedSet(slugs)
}

func sortedSet(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// NewSecret returns a signing secret in the Standard Webhooks form:
// "whsec_" and the base64 of 32 random bytes.
func NewSecret() string {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return "whsec_" + base64.StdEncoding.EncodeToString(raw)
}

// Create adds an endpoint, enabled, and returns its signing secret,
// shown once.
func (s *Service) Create(ctx context.Context, r NewEndpoint, by string) (*Endpoint, string, error) {
	var errs privacy.Errors
	u := s.checkURL(ctx, "url", r.URL, &errs)
	types := checkTypes(r.Types, &errs)
	evs := checkEvents(r.Events, &errs)
	if err := errs.Err(); err != nil {
		return nil, "", err
	}
	secret := NewSecret()
	e := &Endpoint{ID: rand.Text(), URL: u, Types: types, Events: evs, Enabled: true,
		CreatedBy: by, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	e.Secret = s.keys.SealSecret("webhook:"+e.ID, secret)
	if err := s.endpoints.InsertOne(ctx, e); err != nil {
		return nil, "", err
	}
	return e, secret, nil
}

// Update changes an endpoint's destination, filters or state, validated
// as when it was created; a request with any fault changes nothing.
// Disabling it gives up its pending deliveries.
func (s *Service) Update(ctx context.Context, id string, r EndpointChange) (*Endpoint, error) {
	var e Endpoint
	if err := s.endpoints.FindOne(ctx, bson.M{"_id": id}, &e); errors.Is(err, mongodb.ErrNotFound) {
		return nil, ErrEndpointNotFound
	} else if err != nil {
		return nil, err
	}
	var errs privacy.Errors
	if r.URL != nil {
		e.URL = s.checkURL(ctx, "url", *r.URL, &errs)
	}
	if r.Types != nil {
		e.Types = checkTypes(*r.Types, &errs)
	}
	if r.Events != nil {
		e.Events = checkEvents(*r.Events, &errs)
	}
	if r.Enabled != nil {
		e.Enabled = *r.Enabled
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	e.UpdatedAt = &now
	// Every member is written, so an endpoint stored in the old form is
	// stored in the new one from here on.
	ok, err := s.endpoints.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{
		"url": e.URL, "types": e.Types, "events": e.Events, "enabled": e.Enabled, "updatedAt": now}})
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, ErrEndpointNotFound
	case !e.Enabled:
		if err := s.giveUpPending(ctx, id); err != nil {
			return nil, err
		}
	}
	return &e, nil
}

// giveUpPending gives up an endpoint's deliveries not yet made.
func (s *Service) giveUpPending(ctx context.Context, id string) error {
	_, err := s.deliveries.UpdateMany(ctx, bson.M{"endpoint": id, "deliveredAt": nil, "gaveUpAt": nil},
		bson.M{"$set": bson.M{"gaveUpAt": s.now().UTC()}, "$unset": bson.M{"nextAt": ""}})
	return err
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
	return s.giveUpPending(ctx, id)
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
// one per enabled endpoint whose filters let the event through. Ids are
// derived from the endpoint and the event, so running it twice creates
// nothing twice.
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
					if !ep.wants(h.Type, reg.Event) {
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
// type, timestamp and data are the members Standard Webhooks recommends.
type payload struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Created   int64  `json:"created"`
	Data      struct {
		Registration string `json:"registration"`
		Event        string `json:"event"`
	} `json:"data"`
}

// Sign returns the webhook-signature header of a message (its id, the
// time it is sent, its body) under a secret, as Standard Webhooks
// defines it: "v1," and the base64 of HMAC-SHA256 over
// "<id>.<unix seconds>.<body>". The key is the base64 after "whsec_";
// a secret of another form (endpoints made before, "whsec_pmd_...") is
// used as it is, bytes of the whole string.
func Sign(secret, id string, t time.Time, body []byte) string {
	m := hmac.New(sha256.New, signingKey(secret))
	m.Write([]byte(id + "." + strconv.FormatInt(t.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func signingKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil && len(key) > 0 {
			return key
		}
	}
	return []byte(secret)
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
			// Deleted: e stays the zero endpoint, not enabled.
		case err != nil:
			// A store error is no reason to give up: the lease runs out
			// and the delivery is tried again.
			return false, err
		}
		ep, eps[d.Endpoint] = &e, &e
	}
	if !ep.Enabled {
		// Deleted or disabled: given up, never sent.
		_, err := s.deliveries.UpdateOne(ctx, bson.M{"_id": d.ID}, bson.M{"$set": bson.M{"gaveUpAt": now}, "$unset": bson.M{"nextAt": ""}})
		return false, err
	}
	status, failed := s.post(ctx, ep, d)
	d.Attempts++
	set := bson.M{"attempts": d.Attempts, "lastStatus": status}
	update := bson.M{"$set": set}
	unset := bson.M{}
	if failed != "" {
		set["lastError"] = failed
	} else {
		unset["lastError"] = ""
	}
	delivered := status >= 200 && status < 300
	switch {
	case delivered:
		set["deliveredAt"] = s.now().UTC().Truncate(time.Millisecond)
		unset["nextAt"] = ""
	case now.Sub(d.CreatedAt) >= GiveUpAfter:
		set["gaveUpAt"] = now
		unset["nextAt"] = ""
		s.log.WarnContext(ctx, "webhook delivery given up", "delivery", d.ID, "endpoint", d.Endpoint, "attempts", d.Attempts)
	default:
		set["nextAt"] = now.Add(backoff(d.Attempts))
	}
	if len(unset) > 0 {
		update["$unset"] = unset
	}
	_, err := s.deliveries.UpdateOne(ctx, bson.M{"_id": d.ID, "nextAt": leaseEnd}, update)
	return delivered, err
}

// post sends one delivery and returns the HTTP status, or 0 and why none
// came (a code of the delivery log). A destination that is not public is
// refused when it is dialled, whatever it resolved to when it was saved.
func (s *Service) post(ctx context.Context, ep *Endpoint, d Delivery) (int, string) {
	secret, err := s.keys.OpenSecret("webhook:"+ep.ID, ep.Secret)
	if err != nil {
		s.log.ErrorContext(ctx, "webhook secret unreadable", "endpoint", ep.ID)
		return 0, "internal"
	}
	u, err := url.Parse(ep.URL)
	switch {
	case err != nil:
		return 0, CodeUnreachable
	case u.Scheme == "http" && !s.AllowHTTP:
		err = errHTTPSRequired
	case u.Scheme != "https" && u.Scheme != "http":
		return 0, CodeUnreachable
	}
	var resp *http.Response
	if err == nil {
		p := payload{ID: d.ID, Type: d.Type, Timestamp: d.CreatedAt.UTC().Format(time.RFC3339), Created: d.CreatedAt.Unix()}
		p.Data.Registration, p.Data.Event = d.Registration, d.Event
		body, _ := json.Marshal(p)
		req, rerr := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
		if rerr != nil {
			return 0, CodeUnreachable
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "pamelding-webhooks/2")
		req.Header.Set("webhook-id", d.ID)
		at := s.now()
		req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
		req.Header.Set("webhook-signature", Sign(secret, d.ID, at, body))
		resp, err = s.client.Do(req)
	}
	if err != nil {
		code := failure(err)
		if code == CodeNotPublic || code == CodeHTTPSRequired {
			s.log.WarnContext(ctx, "webhook destination refused", "delivery", d.ID, "endpoint", ep.ID, "reason", code)
		}
		return 0, code
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, ""
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
