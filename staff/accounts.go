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
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// Account is a staff member who signs in to the back office with a link
// mailed to their address. Its role and event scope work as a token's.
// The address is the staff member's own data: kept while the account
// exists, shown to admins, used for nothing but the sign-in link.
type Account struct {
	ID        string     `bson:"_id"`
	Email     string     `bson:"email"`
	Name      string     `bson:"name"`
	Role      Role       `bson:"role"`
	Events    []string   `bson:"events"`
	Partner   string     `bson:"partner,omitempty"`
	CreatedAt time.Time  `bson:"createdAt"`
	CreatedBy string     `bson:"createdBy"`
	Disabled  *time.Time `bson:"disabledAt,omitempty"`
	// The one sign-in link out: its hash, and until when it works.
	LinkHash  string     `bson:"linkHash,omitempty"`
	LinkUntil *time.Time `bson:"linkUntil,omitempty"`
}

// LogValue keeps the address and name out of logs.
func (a Account) LogValue() slog.Value {
	return slog.GroupValue(slog.String("account", a.ID), slog.String("role", string(a.Role)))
}

// Principal is who the account acts as; its ID ("acct-" and the
// account's id) names it in logs and disclosure records.
func (a *Account) Principal() Principal {
	return Principal{Role: a.Role, Name: a.Name, Events: a.Events, Partner: a.Partner, ID: "acct-" + a.ID}
}

// InviteRequest makes an account (the back office's staff page, and
// `pamelding staff invite`).
type InviteRequest struct {
	Email   string   `json:"email" validate:"required,max=254,email"`
	Name    string   `json:"name" validate:"required,max=100,singleline"`
	Role    Role     `json:"role" validate:"required,oneof=admin organiser finance catering partner privacy checkin"`
	Events  []string `json:"events" validate:"max=100,dive,required,max=64"`
	Partner string   `json:"partner" validate:"max=64"`
}

// ErrAccountNotFound: no enabled account has that id.
var ErrAccountNotFound = errors.New("account not found")

// ErrAccountExists: an account has that address.
var ErrAccountExists = errors.New("an account has that address")

// LinkTTL is how long a sign-in link works, once.
const LinkTTL = 15 * time.Minute

// Invite makes an account; by is the principal who did. The account
// signs in by asking for a link at the back office's sign-in page.
func (s *Service) Invite(ctx context.Context, r InviteRequest, by Principal) (*Account, error) {
	r.Email, r.Name = strings.ToLower(strings.TrimSpace(r.Email)), strings.TrimSpace(r.Name)
	errs := privacy.Struct("", &r)
	if err := s.checkScope(ctx, &errs, r.Role, r.Events, r.Partner); err != nil {
		return nil, err
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	a := &Account{ID: rand.Text()[:16], Email: r.Email, Name: r.Name, Role: r.Role, Events: slices.Clone(r.Events),
		Partner: r.Partner, CreatedAt: s.now().UTC().Truncate(time.Millisecond), CreatedBy: by.ID}
	if a.Events == nil {
		a.Events = []string{}
	}
	if err := s.accounts.InsertOne(ctx, a); errors.Is(err, mongodb.ErrDuplicate) {
		return nil, ErrAccountExists
	} else if err != nil {
		return nil, fmt.Errorf("insert account: %w", err)
	}
	return a, nil
}

// Accounts lists every account, by address.
func (s *Service) Accounts(ctx context.Context) ([]Account, error) {
	out := []Account{}
	if err := s.accounts.All(ctx, bson.M{}, &out); err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	slices.SortFunc(out, func(a, b Account) int { return strings.Compare(a.Email, b.Email) })
	return out, nil
}

// Disable ends an account: its sessions end on their next request and
// it can ask for no link.
func (s *Service) Disable(ctx context.Context, id string) error {
	ok, err := s.accounts.UpdateOne(ctx, bson.M{"_id": id, "disabledAt": bson.M{"$exists": false}},
		bson.M{"$set": bson.M{"disabledAt": s.now().UTC().Truncate(time.Millisecond)}, "$unset": bson.M{"linkHash": "", "linkUntil": ""}})
	if err != nil {
		return fmt.Errorf("disable account: %w", err)
	}
	if !ok {
		return ErrAccountNotFound
	}
	return nil
}

// Enable lets a disabled account sign in again.
func (s *Service) Enable(ctx context.Context, id string) error {
	ok, err := s.accounts.UpdateOne(ctx, bson.M{"_id": id, "disabledAt": bson.M{"$exists": true}}, bson.M{"$unset": bson.M{"disabledAt": ""}})
	if err != nil {
		return fmt.Errorf("enable account: %w", err)
	}
	if !ok {
		return ErrAccountNotFound
	}
	return nil
}

// linkPrefix marks sign-in links' secrets.
const linkPrefix = "pml_"

// SignInLink makes a new sign-in link secret for the enabled account with
// that address (a link asked for before stops working), or returns "" and
// no error when there is none: the caller answers the same either way,
// so the page tells nobody who has an account.
func (s *Service) SignInLink(ctx context.Context, email string) (string, *Account, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return "", nil, nil
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	link := linkPrefix + base64.RawURLEncoding.EncodeToString(secret)
	until := s.now().UTC().Add(LinkTTL).Truncate(time.Millisecond)
	var a Account
	err := s.accounts.FindOneAndUpdate(ctx, bson.M{"email": email, "disabledAt": bson.M{"$exists": false}},
		bson.M{"$set": bson.M{"linkHash": hashHex(link), "linkUntil": until}}, &a)
	if errors.Is(err, mongodb.ErrNotFound) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("sign-in link: %w", err)
	}
	return link, &a, nil
}

