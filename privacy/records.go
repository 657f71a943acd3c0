package privacy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// security lists the technical and organisational measures every
// processing activity shares (GDPR art. 30(1)(g), art. 32).
var security = map[string][]string{
	"en": {
		"Only fields declared in the catalog or with every tag are collected; anything else is refused.",
		"Every personal value is sealed with AES-256-GCM under a data key of its own, kept in a key store apart from the data and wrapped by a master key kept outside the data directory; erasure, withdrawal and retention destroy the keys (crypto-shredding), so no copy of the data can be read afterwards.",
		"E-mail addresses are indexed by an HMAC, not in clear; staff, manage and guardian tokens are stored only as SHA-256 hashes.",
		"Staff access is by role and event scope; partners receive name and organisation only; every disclosure to staff or partners is logged.",
		"Logs, metrics and error messages carry no personal data.",
		"Retention rules are applied by an hourly job; every run writes a purge receipt.",
		"No card data is processed: card payment happens on the payment processor's page.",
	},
	"nb": {
		"Bare felt som er deklarert i katalogen, eller som har alle merker, samles inn; alt annet avvises.",
		"Hver personopplysning krypteres med AES-256-GCM under en egen datanøkkel, som ligger i et nøkkellager atskilt fra dataene og er pakket inn med en hovednøkkel som ligger utenfor datakatalogen; sletting, tilbaketrekking og lagringstid destruerer nøklene (kryptografisk sletting), så ingen kopi av dataene kan leses etterpå.",
		"E-postadresser indekseres med en HMAC, ikke i klartekst; tilgangs-, administrasjons- og foresattlenker lagres bare som SHA-256-hasher.",
		"Ansatte får tilgang etter rolle og arrangement; partnere får bare navn og organisasjon; hver utlevering til ansatte eller partnere logges.",
		"Logger, metrikker og feilmeldinger inneholder ingen personopplysninger.",
		"Lagringsreglene håndheves av en jobb hver time; hver kjøring skriver en slettekvittering.",
		"Ingen kortdata behandles: kortbetaling skjer på betalingsformidlerens side.",
	},
}

// Processor is a data processor the service uses (art. 28), as the
// operator configures it: who, where, and for a country outside the EEA
// the basis of the transfer (art. 44-49).
type Processor struct {
	// Role is what it does: hosting, mail or payments.
	Role    string `json:"role"`
	Name    string `json:"name,omitempty"`
	Country string `json:"country,omitempty"`
	// Transfer is the basis of a transfer outside the EEA (an adequacy
	// decision, the EU-US Data Privacy Framework, standard contractual
	// clauses), with the countries; empty inside the EEA.
	Transfer string `json:"transfer,omitempty"`
	// Missing: the operator has not said who it is.
	Missing bool `json:"missing,omitempty"`
	// Setting names the setting that says who it is.
	Setting string `json:"setting"`
}

// eea are the EEA's countries (EU, Iceland, Liechtenstein, Norway), by ISO
// 3166-1 alpha-2 code.
var eea = strings.Fields("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO")

// ParseProcessor reads a processor setting: "name|country|transfer basis",
// the country an ISO code; a country outside the EEA needs the basis of
// the transfer. "none" says there is no such processor (the controller
// does it itself).
func ParseProcessor(role, setting, v string) (Processor, error) {
	p := Processor{Role: role, Setting: setting}
	v = strings.TrimSpace(v)
	if v == "" {
		p.Missing = true
		return p, nil
	}
	if v == "none" {
		return p, nil
	}
	parts := strings.Split(v, "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || len(parts[1]) != 2 || strings.ToUpper(parts[1]) != parts[1] {
		return p, errors.New(`want "name|country|transfer basis", the country an ISO 3166 code such as IE, or "none"`)
	}
	p.Name, p.Country = parts[0], parts[1]
	if len(parts) == 3 {
		p.Transfer = parts[2]
	}
	if !slices.Contains(eea, p.Country) && p.Transfer == "" {
		return p, fmt.Errorf("%s is outside the EEA: add the transfer's basis after a second |", p.Country)
	}
	return p, nil
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
	Purposes     []PurposeRecord   `json:"purposes"`
	DataSubjects []string          `json:"dataSubjects"`
	Categories   []CategoryRecord  `json:"categories"`
	Recipients   []string          `json:"recipients"`
	Processors   []Processor       `json:"processors"`
	Transfers    []string          `json:"transfersOutsideEEA"`
	Retention    []RetentionRecord `json:"retention"`
	Security     []string          `json:"security"`
}

