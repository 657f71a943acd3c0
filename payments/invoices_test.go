package payments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/payments"
	"github.com/pamelding/pamelding/registration"
)

// awaitingInvoices signs up n invoice buyers whose invoices could not be
// issued at sign-up (the series was unreachable), as the sweep finds them.
func (f *fixture) awaitingInvoices(t *testing.T, n int) []string {
	t.Helper()
	f.db.InjectFaults(func(coll, _ string) mongodb.Fault {
		if coll == mongodb.Counters {
			return mongodb.FailBefore
		}
		return mongodb.NoFault
	})
	defer f.db.InjectFaults(nil)
	ids := make([]string, n)
	for i := range ids {
		res := f.invoiceSignup(t, 1000+i)
		if res.PaymentStatus != registration.PaymentInvoicing {
			t.Fatalf("payment status %s, want invoicing while the series is down", res.PaymentStatus)
		}
		ids[i] = res.ID
	}
	return ids
}

// checkSeries asserts exactly one invoice per registration, numbered
// 1..n without a gap, each linked from its registration.
func (f *fixture) checkSeries(t *testing.T, ids []string) {
	t.Helper()
	ctx := context.Background()
	invs, err := f.inv.List(ctx, payments.InvoiceQuery{})
	if err != nil {
		t.Fatal(err)
	}
	byReg := map[string][]int64{}
	var numbers []int64
	for _, inv := range invs {
		numbers = append(numbers, inv.Number)
		if inv.Kind == payments.KindInvoice {
			byReg[inv.Registration] = append(byReg[inv.Registration], inv.Number)
		}
	}
	slices.Sort(numbers)
	for i, n := range numbers {
		if n != int64(i+1) {
			t.Fatalf("numbers %v: not 1..%d without a gap", numbers, len(numbers))
		}
	}
	if len(invs) != len(ids) {
		t.Errorf("%d documents for %d registrations", len(invs), len(ids))
	}
	for _, id := range ids {
		got := byReg[id]
		if len(got) != 1 {
			t.Errorf("registration %s has invoices %v, want exactly one", id, got)
			continue
		}
		reg, err := f.app.Registrations.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if reg.Payment.Status != registration.PaymentInvoiced || reg.Payment.InvoiceNumber != got[0] || reg.Payment.InvoiceClaim != nil {
			t.Errorf("registration %s: %s, number %d, claim %v; want invoiced with %d", id, reg.Payment.Status, reg.Payment.InvoiceNumber, reg.Payment.InvoiceClaim, got[0])
		}
	}
}

