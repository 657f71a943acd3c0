// Package mailtest runs a real SMTP server in the test process (emersion/
// go-smtp) and keeps what it receives.
package mailtest

import (
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is one message received.
type Mail struct {
	From string
	To   []string
	Data string
}

// Server is a running SMTP server.
type Server struct {
	Addr string
	mu   sync.Mutex
	mail []Mail
	// Fail makes the next n deliveries fail with a temporary error.
	fail int
}

// Start starts a server on a loopback port, stopped when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
	return s
}

// URL is the SMTP_URL of the server (no TLS: loopback only).
func (s *Server) URL() string { return "smtp://" + s.Addr + "?tls=none" }

// FailNext makes the next n deliveries fail.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

// Mail returns what was received so far.
func (s *Server) Mail() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mail...)
}

// WaitFor waits until n messages arrived or the timeout passed.
func (s *Server) WaitFor(n int, timeout time.Duration) []Mail {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := s.Mail(); len(m) >= n {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s.Mail()
}

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.fail > 0 {
		x.s.fail--
		return &smtp.SMTPError{Code: 451, Message: "try again later"}
	}
	x.s.mail = append(x.s.mail, Mail{From: x.from, To: x.to, Data: strings.ReplaceAll(string(b), "\r\n", "\n")})
	return nil
}

// Header returns a header of the message, decoded (RFC 2047).
func (m Mail) Header(name string) string {
	msg, err := netmail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		return ""
	}
	v := msg.Header.Get(name)
	if d, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// Body returns the message's text, its transfer encoding undone: of a
// multipart message, the first text/plain part.
func (m Mail) Body() string {
	for _, p := range m.parts() {
		if strings.HasPrefix(p.ContentType, "text/plain") {
			return string(p.Data)
		}
	}
	return ""
}

// HTML returns the message's text/html part, its transfer encoding
// undone ("" if it has none).
func (m Mail) HTML() string {
	for _, p := range m.parts() {
		if strings.HasPrefix(p.ContentType, "text/html") && p.Filename == "" {
			return string(p.Data)
		}
	}
	return ""
}

// Part is one part of a message: its content type, file name (for an
// attachment) and content, its transfer encoding undone.
type Part struct {
	ContentType, Filename string
	Data                  []byte
}

// Attachments returns the message's parts that carry a file name.
func (m Mail) Attachments() []Part {
	var out []Part
	for _, p := range m.parts() {
		if p.Filename != "" {
			out = append(out, p)
		}
	}
	return out
}

func (m Mail) parts() []Part {
	msg, err := netmail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		return nil
	}
	return readParts(textproto.MIMEHeader(msg.Header), msg.Body)
}

func readParts(h textproto.MIMEHeader, body io.Reader) []Part {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, _ := mime.ParseMediaType(ct)
	if strings.HasPrefix(mt, "multipart/") {
		var out []Part
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return out
			}
			out = append(out, readParts(p.Header, p)...)
		}
	}
	var r = body
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, _ := io.ReadAll(r)
	name := ""
	if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil {
		name = dp["filename"]
	}
	return []Part{{ContentType: ct, Filename: name, Data: b}}
}
