package registration

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// FieldValue is one value a registration holds, with the tags that say
// why it is held, who may see it and until when.
type FieldValue struct {
	events.DeclaredField
	Value string `json:"value"`
	// DeleteAt is when the value is deleted; nil when it goes with the
	// registration or on withdrawal of consent (DeleteRule says which).
	DeleteAt   *time.Time `json:"deleteAt,omitempty"`
	DeleteRule string     `json:"deleteRule"`
}

// EventSummary names the event a registration is for.
type EventSummary struct {
	Slug     string       `json:"slug"`
	Title    privacy.Text `json:"title"`
	StartsAt time.Time    `json:"startsAt"`
	EndsAt   time.Time    `json:"endsAt"`
}

// Controller is who answers for the data (GDPR art. 4(7)).
type Controller struct {
	Name         string `json:"name"`
	OrgNumber    string `json:"orgNumber,omitempty"`
	PrivacyEmail string `json:"privacyEmail"`
}

// DisclosureView is one time the participant's data went to a recipient:
// a partner (To is its name), or staff of the organiser reading a list
// (To is the role: organiser, catering, finance).
type DisclosureView struct {
	To        string    `json:"to"`
	Recipient string    `json:"recipient,omitempty"`
	At        time.Time `json:"at"`
	Fields    []string  `json:"fields"`
}

// AccessReport is what a participant may know about their registration
// (GDPR art. 15): every value held with its purposes, legal basis,
// recipients and deletion date; consents with the texts shown; every
// disclosure; where the data came from.
type AccessReport struct {
	ID             string           `json:"id"`
	Status         Status           `json:"status"`
	Event          EventSummary     `json:"event"`
	Controller     Controller       `json:"controller"`
	Source         string           `json:"source"`
	Fields         []FieldValue     `json:"fields"`
	Consents       []Consent        `json:"consents"`
	ConsentTexts   []ConsentText    `json:"consentTexts"`
	Objections     Objections       `json:"objections"`
	Restricted     bool             `json:"restricted"`
	Disclosures    []DisclosureView `json:"disclosures"`
	Payment        *Payment         `json:"payment,omitempty"`
	OfferExpiresAt *time.Time       `json:"offerExpiresAt,omitempty"`
	// Guardian: a minor's guardian's confirmation, withdrawal or lapse.
	Guardian *GuardianCheck `json:"guardian,omitempty"`
	// PendingEmail is a new address waiting to be confirmed from the link
	// mailed to it, until EmailChange.Until.
	PendingEmail string       `json:"pendingEmail,omitempty"`
	EmailChange  *EmailChange `json:"emailChange,omitempty"`
	CreatedAt    time.Time    `json:"createdAt"`
	Channel      Channel      `json:"channel"`
}

// ConsentText is a consent text a participant was shown, for reference.
type ConsentText = privacy.ConsentText

// anchors are the moments the registration's retention counts from.
func anchors(reg *Registration, ev *events.Event) privacy.Anchors {
	a := privacy.Anchors{EventEnd: ev.EndsAt}
	if p := reg.Payment; p != nil && (p.PaidAt != nil || p.InvoiceNumber != 0) {
		at := reg.CreatedAt
		if p.PaidAt != nil {
			at = *p.PaidAt
		}
		a.FiscalYearEnd = privacy.EndOfFiscalYear(at)
	}
	return a
}

// deleteAt is when a value of the registration is deleted: the date fixed
// at sign-up (or brought forward since), else the rule's date from the
// payment (bookkeeping); false when none is set (it goes with the
// registration, or when its consent is withdrawn).
func deleteAt(reg *Registration, ev *events.Event, key string) (time.Time, bool) {
	if at, ok := reg.DeleteAt[key]; ok {
		return at, true
	}
	f, ok := ev.Field(key)
	if !ok || f.Retention.Anchor == privacy.EventEnd {
		return time.Time{}, false
	}
	return f.Retention.DeleteAt(anchors(reg, ev))
}

