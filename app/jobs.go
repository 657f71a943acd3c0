package app

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// The background jobs, by name (their lease documents, metrics and the
// staff status route use it).
const (
	jobOffers        = "offers"
	jobHolds         = "payment-holds"
	jobInvoices      = "invoices"
	jobSettlements   = "settlements"
	jobCancellations = "event-cancellations"
	jobSeats         = "seats"
	jobRetention     = "retention"
	jobPartners      = "partner-notices"
	jobRequestMail   = "request-mail"
	jobGuardians     = "guardian-holds"
	jobOrders        = "orders"
	jobBibs          = "bibs"
	jobReminders     = "reminders"
	jobInvoiceRemind = "invoice-reminders"
)

// Job is one background job: what it does, and how often.
type Job struct {
	Name  string
	Every time.Duration
	Run   func(context.Context) error
}

// Jobs is the table of background jobs (the mailer and the webhook
// dispatcher run beside them with their own hints; the pages' state sweep
// is the web's).
func (a *App) Jobs() []Job {
	every := a.cfg.JobInterval
	count := func(f func(context.Context) (int, error)) func(context.Context) error {
		return func(ctx context.Context) error { _, err := f(ctx); return err }
	}
	return []Job{
		{jobOffers, every, count(a.Signups.ExpireOffers)},
		{jobHolds, every, count(a.Payments.ReleaseHolds)},
		{jobInvoices, every, count(a.Invoices.IssuePending)},
		{jobSettlements, every, count(a.Payments.SettleDue)},
		{jobCancellations, every, count(a.ResumeCancellations)},
		{jobSeats, every, count(func(ctx context.Context) (int, error) { return a.Signups.RecountSeats(ctx, false) })},
		{jobRetention, time.Hour, a.RunRetention},
		{jobPartners, every, count(a.NoticePartners)},
		{jobRequestMail, every, count(a.Requests.SendDue)},
		{jobGuardians, every, count(a.Signups.ExpireGuardianHolds)},
		{jobOrders, every, count(a.Signups.SweepOrders)},
		{jobBibs, every, count(a.Signups.AssignBibs)},
		{jobReminders, every, count(a.Mailer.QueueReminders)},
		{jobInvoiceRemind, every, count(a.Invoices.RemindOverdue)},
	}
}

// NoticePartners tells the participants of every event who signed up
// before a partner was added that it will get their name, and how to
// object (see registration.Lists.NoticePartners).
func (a *App) NoticePartners(ctx context.Context) (int, error) {
	evs, err := a.Events.List(ctx)
	if err != nil {
		return 0, err
	}
	total, failed := 0, 0
	for _, e := range evs {
		for _, p := range e.Partners {
			if p.NoticesDoneAt != nil {
				continue
			}
			n, done, err := a.Lists.NoticePartners(ctx, &e, p.ID)
			total += n
			if err == nil && done {
				err = a.Events.PartnerNoticesDone(ctx, e.Slug, p.ID)
			}
			if err != nil {
				failed++
				a.Log.ErrorContext(ctx, "job item failed", "job", jobPartners, "item", e.Slug+"/"+p.ID, "err", err)
			}
		}
	}
	if failed > 0 {
		return total, fmt.Errorf("%s: %d partners failed (see the log)", jobPartners, failed)
	}
	return total, nil
}

// RunRetention is the hourly retention job: every rule applied, and the
// bookkeeping documents whose period ended deleted.
func (a *App) RunRetention(ctx context.Context) error {
	rec, err := a.Retention.RunRetention(ctx, false)
	if err != nil {
		return err
	}
	for _, v := range rec.Values {
		a.Metrics.Purged.WithLabelValues(v.Rule).Add(float64(v.Count))
	}
	a.Metrics.Purged.WithLabelValues("registration").Add(float64(rec.RegistrationsDeleted))
	docs, err := a.Invoices.Purge(ctx, false)
	if rec.RegistrationsDeleted > 0 || len(rec.Values) > 0 || docs > 0 {
		a.Log.InfoContext(ctx, "retention run", "receipt", rec.ID, "registrationsDeleted", rec.RegistrationsDeleted, "rules", len(rec.Values), "bookkeepingDocumentsDeleted", docs)
	}
	if err != nil {
		return fmt.Errorf("purge bookkeeping documents: %w", err)
	}
	return nil
}

// RunJobs runs every background job until ctx ends, extra ones (the
// caller's) included, and gives their leases up when it does.
func (a *App) RunJobs(ctx context.Context, extra ...Job) {
	runner := a.Runner
	var wg sync.WaitGroup
	for _, j := range append(a.Jobs(), extra...) {
		wg.Go(func() { runner.Loop(ctx, j.Name, j.Every, j.Run) })
	}
	wg.Go(func() { a.Mailer.Run(ctx, runner, a.cfg.JobInterval) })
	wg.Go(func() { a.Webhooks.Run(ctx, runner, a.cfg.JobInterval) })
	wg.Wait()
}

// kick makes a job run now in this process, if it runs jobs.
func (a *App) kick(job string) { a.Runner.Kick(job) }