// PurposeRecord is one purpose of an activity with its legal basis and
// the fields that serve it.
type PurposeRecord struct {
	Purpose    Purpose    `json:"purpose"`
	Text       string     `json:"text"`
	LegalBasis LegalBasis `json:"legalBasis"`
	Basis      string     `json:"basis"`
	// Objection: the data subject may object (art. 21).
	Objection bool     `json:"objection"`
	Fields    []string `json:"fields"`
}

// CategoryRecord is a category of data with its fields.
type CategoryRecord struct {
	Category    Category `json:"category"`
	Fields      []string `json:"fields"`
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
	Lang        string     `json:"lang"`
	GeneratedAt time.Time  `json:"generatedAt"`
	Activities  []Activity `json:"activities"`
}

var recordWords = map[string]map[string]string{
	"en": {
		"name": "Registration for %s", "participants": "participants", "guardians": "guardians of minors", "emergency": "participants' emergency contacts",
		"heading": "Record of processing activities (GDPR art. 30)", "generated": "Generated %s from the field catalog, the events and the service's configuration; it cannot drift from what the service does.",
		"controller": "Controller: %s. Contact: %s.", "subjects": "Data subjects: %s.", "recipients": "Recipients: %s.", "processors": "Processors: %s.",
		"transfers": "Transfers outside the EEA: %s.", "retention": "Retention: %s.", "security": "Security: %s", "none": "none",
		"missing": "not stated: set %s", "self": "none (done by the controller)", "colPurpose": "Purpose", "colBasis": "Legal basis", "colFields": "Fields",
		"objection": "the data subject may object (art. 21)", "orgno": " (org. no. %s)",
		"hosting": "hosting", "mail": "mail relay", "payments": "payment processor",
	},
	"nb": {
		"name": "Påmelding til %s", "participants": "deltakere", "guardians": "foresatte til mindreårige", "emergency": "deltakernes pårørende",
		"heading": "Protokoll over behandlingsaktiviteter (personvernforordningen art. 30)", "generated": "Generert %s fra feltkatalogen, arrangementene og tjenestens oppsett; den kan ikke avvike fra det tjenesten gjør.",
		"controller": "Behandlingsansvarlig: %s. Kontakt: %s.", "subjects": "Registrerte: %s.", "recipients": "Mottakere: %s.", "processors": "Databehandlere: %s.",
		"transfers": "Overføring utenfor EØS: %s.", "retention": "Lagringstid: %s.", "security": "Sikkerhetstiltak: %s", "none": "ingen",
		"missing": "ikke oppgitt: sett %s", "self": "ingen (gjøres av den behandlingsansvarlige)", "colPurpose": "Formål", "colBasis": "Rettslig grunnlag", "colFields": "Opplysninger",
		"objection": "den registrerte kan protestere (art. 21)", "orgno": " (org.nr. %s)",
		"hosting": "drift (hosting)", "mail": "e-postutsending", "payments": "betalingsformidler",
	},
}

