package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/staff"
	"github.com/pamelding/pamelding/webhooks"
)

// received is one request a receiver got.
type received struct {
	path   string
	header http.Header
	body   []byte
	msg    map[string]any
}

type receiver struct {
	mu     sync.Mutex
	got    []received
	status int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	r.got = append(r.got, received{path: req.URL.Path, header: req.Header.Clone(), body: body, msg: m})
	w.WriteHeader(r.status)
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *receiver) setStatus(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = status
}

// byPath lists "type event" of what each path got, sorted.
func (r *receiver) byPath() map[string][]string {
	out := map[string][]string{}
	for _, g := range r.all() {
		data, _ := g.msg["data"].(map[string]any)
		out[g.path] = append(out[g.path], g.msg["type"].(string)+" "+data["event"].(string))
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

type endpointJSON struct {
	ID      string   `json:"id"`
	URL     string   `json:"url"`
	Types   []string `json:"types"`
	Events  []string `json:"events"`
	Enabled bool     `json:"enabled"`
	Secret  string   `json:"secret"`
}

// freeEventAndReceiver makes the free event "free" and a receiver that
// answers status, serving until the test ends.
func (e *env) freeEventAndReceiver(t *testing.T, status int) (*receiver, *httptest.Server) {
	t.Helper()
	rcv := &receiver{status: status}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	return rcv, srv
}

func (e *env) mustEndpoint(t testing.TB, body map[string]any) endpointJSON {
	t.Helper()
	r := e.do(t, "POST", "/api/v1/webhooks", adminToken, body)
	if r.status != 201 {
		t.Fatalf("create endpoint: %d %s", r.status, r.body)
	}
	var ep endpointJSON
	r.json(t, &ep)
	return ep
}

func (e *env) endpoints(t testing.TB) map[string]endpointJSON {
	t.Helper()
	var list struct{ Endpoints []endpointJSON }
	r := e.do(t, "GET", "/api/v1/webhooks", adminToken, nil)
	r.json(t, &list)
	out := map[string]endpointJSON{}
	for _, ep := range list.Endpoints {
		out[ep.ID] = ep
	}
	return out
}

func (e *env) deliveries(t testing.TB, id string) []webhooks.Delivery {
	t.Helper()
	var ds struct{ Deliveries []webhooks.Delivery }
	e.do(t, "GET", "/api/v1/webhooks/"+id+"/deliveries", adminToken, nil).json(t, &ds)
	return ds.Deliveries
}

// mustRefuse checks a 422 naming field with code, and that no endpoint
// was added.
func (e *env) mustRefuse(t testing.TB, r response, field, code string) {
	t.Helper()
	if p := mustProblem(t, r, 422); !p.has(field, code) {
		t.Errorf("errors %+v, want %s %s", p.Errors, field, code)
	}
}

func TestOutgoingWebhooks(t *testing.T) {
	e := newEnv(t)
	rcv, srv := e.freeEventAndReceiver(t, 204)
	e.mustEvent(t, "other", func(b map[string]any) { delete(b, "price") })

	ep := e.mustEndpoint(t, map[string]any{"url": srv.URL + "/hook", "events": []string{"free"}})
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ep.Secret, "whsec_"))
	if !strings.HasPrefix(ep.Secret, "whsec_") || err != nil || len(key) != 32 || !ep.Enabled {
		t.Fatalf("endpoint %+v: want enabled, secret whsec_ and base64 of 32 bytes", ep)
	}
	if list := e.do(t, "GET", "/api/v1/webhooks", adminToken, nil); strings.Contains(string(list.body), ep.Secret) {
		t.Error("the list shows the secret")
	}

	s := e.mustSignup(t, "free", person("kari@example.no"))
	e.mustSignup(t, "other", person("ola@example.no")) // not subscribed
	e.clock.add(time.Second)
	e.do(t, "DELETE", "/api/v1/me/registration", s.ManageToken, nil)
	ctx := context.Background()
	n, err := e.hooks.Dispatch(ctx)
	if err != nil || n != 2 {
		t.Fatalf("dispatched %d, %v", n, err)
	}
	if n, _ := e.hooks.Dispatch(ctx); n != 0 {
		t.Errorf("a second dispatch made %d more", n)
	}
	if sent, err := e.hooks.Deliver(ctx); err != nil || sent != 2 {
		t.Fatalf("delivered %d, %v", sent, err)
	}
	if got := rcv.byPath()["/hook"]; !slices.Equal(got, []string{"registration.cancelled free", "registration.confirmed free"}) {
		t.Errorf("got %v", got)
	}
	// Standard Webhooks: the official verifier takes every delivery (the
	// test clock is days from the real one: the timestamp is checked
	// against it here, the tolerance in package webhooks' test).
	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rcv.all() {
		b := string(g.body)
		if strings.Contains(b, "kari") || strings.Contains(b, "Nordmann") || !strings.Contains(b, s.ID) {
			t.Errorf("payload %s: want ids only", b)
		}
		if err := wh.VerifyIgnoringTimestamp(g.body, g.header); err != nil {
			t.Errorf("the Standard Webhooks verifier refuses a delivery: %v (%v)", err, g.header)
		}
		if ts := g.header.Get("webhook-timestamp"); ts != strconv.FormatInt(e.clock.now().Unix(), 10) {
			t.Errorf("webhook-timestamp %s", ts)
		}
		if id := g.header.Get("webhook-id"); id == "" || id != g.msg["id"] {
			t.Errorf("webhook-id %q, payload id %v", id, g.msg["id"])
		}
		if g.msg["timestamp"] == nil || g.msg["type"] == nil {
			t.Errorf("payload %s: want type and timestamp", b)
		}
		tampered := strings.Replace(b, `"type":"registration.c`, `"type":"registration.x`, 1)
		if err := wh.VerifyIgnoringTimestamp([]byte(tampered), g.header); err == nil || tampered == b {
			t.Error("a tampered body verifies")
		}
	}

	t.Run("RetriedThenGivenUp", func(t *testing.T) {
		rcv.setStatus(500)
		e.clock.add(time.Second)
		e.mustSignup(t, "free", person("per@example.no"))
		_, _ = e.hooks.Dispatch(ctx)
		if sent, _ := e.hooks.Deliver(ctx); sent != 0 {
			t.Fatal("a 500 counted as delivered")
		}
		if sent, _ := e.hooks.Deliver(ctx); sent != 0 {
			t.Fatal("retried before its backoff")
		}
		for range 30 {
			e.clock.add(6 * time.Hour)
			_, _ = e.hooks.Deliver(ctx)
		}
		failed := e.deliveries(t, ep.ID)[0]
		if failed.GaveUpAt == nil || failed.Attempts < 10 || failed.LastStatus != 500 {
			t.Errorf("after three days: %+v", failed)
		}
		var raw []map[string]any
		_ = e.store.Collection(mongodb.HookDeliveries).All(ctx, map[string]any{}, &raw)
		for _, d := range raw {
			if _, ok := d["body"]; ok {
				t.Error("the delivery log keeps a body")
			}
		}
	})
}

