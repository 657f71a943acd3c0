package web_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pamelding/pamelding/staff"
)

// cookieOf is the Set-Cookie value of name in r, as a Cookie header part.
func cookieOf(r response, name string) string {
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, name+"=") {
			v, _, _ := strings.Cut(c, ";")
			return v
		}
	}
	return ""
}

// openPage opens a mailed manage link as a browser does (the page, then
// its button) and returns the Cookie header of the session it made.
func (e *env) openPage(t *testing.T, token string) string {
	t.Helper()
	r := e.do(t, "GET", "/m/"+token, "", nil)
	csrf, m := cookieOf(r, "pamelding_csrf"), csrfInput.FindSubmatch(r.body)
	if r.status != 200 || csrf == "" || m == nil {
		t.Fatalf("the link's page: %d, cookie %q", r.status, csrf)
	}
	post := e.do(t, "POST", "/m/"+token, "", url.Values{"_csrf": {string(m[1])}}.Encode(),
		"Content-Type", "application/x-www-form-urlencoded", "Cookie", csrf)
	sess := cookieOf(post, "pamelding_session")
	if post.status != 303 || sess == "" {
		t.Fatalf("the link's button: %d, session %q", post.status, sess)
	}
	return csrf + "; " + sess
}

func (e *env) onMyPage(t *testing.T, cookie string) bool {
	t.Helper()
	r := e.do(t, "GET", "/me", "", nil, "Cookie", cookie)
	return r.status == 200 && strings.Contains(string(r.body), `data-page="me"`)
}

// TestSessionsEndWithTheLink: a browser session opened with a link ends
// when the participant replaces their links, and when the links expire
// with the data; the session that asked for the new link goes on.
func TestSessionsEndWithTheLink(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	s := e.mustSignup(t, "free", person("kari@example.no"))
	leaked := e.openPage(t, s.ManageToken)
	mine := e.openPage(t, s.ManageToken)
	if !e.onMyPage(t, leaked) || !e.onMyPage(t, mine) {
		t.Fatal("precondition: both sessions open /me")
	}
	// The participant asks for a new link from their own browser.
	r := e.do(t, "GET", "/me", "", nil, "Cookie", mine)
	m := csrfInput.FindSubmatch(r.body)
	if m == nil {
		t.Fatal("no CSRF token on /me")
	}
	r = e.do(t, "POST", "/me/link", "", url.Values{"_csrf": {string(m[1])}, "lang": {"nb"}}.Encode(),
		"Content-Type", "application/x-www-form-urlencoded", "Cookie", mine)
	if r.status != 303 {
		t.Fatalf("new link: %d %s", r.status, r.body)
	}
	if sess := cookieOf(r, "pamelding_session"); sess != "" {
		// The session was renewed (a new id) along with its link.
		csrf, _, _ := strings.Cut(mine, "; ")
		mine = csrf + "; " + sess
	}
	if e.onMyPage(t, leaked) {
		t.Error("a session opened with the old link still works")
	}
	if !e.onMyPage(t, mine) {
		t.Error("the session that asked for the new link ended")
	}
	mustProblem(t, e.do(t, "GET", "/api/v1/me", s.ManageToken, nil), 401)

	t.Run("Expiry", func(t *testing.T) {
		o := e.mustSignup(t, "free", person("ola@example.no"))
		cookie := e.openPage(t, o.ManageToken)
		if !e.onMyPage(t, cookie) {
			t.Fatal("precondition: the session opens /me")
		}
		e.clock.add(10 * 365 * 24 * time.Hour) // past every deletion date
		if e.onMyPage(t, cookie) {
			t.Error("a session outlived its registration's links")
		}
	})
}