// BuildRecords generates the record, in English or Norwegian (lang), from
// the catalog as the events use it and the processors configured.
func BuildRecords(now time.Time, lang string, evs []RecordsEvent, processors []Processor) Records {
	if lang != "nb" {
		lang = "en"
	}
	if !slices.ContainsFunc(processors, func(p Processor) bool { return p.Role == "hosting" }) {
		// Something hosts the service: the record says who, or that it
		// was not stated.
		processors = append([]Processor{{Role: "hosting", Missing: true, Setting: "PAMELDING_PROCESSOR_HOSTING"}}, processors...)
	}
	w := recordWords[lang]
	rec := Records{Lang: lang, GeneratedAt: now.UTC().Truncate(time.Second), Activities: []Activity{}}
	for _, ev := range evs {
		org := ""
		if ev.ControllerOrgNumber != "" {
			org = fmt.Sprintf(w["orgno"], ev.ControllerOrgNumber)
		}
		a := Activity{
			Name: fmt.Sprintf(w["name"], ev.Title), Event: ev.Slug, Controller: ev.ControllerName + org, Contact: ev.PrivacyEmail,
			Purposes: []PurposeRecord{}, DataSubjects: []string{w["participants"]}, Categories: []CategoryRecord{}, Recipients: []string{},
			Processors: []Processor{}, Transfers: []string{}, Retention: []RetentionRecord{}, Security: security[lang],
		}
		purposes := map[Purpose]*PurposeRecord{}
		cats := map[Category]*CategoryRecord{}
		recips := map[string]bool{}
		for _, f := range ev.Fields {
			for _, p := range f.Purposes {
				pr, ok := purposes[p]
				if !ok {
					b := f.BasisFor(p)
					text := Purposes[p].EN
					if lang == "nb" {
						text = Purposes[p].NB
					}
					pr = &PurposeRecord{Purpose: p, Text: text, LegalBasis: b, Basis: BasisText(b, lang), Objection: b.Objectable()}
					purposes[p] = pr
				} else if b := f.BasisFor(p); b != pr.LegalBasis && !strings.Contains(pr.Basis, BasisText(b, lang)) {
					// Fields of different kinds serve it (catering: health
					// data under explicit consent beside others).
					pr.Basis += "; " + BasisText(b, lang) + " (" + f.Key + ")"
				}
				pr.Fields = append(pr.Fields, f.Key)
			}
			c, ok := cats[f.Category]
			if !ok {
				c = &CategoryRecord{Category: f.Category, SpecialData: f.Category.Special()}
				cats[f.Category] = c
			}
			c.Fields = append(c.Fields, f.Key)
			for _, r := range f.Recipients {
				recips[RecipientText(r, lang)] = true
			}
			if f.Category == Guardian && !slices.Contains(a.DataSubjects, w["guardians"]) {
				a.DataSubjects = append(a.DataSubjects, w["guardians"])
			}
			if f.Category == Emergency && !slices.Contains(a.DataSubjects, w["emergency"]) {
				a.DataSubjects = append(a.DataSubjects, w["emergency"])
			}
			a.Retention = append(a.Retention, RetentionRecord{Field: f.Key, Rule: f.Retention.String(), Text: RetentionText(f.Retention, lang)})
		}
		if ev.CardPayments {
			recips[RecipientText(PaymentProcessor, lang)] = true
		}
		for _, p := range slices.Sorted(maps.Keys(purposes)) {
			a.Purposes = append(a.Purposes, *purposes[p])
		}
		for _, cat := range Categories {
			if c, ok := cats[cat]; ok {
				a.Categories = append(a.Categories, *c)
			}
		}
		for r := range recips {
			a.Recipients = append(a.Recipients, r)
		}
		sort.Strings(a.Recipients)
		for _, p := range processors {
			if p.Role == "payments" && !ev.CardPayments {
				continue
			}
			a.Processors = append(a.Processors, p)
			if p.Transfer != "" {
				a.Transfers = append(a.Transfers, p.Name+" ("+p.Country+"): "+p.Transfer)
			}
		}
		rec.Activities = append(rec.Activities, a)
	}
	return rec
}

// Sections renders the record for Markdown.
func (r Records) Sections() []Section {
	w := recordWords[r.Lang]
	if w == nil {
		w = recordWords["en"]
	}
	secs := []Section{{Heading: w["heading"], Paragraphs: []string{fmt.Sprintf(w["generated"], r.GeneratedAt.Format(time.RFC3339))}}}
	for _, a := range r.Activities {
		table := [][]string{{w["colPurpose"], w["colBasis"], w["colFields"]}}
		for _, p := range a.Purposes {
			basis := p.Basis
			if p.Objection {
				basis += "; " + w["objection"]
			}
			table = append(table, []string{p.Text, basis, strings.Join(p.Fields, ", ")})
		}
		ret := []string{}
		for _, x := range a.Retention {
			ret = append(ret, x.Field+": "+x.Text)
		}
		procs := []string{}
		for _, p := range a.Processors {
			switch {
			case p.Missing:
				procs = append(procs, w[p.Role]+": "+fmt.Sprintf(w["missing"], p.Setting))
			case p.Name == "":
				procs = append(procs, w[p.Role]+": "+w["self"])
			default:
				procs = append(procs, w[p.Role]+": "+p.Name+" ("+p.Country+")")
			}
		}
		transfers := w["none"]
		if len(a.Transfers) > 0 {
			transfers = strings.Join(a.Transfers, "; ")
		}
		secs = append(secs, Section{
			Heading: a.Name,
			Paragraphs: []string{
				fmt.Sprintf(w["controller"], a.Controller, a.Contact),
				fmt.Sprintf(w["subjects"], strings.Join(a.DataSubjects, ", ")),
				fmt.Sprintf(w["recipients"], strings.Join(a.Recipients, ", ")),
				fmt.Sprintf(w["processors"], strings.Join(procs, "; ")),
				fmt.Sprintf(w["transfers"], transfers),
				fmt.Sprintf(w["retention"], strings.Join(ret, "; ")),
				fmt.Sprintf(w["security"], strings.Join(a.Security, " ")),
			},
			Table: table,
		})
	}
	return secs
}