// ErrLinkInvalid: a sign-in link that is not ours, was used, or ran out.
var ErrLinkInvalid = errors.New("sign-in link invalid or expired")

// CheckLink returns the account a sign-in link would sign in, without
// using it up.
func (s *Service) CheckLink(ctx context.Context, link string) (*Account, error) {
	return s.link(ctx, link, false)
}

// RedeemLink uses a sign-in link up and returns its account.
func (s *Service) RedeemLink(ctx context.Context, link string) (*Account, error) {
	return s.link(ctx, link, true)
}

func (s *Service) link(ctx context.Context, link string, use bool) (*Account, error) {
	if !strings.HasPrefix(link, linkPrefix) || len(link) > 100 {
		return nil, ErrLinkInvalid
	}
	filter := bson.M{"linkHash": hashHex(link), "linkUntil": bson.M{"$gt": s.now().UTC()}, "disabledAt": bson.M{"$exists": false}}
	var a Account
	var err error
	if use {
		err = s.accounts.FindOneAndUpdate(ctx, filter, bson.M{"$unset": bson.M{"linkHash": "", "linkUntil": ""}}, &a)
	} else {
		err = s.accounts.FindOne(ctx, filter, &a)
	}
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, ErrLinkInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("sign-in link: %w", err)
	}
	return &a, nil
}

// AccountPrincipal is the principal of an enabled account, for a back
// office session: ErrUnauthenticated once it is disabled or gone.
func (s *Service) AccountPrincipal(ctx context.Context, id string) (Principal, error) {
	var a Account
	err := s.accounts.FindOne(ctx, bson.M{"_id": id, "disabledAt": bson.M{"$exists": false}}, &a)
	if errors.Is(err, mongodb.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("account: %w", err)
	}
	return a.Principal(), nil
}

// TokenHash is what a back office session signed in with a token keeps:
// the token's hash, never the token.
func TokenHash(token string) string { return hashHex(token) }

// AuthenticateHash is Authenticate for a token known by its hash (a back
// office session signed in with a token; a revoked token ends it).
func (s *Service) AuthenticateHash(ctx context.Context, hash string) (Principal, error) {
	sum, err := hex.DecodeString(hash)
	if err != nil || len(sum) != sha256.Size {
		return Principal{}, ErrUnauthenticated
	}
	if s.adminHash != nil && subtle.ConstantTimeCompare(sum, s.adminHash) == 1 {
		return envAdmin, nil
	}
	return s.byHash(ctx, hash)
}
