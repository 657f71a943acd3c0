package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pamelding/pamelding/staff"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// tokenCmd is "pamelding token create": it writes to the store directly,
// through the running server's socket in embedded mode.
func tokenCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: pamelding token create --role ROLE --name NAME [--event SLUG]... [--partner ID]")
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var req staff.CreateRequest
	var role string
	var evs multi
	fs.StringVar(&role, "role", "", "admin, organiser, finance, catering or partner")
	fs.StringVar(&req.Name, "name", "", "who or what the token is for")
	fs.Var(&evs, "event", "an event slug the token is limited to (repeatable)")
	fs.StringVar(&req.Partner, "partner", "", "partner id (partner tokens)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	req.Role, req.Events = staff.Role(role), evs

	a, _, err := open(ctx, getenv, io.Discard, true)
	if err != nil {
		return err
	}
	defer a.store.Close(context.WithoutCancel(ctx))
	token, t, err := a.staff.Create(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "created %s token %s (%q); it is shown only this once:\n", t.Role, t.ID(), t.Name)
	fmt.Fprintln(stdout, token)
	return nil
}
