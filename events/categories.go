package events

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/pamelding/pamelding/privacy"
)

// Category is a kind of ticket an event sells: a full and a day ticket,
// a member and a standard price, the 10 km and the 5 km. Each has its
// price and VAT rate, may have seats of its own inside the event's
// capacity, a sale window (an early-bird price until a date) and may be
// sold only to those with a code. A race's category may take only ages
// in a range on race day, and gives start numbers (bibs) from a range.
//
// An event without categories sells one ticket: its own price and VAT
// rate, under the key "" (Ticket).
type Category struct {
	Key  string       `json:"key" bson:"key" validate:"required,slug,max=40"`
	Name privacy.Text `json:"name" bson:"name"`
	// Price in øre, VAT included.
	Price   int64 `json:"price" bson:"price" validate:"min=0,max=100000000"`
	VATRate int   `json:"vatRate" bson:"vatRate" validate:"oneof=0 12 15 25"`
	// Capacity, if not 0, is the most seats this category may take of
	// the event's capacity.
	Capacity int `json:"capacity" bson:"capacity" validate:"min=0,max=1000000"`
	// SaleFrom and SaleUntil bound when it is sold, inside the event's
	// registration window.
	SaleFrom  *time.Time `json:"saleFrom,omitempty" bson:"saleFrom,omitempty"`
	SaleUntil *time.Time `json:"saleUntil,omitempty" bson:"saleUntil,omitempty"`
	// Visibility: public, or code (shown and sold only with a code that
	// names it).
	Visibility Visibility `json:"visibility" bson:"visibility" validate:"oneof=public code"`
	// MinAge and MaxAge bound a race participant's age on race day (the
	// day the event starts, in Norway), both included.
	MinAge *int `json:"minAge,omitempty" bson:"minAge,omitempty" validate:"omitempty,min=0,max=120"`
	MaxAge *int `json:"maxAge,omitempty" bson:"maxAge,omitempty" validate:"omitempty,min=0,max=120"`
	// Bibs is the range of start numbers given to its participants.
	Bibs *BibRange `json:"bibs,omitempty" bson:"bibs,omitempty"`
	// Classes are a race's age classes, by age on race day: a
	// participant is in the first that takes their age.
	Classes []AgeClass `json:"classes,omitempty" bson:"classes,omitempty" validate:"max=30,dive"`
	// TeamSize, if not 0, makes it a relay: an order of exactly that many,
	// with a team name, entered by the team's captain.
	TeamSize int `json:"teamSize,omitempty" bson:"teamSize,omitempty" validate:"min=0,max=20"`
}

// AgeClass is an age class of a race category: its name (as on the start
// list) and the ages on race day it takes, both included.
type AgeClass struct {
	Name   string `json:"name" bson:"name" validate:"required,max=40"`
	MinAge int    `json:"minAge" bson:"minAge" validate:"min=0,max=120"`
	MaxAge int    `json:"maxAge" bson:"maxAge" validate:"min=0,max=120,gtefield=MinAge"`
}

// ClassFor is the class of someone aged age on race day ("" if none
// takes it).
func (c Category) ClassFor(age int) string {
	for _, k := range c.Classes {
		if age >= k.MinAge && age <= k.MaxAge {
			return k.Name
		}
	}
	return ""
}

// BibRange is a range of start numbers, both ends included.
type BibRange struct {
	From int `json:"from" bson:"from" validate:"min=1,max=999999"`
	To   int `json:"to" bson:"to" validate:"min=1,max=999999,gtefield=From"`
}

// Visibility says who may see and buy a category.
type Visibility string

// The visibilities.
const (
	PublicSale Visibility = "public"
	// CodeOnly: sold only with a code that unlocks it (a partner's guests).
	CodeOnly Visibility = "code"
)

