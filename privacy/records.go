package privacy

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// Security lists the technical and organisational measures every
// processing activity shares (GDPR art. 30(1)(g), art. 32).
var Security = []string{
	"Only fields declared in the catalog or with every tag are collected; anything else is refused.",
	"Health data is sealed with AES-256-GCM under a data key per registration, wrapped by a master key; withdrawal destroys the key.",
	"E-mail addresses are indexed by an HMAC, not in clear; staff and manage tokens are stored only as SHA-256 hashes.",
	"Staff access is by role and event scope; partners receive name and organisation only, and every disclosure is logged.",
	"Logs, metrics and error messages carry no personal data.",
	"Retention rules are applied by an hourly job; every run writes a purge receipt.",
	"No card data is processed: card payment happens on the payment processor's page.",
}

// RecordsEvent is one event in the record of processing.
type RecordsEvent struct {
	Slug, Title                         string
	ControllerName, ControllerOrgNumber string
	PrivacyEmail                        string
	Fields                              []NoticeField
	Partners                            []string
	CardPayments                        bool
}

// Activity is one processing activity (art. 30(1)).
type Activity struct {
	Name         string            `json:"name"`
	Event        string            `json:"event"`
	Controller   string            `json:"controller"`
	Contact      string            `json:"contact"`
	Purposes     []string          `json:"purposes"`
	DataSubjects []string          `json:"dataSubjects"`
	Categories   []CategoryRecord  `json:"categories"`
	Recipients   []string          `json:"recipients"`
	Transfers    string            `json:"transfersOutsideEEA"`
	Retention    []RetentionRecord `json:"retention"`
	Security     []string          `json:"security"`
}

// CategoryRecord is a category of data with its fields and legal bases.
type CategoryRecord struct {
	Category    Category `json:"category"`
	Fields      []string `json:"fields"`
	LegalBases  []string `json:"legalBases"`
	SpecialData bool     `json:"specialCategory"`
}

// RetentionRecord is a field's retention.
type RetentionRecord struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
	Text  string `json:"text"`
}

// Records is the record of processing activities (GDPR art. 30).
type Records struct {
	GeneratedAt time.Time  `json:"generatedAt"`
	Activities  []Activity `json:"activities"`
}

// BuildRecords generates the record from the catalog as the events use it.
func BuildRecords(now time.Time, evs []RecordsEvent) Records {
	rec := Records{GeneratedAt: now.UTC().Truncate(time.Second), Activities: []Activity{}}
	for _, ev := range evs {
		a := Activity{
			Name: "Registration for " + ev.Title, Event: ev.Slug,
			Controller: ev.ControllerName + orgSuffix(ev.ControllerOrgNumber), Contact: ev.PrivacyEmail,
			DataSubjects: []string{"participants"}, Categories: []CategoryRecord{}, Recipients: []string{},
			Transfers: "None by this service. The payment processor's (Stripe) own transfers are governed by its data processing terms.",
			Retention: []RetentionRecord{}, Security: Security,
		}
		purposes := map[string]bool{}
		cats := map[Category]*CategoryRecord{}
		recips := map[string]bool{}
		for _, f := range ev.Fields {
			for _, p := range f.Purposes {
				purposes[Purposes[p].EN] = true
			}
			c, ok := cats[f.Category]
			if !ok {
				c = &CategoryRecord{Category: f.Category, SpecialData: f.Category.Special()}
				cats[f.Category] = c
			}
			c.Fields = append(c.Fields, f.Key)
			if b := BasisText(f.LegalBasis, "en"); !slices.Contains(c.LegalBases, b) {
				c.LegalBases = append(c.LegalBases, b)
			}
			for _, r := range f.Recipients {
				recips[recipientText["en"][r]] = true
			}
			if f.Category == Guardian && !slices.Contains(a.DataSubjects, "guardians of minors") {
				a.DataSubjects = append(a.DataSubjects, "guardians of minors")
			}
			if f.Category == Emergency && !slices.Contains(a.DataSubjects, "participants' emergency contacts") {
				a.DataSubjects = append(a.DataSubjects, "participants' emergency contacts")
			}
			a.Retention = append(a.Retention, RetentionRecord{Field: f.Key, Rule: f.Retention.String(), Text: RetentionText(f.Retention, "en")})
		}
		if ev.CardPayments {
			recips[recipientText["en"][PaymentProcessor]] = true
		}
		for p := range purposes {
			a.Purposes = append(a.Purposes, p)
		}
		sort.Strings(a.Purposes)
		for _, cat := range Categories {
			if c, ok := cats[cat]; ok {
				a.Categories = append(a.Categories, *c)
			}
		}
		for r := range recips {
			a.Recipients = append(a.Recipients, r)
		}
		sort.Strings(a.Recipients)
		rec.Activities = append(rec.Activities, a)
	}
	return rec
}

func orgSuffix(n string) string {
	if n == "" {
		return ""
	}
	return " (org. no. " + n + ")"
}

// Sections renders the record for Markdown.
func (r Records) Sections() []Section {
	secs := []Section{{Heading: "Record of processing activities (GDPR art. 30)",
		Paragraphs: []string{"Generated " + r.GeneratedAt.Format(time.RFC3339) + " from the field catalog and the events; it cannot drift from what the service does."}}}
	for _, a := range r.Activities {
		table := [][]string{{"Category", "Fields", "Legal basis"}}
		for _, c := range a.Categories {
			table = append(table, []string{string(c.Category), strings.Join(c.Fields, ", "), strings.Join(c.LegalBases, "; ")})
		}
		ret := []string{}
		for _, x := range a.Retention {
			ret = append(ret, x.Field+": "+x.Text)
		}
		secs = append(secs, Section{
			Heading: a.Name,
			Paragraphs: []string{
				"Controller: " + a.Controller + ". Contact: " + a.Contact + ".",
				"Purposes: " + strings.Join(a.Purposes, "; ") + ".",
				"Data subjects: " + strings.Join(a.DataSubjects, ", ") + ".",
				"Recipients: " + strings.Join(a.Recipients, ", ") + ".",
				"Transfers outside the EEA: " + a.Transfers,
				"Retention: " + strings.Join(ret, "; ") + ".",
				"Security: " + strings.Join(a.Security, " "),
			},
			Table: table,
		})
	}
	return secs
}
