package registration

import (
	"bytes"
	"html/template"
	"strings"

	"github.com/pamelding/pamelding/events"
)

// mailHTML is a mail's HTML part: the plain text's paragraphs, its web
// addresses as links, nothing loaded from elsewhere (no images, no
// tracking), readable on a phone.
var mailHTML = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Subject}}</title></head>
<body style="margin:0;padding:16px;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:16px;line-height:1.5;color:#1a1a1a;background:#ffffff">
<div style="max-width:600px;margin:0 auto;overflow-wrap:anywhere">
{{range .Paras}}<p style="margin:0 0 1em">{{range $i, $line := .}}{{if $i}}<br>{{end}}{{range $line}}{{if .URL}}<a href="{{.URL}}" style="color:#0b57d0">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}{{end}}</p>
{{end}}</div></body></html>`))

// htmlPart renders the text of a mail as its HTML alternative.
func htmlPart(lang, subject, text string) string {
	var paras [][][]events.TextPart
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		var lines [][]events.TextPart
		for _, line := range strings.Split(strings.Trim(para, "\n"), "\n") {
			lines = append(lines, events.Linked(line))
		}
		paras = append(paras, lines)
	}
	var b bytes.Buffer
	if err := mailHTML.Execute(&b, map[string]any{"Lang": lang, "Subject": subject, "Paras": paras}); err != nil {
		return "" // the plain text is sent alone
	}
	return b.String()
}
