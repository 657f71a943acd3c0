package events

import (
	"slices"
	"strconv"
	"strings"

	"github.com/pamelding/pamelding/privacy"
)

// Addon is an item bought with a ticket: a conference dinner, a t-shirt
// in a size, a bus seat. It has its price and VAT rate, may be limited in
// number (its own quota, claimed with the seat in the same update) and
// to some categories, and may come in options (sizes). An option is not
// personal data; what a dinner asks of diet is the dietary field's, with
// its rules.
type Addon struct {
	Key  string       `json:"key" bson:"key" validate:"required,slug,max=40"`
	Name privacy.Text `json:"name" bson:"name"`
	// Price in øre, VAT included.
	Price   int64 `json:"price" bson:"price" validate:"min=0,max=100000000"`
	VATRate int   `json:"vatRate" bson:"vatRate" validate:"oneof=0 12 15 25"`
	// Capacity, if not 0, is how many can be sold.
	Capacity int `json:"capacity" bson:"capacity" validate:"min=0,max=1000000"`
	// Options, if any, are what the buyer picks one of (t-shirt sizes).
	Options []string `json:"options" bson:"options" validate:"max=30,dive,min=1,max=40"`
	// Categories, if any, are the tickets it can be bought with.
	Categories []string `json:"categories" bson:"categories" validate:"max=50"`
}

// AddonQuota is the key of an add-on's quota among the event's quotas:
// "+" and its key (a category's key cannot start with "+"), so that the
// seat and the add-ons are claimed in one conditional update, and an
// add-on never counts against the event's seats.
func AddonQuota(key string) string { return "+" + key }

// isAddon says whether a quota key is an add-on's.
func isAddon(key string) bool { return strings.HasPrefix(key, "+") }

// Addon returns the event's add-on with the key.
func (e *Event) Addon(key string) (Addon, bool) {
	i := slices.IndexFunc(e.Addons, func(a Addon) bool { return a.Key == key })
	if i < 0 {
		return Addon{}, false
	}
	return e.Addons[i], true
}

// For says whether the add-on can be bought with a ticket of the
// category.
func (a Addon) For(category string) bool {
	return len(a.Categories) == 0 || slices.Contains(a.Categories, category)
}

// AddonsLeft is how many of an add-on can still be sold; -1 for no
// limit.
func (e *Event) AddonsLeft(key string) int {
	q, ok := e.Quota[AddonQuota(key)]
	if !ok || q.Capacity == 0 {
		return -1
	}
	return max(q.Capacity-q.Taken, 0)
}

// validateAddons checks the add-ons against each other and the
// categories.
func (s *Settings) validateAddons(errs *privacy.Errors) {
	keys := map[string]bool{}
	for i, a := range s.Addons {
		path := "addons[" + strconv.Itoa(i) + "]"
		if keys[a.Key] {
			errs.Add(path+".key", privacy.CodeDuplicate)
		}
		keys[a.Key] = true
		if a.Name.NB == "" || a.Name.EN == "" {
			errs.Add(path+".name", privacy.CodeRequired)
		}
		for j, o := range a.Options {
			if slices.Contains(a.Options[:j], o) {
				errs.Add(path+".options["+strconv.Itoa(j)+"]", privacy.CodeDuplicate)
			}
		}
		for j, c := range a.Categories {
			if !slices.ContainsFunc(s.Categories, func(x Category) bool { return x.Key == c }) {
				errs.Add(path+".categories["+strconv.Itoa(j)+"]", privacy.CodeUnknown)
			}
		}
	}
}
