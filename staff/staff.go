// Package staff holds staff tokens and what each role may do. Tokens are
// 256-bit random secrets shown once and stored only as SHA-256 hashes.
package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// Errors of the staff domain.
var (
	// ErrUnauthenticated: no token, or one that is not ours.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: a valid token whose role or scope does not allow it.
	ErrForbidden = errors.New("forbidden")
)

// Role is what a staff token may do.
type Role string

// The roles.
const (
	Admin     Role = "admin"
	Organiser Role = "organiser"
	Finance   Role = "finance"
	Catering  Role = "catering"
	Partner   Role = "partner"
	// Privacy: the organisation's privacy contact, answering data-subject
	// requests that arrive by e-mail.
	Privacy Role = "privacy"
	// CheckIn: staff at the door of events it is scoped to; they scan
	// tickets and print the door list (name and category only).
	CheckIn Role = "checkin"
)

// Roles lists every role.
var Roles = []Role{Admin, Organiser, Finance, Catering, Partner, Privacy, CheckIn}

// tokenPrefix marks pamelding tokens so secret scanners can find leaked ones.
const tokenPrefix = "pmd_"

// Token is a staff token as stored: its hash, never the token.
type Token struct {
	// Hash is the hex SHA-256 of the token.
	Hash string `bson:"_id"`
	// Key is the short, non-secret id (the hash's first 12 hex digits),
	// stored to find the token for revocation.
	Key     string    `bson:"key"`
	Role    Role      `bson:"role"`
	Name    string    `bson:"name"`
	Events  []string  `bson:"events"`
	Partner string    `bson:"partner,omitempty"`
	Created time.Time `bson:"createdAt"`
}

// ID is a short, non-secret identifier of the token, for logs, listings
// and disclosure records.
func (t *Token) ID() string { return t.Hash[:12] }

// Principal is who a request acts for.
type Principal struct {
	Role Role
	// Name is the token's name, e.g. "Kari at the front desk"; staff-chosen,
	// logged as the actor.
	Name string
	// Events limits the token to these events; empty means all (never for
	// partners).
	Events  []string
	Partner string
	// ID is a short, non-secret identifier of the token for logs and
	// disclosure records.
	ID string
}

// LogValue keeps tokens' names and scopes out of logs but for the id.
func (p Principal) LogValue() slog.Value {
	return slog.GroupValue(slog.String("role", string(p.Role)), slog.String("token", p.ID))
}

// Is reports whether the principal has one of the roles.
func (p Principal) Is(roles ...Role) bool { return slices.Contains(roles, p.Role) }

// CanEvent reports whether the principal's scope covers the event.
func (p Principal) CanEvent(slug string) bool {
	if p.Role == Admin || (len(p.Events) == 0 && p.Role != Partner) {
		return true
	}
	return slices.Contains(p.Events, slug)
}

// Scope is the events the principal is limited to; nil means all.
func (p Principal) Scope() []string {
	if p.Role == Admin || len(p.Events) == 0 {
		return nil
	}
	return p.Events
}

// CreateRequest is the body of POST /api/v1/tokens and the token create
// command's flags.
type CreateRequest struct {
	Role    Role     `json:"role" validate:"required,oneof=admin organiser finance catering partner privacy checkin"`
	Name    string   `json:"name" validate:"required,max=100,singleline"`
	Events  []string `json:"events" validate:"max=100,dive,required,max=64"`
	Partner string   `json:"partner" validate:"max=64"`
}

// Service creates tokens and authenticates requests.
type Service struct {
	c         *mongodb.Collection
	accounts  *mongodb.Collection
	events    *events.Service
	adminHash []byte
	now       func() time.Time
}

// NewService returns the staff service. adminToken, when not empty, is
// accepted as an admin token (PAMELDING_ADMIN_TOKEN).
func NewService(db *mongodb.Store, ev *events.Service, adminToken string, now func() time.Time) *Service {
	s := &Service{c: db.Collection(mongodb.Tokens), accounts: db.Collection(mongodb.StaffAccounts), events: ev, now: now}
	if adminToken != "" {
		h := sha256.Sum256([]byte(adminToken))
		s.adminHash = h[:]
	}
	return s
}

