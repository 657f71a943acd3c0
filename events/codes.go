package events

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// Code is a discount code, or a guest quota: a percentage or an amount
// off each ticket, for some categories or all, in a validity window, for
// at most MaxUses tickets. A code can unlock categories sold only with a
// code, and can hold seats of its own (Reserve: MaxUses seats of its one
// category taken from the event when it is made, that nobody without the
// code can take: a partner's ten guest tickets).
type Code struct {
	// ID is the event's slug and the code, the code's key in the store.
	ID    string `json:"-" bson:"_id"`
	Event string `json:"event" bson:"event"`
	Code  string `json:"code" bson:"code"`
	// Percent off, or Amount (øre) off each ticket; at most the price.
	Percent int   `json:"percent,omitempty" bson:"percent,omitempty"`
	Amount  int64 `json:"amount,omitempty" bson:"amount,omitempty"`
	// Categories it applies to (and unlocks, if sold only with a code);
	// none: every category.
	Categories []string   `json:"categories" bson:"categories"`
	ValidFrom  *time.Time `json:"validFrom,omitempty" bson:"validFrom,omitempty"`
	ValidUntil *time.Time `json:"validUntil,omitempty" bson:"validUntil,omitempty"`
	MaxUses    int        `json:"maxUses" bson:"maxUses"`
	// Used counts the tickets bought with it; a conditional $inc keeps it
	// at most MaxUses, whatever runs at once.
	Used    int       `json:"used" bson:"used"`
	Reserve bool      `json:"reserve" bson:"reserve"`
	Created time.Time `json:"createdAt" bson:"createdAt"`
}

// CodeRequest is the body of POST /api/v1/events/{slug}/codes.
type CodeRequest struct {
	Code       string     `json:"code" validate:"required"`
	Percent    int        `json:"percent" validate:"min=0,max=100"`
	Amount     int64      `json:"amount" validate:"min=0,max=100000000"`
	Categories []string   `json:"categories" validate:"max=50"`
	ValidFrom  *time.Time `json:"validFrom"`
	ValidUntil *time.Time `json:"validUntil"`
	MaxUses    int        `json:"maxUses" validate:"required,min=1,max=100000"`
	Reserve    bool       `json:"reserve"`
}

// Errors of codes.
var (
	ErrCodeTaken = errors.New("the event has that code already")
	// ErrCodeInvalid: no such code for the event, or not valid now or for
	// the category.
	ErrCodeInvalid = errors.New("code not valid")
	// ErrCodeUsedUp: the code was used as often as it may be.
	ErrCodeUsedUp = errors.New("code used up")
)

var codeRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{3,31}$`)

// NormalizeCode is a code as stored: trimmed, in capitals.
func NormalizeCode(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

func codeID(slug, code string) string { return slug + "/" + NormalizeCode(code) }

// codes keeps codes in their collection.
type codes struct{ c *mongodb.Collection }

// CreateCode checks and stores a new code of the event. A code that
// reserves seats takes them from the event and its category first: if
// they are not left, nothing is stored (ErrSoldOut).
func (s *Service) CreateCode(ctx context.Context, slug string, r CodeRequest) (*Code, error) {
	ev, err := s.store.get(ctx, slug)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	c := &Code{Event: slug, Code: NormalizeCode(r.Code), Percent: r.Percent, Amount: r.Amount, Categories: r.Categories,
		ValidFrom: utcMillis(r.ValidFrom), ValidUntil: utcMillis(r.ValidUntil), MaxUses: r.MaxUses, Reserve: r.Reserve, Created: now}
	if c.Categories == nil {
		c.Categories = []string{}
	}
	c.ID = codeID(slug, c.Code)
	errs := privacy.Struct("", r)
	if c.Code != "" && !codeRE.MatchString(c.Code) {
		errs.Add("code", privacy.CodeInvalid)
	}
	if c.Percent > 0 && c.Amount > 0 {
		errs.Add("amount", "percent_or_amount")
	}
	for i, k := range c.Categories {
		if _, ok := ev.Category(k); !ok {
			errs.Add(fmt.Sprintf("categories[%d]", i), privacy.CodeUnknown)
		}
	}
	if c.ValidFrom != nil && c.ValidUntil != nil && !c.ValidUntil.After(*c.ValidFrom) {
		errs.Add("validUntil", privacy.CodeInvalid)
	}
	if c.Reserve && len(ev.Categories) > 0 && len(c.Categories) != 1 {
		// Reserved seats are of one category.
		errs.Add("categories", "one_category_to_reserve")
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if c.Reserve {
		if err := s.store.claimSeats(ctx, ev, c.reserved(c.MaxUses)); err != nil {
			return nil, err
		}
	}
	if err := s.codes.c.InsertOne(ctx, c); err != nil {
		if c.Reserve {
			if rerr := s.store.releaseSeats(context.WithoutCancel(ctx), slug, c.reserved(c.MaxUses)); rerr != nil {
				err = errors.Join(err, rerr) // the recount gives them back
			}
		}
		if errors.Is(err, mongodb.ErrDuplicate) {
			return nil, ErrCodeTaken
		}
		return nil, fmt.Errorf("insert code: %w", err)
	}
	return c, nil
}

// reserved is the claim of n of a reserving code's seats.
func (c *Code) reserved(n int) Claim {
	key := ""
	if len(c.Categories) == 1 {
		key = c.Categories[0]
	}
	return Claim{key: n}
}

// Codes lists the event's codes.
func (s *Service) Codes(ctx context.Context, slug string) ([]Code, error) {
	var out []Code
	if err := s.codes.c.All(ctx, bson.M{"event": slug}, &out, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})); err != nil {
		return nil, fmt.Errorf("list codes: %w", err)
	}
	return out, nil
}

// ValidCode returns the event's code if it is valid at t, whatever the
// category (ErrCodeInvalid otherwise: the same answer for a code that does
// not exist, so an answer tells no more than that; Code.For says which
// categories it applies to).
func (s *Service) ValidCode(ctx context.Context, slug, code string, t time.Time) (*Code, error) {
	var c Code
	if !codeRE.MatchString(NormalizeCode(code)) {
		return nil, ErrCodeInvalid
	}
	err := s.codes.c.FindOne(ctx, bson.M{"_id": codeID(slug, code)}, &c)
	if errors.Is(err, mongodb.ErrNotFound) {
		return nil, ErrCodeInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("get code: %w", err)
	}
	if !c.ValidAt(t) {
		return nil, ErrCodeInvalid
	}
	return &c, nil
}

// ValidAt reports whether the code may be used at t.
func (c *Code) ValidAt(t time.Time) bool {
	return (c.ValidFrom == nil || !t.Before(*c.ValidFrom)) && (c.ValidUntil == nil || t.Before(*c.ValidUntil))
}

// For reports whether the code applies to the category.
func (c *Code) For(category string) bool {
	return len(c.Categories) == 0 || slices.Contains(c.Categories, category)
}

// Off is what the code takes off a ticket of the price: a percentage
// (rounded to the nearest øre) or an amount, never more than the price.
func (c *Code) Off(price int64) int64 {
	if c.Percent > 0 {
		return (price*int64(c.Percent) + 50) / 100
	}
	return min(c.Amount, price)
}

// Redeem uses the code n times, in one conditional update: it matches
// only while n uses are left, so concurrent orders never use it more
// often than it may be (ErrCodeUsedUp).
func (s *Service) Redeem(ctx context.Context, c *Code, n int) error {
	ok, err := s.codes.c.UpdateOne(ctx, bson.M{"_id": c.ID, "maxUses": c.MaxUses, "used": bson.M{"$lte": c.MaxUses - n}},
		bson.M{"$inc": bson.M{"used": n}})
	if err != nil {
		return fmt.Errorf("redeem code: %w", err)
	}
	if !ok {
		return ErrCodeUsedUp
	}
	return nil
}

// Unredeem gives n uses back, for an order that was not stored.
func (s *Service) Unredeem(ctx context.Context, c *Code, n int) error {
	if _, err := s.codes.c.UpdateOne(ctx, bson.M{"_id": c.ID}, bson.M{"$inc": bson.M{"used": -n}}); err != nil {
		return fmt.Errorf("unredeem code: %w", err)
	}
	return nil
}

// ReservedUnused adds to into, per event and category, the seats
// reserving codes still hold for their holders: for the recount, they are
// taken.
func (s *Service) ReservedUnused(ctx context.Context, into Claims) error {
	var cs []Code
	if err := s.codes.c.All(ctx, bson.M{"reserve": true}, &cs); err != nil {
		return fmt.Errorf("reserved seats: %w", err)
	}
	for _, c := range cs {
		for k, n := range c.reserved(c.MaxUses - c.Used) {
			into.Add(c.Event, k, n)
		}
	}
	return nil
}