// AccessReport returns the participant's own report: every value held,
// health data opened for them alone.
func (s *Rights) AccessReport(ctx context.Context, reg *Registration) (*AccessReport, error) {
	ev, err := s.d.events.Get(ctx, reg.Event)
	if err != nil {
		return nil, err
	}
	v := &AccessReport{
		ID: reg.ID, Status: reg.Status,
		Event:      EventSummary{Slug: ev.Slug, Title: ev.Title, StartsAt: ev.StartsAt, EndsAt: ev.EndsAt},
		Controller: Controller{Name: ev.Organiser.Name, OrgNumber: ev.Organiser.OrgNumber, PrivacyEmail: ev.Organiser.PrivacyEmail},
		Source: fmt.Sprintf("Given by you when you registered on %s (%s).",
			reg.CreatedAt.Format(time.DateOnly), map[Channel]string{API: "through the registration API", Web: "on the registration page"}[reg.Channel]),
		Fields:   []FieldValue{},
		Consents: reg.Consents, Objections: reg.Objections, Restricted: reg.Restricted,
		Disclosures: []DisclosureView{}, Payment: reg.Payment,
		OfferExpiresAt: reg.OfferExpiresAt, Guardian: reg.Guardian, CreatedAt: reg.CreatedAt, Channel: reg.Channel,
	}
	values, err := s.d.Store.Open(ctx, reg)
	if err != nil {
		return nil, err
	}
	if reg.EmailChange != nil {
		v.PendingEmail, v.EmailChange = values[pendingEmail], reg.EmailChange
	}
	promise, err := s.d.promise(ctx, reg)
	if err != nil {
		return nil, err
	}
	// Each value with the tags the participant was told, not the event's
	// current ones.
	for _, df := range promise.Fields {
		val := values[df.Key]
		if val == "" {
			continue
		}
		if df.Bases == nil {
			// A promise from before purposes were kept per event, with
			// their bases: the purposes the event has, the recipients as
			// promised.
			recipients := df.Recipients
			df.Field = df.ForEvent(ev.Traits())
			df.Recipients = recipients
		}
		fv := FieldValue{DeclaredField: df, Value: val, DeleteRule: df.Retention.String()}
		if at, ok := deleteAt(reg, ev, df.Key); ok {
			fv.DeleteAt = &at
		}
		if df.LegalBasis.NeedsConsent() {
			fv.DeleteRule += ", or at once when you withdraw your consent"
		}
		v.Fields = append(v.Fields, fv)
	}
	// The consent texts the participant was shown.
	for _, c := range reg.Consents {
		i := slices.IndexFunc(promise.Consents, func(x ConsentText) bool { return x.Purpose == c.Purpose })
		if i >= 0 && !slices.ContainsFunc(v.ConsentTexts, func(x ConsentText) bool { return x.Purpose == c.Purpose }) {
			v.ConsentTexts = append(v.ConsentTexts, promise.Consents[i])
		}
	}
	ds, err := disclosuresOf(ctx, s.d.db, reg.ID)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		to := d.PartnerName
		if d.Recipient != "" && d.Recipient != string(privacy.Partners) {
			to = d.Recipient
		}
		v.Disclosures = append(v.Disclosures, DisclosureView{To: to, Recipient: d.Recipient, At: d.At, Fields: d.Fields})
	}
	return v, nil
}

// Audience is who reads an organiser list; it decides the columns (from
// the catalog's recipients) and the rows.
type Audience string

// The audiences of lists.
const (
	// Organisers see every field but special-category (health) data.
	Organisers Audience = "organiser"
	// CateringStaff see the fields whose recipients include catering, for
	// registrations with health consent that hold a seat.
	CateringStaff Audience = "catering"
	// FinanceStaff see the fields whose recipients include finance.
	FinanceStaff Audience = "finance"
)

// Columns are the fields an audience sees of an event's registrations.
func Columns(ev *events.Event, a Audience) []events.DeclaredField {
	var cols []events.DeclaredField
	for _, df := range ev.Form() {
		var ok bool
		switch a {
		case Organisers:
			ok = !df.Category.Special()
		case CateringStaff:
			ok = df.SharedWith(privacy.Catering)
		case FinanceStaff:
			ok = df.SharedWith(privacy.Finance)
		}
		if ok {
			cols = append(cols, df)
		}
	}
	return cols
}

// Row is one registration in a list.
type Row struct {
	ID         string            `json:"id"`
	Status     Status            `json:"status"`
	CreatedAt  time.Time         `json:"createdAt"`
	Values     map[string]string `json:"fields"`
	Restricted bool              `json:"restricted,omitempty"`
	// What the back office filters by (not in the API's list).
	Category  string        `json:"-"`
	Payment   PaymentStatus `json:"-"`
	CheckedIn bool          `json:"-"`
}

// ListQuery pages through a list.
type ListQuery struct {
	Offset int64
	// Limit 0 means all (streamed exports).
	Limit int64
}

// Lists are what staff read of registrations: the organiser's, catering's
// and finance's lists, and the partner-safe export with its disclosure
// log.
type Lists struct {
	d           *Domain
	disclosures *mongodb.Collection
	chunks      *mongodb.Collection
	// objectionWindow is how long a participant told of a partner added
	// after they signed up may object before the partner gets their name.
	objectionWindow time.Duration
}

