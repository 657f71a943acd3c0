package web

import (
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// sheetWriter writes CSV that no spreadsheet runs as a formula, whatever
// separator it splits on. Every field is quoted, so a ';' or a tab inside a
// value never starts a new cell in Norwegian Excel (which splits on ';')
// or anywhere else, and a value that would itself start a formula is
// defused by SafeCell. Lines end in CRLF (RFC 4180).
type sheetWriter struct {
	w   io.Writer
	sep byte
	buf []byte
	err error
}

// newSheetWriter writes to w with the separator the request asked for:
// ?sep=semicolon gives ';'-separated CSV with a UTF-8 byte-order mark, as
// Norwegian Excel opens it by double-click; the default is RFC 4180 commas.
func newSheetWriter(c *fiber.Ctx, w io.Writer) (*sheetWriter, error) {
	sw := &sheetWriter{w: w, sep: ','}
	switch c.Query("sep") {
	case "", "comma":
	case "semicolon":
		sw.sep = ';'
		sw.buf = append(sw.buf, "\uFEFF"...)
	default:
		return nil, problem(fiber.StatusBadRequest, "bad_query", "sep must be comma or semicolon.")
	}
	return sw, nil
}

// Write writes one record; every value passes SafeCell.
func (s *sheetWriter) Write(record []string) error {
	if s.err != nil {
		return s.err
	}
	for i, v := range record {
		if i > 0 {
			s.buf = append(s.buf, s.sep)
		}
		s.buf = append(s.buf, '"')
		s.buf = append(s.buf, strings.ReplaceAll(SafeCell(v), `"`, `""`)...)
		s.buf = append(s.buf, '"')
	}
	s.buf = append(s.buf, '\r', '\n')
	if len(s.buf) >= 32<<10 {
		s.Flush()
	}
	return s.err
}

// Flush writes what is buffered.
func (s *sheetWriter) Flush() {
	if s.err != nil || len(s.buf) == 0 {
		return
	}
	_, s.err = s.w.Write(s.buf)
	s.buf = s.buf[:0]
}

// Error is the first write error, if any.
func (s *sheetWriter) Error() error { return s.err }

// SafeCell defuses a cell a spreadsheet would run as a formula (OWASP: =,
// +, -, @, tab, carriage return, and a line feed, after which some
// importers start a new cell) by prefixing a quote.
func SafeCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r\n", rune(v[0])) {
		return "'" + v
	}
	return v
}