// TestWebhookFilters: types filters by webhook type, events by event
// slug, and each refuses what is not one (a type sent as an event used
// to be accepted and never matched anything).
func TestWebhookFilters(t *testing.T) {
	e := newEnv(t)
	rcv, srv := e.freeEventAndReceiver(t, 204)
	e.mustEvent(t, "other", func(b map[string]any) { delete(b, "price") })

	e.mustRefuse(t, e.do(t, "POST", "/api/v1/webhooks", adminToken,
		map[string]any{"url": srv.URL + "/x", "events": []string{"registration.confirmed"}}), "events[0]", "invalid")
	e.mustRefuse(t, e.do(t, "POST", "/api/v1/webhooks", adminToken,
		map[string]any{"url": srv.URL + "/x", "types": []string{"registration.confirmed", "registration.created"}}), "types[1]", "unknown")
	if n := e.count(t, mongodb.HookEndpoints); n != 0 {
		t.Fatalf("%d endpoints stored after refusals", n)
	}

	confirmed := e.mustEndpoint(t, map[string]any{"url": srv.URL + "/confirmed", "types": []string{"registration.confirmed"}})
	if !slices.Equal(confirmed.Types, []string{"registration.confirmed"}) || len(confirmed.Events) != 0 {
		t.Errorf("endpoint %+v", confirmed)
	}
	e.mustEndpoint(t, map[string]any{"url": srv.URL + "/cancelled-other", "types": []string{"registration.cancelled"}, "events": []string{"other"}})
	e.mustEndpoint(t, map[string]any{"url": srv.URL + "/all", "types": []string{}})

	e.mustSignup(t, "free", person("kari@example.no"))
	o := e.mustSignup(t, "other", person("ola@example.no"))
	e.clock.add(time.Second)
	e.do(t, "DELETE", "/api/v1/me/registration", o.ManageToken, nil)
	ctx := context.Background()
	if n, err := e.hooks.Dispatch(ctx); err != nil || n != 6 {
		t.Fatalf("dispatched %d, %v; want 2 + 1 + 3", n, err)
	}
	if sent, err := e.hooks.Deliver(ctx); err != nil || sent != 6 {
		t.Fatalf("delivered %d, %v", sent, err)
	}
	want := map[string][]string{
		"/confirmed":       {"registration.confirmed free", "registration.confirmed other"},
		"/cancelled-other": {"registration.cancelled other"},
		"/all":             {"registration.cancelled other", "registration.confirmed free", "registration.confirmed other"},
	}
	got := rcv.byPath()
	for path, w := range want {
		if !slices.Equal(got[path], w) {
			t.Errorf("%s got %v, want %v", path, got[path], w)
		}
	}
}

