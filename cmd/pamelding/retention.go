package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pamelding/pamelding/registration"
)

// retentionCommand is "pamelding retention run [--dry-run]": the hourly
// retention job, run now. It prints the purge receipt (counts only).
func retentionCommand(getenv func(string) string, stdout io.Writer) *cobra.Command {
	retention := &cobra.Command{
		Use:   "retention",
		Short: "Retention of personal data",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var dry bool
	runCmd := &cobra.Command{
		Use:   "run [--dry-run]",
		Short: "Apply every retention rule now and print the purge receipt",
		Long: `Apply every field's retention rule now (the server does it hourly) and print
the purge receipt: counts per rule, never personal data. With the embedded
store, stop the server first: this command opens the data directory itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// Not attached to a running embedded server: its writes would
			// bypass that server's write lock.
			a, _, err := open(ctx, getenv, io.Discard, false)
			if err != nil {
				return fmt.Errorf("%w (stop the server first: it runs retention hourly by itself)", err)
			}
			defer a.Close(context.WithoutCancel(ctx))
			rec, err := a.Retention.RunRetention(ctx, dry)
			if err != nil {
				return err
			}
			docs, err := a.Invoices.Purge(ctx, dry)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(struct {
				*registration.PurgeReceipt
				BookkeepingDocuments int `json:"bookkeepingDocumentsDeleted"`
			}{rec, docs})
		},
	}
	runCmd.Flags().BoolVar(&dry, "dry-run", false, "count what is due without removing it")
	retention.AddCommand(runCmd)
	return retention
}