// TestScopedPrivacyOverviews: a privacy token of one event sees that
// event's retention and record of processing only.
func TestScopedPrivacyOverviews(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "a", nil)
	e.mustEvent(t, "b", nil)
	pa := e.token(t, staff.CreateRequest{Role: staff.Privacy, Name: "pa", Events: []string{"a"}})
	for _, path := range []string{"/api/v1/privacy/retention", "/api/v1/privacy/records"} {
		all := e.do(t, "GET", path, adminToken, nil)
		if !strings.Contains(string(all.body), `"b"`) {
			t.Fatalf("precondition: the admin's %s names event b: %s", path, all.body)
		}
		r := e.do(t, "GET", path, pa, nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"a"`) || strings.Contains(string(r.body), `"b"`) {
			t.Errorf("%s for a token of event a: %d %s", path, r.status, r.body)
		}
	}
	p := mustProblem(t, e.do(t, "POST", "/api/v1/tokens", adminToken, map[string]any{"role": "admin", "name": "x", "events": []string{"a"}}), 422)
	if !p.has("events", "invalid") {
		t.Errorf("an admin token with a scope: %+v", p.Errors)
	}
}

// countingReader yields n bytes of XML-ish filler and counts what was
// taken from it.
type countingReader struct {
	n, read int64
	mu      sync.Mutex
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read >= c.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), c.n-c.read)
	for i := range k {
		p[i] = ' '
	}
	c.read += k
	return int(k), nil
}

// TestStatementBodyAfterAuth: an anonymous client cannot make the server
// read a 10 MiB statement: the 401 comes before the body is read.
func TestStatementBodyAfterAuth(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.app.Listener(ln) }()
	t.Cleanup(func() { _ = e.app.Shutdown() })
	body := &countingReader{n: 10<<20 - 1}
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/api/v1/finance/bank-statements", body)
	req.ContentLength = body.n
	req.Header.Set("Content-Type", "application/xml")
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Fatalf("an anonymous statement: %d, want 401", res.StatusCode)
		}
	}
	body.mu.Lock()
	defer body.mu.Unlock()
	if body.read >= body.n {
		t.Errorf("the server took all %d bytes of an anonymous upload before refusing it", body.read)
	}
}

// TestLostLinkPage: "send me my link again" answers the same for a
// registered and an unknown address, and only the registered one gets
// mail, at its own address.
func TestLostLinkPage(t *testing.T) {
	e := newEnv(t)
	e.mustEvent(t, "free", func(b map[string]any) { delete(b, "price") })
	e.mustSignup(t, "free", person("kari@example.no"))
	e.sendMail(t) // the confirmation
	ask := func(email string) response {
		r := e.do(t, "GET", "/m?event=free&lang=nb", "", nil)
		csrf, m := cookieOf(r, "pamelding_csrf"), csrfInput.FindSubmatch(r.body)
		if r.status != 200 || csrf == "" || m == nil || !strings.Contains(string(r.body), "Send meg lenken") {
			t.Fatalf("the page: %d %s", r.status, r.body)
		}
		return e.do(t, "POST", "/m", "", url.Values{"_csrf": {string(m[1])}, "email": {email}, "event": {"free"}, "lang": {"nb"}}.Encode(),
			"Content-Type", "application/x-www-form-urlencoded", "Cookie", csrf)
	}
	known, unknown := ask("kari@example.no"), ask("ola@example.no")
	if known.status != 200 || unknown.status != 200 || !strings.Contains(string(known.body), "Er adressen meldt på") {
		t.Fatalf("answers: %d / %d\n%s", known.status, unknown.status, known.body)
	}
	strip := regexp.MustCompile(`name="_csrf" value="[^"]*"`)
	if strip.ReplaceAllString(string(known.body), "") != strip.ReplaceAllString(string(unknown.body), "") {
		t.Error("the page tells a registered address from an unknown one")
	}
	mails := e.sendMail(t)
	if len(mails) != 1 || mails[0].To[0] != "kari@example.no" || !strings.Contains(mails[0].Body(), "/m/pmr_") {
		t.Errorf("mail after asking: %+v", mails)
	}
	if r := ask("not an address"); r.status != 422 || !strings.Contains(string(r.body), `aria-invalid="true"`) {
		t.Errorf("an invalid address: %d", r.status)
	}
}
