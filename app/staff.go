package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pamelding/pamelding/registration"
	"github.com/pamelding/pamelding/staff"
)

// ErrNoSender: no mail sender is configured, so no sign-in link can go.
var ErrNoSender = errors.New("no mail sender configured (SMTP_URL): sign-in links cannot be mailed")

// signInMail is the sign-in link mail, by language: the name, the link,
// how many minutes it works.
var signInMail = map[string][2]string{
	"nb": {"Logg inn i pamelding", "Hei %s!\n\nLogg inn i pamelding med denne lenken:\n\n%s\n\nLenken virker én gang, i %d minutter. " +
		"Har du ikke bedt om den, kan du se bort fra denne e-posten: uten lenken kommer ingen inn.\n"},
	"en": {"Sign in to pamelding", "Hello %s,\n\nSign in to pamelding with this link:\n\n%s\n\nThe link works once, for %d minutes. " +
		"If you did not ask for it, ignore this e-mail: without the link nobody gets in.\n"},
}

// MailSignInLink mails a back office sign-in link to the enabled staff
// account with the address; with none it does nothing and says nothing
// (the sign-in page answers the same either way). The mail goes after
// the answer, so how long the relay takes tells nobody whether the
// address has an account; a failure is logged (without the address).
func (a *App) MailSignInLink(ctx context.Context, email, lang string) error {
	if a.cfg.Sender == nil {
		return ErrNoSender
	}
	link, acct, err := a.Staff.SignInLink(ctx, email)
	if err != nil || acct == nil {
		return err
	}
	m, ok := signInMail[lang]
	if !ok {
		m = signInMail["nb"]
	}
	url := a.cfg.PublicURL + "/admin/l/" + link + "?lang=" + lang
	msg := registration.Message{To: acct.Email, FromName: "pamelding", Subject: m[0],
		Text: fmt.Sprintf(m[1], acct.Name, url, int(staff.LinkTTL.Minutes()))}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := a.cfg.Sender.Send(ctx, msg); err != nil {
			a.Log.ErrorContext(ctx, "sign-in link not sent", "account", acct.ID, "err", err)
		}
	}()
	return nil
}
