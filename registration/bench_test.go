package registration_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pamelding/pamelding/events"
	"github.com/pamelding/pamelding/events/eventstest"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/privacy"
	"github.com/pamelding/pamelding/registration"
)

// BenchmarkSignup measures the sign-up path (event read, validation, seat
// claim, insert with its outbox entry) on the embedded store, 64 at a
// time as in the rush. Run: go test -bench Signup -benchmem ./registration
func BenchmarkSignup(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	if _, err := f.ev.Create(ctx, eventstest.Request("bench", events.Settings{Kind: events.Race, Title: privacy.Text{NB: "B", EN: "B"},
		StartsAt: f.now.Add(time.Hour), EndsAt: f.now.Add(2 * time.Hour), Capacity: 1_000_000,
		Fields:    []events.FormField{{Key: "name", Required: true}, {Key: "email", Required: true}},
		Organiser: events.Organiser{Name: "B", PrivacyEmail: "b@example.no"},
	}), "bench"); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(32) // × GOMAXPROCS(2) = 64 goroutines
	b.ReportAllocs()
	w0 := mongodb.WrittenBytes()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, err := f.app.Signups.Signup(ctx, "bench", registration.SignupRequest{
				Fields: map[string]string{"name": "Runner", "email": fmt.Sprintf("r%d@bench.example", i)},
			}, registration.API)
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	// What a sign-up cost the disk: the store runs in this process.
	if w1 := mongodb.WrittenBytes(); w0 >= 0 && w1 > w0 {
		b.ReportMetric(float64(w1-w0)/float64(b.N), "disk-B/op")
	} else if w0 >= 0 {
		b.Error("nothing was written to disk: the sign-ups were not stored")
	}
}
