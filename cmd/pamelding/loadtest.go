package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/spf13/cobra"
)

// loadResult is what a rush measured.
type loadResult struct {
	Seats, Requests, Clients int
	// Cores is the machine's CPU count (the rush runs on it too).
	Cores                         int
	Elapsed                       time.Duration
	Created, Full, Limited, Other int
	P50, P99                      time.Duration
	// WrittenPerSignup is the bytes the server process wrote to disk per
	// sign-up (from /proc/self/io; 0 when the server is not this process
	// or the system does not say).
	WrittenPerSignup int64
	// Floor is the same rush at a bare server doing one conditional seat
	// decrement and one insert per sign-up on the same embedded store, in
	// the same run (nil with -url or -floor=false).
	Floor *floorResult `json:",omitempty"`
	// SeatsHeld counts registrations holding seats in the store after the
	// rush; Oversold is how many more than the seats there are.
	SeatsHeld, Oversold int
	// Missing counts 201 answers whose registration is not in the store.
	Missing int
}

const loadtestHelp = `A rush of sign-ups at the real HTTP server. Without -url it starts the
server itself on an empty temporary data directory, then the same rush at
a bare server (one seat decrement and one insert per sign-up on the same
embedded store) as the floor to compare with; with -url it targets a
running one (whose admin token is PAMELDING_ADMIN_TOKEN), and afterwards
erases the free event it made with its registrations unless -keep. It reads the
registrations back and counts oversold seats and 201s missing from the
store, and exits 1 if either is not zero, or if any answer was neither 201
nor 409 (a 429 is the server's per-address limit: run it against a server
with PAMELDING_SIGNUP_RATE=0). Flags take one dash or two.`

// loadtestCommand is "pamelding loadtest". Its flags are the standard
// library's (-seats or --seats), as the README and older scripts write
// them.
func loadtestCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:                "loadtest [-seats N] [-clients M] [-requests R] [-url URL] [-event SLUG] [-json]",
		Short:              "A rush of sign-ups at the real HTTP server (see the README's Performance)",
		Long:               loadtestHelp,
		DisableFlagParsing: true,
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		err := loadtestCmd(c.Context(), args, getenv, stdout, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	return cmd
}

