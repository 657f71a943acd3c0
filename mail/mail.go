// Package mail sends e-mail over SMTP with wneessen/go-mail.
package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/pamelding/pamelding/registration"
)

// Sender sends through one SMTP server.
type Sender struct {
	host string
	from *netmail.Address
	opts []gomail.Option
}

// Parse reads an SMTP URL: smtp://[user:pass@]host[:port] uses STARTTLS
// (mandatory unless ?tls=opportunistic or ?tls=none, the last for a local
// relay only); smtps:// uses implicit TLS.
func Parse(raw, from string) (*Sender, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return nil, errors.New("want smtp://[user:pass@]host[:port] or smtps://[user:pass@]host[:port]")
	}
	opts := []gomail.Option{gomail.WithTimeout(15 * time.Second)}
	port := 587
	switch u.Scheme {
	case "smtp":
		switch u.Query().Get("tls") {
		case "", "mandatory":
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		case "opportunistic":
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
		case "none":
			opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		default:
			return nil, errors.New("tls must be mandatory, opportunistic or none")
		}
	case "smtps":
		port = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, errors.New("scheme must be smtp or smtps")
	}
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil {
			return nil, errors.New("bad port")
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	if from == "" {
		return nil, errors.New("a From address (SMTP_FROM) is required")
	}
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, errors.New("SMTP_FROM: want an address such as pamelding@example.no or Name <pamelding@example.no>")
	}
	return &Sender{host: u.Hostname(), from: addr, opts: opts}, nil
}

// Send delivers one message: plain text, with its HTML alternative when
// it has one, from the organiser's name at the configured address (the
// configured name when the message names none), Reply-To the
// organiser's address. Errors say what failed, not to whom (an SMTP
// reply can quote the address).
func (s *Sender) Send(ctx context.Context, m registration.Message) error {
	msg := gomail.NewMsg()
	name := s.from.Name
	if m.FromName != "" {
		name = m.FromName
	}
	// An address value, not a formatted string: a quote or a comma in
	// the organiser's name cannot break the header.
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderFrom, &netmail.Address{Name: name, Address: s.from.Address})
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return errors.New("smtp: bad Reply-To address")
		}
	}
	if err := msg.To(m.To); err != nil {
		return errors.New("smtp: bad recipient address")
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	for _, a := range m.Attachments {
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType))); err != nil {
			return errors.New("smtp: attachment")
		}
	}
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return fmt.Errorf("smtp: client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return errors.New("smtp: delivery failed")
	}
	return nil
}
