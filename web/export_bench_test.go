package web_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pamelding/pamelding/registration"
)

// BenchmarkPartnerExport exports 100,000 confirmed registrations as CSV
// through a real listener and reports the time and the peak heap of the
// whole process (the embedded store included) while it streams.
// Run: go test -run X -bench PartnerExport -benchtime 3x ./web
func BenchmarkPartnerExport(b *testing.B) {
	const n = 100_000
	e := newEnv(b)
	e.mustEvent(b, "big", func(m map[string]any) { m["capacity"] = n; delete(m, "price") })
	ctx := context.Background()
	start := time.Now()
	batch := make([]*registration.Registration, 0, 1000)
	for i := range n {
		id := fmt.Sprintf("R%08d", i)
		batch = append(batch, &registration.Registration{
			ID: id, Event: "big", Status: registration.Confirmed, Seat: true,
			Plain:    map[string]string{"name": fmt.Sprintf("Deltaker %d", i), "email": fmt.Sprintf("d%d@example.no", i), "organisation": "Acme AS"},
			EmailKey: id, ActiveKey: id, ManageTokens: []string{}, Consents: []registration.Consent{}, Outbox: map[string]registration.Mail{},
			CreatedAt: time.Unix(int64(i), 0).UTC(), UpdatedAt: time.Unix(int64(i), 0).UTC(),
		})
		if len(batch) == cap(batch) {
			if err := e.a.Registrations.Import(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.Logf("seeded %d registrations in %s", n, time.Since(start).Round(time.Millisecond))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = e.app.Listener(ln) }()
	defer e.app.Shutdown()
	url := "http://" + ln.Addr().String() + "/api/v1/events/big/partner-export?partner=acme"

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	b.ResetTimer()
	var bytes int64
	for b.Loop() {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		bytes, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(base.HeapInuse)/(1<<20), "base-heap-MiB")
	b.ReportMetric(float64(bytes), "csv-bytes")
	if bytes < n*20 {
		b.Fatalf("export of %d bytes: rows missing", bytes)
	}
}