// loadtestCmd runs the rush with the flags in args.
func loadtestCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintln(stdout, loadtestHelp)
		fmt.Fprintln(stdout, "\nUsage:\n  pamelding loadtest [flags]\n\nFlags:")
		fs.PrintDefaults()
	}
	seats := fs.Int("seats", 16000, "seats of the event")
	clients := fs.Int("clients", 64, "concurrent clients")
	requests := fs.Int("requests", 0, "sign-ups to send (default: seats + 10%)")
	target := fs.String("url", "", "base URL of a running server (default: start one)")
	slug := fs.String("event", "", "event slug (default: rush-<time>)")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	timeout := fs.Duration("timeout", 30*time.Second, "how long a client waits for one answer before counting it as other")
	floor := fs.Bool("floor", true, "also rush a bare decrement-and-insert server on the same store, for the ratio (without -url)")
	keep := fs.Bool("keep", false, "with -url: keep the rush event and its registrations (by default they are erased after the run)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the rush (client and the server it starts) to this file, for go tool pprof")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *requests == 0 {
		*requests = *seats + *seats/10
	}
	if *slug == "" {
		*slug = fmt.Sprintf("rush-%d", time.Now().UnixNano())
	}
	admin := getenv("PAMELDING_ADMIN_TOKEN")
	base := *target
	if base == "" {
		dir, err := os.MkdirTemp("", "pmdload")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr := ln.Addr().String()
		ln.Close()
		admin = "loadtest-admin-token-0123456789abcdefghij"
		env := map[string]string{"PAMELDING_DATA_DIR": dir + "/data", "PAMELDING_ADDR": addr, "PAMELDING_ADMIN_TOKEN": admin, "PAMELDING_LOG_LEVEL": "error",
			// One address sends the whole rush: the per-address limit is off.
			"PAMELDING_SIGNUP_RATE": "0"}
		sctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- serve(sctx, func(k string) string { return env[k] }, stderr) }()
		defer func() { stop(); <-done }()
		base = "http://" + addr
		if err := waitHealthy(ctx, base, done); err != nil {
			return err
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	w0 := mongodb.WrittenBytes()
	res, err := rush(ctx, base, admin, *slug, *seats, *requests, *clients, *timeout)
	if *target != "" && !*keep && !errors.Is(err, errNoEvent) {
		// A server of one's own goes with its data directory; one
		// elsewhere keeps only what it is told to.
		if n, eerr := eraseEvent(ctx, base, admin, *slug); eerr != nil {
			fmt.Fprintf(stderr, "the rush event %s was not erased: %v\n", *slug, eerr)
		} else {
			fmt.Fprintf(stderr, "erased the rush event %s and its %d registrations (-keep keeps them)\n", *slug, n)
		}
	}
	if err != nil {
		return err
	}
	if w1 := mongodb.WrittenBytes(); *target == "" && w0 >= 0 && w1 >= w0 {
		res.WrittenPerSignup = (w1 - w0) / int64(res.Requests)
	}
	if *target == "" && *floor {
		if res.Floor, err = rushFloor(ctx, *seats, *requests, *clients, *timeout); err != nil {
			return fmt.Errorf("floor: %w", err)
		}
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(res)
	}
	rate := float64(res.Created) / res.Elapsed.Seconds()
	fmt.Fprintf(stdout, "seats %d, sign-ups %d, clients %d, cores %d\n", res.Seats, res.Requests, res.Clients, res.Cores)
	fmt.Fprintf(stdout, "elapsed %.2fs, %.0f sign-ups/s, %.0f registrations/s\n", res.Elapsed.Seconds(),
		float64(res.Requests)/res.Elapsed.Seconds(), rate)
	fmt.Fprintf(stdout, "latency p50 %s, p99 %s\n", res.P50.Round(time.Microsecond*100), res.P99.Round(time.Microsecond*100))
	fmt.Fprintf(stdout, "answers: 201 %d, 409 %d, 429 %d, other %d\n", res.Created, res.Full, res.Limited, res.Other)
	fmt.Fprintf(stdout, "seats held %d, oversold %d, 201s missing from the store %d\n", res.SeatsHeld, res.Oversold, res.Missing)
	if res.WrittenPerSignup > 0 {
		fmt.Fprintf(stdout, "written to disk: %.1f KB per sign-up\n", float64(res.WrittenPerSignup)/1000)
	}
	if f := res.Floor; f != nil {
		frate := float64(f.Created) / f.Elapsed.Seconds()
		fmt.Fprintf(stdout, "floor (decrement + insert per sign-up, same store): %.2fs, %.0f registrations/s, p99 %s, %.1f KB per sign-up\n",
			f.Elapsed.Seconds(), frate, f.P99.Round(time.Microsecond*100), float64(f.WrittenPerSignup)/1000)
		fmt.Fprintf(stdout, "pamelding / floor: %.2fx\n", rate/frate)
	}
	if res.Limited > 0 {
		fmt.Fprintf(stdout, "%d sign-ups were refused with 429 by the server's per-address limit (PAMELDING_SIGNUP_RATE): the figures above are not a rush; run it against a server started with PAMELDING_SIGNUP_RATE=0\n", res.Limited)
	}
	if res.Oversold > 0 || res.Missing > 0 || res.Other > 0 || res.Limited > 0 {
		return errors.New("the rush broke a rule: see the figures above")
	}
	return nil
}

// errNoEvent: the rush event was not made.
var errNoEvent = errors.New("no rush event")