// NewLists returns the lists part; objectionWindow defaults to 14 days.
func NewLists(d *Domain, objectionWindow time.Duration) *Lists {
	if objectionWindow == 0 {
		objectionWindow = 14 * 24 * time.Hour
	}
	return &Lists{d: d, disclosures: d.db.Collection(mongodb.Disclosures), chunks: d.db.Collection(mongodb.DisclosureChunks),
		objectionWindow: objectionWindow}
}

// List yields an audience's rows of an event's registrations, oldest
// first, streamed from a cursor.
func (s *Lists) List(ctx context.Context, ev *events.Event, a Audience, q ListQuery, by string) (iter.Seq2[Row, error], error) {
	cols := Columns(ev, a)
	keys := make([]string, len(cols))
	var consents bson.A
	for i, c := range cols {
		keys[i] = c.Key
		if a == CateringStaff && c.LegalBasis.NeedsConsent() {
			consents = append(consents, bson.M{"consentState." + string(c.ConsentPurpose): true})
		}
	}
	filter := bson.M{"event": ev.Slug}
	if a == CateringStaff {
		filter["seat"] = true
		filter["restricted"] = bson.M{"$ne": true}
		if len(consents) > 0 {
			filter["$or"] = consents
		}
	}
	o := options.Find().SetSort(s.d.Store.insertionOrder()).SetSkip(q.Offset)
	if q.Limit > 0 {
		o.SetLimit(q.Limit)
	}
	regs := s.d.Store.each(ctx, filter, o)
	if len(keys) > 0 {
		// Restricted registrations are stored, not processed (art. 18):
		// their values are not opened.
		stored := regs
		unrestricted := func(yield func(*Registration, error) bool) {
			for reg, err := range stored {
				if err == nil && reg.Restricted {
					reg.Sealed = nil
				}
				if !yield(reg, err) {
					return
				}
			}
		}
		regs = s.d.Store.vault.openAll(ctx, ev.Slug, keys, unrestricted)
	}
	format := "page"
	if q.Limit == 0 {
		format = "list"
	}
	return func(yield func(Row, error) bool) {
		// Every value opened for staff is a disclosure: logged as the rows
		// go out.
		log, err := s.startDisclosure(ctx, &Disclosure{Event: ev.Slug, Recipient: string(a), Token: by, Fields: keys, Format: format})
		if err != nil {
			yield(Row{}, err)
			return
		}
		var rowErr error
		defer func() {
			if err := log.finish(ctx, rowErr); err != nil && rowErr == nil {
				s.d.log.ErrorContext(ctx, "disclosure log", "disclosure", log.d.ID, "err", err)
			}
		}()
		allowed := map[string]map[string]bool{} // by promise: the columns the audience may see
		for reg, err := range regs {
			if err != nil {
				rowErr = err
				yield(Row{}, err)
				return
			}
			row := Row{ID: reg.ID, Status: reg.Status, CreatedAt: reg.CreatedAt, Values: map[string]string{}, Restricted: reg.Restricted,
				Category: reg.Category, CheckedIn: reg.CheckedIn != nil}
			if reg.Payment != nil {
				row.Payment = reg.Payment.Status
			}
			if !reg.Restricted && len(reg.Plain) > 0 { // art. 18: stored, not processed; the row says it is there
				may, ok := allowed[reg.Promise]
				if !ok {
					if may, err = s.audienceMay(ctx, reg, a); err != nil {
						rowErr = err
						yield(Row{}, err)
						return
					}
					allowed[reg.Promise] = may
				}
				for _, c := range cols {
					if may[c.Key] {
						row.Values[c.Key] = reg.Plain[c.Key]
					}
				}
				if len(row.Values) > 0 {
					if err := log.add(ctx, reg.ID); err != nil {
						rowErr = err
						yield(Row{}, err)
						return
					}
				}
			}
			if !yield(row, nil) {
				return
			}
		}
	}, nil
}

// audienceMay says which fields a staff audience may see of a
// registration, by what its participant was told: the organiser every
// field but special categories, catering and finance the fields that
// named them as recipients.
func (s *Lists) audienceMay(ctx context.Context, reg *Registration, a Audience) (map[string]bool, error) {
	p, err := s.d.promise(ctx, reg)
	if err != nil {
		return nil, err
	}
	may := map[string]bool{}
	for _, f := range p.Fields {
		switch a {
		case Organisers:
			may[f.Key] = !f.Category.Special()
		case CateringStaff:
			may[f.Key] = f.SharedWith(privacy.Catering)
		case FinanceStaff:
			may[f.Key] = f.SharedWith(privacy.Finance)
		}
	}
	return may, nil
}

// Count counts an event's registrations.
func (s *Lists) Count(ctx context.Context, slug string) (int64, error) {
	return s.d.Store.count(ctx, slug)
}
