package payments

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MaxReminderFee is the most a reminder may charge (øre): a tenth of the
// inkassosats (inkassoforskriften § 1-2 and § 1-1), which has been 700 kr
// since 1 January 2017.
const MaxReminderFee int64 = 7000

// FeeAfterDays: a reminder may charge a fee only when sent at least this
// many days after the due date (inkassoforskriften § 1-2).
const FeeAfterDays = 14

// RemindOverdue reminds, once, each invoice still not paid in full
// ReminderAfterDays after its due date: the registration's outbox gets a
// reminder mail (with the invoice attached and a new deadline at least
// 14 days on, inkassoloven § 9) in an update that holds only while the
// invoice is unpaid and not credited, and the invoice records the
// reminder. A reminder queued for an invoice paid or credited before it
// goes out is dropped by the mailer. An order's invoice is the buyer's
// and is listed as overdue, not mailed (the buyer has no outbox yet).
//
// A reminder sent at least 14 days after the due date charges the
// configured fee (Config.ReminderFee, at most MaxReminderFee), stated in
// the mail and recorded on the invoice; an earlier one charges none
// (inkassoforskriften § 1-2). The fee is not chased further: a payment of
// the invoice alone settles it.
func (s *Invoices) RemindOverdue(ctx context.Context) (int, error) {
	if !s.Enabled() || s.cfg.ReminderAfterDays <= 0 {
		return 0, nil
	}
	today := osloDate(s.clock())
	var due []Invoice
	err := s.store.invoices.All(ctx, bson.M{
		"kind": KindInvoice, "status": bson.M{"$in": []string{InvoiceOpen, InvoicePartiallyPaid}},
		"order": bson.M{"$exists": false}, "remindedAt": bson.M{"$exists": false},
		"dueDate": bson.M{"$lte": today.AddDate(0, 0, -s.cfg.ReminderAfterDays)},
	}, &due)
	if err != nil {
		return 0, fmt.Errorf("find invoices to remind: %w", err)
	}
	reminded, failed := 0, 0
	for _, inv := range due {
		newDue := today.AddDate(0, 0, s.cfg.ReminderDays)
		var fee int64
		if !today.Before(osloDate(inv.DueDate).AddDate(0, 0, FeeAfterDays)) {
			fee = min(s.cfg.ReminderFee, MaxReminderFee)
		}
		queued, err := s.regs.QueueInvoiceReminder(ctx, inv.Registration, inv.Number, newDue, fee)
		if err == nil {
			// Recorded also when nothing was queued (the registration was
			// erased, or settled meanwhile): it is not looked at again.
			now := s.clock()
			_, err = s.store.invoices.UpdateOne(ctx, bson.M{"_id": inv.ID, "remindedAt": bson.M{"$exists": false}},
				bson.M{"$set": bson.M{"remindedAt": now, "reminderDue": newDue, "reminderFee": fee}})
		}
		if err != nil {
			failed++
			s.log.ErrorContext(ctx, "job item failed", "job", "invoice-reminders", "invoice", inv.Number, "err", err)
			continue
		}
		if queued {
			reminded++
		}
	}
	if failed > 0 {
		return reminded, fmt.Errorf("invoice reminders: %d failed (see the log)", failed)
	}
	return reminded, nil
}