// TestWebhookLegacyEndpoint: an endpoint stored before types existed,
// whose events mixed a type and a slug, is read as a type filter and an
// event filter, enabled, and signs with its old secret's bytes; an update
// stores it in the new form.
func TestWebhookLegacyEndpoint(t *testing.T) {
	e := newEnv(t)
	rcv, srv := e.freeEventAndReceiver(t, 204)
	e.mustEvent(t, "other", func(b map[string]any) { delete(b, "price") })
	ctx := context.Background()
	secret := "whsec_pmd_" + strings.Repeat("Ab-_", 10) + "xyz"
	if err := e.store.Collection(mongodb.HookEndpoints).InsertOne(ctx, bson.M{
		"_id": "legacy1", "url": srv.URL + "/legacy", "events": []string{"registration.cancelled", "free"},
		"secret": e.keys.SealSecret("webhook:legacy1", secret), "createdBy": "tok1", "createdAt": e.clock.now(),
	}); err != nil {
		t.Fatal(err)
	}
	ep := e.endpoints(t)["legacy1"]
	if !slices.Equal(ep.Types, []string{"registration.cancelled"}) || !slices.Equal(ep.Events, []string{"free"}) || !ep.Enabled {
		t.Fatalf("legacy endpoint read as %+v", ep)
	}

	k := e.mustSignup(t, "free", person("kari@example.no"))
	o := e.mustSignup(t, "other", person("ola@example.no"))
	e.clock.add(time.Second)
	e.do(t, "DELETE", "/api/v1/me/registration", k.ManageToken, nil)
	e.do(t, "DELETE", "/api/v1/me/registration", o.ManageToken, nil)
	if n, err := e.hooks.Dispatch(ctx); err != nil || n != 1 {
		t.Fatalf("dispatched %d, %v; want the cancellation on free only", n, err)
	}
	if sent, err := e.hooks.Deliver(ctx); err != nil || sent != 1 {
		t.Fatalf("delivered %d, %v", sent, err)
	}
	g := rcv.all()[0]
	raw, _ := standardwebhooks.NewWebhookRaw([]byte(secret))
	if err := raw.VerifyIgnoringTimestamp(g.body, g.header); err != nil {
		t.Errorf("legacy signature: %v", err)
	}

	if r := e.do(t, "PATCH", "/api/v1/webhooks/legacy1", adminToken, map[string]any{"enabled": true}); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	var doc bson.M
	if err := e.store.Collection(mongodb.HookEndpoints).FindOne(ctx, bson.M{"_id": "legacy1"}, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["types"]; !ok {
		t.Errorf("the updated endpoint is still stored in the old form: %v", doc)
	}
	if ep := e.endpoints(t)["legacy1"]; !slices.Equal(ep.Types, []string{"registration.cancelled"}) || !slices.Equal(ep.Events, []string{"free"}) {
		t.Errorf("after the update %+v", ep)
	}
}

// fakeDNS resolves the names it knows, and "localhost" as the system
// does.
type fakeDNS struct {
	mu    sync.Mutex
	names map[string][]netip.Addr
}

func (f *fakeDNS) set(name string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[name] = nil
	for _, a := range addrs {
		f.names[name] = append(f.names[name], netip.MustParseAddr(a))
	}
}

func (f *fakeDNS) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if addrs, ok := f.names[host]; ok {
		return addrs, nil
	}
	if host == "localhost" {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestWebhookDestinations: without the development settings, only https
// to public addresses is accepted; loopback, private, link-local,
// metadata, CGNAT and other special addresses are refused, as literals
// and behind names, and nothing is stored.
func TestWebhookDestinations(t *testing.T) {
	e := newEnv(t)
	dns := &fakeDNS{names: map[string][]netip.Addr{}}
	e.hooks.Lookup = dns.lookup
	e.hooks.AllowHTTP, e.hooks.AllowPrivate = false, false
	dns.set("hooks.example.no", "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
	dns.set("intranet.example.no", "10.1.2.3")
	dns.set("metadata.example.no", "169.254.169.254")
	dns.set("mixed.example.no", "93.184.215.14", "127.0.0.1")
	dns.set("v6.example.no", "fd00:ec2::254")

	for _, u := range []string{
		"https://127.0.0.1/hook", "https://127.0.0.1:8443/hook", "https://169.254.169.254/latest/meta-data/",
		"https://10.0.0.1/hook", "https://172.16.5.4/", "https://192.168.1.10/", "https://100.64.0.1/",
		"https://[::1]/hook", "https://[fd00:ec2::254]/", "https://[fe80::1]/", "https://[::ffff:127.0.0.1]/",
		"https://0.0.0.0/", "https://224.0.0.1/", "https://255.255.255.255/", "https://192.0.2.1/", "https://198.18.0.1/",
		"https://localhost/hook", "https://localhost:9000/hook",
		"https://intranet.example.no/", "https://metadata.example.no/", "https://mixed.example.no/", "https://v6.example.no/",
	} {
		t.Run(u, func(t *testing.T) {
			e.mustRefuse(t, e.do(t, "POST", "/api/v1/webhooks", adminToken, map[string]any{"url": u}), "url", "destination_not_public")
		})
	}
	e.mustRefuse(t, e.do(t, "POST", "/api/v1/webhooks", adminToken, map[string]any{"url": "http://hooks.example.no/hook"}), "url", "https_required")
	e.mustRefuse(t, e.do(t, "POST", "/api/v1/webhooks", adminToken, map[string]any{"url": "https://nowhere.example.no/hook"}), "url", "unresolvable")
	e.mustRefuse(t, e.do(t, "POST", "/api/v1/webhooks", adminToken, map[string]any{"url": "https://user:pw@hooks.example.no/"}), "url", "invalid")
	e.mustRefuse(t, e.do(t, "POST", "/api/v1/webhooks", adminToken, map[string]any{"url": "ftp://hooks.example.no/"}), "url", "invalid")
	if n := e.count(t, mongodb.HookEndpoints); n != 0 {
		t.Fatalf("%d endpoints stored after refusals", n)
	}

	if ep := e.mustEndpoint(t, map[string]any{"url": "https://hooks.example.no/hook"}); ep.URL != "https://hooks.example.no/hook" {
		t.Errorf("url %s", ep.URL)
	}
	e.hooks.AllowHTTP = true
	e.mustEndpoint(t, map[string]any{"url": "http://hooks.example.no/hook"})
	e.hooks.AllowPrivate = true
	e.mustEndpoint(t, map[string]any{"url": "http://127.0.0.1:9/hook"})
}

// TestWebhookDNSRebinding: a name that resolved to a public address when
// the endpoint was saved and resolves to loopback when a delivery is
// made gets nothing: the receiver listening there sees no request. With
// private destinations allowed the same delivery arrives, so it was the
// check that stopped it.
func TestWebhookDNSRebinding(t *testing.T) {
	e := newEnv(t)
	rcv, srv := e.freeEventAndReceiver(t, 204)
	dns := &fakeDNS{names: map[string][]netip.Addr{}}
	e.hooks.Lookup = dns.lookup
	e.hooks.AllowPrivate = false // http stays allowed: the receiver is plain HTTP

	dns.set("hooks.example.no", "93.184.215.14")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	ep := e.mustEndpoint(t, map[string]any{"url": "http://hooks.example.no:" + port + "/hook"})
	dns.set("hooks.example.no", "127.0.0.1")

	e.mustSignup(t, "free", person("kari@example.no"))
	ctx := context.Background()
	if n, err := e.hooks.Dispatch(ctx); err != nil || n != 1 {
		t.Fatalf("dispatched %d, %v", n, err)
	}
	if sent, err := e.hooks.Deliver(ctx); err != nil || sent != 0 {
		t.Fatalf("delivered %d, %v to a name now on loopback", sent, err)
	}
	if got := rcv.all(); len(got) != 0 {
		t.Fatalf("the loopback receiver got %d requests", len(got))
	}
	d := e.deliveries(t, ep.ID)[0]
	if d.LastStatus != 0 || d.LastError != "destination_not_public" || d.Attempts != 1 || d.GaveUpAt != nil {
		t.Errorf("delivery %+v", d)
	}
	if strings.Contains(e.logs.String(), "kari") {
		t.Error("the log names the participant")
	}

	e.hooks.AllowPrivate = true
	e.clock.add(2 * time.Minute)
	if sent, err := e.hooks.Deliver(ctx); err != nil || sent != 1 || len(rcv.all()) != 1 {
		t.Fatalf("with private destinations allowed: delivered %d, %v", sent, err)
	}
	if d := e.deliveries(t, ep.ID)[0]; d.DeliveredAt == nil || d.LastError != "" || d.LastStatus != 204 {
		t.Errorf("delivery %+v", d)
	}
}

// TestWebhookHTTPRefusedAtDelivery: an http endpoint saved while HTTP was
// allowed gets nothing once it is not.
func TestWebhookHTTPRefusedAtDelivery(t *testing.T) {
	e := newEnv(t)
	rcv, srv := e.freeEventAndReceiver(t, 204)
	ep := e.mustEndpoint(t, map[string]any{"url": srv.URL + "/hook"})
	e.hooks.AllowHTTP = false
	e.mustSignup(t, "free", person("kari@example.no"))
	ctx := context.Background()
	_, _ = e.hooks.Dispatch(ctx)
	if sent, _ := e.hooks.Deliver(ctx); sent != 0 || len(rcv.all()) != 0 {
		t.Fatalf("sent %d over plain http", sent)
	}
	if d := e.deliveries(t, ep.ID)[0]; d.LastError != "https_required" {
		t.Errorf("delivery %+v", d)
	}
}

// TestWebhookRedirectNotFollowed: a 3xx is a failed attempt; the place
// it points to gets nothing.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	e := newEnv(t)
	target := &receiver{status: 204}
	tsrv := httptest.NewServer(target)
	defer tsrv.Close()
	redirect := httptest.NewServer(http.RedirectHandler(tsrv.URL+"/internal", http.StatusTemporaryRedirect))
	defer redirect.Close()
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	ep := e.mustEndpoint(t, map[string]any{"url": redirect.URL + "/hook"})
	e.mustSignup(t, "free", person("kari@example.no"))
	ctx := context.Background()
	_, _ = e.hooks.Dispatch(ctx)
	if sent, _ := e.hooks.Deliver(ctx); sent != 0 || len(target.all()) != 0 {
		t.Fatalf("redirect followed: sent %d, target got %d", sent, len(target.all()))
	}
	if d := e.deliveries(t, ep.ID)[0]; d.LastStatus != 307 || d.NextAt == nil {
		t.Errorf("delivery %+v", d)
	}
}

// TestWebhookEndpointUpdate: PATCH changes the destination, the filters
// and the state, admin only, validated as on creation; a refused change
// changes nothing; a disabled endpoint gets no deliveries and its pending
// ones are given up.
func TestWebhookEndpointUpdate(t *testing.T) {
	e := newEnv(t)
	rcv, srv := e.freeEventAndReceiver(t, 500)
	ep := e.mustEndpoint(t, map[string]any{"url": srv.URL + "/one"})
	path := "/api/v1/webhooks/" + ep.ID
	before := e.endpoints(t)[ep.ID]

	organiser := e.token(t, staff.CreateRequest{Role: staff.Organiser, Name: "o"})
	mustProblem(t, e.do(t, "PATCH", path, "", map[string]any{"enabled": false}), 401)
	mustProblem(t, e.do(t, "PATCH", path, organiser, map[string]any{"enabled": false}), 403)
	mustProblem(t, e.do(t, "PATCH", "/api/v1/webhooks/nope", adminToken, map[string]any{"enabled": false}), 404)
	e.mustRefuse(t, e.do(t, "PATCH", path, adminToken, map[string]any{"enabled": false, "types": []string{"registration.created"}}), "types[0]", "unknown")
	e.mustRefuse(t, e.do(t, "PATCH", path, adminToken, map[string]any{"enabled": false, "events": []string{"Free Event"}}), "events[0]", "invalid")
	e.hooks.AllowPrivate = false
	e.mustRefuse(t, e.do(t, "PATCH", path, adminToken, map[string]any{"enabled": false, "url": "https://169.254.169.254/latest"}), "url", "destination_not_public")
	e.hooks.AllowPrivate = true
	if r := e.do(t, "PATCH", path, adminToken, map[string]any{"secret": "whsec_x"}); r.status < 400 || r.status >= 500 {
		t.Errorf("an unknown member: %d", r.status)
	}
	if after := e.endpoints(t)[ep.ID]; !equalEndpoints(after, before) {
		t.Fatalf("refused changes changed the endpoint: %+v, was %+v", after, before)
	}

	// A pending delivery (the receiver failed), then disabled: given up,
	// and nothing new is made for it.
	ctx := context.Background()
	e.mustSignup(t, "free", person("kari@example.no"))
	_, _ = e.hooks.Dispatch(ctx)
	if sent, _ := e.hooks.Deliver(ctx); sent != 0 || len(rcv.all()) != 1 {
		t.Fatalf("first attempt: sent %d, got %d", sent, len(rcv.all()))
	}
	rcv.setStatus(204)
	r := e.do(t, "PATCH", path, adminToken, map[string]any{"enabled": false})
	var patched endpointJSON
	r.json(t, &patched)
	if r.status != 200 || patched.Enabled || patched.URL != ep.URL {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if d := e.deliveries(t, ep.ID)[0]; d.GaveUpAt == nil || d.NextAt != nil {
		t.Errorf("pending delivery of a disabled endpoint: %+v", d)
	}
	s := e.mustSignup(t, "free", person("ola@example.no"))
	if n, _ := e.hooks.Dispatch(ctx); n != 0 {
		t.Errorf("%d deliveries made for a disabled endpoint", n)
	}
	e.clock.add(time.Hour)
	if sent, _ := e.hooks.Deliver(ctx); sent != 0 || len(rcv.all()) != 1 {
		t.Errorf("a disabled endpoint got %d more", len(rcv.all())-1)
	}

	// Enabled again, elsewhere, for cancellations only.
	r = e.do(t, "PATCH", path, adminToken, map[string]any{"enabled": true, "url": srv.URL + "/two", "types": []string{"registration.cancelled"}})
	r.json(t, &patched)
	if r.status != 200 || !patched.Enabled || patched.URL != srv.URL+"/two" || !slices.Equal(patched.Types, []string{"registration.cancelled"}) {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}
	e.mustSignup(t, "free", person("per@example.no"))
	e.clock.add(time.Second)
	e.do(t, "DELETE", "/api/v1/me/registration", s.ManageToken, nil)
	if n, _ := e.hooks.Dispatch(ctx); n != 1 {
		t.Errorf("dispatched %d, want the cancellation only", n)
	}
	if sent, _ := e.hooks.Deliver(ctx); sent != 1 {
		t.Errorf("delivered %d", sent)
	}
	if got := rcv.byPath()["/two"]; !slices.Equal(got, []string{"registration.cancelled free"}) {
		t.Errorf("/two got %v", got)
	}
}

func equalEndpoints(a, b endpointJSON) bool {
	return a.URL == b.URL && a.Enabled == b.Enabled && slices.Equal(a.Types, b.Types) && slices.Equal(a.Events, b.Events)
}

// TestWebhookDeliverySurvivesStoreError: a store error while a delivery
// is sent leaves it to be tried again; it used to be given up for good.
func TestWebhookDeliverySurvivesStoreError(t *testing.T) {
	e := newEnv(t)
	_, srv := e.freeEventAndReceiver(t, 204)
	e.mustEndpoint(t, map[string]any{"url": srv.URL + "/hook"})
	e.mustSignup(t, "free", person("kari@example.no"))
	ctx := context.Background()
	if n, err := e.hooks.Dispatch(ctx); err != nil || n != 1 {
		t.Fatalf("dispatched %d, %v", n, err)
	}
	e.store.InjectFaults(func(coll, op string) mongodb.Fault {
		if coll == mongodb.HookEndpoints && op == "find" {
			return mongodb.FailBefore
		}
		return mongodb.NoFault
	})
	sent, err := e.hooks.Deliver(ctx)
	e.store.InjectFaults(nil)
	if sent != 0 || err == nil {
		t.Fatalf("sent %d, %v while the store failed", sent, err)
	}
	var d webhooks.Delivery
	if err := e.store.Collection(mongodb.HookDeliveries).FindOne(ctx, map[string]any{}, &d); err != nil {
		t.Fatal(err)
	}
	if d.GaveUpAt != nil || d.NextAt == nil {
		t.Fatalf("delivery given up on a store error: %+v", d)
	}
	e.clock.add(2 * time.Minute) // past its lease
	if sent, err := e.hooks.Deliver(ctx); err != nil || sent != 1 {
		t.Fatalf("retry delivered %d, %v", sent, err)
	}
}
