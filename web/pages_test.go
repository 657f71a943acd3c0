package web_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/web"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestPageHeaders(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	for _, path := range []string{"/e/free", "/me", "/e/nope", "/m/pmr_nope"} {
		r := e.do(t, "GET", path, "", nil)
		csp := r.header.Get("Content-Security-Policy")
		if csp == "" || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if r.header.Get("Referrer-Policy") != "no-referrer" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, r.header)
		}
		for _, c := range r.header.Values("Set-Cookie") {
			if !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
				t.Errorf("%s: cookie %q", path, c)
			}
		}
		if strings.Contains(string(r.body), "<script") || strings.Contains(string(r.body), "style=") {
			t.Errorf("%s: inline script or style", path)
		}
	}
}

func TestPagesCSRF(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	form := url.Values{"f_name": {"Kari"}, "f_email": {"kari@example.no"}, "lang": {"nb"}}.Encode()
	r := e.doRaw(t, "POST", "/e/free", form, "application/x-www-form-urlencoded")
	if r.status != 403 {
		t.Fatalf("a form post without a CSRF token: %d", r.status)
	}
	if n := e.count(t, "registrations"); n != 0 {
		t.Errorf("%d registrations stored by a forged post", n)
	}
}

// writeCounter counts the store's writes by collection.
type writeCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (w *writeCounter) fault(coll, op string) mongodb.Fault {
	if op != "find" && op != "count" {
		w.mu.Lock()
		w.n[coll]++
		w.mu.Unlock()
	}
	return mongodb.NoFault
}

func (w *writeCounter) total() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, v := range w.n {
		n += v
	}
	w.n = map[string]int{}
	return n
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// TestPageWrites: viewing a page writes nothing (the CSRF token is signed,
// not stored), and a sign-up through the form costs at most one store
// write more than through the API (the session). The CSRF middleware used
// to write on every page view, and the state it wrote was never swept.
func TestPageWrites(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	w := &writeCounter{n: map[string]int{}}
	e.store.InjectFaults(w.fault)
	defer e.store.InjectFaults(nil)

	e.mustSignup(t, "free", person("api@example.no"))
	api := w.total()
	if api == 0 {
		t.Fatal("an API sign-up counted no write: the counter sees nothing")
	}

	r := e.do(t, "GET", "/e/free", "", nil)
	if n := w.total(); n != 0 {
		t.Errorf("viewing the form wrote %d times", n)
	}
	var cookie string
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "pamelding_csrf=") {
			cookie, _, _ = strings.Cut(c, ";")
		}
	}
	m := csrfInput.FindSubmatch(r.body)
	if cookie == "" || m == nil {
		t.Fatalf("no CSRF cookie (%q) or form token", cookie)
	}
	again := e.do(t, "GET", "/e/free", "", nil, "Cookie", cookie)
	if n := w.total(); n != 0 || strings.Contains(strings.Join(again.header.Values("Set-Cookie"), " "), "pamelding_csrf") {
		t.Errorf("a second view wrote %d times or set a new cookie", n)
	}
	form := url.Values{"f_name": {"Kari"}, "f_email": {"kari@example.no"}, "lang": {"nb"}, "_csrf": {string(m[1])}}.Encode()
	post := e.do(t, "POST", "/e/free", "", form, "Content-Type", "application/x-www-form-urlencoded", "Cookie", cookie)
	if post.status != 303 || post.header.Get("Location") != "/e/free/done?lang=nb" || e.count(t, mongodb.Registrations) != 2 {
		t.Fatalf("form sign-up: %d (cookie %q, token %q) %s", post.status, cookie, m[1], post.body)
	}
	if page := w.total(); page > api+1 {
		t.Errorf("a form sign-up wrote %d times, an API sign-up %d", page, api)
	}
	// Another browser's cookie does not go with this token.
	other := url.Values{"f_name": {"Ola"}, "f_email": {"ola@example.no"}, "_csrf": {string(m[1])}}.Encode()
	forged := e.do(t, "POST", "/e/free", "", other, "Content-Type", "application/x-www-form-urlencoded",
		"Cookie", "pamelding_csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	if forged.status != 403 {
		t.Errorf("a token with another cookie: %d", forged.status)
	}
}

// TestStateSwept: the pages' expired sessions are swept by their job.
func TestStateSwept(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.store.Collection(mongodb.WebState)
	for id, at := range map[string]time.Time{"old": time.Now().Add(-time.Hour), "new": time.Now().Add(time.Hour)} {
		if err := c.InsertOne(ctx, bson.M{"_id": id, "value": []byte("x"), "expiresAt": at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := web.StateJob(e.a, time.Minute).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Count(ctx, bson.M{"_id": "old"}); n != 0 {
		t.Error("an expired session was not swept")
	}
	if n, _ := c.Count(ctx, bson.M{"_id": "new"}); n != 1 {
		t.Error("a live session was swept")
	}
}

// TestErrorPages: a browser that reaches an unknown event or address, or
// logs out, gets a page in its language, never a problem document; the
// API keeps answering problem documents.
func TestErrorPages(t *testing.T) {
	e := newEnv(t)
	html := []string{"Accept", "text/html,application/xhtml+xml", "Accept-Language", "nb"}
	for _, path := range []string{"/e/finnes-ikke", "/ingen/side"} {
		r := e.do(t, "GET", path, "", nil, html...)
		if r.status != 404 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), "Siden finnes ikke") ||
			r.header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: %d %s\n%s", path, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
	if r := e.do(t, "GET", "/api/v1/ingen", "", nil, html...); r.status != 404 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
		t.Errorf("the API: %d %s", r.status, r.header.Get("Content-Type"))
	}
	if r := e.do(t, "GET", "/ingen/side", "", nil); !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
		t.Errorf("a client that does not ask for HTML: %s", r.header.Get("Content-Type"))
	}
	// A paid event's page says until when cancelling gives the money back,
	// who organises it and when registration is open.
	e.mustEvent(t, "gala", nil)
	r := e.do(t, "GET", "/e/gala?lang=nb", "", nil)
	for _, want := range []string{"<dt>Avmelding med pengene tilbake til</dt><dd>01.03.2027 09:00</dd>", "<dt>Arrangør</dt><dd>Janteloppet AS</dd>", "<dt>Påmelding åpen</dt>"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("the event page lacks %s", want)
		}
	}
}
