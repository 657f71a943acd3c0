package registration

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"rsc.io/qr"

	"github.com/pamelding/pamelding/events"
)

// Check-in: each registration has an opaque ticket code, shown as a QR
// code to the participant; staff at the door scan it. The code is the
// registration's id and a MAC of it under a key derived from the master
// key: nothing is stored to check it, nobody can make one, and it opens
// nothing but the door (the manage token is another secret).

// Errors of check-in.
var (
	// ErrTicketInvalid: not a ticket code of this service, or of another
	// event.
	ErrTicketInvalid = errors.New("not a ticket of this event")
	// ErrTicketCancelled: the registration was cancelled, expired or erased.
	ErrTicketCancelled = errors.New("ticket cancelled")
	// ErrTicketUnpaid: the payment is still due.
	ErrTicketUnpaid = errors.New("ticket not paid")
	// ErrTicketNoSeat: the registration is on the waiting list, or waits
	// for a guardian.
	ErrTicketNoSeat = errors.New("ticket holds no seat")
)

// ticketPrefix marks ticket codes.
const ticketPrefix = "pmt_"

// TicketCode is the registration's ticket code.
// TicketQR is a ticket code as a QR code (PNG), for the page and the
// confirmation mail.
func TicketQR(code string) ([]byte, error) {
	q, err := qr.Encode(code, qr.M)
	if err != nil {
		return nil, err
	}
	q.Scale = 6
	return q.PNG(), nil
}

func (d *Domain) TicketCode(id string) string {
	return ticketPrefix + id + "." + d.ticketMAC(id)
}

func (d *Domain) ticketMAC(id string) string {
	m := hmac.New(sha256.New, d.keys.Derive("ticket codes"))
	m.Write([]byte(id))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)[:10]))
}

// ticketID is the registration a ticket code names, if the code is one.
func (d *Domain) ticketID(code string) (string, bool) {
	id, mac, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(code), ticketPrefix), ".")
	if !ok || len(id) != 26 || !hmac.Equal([]byte(strings.ToLower(mac)), []byte(d.ticketMAC(id))) {
		return "", false
	}
	return id, true
}

// TicketHash is what the door list carries of a code: its SHA-256, so a
// scan can be checked offline without the list holding the codes.
func TicketHash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// CheckIn is the record of a registration's arrival.
type CheckIn struct {
	At time.Time `bson:"at" json:"at"`
	// By names the staff token that scanned it.
	By string `bson:"by" json:"by"`
}

// Arrival answers a scan: who (name and category, what the door needs),
// and when and by whom they were checked in; Again is set for a second
// scan of a ticket checked in before.
type Arrival struct {
	Registration string  `json:"registration"`
	Name         string  `json:"name"`
	Category     string  `json:"category,omitempty"`
	CheckIn      CheckIn `json:"checkIn"`
	Again        bool    `json:"again"`
}

// CheckIns runs the door: scans and the door list.
type CheckIns struct{ d *Domain }

// NewCheckIns returns the check-in part.
func NewCheckIns(d *Domain) *CheckIns { return &CheckIns{d: d} }

// CheckIn checks in the ticket with the code at the event's door, once:
// a second scan answers with the first (Again). A cancelled, unpaid or
// waiting registration is refused with its reason; a code of another
// event is not a ticket here. by names the staff token.
func (s *CheckIns) CheckIn(ctx context.Context, slug, code, by string) (*Arrival, error) {
	id, ok := s.d.ticketID(code)
	if !ok {
		return nil, ErrTicketInvalid
	}
	reg, err := s.d.Store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrTicketCancelled // deleted by retention or erased
	}
	if err != nil {
		return nil, err
	}
	if reg.Event != slug {
		return nil, ErrTicketInvalid
	}
	if reg.CheckedIn == nil {
		if err := admissible(reg); err != nil {
			return nil, err
		}
		now := s.d.clock()
		out, err := s.d.Store.transition(ctx, "check in", bson.M{"_id": id, "status": Confirmed, "erasedAt": bson.M{"$exists": false},
			"checkedIn": bson.M{"$exists": false}}, bson.M{"$set": bson.M{"checkedIn": CheckIn{At: now, By: by}, "updatedAt": now}})
		switch {
		case errors.Is(err, ErrWrongState):
			// Scanned at another door at the same moment, or cancelled:
			// read it again.
			if reg, err = s.d.Store.Get(ctx, id); err != nil {
				return nil, err
			}
			if reg.CheckedIn == nil {
				return nil, admissible(reg)
			}
		case err != nil:
			return nil, err
		default:
			return s.arrival(ctx, out, false)
		}
	}
	return s.arrival(ctx, reg, true)
}

// admissible says why a registration not yet checked in cannot be; nil
// if it can.
func admissible(reg *Registration) error {
	switch {
	case reg.ErasedAt != nil, reg.Status == Cancelled, reg.Status == Expired:
		return ErrTicketCancelled
	case reg.Status == PendingPayment:
		return ErrTicketUnpaid
	case reg.Status != Confirmed:
		return ErrTicketNoSeat
	}
	return nil
}

// arrival opens the name the door needs, and logs that it was shown.
func (s *CheckIns) arrival(ctx context.Context, reg *Registration, again bool) (*Arrival, error) {
	v, err := s.d.Store.Open(ctx, reg, "name")
	if err != nil {
		return nil, err
	}
	if err := s.d.Store.Disclosed(ctx, reg.Event, "checkin", reg.CheckedIn.By, []string{"name"}, []string{reg.ID}); err != nil {
		return nil, err
	}
	return &Arrival{Registration: reg.ID, Name: v["name"], Category: reg.Category, CheckIn: *reg.CheckedIn, Again: again}, nil
}

// DoorEntry is one line of the door list: no more than the door needs
// (name, category), the ticket code's hash, and whether it was checked in
// when the list was made.
type DoorEntry struct {
	Name      string     `json:"name"`
	Category  string     `json:"category,omitempty"`
	Ticket    string     `json:"ticketSha256"`
	CheckedIn *time.Time `json:"checkedInAt,omitempty"`
}

// DoorList is the list of everyone who may come in, for a door without a
// network: the confirmed registrations of the event, by name. Making it
// is logged as a disclosure of the names to check-in staff.
func (s *CheckIns) DoorList(ctx context.Context, ev *events.Event, by string) ([]DoorEntry, error) {
	regs, err := s.d.Store.all(ctx, "door list", bson.M{"event": ev.Slug, "status": Confirmed, "erasedAt": bson.M{"$exists": false}},
		options.Find().SetSort(s.d.Store.insertionOrder()))
	if err != nil {
		return nil, err
	}
	out := make([]DoorEntry, 0, len(regs))
	ids := make([]string, 0, len(regs))
	for i := range regs {
		reg := &regs[i]
		v, err := s.d.Store.Open(ctx, reg, "name")
		if err != nil {
			return nil, err
		}
		e := DoorEntry{Name: v["name"], Category: reg.Category, Ticket: TicketHash(s.d.TicketCode(reg.ID))}
		if reg.CheckedIn != nil {
			e.CheckedIn = &reg.CheckedIn.At
		}
		out = append(out, e)
		ids = append(ids, reg.ID)
	}
	if err := s.d.Store.Disclosed(ctx, ev.Slug, "checkin", by, []string{"name"}, ids); err != nil {
		return nil, err
	}
	return out, nil
}