// TestInvoicesExactlyOnce: issuing races itself (two issuers per
// registration) and the sweep, and still makes one invoice per
// registration with a gapless series. Before the claim and the unique
// index, two concurrent issuers duplicated an invoice every time.
func TestInvoicesExactlyOnce(t *testing.T) {
	t.Run("TwoIssuersAndTheSweep", func(t *testing.T) {
		f := newFixture(t)
		ctx := context.Background()
		ids := f.awaitingInvoices(t, 100)
		if invs, _ := f.inv.List(ctx, payments.InvoiceQuery{}); len(invs) != 0 {
			t.Fatalf("%d invoices before issuing", len(invs))
		}
		var wg sync.WaitGroup
		for _, id := range ids {
			for range 2 {
				wg.Go(func() {
					if err := f.inv.IssueInvoice(ctx, id); err != nil {
						t.Error(err)
					}
				})
			}
		}
		for range 3 {
			wg.Go(func() {
				if _, err := f.inv.IssuePending(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		// A claim held by a racer that lost is released; what is left the
		// next sweep issues.
		if _, err := f.inv.IssuePending(ctx); err != nil {
			t.Fatal(err)
		}
		f.checkSeries(t, ids)
	})
	t.Run("SignupsDuringTheSweep", func(t *testing.T) {
		f := newFixture(t)
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ids []string
		stop := make(chan struct{})
		for range 2 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := f.inv.IssuePending(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		var signups sync.WaitGroup
		for i := range 100 {
			signups.Go(func() {
				res := f.invoiceSignup(t, i)
				mu.Lock()
				ids = append(ids, res.ID)
				mu.Unlock()
			})
		}
		signups.Wait()
		close(stop)
		wg.Wait()
		if _, err := f.inv.IssuePending(ctx); err != nil {
			t.Fatal(err)
		}
		f.checkSeries(t, ids)
	})
	t.Run("UniqueIndex", func(t *testing.T) {
		// The store itself refuses a second invoice for a registration.
		f := newFixture(t)
		ctx := context.Background()
		c := f.db.Collection(mongodb.Invoices)
		doc := func(id string) bson.M {
			return bson.M{"_id": id, "kind": payments.KindInvoice, "registration": "r1", "credits": int64(0)}
		}
		if err := c.InsertOne(ctx, doc("x-1")); err != nil {
			t.Fatal(err)
		}
		if err := c.InsertOne(ctx, doc("x-2")); err == nil {
			t.Error("a second invoice for one registration was stored")
		}
	})
}

// BenchmarkInvoiceSignups measures n concurrent invoice sign-ups, each
// issuing its invoice: the time per sign-up stays flat as n grows
// (issuing was quadratic). Run: go test -run X -bench InvoiceSignups ./payments
func BenchmarkInvoiceSignups(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				f := newFixture(b)
				capacity := n
				if _, err := f.app.Events.Patch(context.Background(), "kurs", events.PatchRequest{Capacity: &capacity}, nil); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { f.invoiceSignup(b, i) })
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/signup")
		})
	}
}

// TestIssuePendingGoesOn: a registration whose invoice cannot be issued
// (its event is gone) is logged and the sweep issues the others; it used
// to stop at the first failure.
func TestIssuePendingGoesOn(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.awaitingInvoices(t, 3)
	if _, err := f.db.Collection(mongodb.Registrations).UpdateOne(ctx, bson.M{"_id": ids[0]}, bson.M{"$set": bson.M{"event": "gone"}}); err != nil {
		t.Fatal(err)
	}
	n, err := f.inv.IssuePending(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 items failed") {
		t.Fatalf("err %v, want the one failure counted", err)
	}
	if n != 2 {
		t.Errorf("issued %d, want the 2 others", n)
	}
	for _, id := range ids[1:] {
		if reg, _ := f.app.Registrations.Get(ctx, id); reg.Payment.Status != registration.PaymentInvoiced {
			t.Errorf("%s: %s", id, reg.Payment.Status)
		}
	}
}

// TestInvoiceDatesOslo: an invoice issued at 00:30 in Oslo on New Year's
// Day is dated that day, not the 31st it still is in UTC; its delivery
// date is the event's day in Oslo and its due date 14 calendar days on,
// also across a change to summer time. The dates were UTC days.
func TestInvoiceDatesOslo(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		now, starts           time.Time
		issue, delivery, due  time.Time
		issued, delivered, by string
	}{
		{"NewYearInOslo", newYear, june2,
			date(2027, 1, 1), date(2027, 6, 2), date(2027, 1, 15), "01.01.2027", "02.06.2027", "15.01.2027"},
		// 00:30 on 21 March in Oslo; summer time starts on 28 March.
		{"AcrossSummerTime", time.Date(2027, 3, 20, 23, 30, 0, 0, time.UTC), june2,
			date(2027, 3, 21), date(2027, 6, 2), date(2027, 4, 4), "21.03.2027", "02.06.2027", "04.04.2027"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.now.UTC().Day() == tc.issue.Day() || tc.starts.UTC().Day() == tc.delivery.Day() {
				t.Fatal("precondition: the UTC days must differ from the Oslo days")
			}
			f := newInvoiceFixture(t, &testClock{t: tc.now}, vatSeller, tc.starts, nil)
			mustInvoiceBuyer(t, f)
			inv := mustInvoice(t, f, 1, payments.KindInvoice)
			if !inv.IssueDate.Equal(tc.issue) || !inv.DeliveryDate.Equal(tc.delivery) || !inv.DueDate.Equal(tc.due) {
				t.Errorf("dates issue %v, delivery %v, due %v; want %v, %v, %v", inv.IssueDate, inv.DeliveryDate, inv.DueDate, tc.issue, tc.delivery, tc.due)
			}
			j, err := json.Marshal(inv)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				`"issueDate":"` + tc.issue.Format(time.RFC3339) + `"`,
				`"deliveryDate":"` + tc.delivery.Format(time.RFC3339) + `"`,
				`"dueDate":"` + tc.due.Format(time.RFC3339) + `"`,
			} {
				if !strings.Contains(string(j), want) {
					t.Errorf("JSON %s lacks %s", j, want)
				}
			}
			lines := mustPDFLines(t, inv.PDF)
			mustHaveLines(t, lines, "Fakturadato: "+tc.issued, "Leveringsdato: "+tc.delivered, "Forfallsdato: "+tc.by)
		})
	}
}

// date is a calendar date as invoices store it: 00:00 UTC of that date.
func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestSellerIncomplete: invoicing switched on without the seller's
// address or bank account would issue invoices nobody can pay: the check
// names what is missing, and the invoices part says so when built.
func TestSellerIncomplete(t *testing.T) {
	for _, tc := range []struct {
		name    string
		seller  payments.Seller
		missing []string
	}{
		{"OK", vatSeller, nil},
		{"NoAddress", payments.Seller{Name: "Kurs AS", OrgNumber: "923609016", BankAccount: "12345678903"}, []string{"address"}},
		{"NoAccount", payments.Seller{Name: "Kurs AS", OrgNumber: "923609016", Address: "Storgata 1"}, []string{"bank account"}},
		{"BadAccount", payments.Seller{Name: "Kurs AS", OrgNumber: "923609016", Address: "Storgata 1", BankAccount: "12345678901"}, []string{"bank account"}},
		{"Neither", payments.Seller{Name: "Kurs AS", OrgNumber: "923609016"}, []string{"address", "bank account"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.seller.CheckInvoicing()
			if (err == nil) != (tc.missing == nil) {
				t.Fatalf("err %v, want missing %v", err, tc.missing)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, payments.ErrSellerIncomplete) {
				t.Errorf("err %v is not ErrSellerIncomplete", err)
			}
			for _, m := range tc.missing {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("err %q does not name %q", err, m)
				}
			}
			var logs bytes.Buffer
			newInvoiceFixture(t, &testClock{t: newYear}, tc.seller, june2, slog.New(slog.NewJSONHandler(&logs, nil)))
			if !strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), tc.missing[0]) {
				t.Errorf("no error logged naming %q: %s", tc.missing[0], logs.String())
			}
		})
	}
}
