package registration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/privacy"
)

// Errors of the data-subject operations.
var (
	ErrErased         = errors.New("registration erased")
	ErrUnknownPurpose = errors.New("unknown consent purpose")
)

// Rights is what a participant may do with their data (GDPR art. 15-21),
// themselves with their manage link or through the privacy contact:
// access, portability, rectification, withdrawal of consent, objection,
// restriction and erasure.
type Rights struct {
	d     *Domain
	seats *Signups
}

// NewRights returns the rights part; seats passes on a seat an erasure
// frees.
func NewRights(d *Domain, seats *Signups) *Rights { return &Rights{d: d, seats: seats} }

// Portability is the participant's data in a structured, commonly used,
// machine-readable format (GDPR art. 20). Its schema is
// api/portability.schema.json; SchemaVersion changes when it does.
type Portability struct {
	Schema        string            `json:"$schema"`
	SchemaVersion int               `json:"schemaVersion"`
	ExportedAt    time.Time         `json:"exportedAt"`
	Registration  string            `json:"registration"`
	Event         EventSummary      `json:"event"`
	Status        Status            `json:"status"`
	RegisteredAt  time.Time         `json:"registeredAt"`
	Fields        map[string]string `json:"fields"`
	Consents      []Consent         `json:"consents"`
	Objections    Objections        `json:"objections"`
	Restricted    bool              `json:"restricted"`
	Payment       *Payment          `json:"payment,omitempty"`
}

// Export returns the data the participant provided, for portability.
func (s *Rights) Export(ctx context.Context, reg *Registration) (*Portability, error) {
	ev, err := s.d.events.Get(ctx, reg.Event)
	if err != nil {
		return nil, err
	}
	p := &Portability{
		Schema: "https://pamelding.no/schemas/portability-v1.json", SchemaVersion: 1,
		ExportedAt: s.d.now().UTC().Truncate(time.Second), Registration: reg.ID,
		Event:  EventSummary{Slug: ev.Slug, Title: ev.Title, StartsAt: ev.StartsAt, EndsAt: ev.EndsAt},
		Status: reg.Status, RegisteredAt: reg.CreatedAt, Fields: map[string]string{},
		Consents: reg.Consents, Objections: reg.Objections, Restricted: reg.Restricted, Payment: reg.Payment,
	}
	values, err := s.d.Store.Open(ctx, reg)
	if err != nil {
		return nil, err
	}
	if p.Consents == nil {
		p.Consents = []Consent{} // the schema's list, empty when no consent was asked
	}
	for _, ff := range ev.Fields {
		if v := values[ff.Key]; v != "" {
			p.Fields[ff.Key] = v
		}
	}
	return p, nil
}

// RectifyRequest is the body of PATCH /api/v1/me: the values to change; an
// empty string removes an optional value.
type RectifyRequest struct {
	Fields map[string]string `json:"fields"`
	// Consents gives consents after sign-up, in the same request as the
	// values they cover (a participant registered by a buyer gives their
	// health data this way): only true is taken here, withdrawing has its
	// own route. A minor's are their guardian's to give.
	Consents ConsentsRequest `json:"consents"`
}

