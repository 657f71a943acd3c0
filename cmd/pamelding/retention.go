package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/pamelding/pamelding/registration"
)

// retentionCmd is "pamelding retention run [--dry-run]": the hourly
// retention job, run now. It prints the purge receipt (counts only).
func retentionCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "run" {
		return errors.New("usage: pamelding retention run [--dry-run]")
	}
	fs := flag.NewFlagSet("retention run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dry := fs.Bool("dry-run", false, "count what is due without removing it")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	// Not attached to a running embedded server: its writes would bypass
	// that server's write lock. The server runs this job hourly itself.
	a, _, err := open(ctx, getenv, io.Discard, false)
	if err != nil {
		return fmt.Errorf("%w (stop the server first: it runs retention hourly by itself)", err)
	}
	defer a.store.Close(context.WithoutCancel(ctx))
	rec, err := a.registrations.RunRetention(ctx, *dry)
	if err != nil {
		return err
	}
	docs, err := a.payments.PurgeInvoices(ctx, *dry)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*registration.PurgeReceipt
		BookkeepingDocuments int `json:"bookkeepingDocumentsDeleted"`
	}{rec, docs})
}