// Quota is a category's share of the event's seats, as stored on the
// event so that a claim is one conditional update of one document: the
// category's capacity (0: none of its own) and the seats it holds.
type Quota struct {
	Capacity int `json:"capacity" bson:"capacity"`
	Taken    int `json:"taken" bson:"taken"`
	// Bibs counts the start numbers given in a race category: the next
	// is the range's start plus Bibs. It only grows, so a number is never
	// given twice, nor again after a cancellation.
	Bibs int `json:"bibs,omitempty" bson:"bibs,omitempty"`
}

// Ticket is what one seat of a category costs and is called: the
// category's, or for an event without categories the event's own.
type Ticket struct {
	Category string
	Name     privacy.Text
	Price    int64
	Currency string
	VATRate  int
}

// Errors of categories.
var (
	// ErrNoCategory: the event has no such category, or it is not for sale
	// to this buyer (not yet, no longer, or only with a code).
	ErrNoCategory = errors.New("no such category on sale")
	// ErrCategoryInUse: a category holding seats cannot be removed.
	ErrCategoryInUse = errors.New("category holds seats")
)

// SoldOutError says which category (or the event, "") has too few seats
// left for a claim. It is ErrSoldOut.
type SoldOutError struct{ Category string }

func (e *SoldOutError) Error() string {
	if e.Category == "" {
		return "sold out"
	}
	return "category " + e.Category + " sold out"
}

// Is makes a SoldOutError match ErrSoldOut.
func (e *SoldOutError) Is(target error) bool { return target == ErrSoldOut }

// Category returns the event's category with the key.
func (e *Event) Category(key string) (Category, bool) {
	i := slices.IndexFunc(e.Categories, func(c Category) bool { return c.Key == key })
	if i < 0 {
		return Category{}, false
	}
	return e.Categories[i], true
}

// Ticket returns what a seat of the category costs; "" is the event's
// own ticket, for an event without categories.
func (e *Event) Ticket(key string) (Ticket, error) {
	if len(e.Categories) == 0 {
		if key != "" {
			return Ticket{}, ErrNoCategory
		}
		return Ticket{Name: e.Title, Price: e.Price.Amount, Currency: e.Price.Currency, VATRate: e.VATRate}, nil
	}
	c, ok := e.Category(key)
	if !ok {
		return Ticket{}, ErrNoCategory
	}
	return Ticket{Category: c.Key, Name: c.Name, Price: c.Price, Currency: e.Price.Currency, VATRate: c.VATRate}, nil
}

// OnSale reports whether the category is sold at t to a buyer who holds
// the codes unlocking the categories in unlocked.
func (e *Event) OnSale(key string, t time.Time, unlocked []string) error {
	if _, err := e.Ticket(key); err != nil || key == "" {
		return err // "": the event's own ticket, on sale while registration is open
	}
	c, _ := e.Category(key)
	switch {
	case c.SaleFrom != nil && t.Before(*c.SaleFrom), c.SaleUntil != nil && !t.Before(*c.SaleUntil):
		return ErrNoCategory
	case c.Visibility == CodeOnly && !slices.Contains(unlocked, key):
		return ErrNoCategory
	}
	return nil
}

// Paid reports whether anything the event sells costs money.
func (e *Event) Paid() bool {
	if e.Price.Amount > 0 {
		return true
	}
	return slices.ContainsFunc(e.Categories, func(c Category) bool { return c.Price > 0 })
}

