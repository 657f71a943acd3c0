package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pamelding/pamelding/staff"
)

// staffCommand is "pamelding staff invite": a back office account, made
// from the command line (the first admin's, say), beside a running server.
func staffCommand(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "staff",
		Short: "Back office staff accounts",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var req staff.InviteRequest
	var role string
	invite := &cobra.Command{
		Use:   "invite --email ADDRESS --name NAME --role ROLE [--event SLUG]... [--partner ID]",
		Short: "Add a staff account that signs in to /admin by e-mail link",
		Long: `Add a staff account. Its holder signs in at /admin/signin with the address: a
one-time link, valid for 15 minutes, is mailed to it (SMTP_URL must be
set). Roles and --event scopes are as for tokens: admin, organiser,
finance, catering, partner (with --partner), privacy and checkin (door staff,
with --event). Works beside a running server.`,
		Example: `  pamelding staff invite --email kari@kongsvingerregionen.no --name "Kari Nordmann" --role admin
  pamelding staff invite --email dor@janteloppet.no --name "Døra" --role checkin --event janteloppet-2027`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.Role = staff.Role(role)
			ctx := cmd.Context()
			a, cfg, err := open(ctx, getenv, io.Discard, true)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			acct, err := a.Staff.Invite(ctx, req, staff.Principal{ID: "cli"})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "added %s account %s; it signs in at %s/admin/signin with its e-mail address\n",
				acct.Role, acct.ID, cfg.PublicURL)
			return nil
		},
	}
	f := invite.Flags()
	f.StringVar(&req.Email, "email", "", "the address sign-in links go to")
	f.StringVar(&req.Name, "name", "", "the staff member's name")
	f.StringVar(&role, "role", "", "admin, organiser, finance, catering, partner, privacy or checkin")
	f.StringArrayVar(&req.Events, "event", nil, "an event slug the account is limited to (repeatable)")
	f.StringVar(&req.Partner, "partner", "", "partner id (partner accounts)")
	cmd.AddCommand(invite)
	return cmd
}