// Create makes a new token and returns it; only its hash is kept, so this
// is the one time anyone sees it.
func (s *Service) Create(ctx context.Context, r CreateRequest) (string, *Token, error) {
	r.Name = strings.TrimSpace(r.Name)
	errs := privacy.Struct("", &r)
	if err := s.checkScope(ctx, &errs, r.Role, r.Events, r.Partner); err != nil {
		return "", nil, err
	}
	if err := errs.Err(); err != nil {
		return "", nil, err
	}

	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(secret)
	h := hashHex(token)
	t := &Token{
		Hash: h, Key: h[:12], Role: r.Role, Name: r.Name,
		Events: slices.Clone(r.Events), Partner: r.Partner,
		Created: s.now().UTC().Truncate(time.Millisecond),
	}
	if t.Events == nil {
		t.Events = []string{}
	}
	if err := s.c.InsertOne(ctx, t); err != nil {
		return "", nil, fmt.Errorf("insert token: %w", err)
	}
	return token, t, nil
}

// checkScope checks a role's event scope and partner: door staff and
// partners work for the events they are given, an admin reaches every
// event, and (when errs has none yet) scopes name real events, and a
// partner's only events that list that partner.
func (s *Service) checkScope(ctx context.Context, errs *privacy.Errors, role Role, evs []string, partner string) error {
	switch {
	case role == Partner && partner == "":
		errs.Add("partner", privacy.CodeRequired)
	case (role == Partner || role == CheckIn) && len(evs) == 0:
		errs.Add("events", privacy.CodeRequired)
	case role != Partner && partner != "":
		errs.Add("partner", privacy.CodeInvalid)
	case role == Admin && len(evs) > 0:
		// A scope would only look like a limit.
		errs.Add("events", privacy.CodeInvalid)
	}
	if len(*errs) > 0 {
		return nil
	}
	for i, slug := range evs {
		e, err := s.events.Get(ctx, slug)
		if errors.Is(err, events.ErrNotFound) {
			errs.Add("events["+strconv.Itoa(i)+"]", privacy.CodeInvalid)
			continue
		}
		if err != nil {
			return err
		}
		if role == Partner && !slices.ContainsFunc(e.Partners, func(p events.Partner) bool { return p.ID == partner }) {
			errs.Add("partner", privacy.CodeInvalid)
		}
	}
	return nil
}

// envAdmin is the principal of PAMELDING_ADMIN_TOKEN.
var envAdmin = Principal{Role: Admin, Name: "PAMELDING_ADMIN_TOKEN", ID: "env-admin"}

func (t *Token) principal() Principal {
	return Principal{Role: t.Role, Name: t.Name, Events: t.Events, Partner: t.Partner, ID: t.ID()}
}

// Authenticate returns the principal of a bearer token.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrUnauthenticated
	}
	sum := sha256.Sum256([]byte(token))
	if s.adminHash != nil && subtle.ConstantTimeCompare(sum[:], s.adminHash) == 1 {
		return envAdmin, nil
	}
	if !strings.HasPrefix(token, tokenPrefix) {
		return Principal{}, ErrUnauthenticated
	}
	return s.byHash(ctx, hex.EncodeToString(sum[:]))
}

// byHash is the principal of the stored token with the hash. Looked up by
// its hash: the lookup leaks nothing about stored tokens.
func (s *Service) byHash(ctx context.Context, hash string) (Principal, error) {
	var t Token
	err := s.c.FindOne(ctx, map[string]string{"_id": hash}, &t)
	if errors.Is(err, mongodb.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	return t.principal(), nil
}

// ErrTokenNotFound: no token has that id.
var ErrTokenNotFound = errors.New("token not found")

// TokenView is a token as listed: never the secret or its hash.
type TokenView struct {
	ID      string    `json:"id"`
	Role    Role      `json:"role"`
	Name    string    `json:"name"`
	Events  []string  `json:"events"`
	Partner string    `json:"partner,omitempty"`
	Created time.Time `json:"createdAt"`
}

// List returns every stored token (not PAMELDING_ADMIN_TOKEN).
func (s *Service) List(ctx context.Context) ([]TokenView, error) {
	var ts []Token
	if err := s.c.All(ctx, map[string]any{}, &ts); err != nil {
		return nil, err
	}
	out := []TokenView{}
	for _, t := range ts {
		out = append(out, TokenView{ID: t.ID(), Role: t.Role, Name: t.Name, Events: t.Events, Partner: t.Partner, Created: t.Created})
	}
	return out, nil
}

// Revoke deletes a token: from the next request on it authenticates
// nothing.
func (s *Service) Revoke(ctx context.Context, id string) error {
	ok, err := s.c.DeleteOne(ctx, map[string]any{"key": id})
	if err != nil {
		return err
	}
	if !ok {
		return ErrTokenNotFound
	}
	return nil
}

func hashHex(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