// RaceDay is the date a race participant's age is taken on: the day the
// event starts, in Norway.
func (e *Event) RaceDay() time.Time {
	y, m, d := e.StartsAt.In(privacy.Oslo).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// AgeOn is the age in whole years on day of someone born on birth.
func AgeOn(birth, day time.Time) int {
	age := day.Year() - birth.Year()
	if day.Month() < birth.Month() || (day.Month() == birth.Month() && day.Day() < birth.Day()) {
		age--
	}
	return age
}

// TakesAge says whether a participant born on dob is inside the
// category's ages on race day (both bounds included); a category without
// bounds takes anyone.
func (c Category) TakesAge(dob, raceDay time.Time) bool {
	age := AgeOn(dob, raceDay)
	return (c.MinAge == nil || age >= *c.MinAge) && (c.MaxAge == nil || age <= *c.MaxAge)
}

// Claim counts the seats wanted per category ("" for an event without
// categories).
type Claim map[string]int

// Total is the seats the claim takes of the event's capacity (add-ons
// take none).
func (c Claim) Total() int {
	n := 0
	for key, k := range c {
		if !isAddon(key) {
			n += k
		}
	}
	return n
}

// Add counts the seats of another claim in this one.
func (c Claim) Add(o Claim) {
	for key, n := range o {
		c[key] += n
	}
}

// Claims are seats per event (by slug) and category.
type Claims map[string]Claim

// Add counts n seats of the event's category.
func (cs Claims) Add(slug, category string, n int) {
	if cs[slug] == nil {
		cs[slug] = Claim{}
	}
	cs[slug][category] += n
}

// quotas are the categories' and add-ons' quotas the settings make,
// keeping what each held before.
func (s *Settings) quotas(prev map[string]Quota) map[string]Quota {
	out := make(map[string]Quota, len(s.Categories)+len(s.Addons))
	for key, capacity := range s.quotaCapacities() {
		out[key] = Quota{Capacity: capacity, Taken: prev[key].Taken}
	}
	return out
}

// quotaCapacities are the capacity of each quota the settings make, by
// quota key.
func (s *Settings) quotaCapacities() map[string]int {
	out := make(map[string]int, len(s.Categories)+len(s.Addons))
	for _, c := range s.Categories {
		out[c.Key] = c.Capacity
	}
	for _, a := range s.Addons {
		out[AddonQuota(a.Key)] = a.Capacity
	}
	return out
}

// validateCategories checks the categories against each other and the
// event.
func (s *Settings) validateCategories(errs *privacy.Errors) {
	keys := map[string]bool{}
	for i, c := range s.Categories {
		path := "categories[" + strconv.Itoa(i) + "]"
		if keys[c.Key] {
			errs.Add(path+".key", privacy.CodeDuplicate)
		}
		keys[c.Key] = true
		if c.Capacity > s.Capacity {
			errs.Add(path+".capacity", "above_event_capacity")
		}
		if c.SaleFrom != nil && c.SaleUntil != nil && !c.SaleUntil.After(*c.SaleFrom) {
			errs.Add(path+".saleUntil", privacy.CodeInvalid)
		}
		if s.Kind != Race && (c.MinAge != nil || c.MaxAge != nil || c.Bibs != nil || len(c.Classes) > 0 || c.TeamSize > 0) {
			errs.Add(path, "race_only")
		}
		if c.MinAge != nil && c.MaxAge != nil && *c.MaxAge < *c.MinAge {
			errs.Add(path+".maxAge", privacy.CodeInvalid)
		}
		if (c.MinAge != nil || c.MaxAge != nil) && !slices.ContainsFunc(s.Fields, func(f FormField) bool { return f.Key == "date_of_birth" && f.Required }) {
			// An age range is checked on the date of birth.
			errs.Add(path, "date_of_birth_required")
		}
		if c.Bibs != nil && c.Capacity > 0 && c.Bibs.To-c.Bibs.From+1 < c.Capacity {
			errs.Add(path+".bibs", "fewer_bibs_than_seats")
		}
	}
	for i, c := range s.Categories {
		for j, o := range s.Categories[:i] {
			if c.Bibs != nil && o.Bibs != nil && c.Bibs.From <= o.Bibs.To && o.Bibs.From <= c.Bibs.To {
				errs.Add(fmt.Sprintf("categories[%d].bibs", i), "overlaps_categories["+strconv.Itoa(j)+"]")
			}
		}
	}
}
