package registration

import (
	"context"
	"log/slog"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
)

// Domain is what the parts of the registration domain share: the store
// (the one owner of registration documents), the events, the keys, the
// mail hints, the log and the clock. Each part has one job: Signups
// (sign-up, seats, the waiting list), Rights (what a participant may do
// with their data), Requests (privacy requests that arrive by mail),
// Lists (organiser lists, partner exports, disclosures), Mailer and
// Retention.
type Domain struct {
	Store  *Store
	events *events.Service
	keys   *privacy.Keyring
	log    *slog.Logger
	now    func() time.Time
	db     *mongodb.Store
	// mailDue hints the mailer at registrations with new mail, so it need
	// not scan for them (a scan reads every document in embedded mode).
	mailDue chan string
}

// NewDomain returns the shared part of the registration domain: the
// documents in db, their data keys in keyStore.
func NewDomain(db, keyStore *mongodb.Store, ev *events.Service, keys *privacy.Keyring, log *slog.Logger, now func() time.Time) *Domain {
	return &Domain{Store: NewStore(db, keyStore, keys, now), events: ev, keys: keys, log: log, now: now, db: db, mailDue: make(chan string, 4096)}
}

func (d *Domain) clock() time.Time { return d.now().UTC().Truncate(time.Millisecond) }

// notifyMail tells this process's mailer that a registration has mail
// due. When the hint queue is full the hint is dropped: the mailer's
// periodic sweep finds the mail.
func (d *Domain) notifyMail(id string) {
	select {
	case d.mailDue <- id:
	default:
	}
}

// mailWithToken is an outbox entry carrying a new manage token, sealed
// until the mail is sent.
func (d *Domain) mailWithToken(kind string, now time.Time, token string) Mail {
	h := hashToken(token)
	sealed := d.keys.SealSecret("mail-token:"+h, token)
	return Mail{Kind: kind, CreatedAt: now, Token: &sealed, TokenHash: h}
}

// promise is what the registration's participant was told at sign-up
// (registrations from before promises were kept: what the event says
// now).
func (d *Domain) promise(ctx context.Context, reg *Registration) (*events.Promise, error) {
	id := reg.Promise
	if id == "" {
		ev, err := d.events.Get(ctx, reg.Event)
		if err != nil {
			return nil, err
		}
		id = ev.PromiseID
	}
	return d.events.Promise(ctx, id)
}
