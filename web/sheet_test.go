package web_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/pamelding/pamelding/staff"
)

// cellsAsSplitBy parses a CSV body as a spreadsheet that splits on sep
// would, quotes honoured where it can, and returns every cell.
func cellsAsSplitBy(t *testing.T, body []byte, sep rune) []string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\uFEFF"))))
	r.Comma = sep
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("split by %q: %v\n%s", sep, err, body)
	}
	var cells []string
	for _, rec := range recs {
		cells = append(cells, rec...)
	}
	return cells
}

// TestNoFormulaWhateverTheSeparator: a value such as "Kari;=1+1" must not
// become a cell starting with '=' in a spreadsheet that splits on ';'
// (Norwegian Excel), on ',' or on tabs, in any CSV the service writes.
func TestNoFormulaWhateverTheSeparator(t *testing.T) {
	e := newEnv(t)
	e.everyFieldEvent(t, "konf")
	e.signupWith(t, "konf", "kari@example.no", map[string]string{
		"name":         "Kari;=1+1",
		"organisation": "Acme,+cmd|' /C calc'!A0;@SUM(1)",
	}, false)
	acme := e.token(t, staff.CreateRequest{Role: staff.Partner, Name: "acme", Events: []string{"konf"}, Partner: "acme"})

	for _, c := range []struct{ name, path, token string }{
		{"partner", "/api/v1/events/konf/partner-export", acme},
		{"partner;", "/api/v1/events/konf/partner-export?sep=semicolon", acme},
		{"organiser", "/api/v1/events/konf/registrations?format=csv", adminToken},
		{"organiser;", "/api/v1/events/konf/registrations?format=csv&sep=semicolon", adminToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, "GET", c.path, c.token, nil)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			// The precondition: the hostile values are in the file.
			if !bytes.Contains(r.body, []byte("Kari;=1+1")) || !bytes.Contains(r.body, []byte("@SUM(1)")) {
				t.Fatalf("the values are not in the export:\n%s", r.body)
			}
			semicolon := strings.HasSuffix(c.name, ";")
			if semicolon != bytes.HasPrefix(r.body, []byte("\uFEFF")) {
				t.Errorf("byte-order mark present = %v, want %v", !semicolon, semicolon)
			}
			for _, sep := range []rune{',', ';', '\t'} {
				cells := cellsAsSplitBy(t, r.body, sep)
				for _, cell := range cells {
					if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
						t.Errorf("split by %q, a cell starts a formula: %q", sep, cell)
					}
				}
				found := false
				for _, cell := range cells {
					found = found || strings.Contains(cell, "Kari;=1+1")
				}
				if sep != '\t' && !found {
					t.Errorf("split by %q, the name is no longer one cell: %q", sep, cells)
				}
			}
		})
	}
	mustProblem(t, e.do(t, "GET", "/api/v1/events/konf/partner-export?sep=pipe", acme, nil), 400)
}
