package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pamelding/pamelding/staff"
)

// tokenCommand is "pamelding token create": it writes to the store
// directly, through the running server's socket in embedded mode.
func tokenCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	token := &cobra.Command{
		Use:   "token",
		Short: "Staff tokens",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var req staff.CreateRequest
	var role string
	create := &cobra.Command{
		Use:   "create --role ROLE --name NAME [--event SLUG]... [--partner ID]",
		Short: "Create a staff token and print it once",
		Long: `Create a staff token and print it once on standard output; only its hash is
stored. Roles: admin, organiser, finance, catering, partner (with --partner)
and privacy (the privacy contact, answering data-subject requests). --event
limits the token to events (repeat it for several). Works beside a running
server: in embedded mode it connects to the server's socket.`,
		Example: `  pamelding token create --role organiser --name "Kari (Janteloppet)" --event janteloppet-2027
  pamelding token create --role partner --name "Sparebanken Øst" --event janteloppet-2027 --partner sparebank
  pamelding token create --role privacy --name personvernombud`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.Role = staff.Role(role)
			ctx := cmd.Context()
			a, _, err := open(ctx, getenv, io.Discard, true)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			tok, t, err := a.Staff.Create(ctx, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "created %s token %s (%q); it is shown only this once:\n", t.Role, t.ID(), t.Name)
			fmt.Fprintln(stdout, tok)
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&role, "role", "", "admin, organiser, finance, catering, partner or privacy")
	f.StringVar(&req.Name, "name", "", "who or what the token is for")
	f.StringArrayVar(&req.Events, "event", nil, "an event slug the token is limited to (repeatable)")
	f.StringVar(&req.Partner, "partner", "", "partner id (partner tokens)")
	token.AddCommand(create)
	return token
}