// Rectify changes values (GDPR art. 16) by the rules of sign-up: declared
// fields only, each value checked, consent-based values only while their
// consent stands; each value replaced is sealed under a new key and the
// old key destroyed. One conditional update. A new e-mail address waits,
// sealed, until confirmed through a link mailed to it (ConfirmEmail).
func (s *Rights) Rectify(ctx context.Context, reg *Registration, r RectifyRequest) (*Registration, error) {
	ev, err := s.d.events.Get(ctx, reg.Event)
	if err != nil {
		return nil, err
	}
	now := s.d.now().UTC().Truncate(time.Millisecond)
	var errs privacy.Errors
	set, unset := bson.M{}, bson.M{}
	values := map[string]string{}
	var removed []string
	state := maps.Clone(reg.ConsentState)
	if state == nil {
		state = map[privacy.ConsentPurpose]bool{}
	}
	var given []Consent
	for p, yes := range r.Consents {
		t, asked := ev.ConsentText(p)
		switch {
		case !yes:
			errs.Add("consents."+string(p), privacy.CodeInvalid) // withdrawing: POST /me/consents/{purpose}/withdraw
		case !asked || p == privacy.ConsentGuardian:
			errs.Add("consents."+string(p), privacy.CodeUndeclared)
		case reg.Guardian != nil:
			errs.Add("consents."+string(p), privacy.CodeConsentRequired) // the guardian's to give
		case !state[p]:
			state[p] = true
			given = append(given, Consent{Purpose: p, Given: true, At: now, TextVersion: t.Version, TextSHA256: t.SHA256(), Channel: reg.Channel})
		}
	}
	for key, raw := range r.Fields {
		path := "fields." + key
		df, ok := declared(ev, key)
		if !ok {
			errs.Add(path, privacy.CodeUndeclared)
			continue
		}
		v, code := df.Validation.Check(raw, now)
		if code != "" {
			errs.Add(path, code)
			continue
		}
		if v == "" {
			if df.Required {
				errs.Add(path, privacy.CodeRequired)
				continue
			}
			unset["sealed."+key] = ""
			unset["deleteAt."+key] = ""
			removed = append(removed, key)
			continue
		}
		if df.LegalBasis.NeedsConsent() && !state[df.ConsentPurpose] {
			errs.Add(path, privacy.CodeConsentRequired)
			continue
		}
		values[key] = v
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	var push bson.M
	if len(given) > 0 {
		for _, c := range given {
			set["consentState."+string(c.Purpose)] = true
		}
		push = bson.M{"consents": bson.M{"$each": given}}
	}
	if email, ok := values["email"]; ok {
		// A new address takes effect once confirmed from it: mail for
		// this registration never goes to an address its holder does not
		// control, and the answer is the same whoever holds it.
		delete(values, "email")
		current, err := s.d.Store.Open(ctx, reg, "email")
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(current["email"], email) {
			token := newToken(emailTokenPrefix, reg.ID)
			values[pendingEmail] = email
			m := s.d.mailWithToken(mailEmailChange, now, token)
			m.To = ToPendingEmail
			set["emailChange"] = EmailChange{TokenHash: hashToken(token), Until: now.Add(EmailChangeTTL)}
			set["outbox.email-change"], set["outboxNextAt"] = m, now
		}
	}
	if len(values)+len(unset)+len(given) == 0 {
		return reg, nil
	}
	sealed, err := s.d.Store.vault.reseal(ctx, reg, values)
	if err != nil {
		return nil, err
	}
	for key, sv := range sealed {
		set["sealed."+key] = sv
		if _, ok := reg.DeleteAt[key]; !ok {
			// A value added now is deleted by the same rule as at sign-up.
			if at, ok := deadlines(ev, map[string]string{key: ""})[key]; ok {
				set["deleteAt."+key] = at
			}
		}
	}
	set["updatedAt"] = now
	out, err := s.d.Store.rectify(ctx, reg.ID, set, unset, push)
	if err != nil {
		return nil, err
	}
	if _, ok := set["outbox.email-change"]; ok {
		s.d.notifyMail(reg.ID)
	}
	// A value removed: its key goes too; a value replaced: its old key.
	if err := s.d.Store.vault.settle(ctx, reg.ID, slices.Collect(maps.Keys(values))); err != nil {
		return nil, err
	}
	if err := s.d.Store.destroyKeys(ctx, reg.ID, removed); err != nil {
		return nil, err
	}
	if len(values) > 0 && len(removed) == 0 {
		if err := s.d.Store.vault.checkpoint(ctx); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// EmailChangeTTL is how long a new address waits to be confirmed.
const EmailChangeTTL = 48 * time.Hour

// ErrEmailChangeInvalid: the link is not a pending address change's, or
// it ran out.
var ErrEmailChangeInvalid = errors.New("invalid or expired address change")

// EmailChangeFor returns the registration an address-change token
// belongs to, while the change waits.
func (s *Rights) EmailChangeFor(ctx context.Context, token string) (*Registration, error) {
	now := s.d.now()
	reg, err := s.d.Store.byToken(ctx, emailTokenPrefix, token, func(r *Registration) []string {
		if r.EmailChange == nil || !now.Before(r.EmailChange.Until) || r.ErasedAt != nil {
			return nil
		}
		return []string{r.EmailChange.TokenHash}
	})
	if errors.Is(err, ErrInvalidManageToken) {
		return nil, ErrEmailChangeInvalid
	}
	return reg, err
}

// ConfirmEmail makes the address waiting for confirmation the
// registration's, from the link mailed to it: sealed under a new key, the
// old address's key destroyed.
func (s *Rights) ConfirmEmail(ctx context.Context, token string) (*Registration, error) {
	reg, err := s.EmailChangeFor(ctx, token)
	if err != nil {
		return nil, err
	}
	values, err := s.d.Store.Open(ctx, reg, pendingEmail)
	if err != nil {
		return nil, err
	}
	email := values[pendingEmail]
	if email == "" {
		return nil, ErrEmailChangeInvalid
	}
	sealed, err := s.d.Store.vault.reseal(ctx, reg, map[string]string{"email": email})
	if err != nil {
		return nil, err
	}
	now := s.d.now().UTC().Truncate(time.Millisecond)
	out, err := s.d.Store.confirmEmail(ctx, reg.ID, reg.EmailChange.TokenHash, bson.M{
		"sealed.email": sealed["email"], "emailKey": s.d.keys.EmailKey(email), "updatedAt": now,
	})
	if err != nil {
		return nil, err
	}
	if err := s.d.Store.vault.settle(ctx, reg.ID, []string{"email"}); err != nil {
		return nil, err
	}
	if err := s.d.Store.destroyKeys(ctx, reg.ID, []string{pendingEmail}); err != nil {
		return nil, err
	}
	return out, nil
}

func declared(ev *events.Event, key string) (events.DeclaredField, bool) {
	for _, df := range ev.Form() {
		if df.Key == key {
			return df, true
		}
	}
	return events.DeclaredField{}, false
}

// WithdrawConsent withdraws a consent as easily as it was given (GDPR art.
// 7(3)). Withdrawing health deletes the values it covered at once and
// destroys the data key they were sealed with; marketing stops marketing.
func (s *Rights) WithdrawConsent(ctx context.Context, reg *Registration, purpose privacy.ConsentPurpose) (*Registration, error) {
	ev, err := s.d.events.Get(ctx, reg.Event)
	if err != nil {
		return nil, err
	}
	t, ok := ev.ConsentText(purpose)
	if !ok {
		return nil, ErrUnknownPurpose
	}
	now := s.d.now().UTC().Truncate(time.Millisecond)
	unset := bson.M{}
	var fields []string
	for _, df := range ev.Form() {
		if df.ConsentPurpose == purpose {
			unset["sealed."+df.Key] = ""
			unset["deleteAt."+df.Key] = ""
			fields = append(fields, df.Key)
		}
	}
	// The keys first: from this moment no copy of the values (a backup, a
	// free page, a replica) can be read again.
	if err := s.d.Store.destroyKeys(ctx, reg.ID, fields); err != nil {
		return nil, err
	}
	update := bson.M{
		"$set": bson.M{"consentState." + string(purpose): false, "updatedAt": now},
		"$push": bson.M{"consents": Consent{
			Purpose: purpose, Given: false, At: now, TextVersion: t.Version, TextSHA256: t.SHA256(), Channel: reg.Channel, WithdrawnAt: &now,
		}},
	}
	if len(unset) > 0 {
		update["$unset"] = unset
	}
	return s.d.Store.rights(ctx, "withdraw consent", reg.ID, update)
}

// ObjectionsRequest is the body of POST /api/v1/me/objections; members
// left out stay as they are.
type ObjectionsRequest struct {
	PartnerSharing *bool `json:"partnerSharing"`
	Marketing      *bool `json:"marketing"`
}

// Object records objections (GDPR art. 21): to partner sharing (the next
// partner export leaves the registration out) and to marketing.
func (s *Rights) Object(ctx context.Context, reg *Registration, r ObjectionsRequest) (*Registration, error) {
	set := bson.M{"updatedAt": s.d.now().UTC().Truncate(time.Millisecond)}
	if r.PartnerSharing != nil {
		set["objections.partnerSharing"] = *r.PartnerSharing
	}
	if r.Marketing != nil {
		set["objections.marketing"] = *r.Marketing
		if *r.Marketing {
			set["consentState."+string(privacy.ConsentMarketing)] = false
		}
	}
	return s.d.Store.rights(ctx, "object", reg.ID, bson.M{"$set": set})
}

// Restrict sets or lifts a restriction of processing (GDPR art. 18): a
// restricted registration is left out of every export and mail until it
// is lifted; it is stored, and its seat kept.
func (s *Rights) Restrict(ctx context.Context, reg *Registration, on bool) (*Registration, error) {
	now := s.d.now().UTC().Truncate(time.Millisecond)
	set := bson.M{"restricted": on, "updatedAt": now}
	if !on {
		// Mail held back while restricted is due again.
		set["outboxNextAt"] = now
	}
	out, err := s.d.Store.rights(ctx, "restrict", reg.ID, bson.M{"$set": set})
	if err == nil && !on {
		s.d.notifyMail(reg.ID)
	}
	return out, err
}

// Kept is data erasure left in place, and why.
type Kept struct {
	// Code names what is kept, for pages to say it in their language:
	// invoice_fields, payment_record, invoice, registration.
	Code  string     `json:"code"`
	What  string     `json:"what"`
	Why   string     `json:"why"`
	Basis string     `json:"legalBasis"`
	Until *time.Time `json:"until,omitempty"`
	// Fields, for invoice_fields; Invoice, for invoice.
	Fields  []string `json:"fields,omitempty"`
	Invoice int64    `json:"invoice,omitempty"`
}

// What erasure keeps, by code.
const (
	KeptInvoiceFields = "invoice_fields"
	KeptPaymentRecord = "payment_record"
	KeptInvoice       = "invoice"
	KeptRegistration  = "registration"
)

// ErasureReceipt answers an erasure: what was removed and what was kept.
type ErasureReceipt struct {
	Registration string   `json:"registration"`
	Removed      []string `json:"removed"`
	Kept         []Kept   `json:"kept"`
	SeatReleased bool     `json:"seatReleased"`
}

// ErasurePlan says what erasing the registration would remove and keep,
// and why, before anything is erased (the erasure page shows it).
func (s *Rights) ErasurePlan(ctx context.Context, reg *Registration) (*ErasureReceipt, error) {
	ev, err := s.d.events.Get(ctx, reg.Event)
	if err != nil {
		return nil, err
	}
	return erasurePlan(reg, ev), nil
}

// erasurePlan is what erasure removes and keeps: the buyer's invoice
// fields of an issued invoice, the payment record, and the invoice itself
// (which names the buyer) are kept for bookkeeping until the end of the
// fifth year after the fiscal year.
func erasurePlan(reg *Registration, ev *events.Event) *ErasureReceipt {
	invoiced := reg.Payment != nil && reg.Payment.InvoiceNumber != 0
	rec := &ErasureReceipt{Registration: reg.ID, Removed: []string{}, Kept: []Kept{}}
	a := anchors(reg, ev)
	bookkeepingUntil, _ := bookkeeping.DeleteAt(a)
	var kept []string
	for _, key := range slices.Sorted(maps.Keys(reg.Sealed)) {
		if f, ok := ev.Field(key); ok && f.LegalBasis == privacy.LegalObligation && invoiced {
			kept = append(kept, key)
			continue
		}
		rec.Removed = append(rec.Removed, key)
	}
	if len(kept) > 0 {
		until := bookkeepingUntil
		rec.Kept = append(rec.Kept, Kept{Code: KeptInvoiceFields, What: "fields " + strings.Join(kept, ", "), Fields: kept,
			Why: "on an issued invoice: bookkeeping act (bokføringsloven) § 13", Basis: "legal_obligation", Until: &until})
	}
	if reg.Payment != nil && (reg.Payment.PaidAmount > 0 || invoiced) {
		until := bookkeepingUntil
		rec.Kept = append(rec.Kept, Kept{Code: KeptPaymentRecord, What: "payment record (amounts, dates, Stripe ids, invoice and credit note numbers, KID)",
			Why: "bookkeeping act (bokføringsloven) § 13", Basis: "legal_obligation", Until: &until})
	}
	if invoiced {
		until := bookkeepingUntil
		rec.Kept = append(rec.Kept, Kept{Code: KeptInvoice, Invoice: reg.Payment.InvoiceNumber,
			What: fmt.Sprintf("invoice %d and any credit note (buyer name, organisation, org number, address, reference; amounts)", reg.Payment.InvoiceNumber),
			Why:  "bookkeeping act (bokføringsloven) § 13 and bookkeeping regulation § 5-1-1", Basis: "legal_obligation", Until: &until})
	}
	rec.Kept = append(rec.Kept, Kept{Code: KeptRegistration, What: "the registration's id, event, status and dates, without personal data",
		Why: "to count seats and keep the disclosure log true", Basis: "legitimate_interest"})
	return rec
}

// Erase erases a registration (GDPR art. 17): every personal value is
// removed but those kept under a legal obligation (the buyer's invoice
// fields of an invoiced registration, art. 17(3)(b)), the manage tokens
// are revoked, pending mail dropped, and the seat released if the event
// has not happened. Payment amounts and ids stay as bookkeeping records;
// invoices and credit notes keep their buyer data until their retention
// ends. Disclosure records stay: they hold no personal data.
func (s *Rights) Erase(ctx context.Context, reg *Registration) (*ErasureReceipt, error) {
	ev, err := s.d.events.Get(ctx, reg.Event)
	if err != nil {
		return nil, err
	}
	now := s.d.now().UTC().Truncate(time.Millisecond)
	rec := erasurePlan(reg, ev)
	keepFields := map[string]bool{}
	for _, k := range rec.Kept {
		for _, f := range k.Fields {
			keepFields[f] = true
		}
	}
	removed := rec.Removed

	// The keys first: from this moment no copy of the values (a backup, a
	// free page, a replica) can be read again. Then the sealed values go.
	destroy := func() error { return s.d.Store.destroyKeys(ctx, reg.ID, removed) }
	if len(keepFields) == 0 {
		destroy = func() error { return s.d.Store.destroyAllKeys(ctx, reg.ID) } // and the key document with them
	}
	if err := destroy(); err != nil {
		return nil, err
	}
	sealed, deleteAt := bson.M{}, bson.M{}
	for k := range keepFields {
		sealed[k] = reg.Sealed[k]
		if at, ok := reg.DeleteAt[k]; ok {
			deleteAt[k] = at
		}
	}
	set := bson.M{
		"sealed": sealed, "deleteAt": deleteAt, "erasedAt": now, "updatedAt": now,
		"emailKey": "erased:" + reg.ID, "activeKey": reg.ID, "manageTokens": []string{},
		"outbox": bson.M{}, "consentState": bson.M{}, "consents": []Consent{}, "objections": Objections{},
	}
	releaseSeat := reg.Seat && now.Before(ev.StartsAt)
	if reg.Status.Live() {
		set["status"] = Cancelled
		k, h := HookSet(HookCancelled, now)
		set[k], set["hooksAt"] = h, now
	}
	if releaseSeat {
		set["seat"] = false
	}
	if _, err := s.d.Store.erase(ctx, reg.ID, set); err != nil {
		return nil, err
	}
	if releaseSeat {
		s.seats.handOn(ctx, reg)
		rec.SeatReleased = true
	}
	return rec, nil
}

// GuardianWithdrawal answers a guardian's withdrawal: the consents
// withdrawn and the fields whose values were erased.
type GuardianWithdrawal struct {
	Registration string                   `json:"registration"`
	Withdrawn    []privacy.ConsentPurpose `json:"withdrawn"`
	Erased       []string                 `json:"erased"`
	// OrganiserTold: a mail to the organiser's privacy address is queued,
	// naming the registration and the fields, not their values.
	OrganiserTold bool `json:"organiserTold"`
}

// GuardianWithdraw is a minor's guardian withdrawing the consents given
// for the child: every consent still given is withdrawn (the guardian's
// own included), the values held under a consent in the participant's
// promise are erased (their keys destroyed first), and the organiser is
// told by mail. The registration itself stands, on its contract basis;
// cancelling it is a separate step (Signups.Cancel).
func (s *Rights) GuardianWithdraw(ctx context.Context, reg *Registration) (*GuardianWithdrawal, error) {
	if reg.Guardian == nil || reg.Guardian.ConfirmedAt == nil || reg.Guardian.WithdrawnAt != nil || reg.ErasedAt != nil {
		return nil, ErrGuardianDone
	}
	promise, err := s.d.promise(ctx, reg)
	if err != nil {
		return nil, err
	}
	now := s.d.now().UTC().Truncate(time.Millisecond)
	out := &GuardianWithdrawal{Registration: reg.ID, Withdrawn: []privacy.ConsentPurpose{}, Erased: []string{}}
	set, unset := bson.M{}, bson.M{}
	var consents []Consent
	for _, p := range slices.Sorted(maps.Keys(reg.ConsentState)) {
		if !reg.ConsentState[p] {
			continue
		}
		c, _ := reg.Consent(p)
		consents = append(consents, Consent{Purpose: p, Given: false, At: now, TextVersion: c.TextVersion, TextSHA256: c.TextSHA256,
			Channel: GuardianLink, ByGuardian: true, WithdrawnAt: &now})
		set["consentState."+string(p)] = false
		out.Withdrawn = append(out.Withdrawn, p)
	}
	for _, f := range promise.Fields {
		if _, held := reg.Sealed[f.Key]; held && f.LegalBasis.NeedsConsent() {
			out.Erased = append(out.Erased, f.Key)
			unset["sealed."+f.Key], unset["deleteAt."+f.Key] = "", ""
		}
	}
	// The keys first: from this moment no copy of the values can be read.
	if err := s.d.Store.destroyKeys(ctx, reg.ID, out.Erased); err != nil {
		return nil, err
	}
	m := Mail{Kind: mailGuardianWithdrawn, CreatedAt: now, To: ToOrganiser, Fields: out.Erased}
	if len(out.Erased) == 0 {
		m.Fields = []string{"-"}
	}
	update := bson.M{"$set": set, "$push": bson.M{"consents": bson.M{"$each": consents}}}
	if len(unset) > 0 {
		update["$unset"] = unset
	}
	if len(consents) == 0 {
		delete(update, "$push")
	}
	if _, err := s.d.Store.guardianWithdrew(ctx, reg.ID, update, m, now); errors.Is(err, ErrWrongState) {
		return nil, ErrGuardianDone
	} else if err != nil {
		return nil, err
	}
	s.d.notifyMail(reg.ID)
	out.OrganiserTold = true
	return out, nil
}

// LostLinkEvery is how often one registration may be sent a lost link.
const LostLinkEvery = 10 * time.Minute

// SendLink sends a lost manage link: to the address itself, for each of
// its registrations (of the event, if slug is set) that is not erased, one
// more link beside those it has. Nothing tells the asker whether the
// address is registered; a registration is sent one at most every
// LostLinkEvery. It returns how many were sent, for tests and metrics
// only.
func (s *Rights) SendLink(ctx context.Context, email, slug string) (int, error) {
	v, code := privacy.Validation{Kind: privacy.KindEmail, MaxLength: 254}.Check(email, time.Time{})
	if code != "" || v == "" {
		return 0, privacy.Errors{{Field: "email", Code: privacy.CodeInvalid}}
	}
	regs, err := s.d.Store.ofSubject(ctx, s.d.keys.EmailKey(v))
	if err != nil {
		return 0, err
	}
	now := s.d.now().UTC().Truncate(time.Millisecond)
	n := 0
	for _, reg := range regs {
		if slug != "" && reg.Event != slug {
			continue
		}
		token := newManageToken(reg.ID)
		m := s.d.mailWithToken(mailLostLink, now, token)
		ok, err := s.d.Store.addManageToken(ctx, reg.ID, hashToken(token), m, now, now.Add(-LostLinkEvery))
		if err != nil {
			return n, err
		}
		if ok {
			s.d.notifyMail(reg.ID)
			n++
		}
	}
	return n, nil
}

// ResendLink mails one more manage link to a registration's address, as
// the lost-link page does, at most once per LostLinkEvery (false when one
// went within it, or the registration was erased): the organiser's
// "send the link again" for a participant who lost their confirmation.
func (s *Rights) ResendLink(ctx context.Context, reg *Registration) (bool, error) {
	if reg.ErasedAt != nil {
		return false, nil
	}
	now := s.d.now().UTC().Truncate(time.Millisecond)
	token := newManageToken(reg.ID)
	ok, err := s.d.Store.addManageToken(ctx, reg.ID, hashToken(token), s.d.mailWithToken(mailLostLink, now, token), now, now.Add(-LostLinkEvery))
	if ok {
		s.d.notifyMail(reg.ID)
	}
	return ok, err
}

// RotateManageToken revokes every manage link of the registration and
// mails a new one to its address, for a participant who forwarded a link
// or fears someone else holds one. It returns the new token (the API
// caller proved it held a valid one).
func (s *Rights) RotateManageToken(ctx context.Context, reg *Registration) (string, error) {
	now := s.d.now().UTC().Truncate(time.Millisecond)
	token := newManageToken(reg.ID)
	m := s.d.mailWithToken(mailNewLink, now, token)
	if _, err := s.d.Store.rotateManageTokens(ctx, reg.ID, hashToken(token), m, now); err != nil {
		return "", err
	}
	s.d.notifyMail(reg.ID)
	return token, nil
}