// eraseEvent erases the rush event with what its sign-ups left, and says
// how many registrations went.
func eraseEvent(ctx context.Context, base, admin, slug string) (int, error) {
	st, b, err := call(ctx, http.DefaultClient, "DELETE", base+"/api/v1/events/"+slug, admin, nil)
	if err != nil {
		return 0, err
	}
	if st != 200 {
		return 0, fmt.Errorf("%d %s", st, b)
	}
	var rec struct {
		Deleted int `json:"registrationsDeleted"`
	}
	return rec.Deleted, json.Unmarshal(b, &rec)
}

func waitHealthy(ctx context.Context, base string, done <-chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return fmt.Errorf("server stopped: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("server not ready within 60 s")
}

func rush(ctx context.Context, base, admin, slug string, seats, requests, clients int, timeout time.Duration) (*loadResult, error) {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	now := time.Now().UTC()
	ev := map[string]any{
		"slug": slug, "kind": "race", "title": map[string]string{"nb": "Rush", "en": "Rush"},
		"startsAt": now.Add(24 * time.Hour), "endsAt": now.Add(26 * time.Hour), "capacity": seats,
		"fields":    []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true}},
		"organiser": map[string]string{"name": "Load", "privacyEmail": "load@example.no"},
	}
	if st, b, err := call(ctx, client, "POST", base+"/api/v1/events", admin, ev); err != nil || st != 201 {
		return nil, fmt.Errorf("create event: %d %s %v: %w", st, b, err, errNoEvent)
	}

	res, created, err := fire(ctx, client, base+"/api/v1/events/"+slug+"/registrations", requests, clients)
	if err != nil {
		return nil, err
	}
	res.Seats = seats

	// What the store holds, read back through the organiser's list.
	st, b, err := call(ctx, client, "GET", base+"/api/v1/events/"+slug+"/registrations?format=csv", admin, nil)
	if err != nil || st != 200 {
		return nil, fmt.Errorf("read back: %d %v", st, err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	stored := map[string]bool{}
	for _, rec := range recs[1:] {
		stored[rec[0]] = true
		if rec[1] == "confirmed" || rec[1] == "pending_payment" || rec[1] == "offered" {
			res.SeatsHeld++
		}
	}
	res.Oversold = max(0, res.SeatsHeld-seats)
	for id := range created {
		if !stored[id] {
			res.Missing++
		}
	}
	return res, nil
}

// fire sends requests sign-ups from clients at once to url, and counts
// the answers.
func fire(ctx context.Context, client *http.Client, url string, requests, clients int) (*loadResult, map[string]bool, error) {
	var next atomic.Int64
	type outcome struct {
		lat    []time.Duration
		ids    []string
		counts [4]int
	}
	outs := make([]outcome, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			o := &outs[w]
			for {
				i := next.Add(1)
				if i > int64(requests) {
					return
				}
				body := map[string]any{"fields": map[string]string{"name": "Load Runner", "email": fmt.Sprintf("runner%d@load.example", i)}}
				t0 := time.Now()
				st, b, err := call(ctx, client, "POST", url, "", body)
				o.lat = append(o.lat, time.Since(t0))
				switch {
				case err == nil && st == 201:
					o.counts[0]++
					var r struct{ ID string }
					_ = json.Unmarshal(b, &r)
					o.ids = append(o.ids, r.ID)
				case err == nil && st == 409:
					o.counts[1]++
				case err == nil && st == 429:
					o.counts[2]++
				default:
					o.counts[3]++
				}
			}
		})
	}
	wg.Wait()
	res := &loadResult{Requests: requests, Clients: clients, Cores: runtime.NumCPU(), Elapsed: time.Since(start)}
	var lat []time.Duration
	created := map[string]bool{}
	for _, o := range outs {
		lat = append(lat, o.lat...)
		for _, id := range o.ids {
			created[id] = true
		}
		res.Created += o.counts[0]
		res.Full += o.counts[1]
		res.Limited += o.counts[2]
		res.Other += o.counts[3]
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		res.P50 = lat[len(lat)/2]
		res.P99 = lat[len(lat)*99/100]
	}
	return res, created, ctx.Err()
}

func call(ctx context.Context, c *http.Client, method, url, token string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
