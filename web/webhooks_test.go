package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/webhooks"
)

type receiver struct {
	mu     sync.Mutex
	got    []map[string]any
	sigs   []string
	bodies [][]byte
	status int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	r.got = append(r.got, m)
	r.sigs = append(r.sigs, req.Header.Get("Pamelding-Signature"))
	r.bodies = append(r.bodies, body)
	w.WriteHeader(r.status)
}

func TestOutgoingWebhooks(t *testing.T) {
	e := newEnv(t)
	rcv := &receiver{status: 204}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	e.mustEvent(t, "other", func(b map[string]any) { delete(b, "price") })

	mustProblem(t, e.do(t, "POST", "/api/v1/webhooks", adminToken, map[string]any{"url": "http://internal.example/hook"}), 422)
	r := e.do(t, "POST", "/api/v1/webhooks", adminToken, map[string]any{"url": srv.URL + "/hook", "events": []string{"free"}})
	var ep struct{ ID, Secret string }
	r.json(t, &ep)
	if r.status != 201 || !strings.HasPrefix(ep.Secret, "whsec_pmd_") {
		t.Fatalf("create endpoint: %d %s", r.status, r.body)
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
	rcv.mu.Lock()
	types := []string{rcv.got[0]["type"].(string), rcv.got[1]["type"].(string)}
	body, sig := rcv.bodies[0], rcv.sigs[0]
	rcv.mu.Unlock()
	if !(contains(types, "registration.confirmed") && contains(types, "registration.cancelled")) {
		t.Errorf("types %v", types)
	}
	for _, b := range rcv.bodies {
		if strings.Contains(string(b), "kari") || strings.Contains(string(b), "Nordmann") || !strings.Contains(string(b), s.ID) {
			t.Errorf("payload %s: want ids only", b)
		}
	}
	ts := strings.TrimPrefix(strings.Split(sig, ",")[0], "t=")
	if want := webhooks.Sign(ep.Secret, e.clock.now(), body); want != sig || ts == "" {
		t.Errorf("signature %q, want %q", sig, want)
	}

	t.Run("RetriedThenGivenUp", func(t *testing.T) {
		rcv.mu.Lock()
		rcv.status = 500
		rcv.mu.Unlock()
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
		var ds struct{ Deliveries []webhooks.Delivery }
		e.do(t, "GET", "/api/v1/webhooks/"+ep.ID+"/deliveries", adminToken, nil).json(t, &ds)
		failed := ds.Deliveries[0]
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

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestWebhookDeliverySurvivesStoreError: a store error while a delivery
// is sent leaves it to be tried again; it used to be given up for good.
func TestWebhookDeliverySurvivesStoreError(t *testing.T) {
	e := newEnv(t)
	rcv := &receiver{status: 204}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	if r := e.do(t, "POST", "/api/v1/webhooks", adminToken, map[string]any{"url": srv.URL + "/hook"}); r.status != 201 {
		t.Fatalf("create endpoint: %d", r.status)
	}
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
