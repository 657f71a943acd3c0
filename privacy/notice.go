package privacy

import (
	"fmt"
	"html"
	"strings"
	"time"
)

// NoticeField is one field an event asks for, with its tags as they hold
// for that event.
type NoticeField struct {
	Field
	Required bool
}

// NoticeInput is what a privacy notice is generated from: the event's
// declared fields and settings, never hand-written text, so the notice
// cannot drift from what the code does.
type NoticeInput struct {
	Lang                    string
	ControllerName          string
	ControllerOrgNumber     string
	PrivacyEmail            string
	EventTitle              string
	EventStart, EventEnd    time.Time
	Fields                  []NoticeField
	Partners                []string
	PublicList              bool
	CardPayments            bool
	GuardianAge             int
	DigitalConsentAge       int
	ManageURL               string
	SupervisoryAuthority    string
	SupervisoryAuthorityURL string
}

// Section is one part of a generated document.
type Section struct {
	Heading    string
	Paragraphs []string
	// Table, when set, has a header row first.
	Table [][]string
}

type words struct {
	title, controller, controllerText, what, whatText, colField, colPurpose, colRecipients, colRetention,
	required, optional, nobody, health, healthText, sharing, partnersText, noPartners, cateringText, publicText,
	cardText, minors, minorsText, rights, rightsText, howTo, complaint string
}

var noticeWords = map[string]words{
	"nb": {
		title: "Personvernerklæring for %s", controller: "Behandlingsansvarlig",
		controllerText: "%s er behandlingsansvarlig for personopplysningene som samles inn ved påmelding til %s. Spørsmål om personvern og krav etter personvernforordningen sendes til %s.",
		what:           "Hva vi samler inn, hvorfor og hvor lenge", whatText: "Skjemaet spør bare om feltene under. Alt annet avvises.",
		colField: "Opplysning", colPurpose: "Formål og rettslig grunnlag", colRecipients: "Mottakere utenom arrangøren", colRetention: "Slettes",
		required: "påkrevd", optional: "valgfri", nobody: "ingen",
		health:       "Helseopplysninger",
		healthText:   "%s kan være helseopplysninger (GDPR art. 9). De lagres bare med ditt uttrykkelige samtykke, gitt i samme skjema, krypteres med en egen nøkkel for din påmelding og deles bare med serveringsansvarlig. Trekker du samtykket, slettes de straks og nøkkelen destrueres.",
		sharing:      "Hvem får opplysningene",
		partnersText: "Arrangementets partnere (%s) får navn og organisasjon på bekreftede deltakere, ikke noe mer. Grunnlaget er berettiget interesse (GDPR art. 6(1)(f)): arrangørens og partnernes interesse i å møte deltakerne. Du kan protestere (reservere deg) ved påmelding eller når som helst senere på «Mine data» (art. 21). Hver utlevering logges, og loggen vises deg.",
		noPartners:   "Arrangementet har ingen partnere som får deltakerlister.",
		cateringText: "Serveringsansvarlig ser navn og matallergier/diett hos deltakere som har samtykket.",
		publicText:   "Arrangementet publiserer deltaker- og resultatlister med navn og klubb.",
		cardText:     "Kortbetaling skjer på betalingsformidlerens (Stripe) side. Vi mottar aldri kortopplysninger, bare bekreftelse på betalingen.",
		minors:       "Barn og unge",
		minorsText:   "Er deltakeren under %d år, må en foresatt samtykke og oppgi navn og e-post. Vi sender den foresatte en lenke: plassen holdes til den foresatte har bekreftet påmeldingen der, og bekreftes den ikke i tide, faller den bort og opplysningene slettes. På samme lenke kan den foresatte senere trekke tilbake samtykkene (opplysningene som krever samtykke, slettes straks, og arrangøren får beskjed) eller melde deltakeren av. Barn under %d år kan ikke selv samtykke til frivillige formål.",
		rights:       "Dine rettigheter",
		rightsText:   "Du har rett til innsyn, retting, sletting, begrensning av behandlingen, dataportabilitet og til å protestere, og du kan når som helst trekke et samtykke like enkelt som du ga det. Vi svarer uten ugrunnet opphold og senest innen én måned.",
		howTo:        "Bruk lenken i påmeldingsbekreftelsen (%s): der ser, retter, laster ned og sletter du opplysningene dine selv, uten innlogging. Du kan også skrive til %s.",
		complaint:    "Du kan klage til %s (%s).",
	},
	"en": {
		title: "Privacy notice for %s", controller: "Controller",
		controllerText: "%s is the controller of the personal data collected when you register for %s. Send privacy questions and requests under the GDPR to %s.",
		what:           "What we collect, why and for how long", whatText: "The form asks only for the fields below. Anything else is refused.",
		colField: "Data", colPurpose: "Purpose and legal basis", colRecipients: "Recipients besides the organiser", colRetention: "Deleted",
		required: "required", optional: "optional", nobody: "none",
		health:       "Health data",
		healthText:   "%s may be health data (GDPR art. 9). It is stored only with your explicit consent, given in the same form, encrypted under a key of its own for your registration, and shared only with those responsible for catering. If you withdraw your consent it is deleted at once and the key destroyed.",
		sharing:      "Who receives the data",
		partnersText: "The event's partners (%s) receive the name and organisation of confirmed participants, nothing more. The basis is legitimate interest (GDPR art. 6(1)(f)): the organiser's and the partners' interest in meeting the participants. You can object when you register or at any time later under \"My data\" (art. 21). Every disclosure is logged, and the log is shown to you.",
		noPartners:   "The event has no partners receiving attendee lists.",
		cateringText: "Catering staff see the name and food allergies/diet of participants who consented.",
		publicText:   "The event publishes participant and result lists with name and club.",
		cardText:     "Card payment happens on the payment processor's (Stripe) page. We never receive card data, only confirmation of the payment.",
		minors:       "Children and young people",
		minorsText:   "If the participant is under %d, a guardian must consent and give their name and e-mail. We e-mail the guardian a link: the seat is held until the guardian confirms the registration there, and if they do not in time, it lapses and the information is deleted. At the same link the guardian can later withdraw the consents (the information that needs consent is deleted at once, and the organiser told) or cancel. Children under %d cannot consent to optional purposes themselves.",
		rights:       "Your rights",
		rightsText:   "You have the right of access, rectification, erasure, restriction of processing, data portability and to object, and you can withdraw a consent at any time as easily as you gave it. We answer without undue delay and within one month at the latest.",
		howTo:        "Use the link in your registration confirmation (%s): there you see, correct, download and delete your data yourself, without an account. You can also write to %s.",
		complaint:    "You can complain to %s (%s).",
	},
}

// RetentionText says a retention rule in words.
func RetentionText(r Retention, lang string) string {
	n, unitNB, unitEN := 0, "", ""
	switch {
	case r.Years > 0:
		n, unitNB, unitEN = r.Years, "år", "years"
	case r.Months > 0:
		n, unitNB, unitEN = r.Months, "måneder", "months"
	case r.Days > 0:
		n, unitNB, unitEN = r.Days, "dager", "days"
	}
	nb := map[Anchor]string{
		EventEnd: "etter arrangementet", FiscalYearEnd: "etter utløpet av regnskapsåret (bokføringsloven § 13)",
		WithRegistration: "sammen med påmeldingen", UntilWithdrawn: "når samtykket trekkes",
	}
	en := map[Anchor]string{
		EventEnd: "after the event", FiscalYearEnd: "after the end of the fiscal year (Bookkeeping Act § 13)",
		WithRegistration: "with the registration", UntilWithdrawn: "when consent is withdrawn",
	}
	if n == 1 {
		unitEN = strings.TrimSuffix(unitEN, "s")
		unitNB = map[string]string{"år": "år", "måneder": "måned", "dager": "dag"}[unitNB]
	}
	if lang == "en" {
		if n == 0 {
			return en[r.Anchor]
		}
		return fmt.Sprintf("%d %s %s", n, unitEN, en[r.Anchor])
	}
	if n == 0 {
		return nb[r.Anchor]
	}
	return fmt.Sprintf("%d %s %s", n, unitNB, nb[r.Anchor])
}

var basisText = map[string]map[LegalBasis]string{
	"nb": {Contract: "avtale", LegalObligation: "rettslig forpliktelse", VitalInterest: "vitale interesser",
		LegitimateInterest: "berettiget interesse", Consent: "samtykke", ExplicitConsent: "uttrykkelig samtykke"},
	"en": {Contract: "contract", LegalObligation: "legal obligation", VitalInterest: "vital interests",
		LegitimateInterest: "legitimate interest", Consent: "consent", ExplicitConsent: "explicit consent"},
}

var recipientText = map[string]map[Recipient]string{
	"nb": {Partners: "partnere", Catering: "servering", Finance: "økonomi", PaymentProcessor: "betalingsformidler (Stripe)", Public: "offentlig deltakerliste"},
	"en": {Partners: "partners", Catering: "catering", Finance: "finance", PaymentProcessor: "payment processor (Stripe)", Public: "public participant list"},
}

// RecipientText says a recipient in words.
func RecipientText(r Recipient, lang string) string {
	if lang != "en" {
		lang = "nb"
	}
	return recipientText[lang][r]
}

// WhyText says in plain words what a field is used for, as the form,
// /me and the confirmation mail say it (the purposes it has for the
// event: Field.ForEvent, or as promised).
func WhyText(f Field, lang string) string {
	var out []string
	for _, p := range f.Purposes {
		if lang == "en" {
			out = append(out, Purposes[p].EN)
		} else {
			out = append(out, Purposes[p].NB)
		}
	}
	return strings.Join(out, "; ")
}

// WhoText says who besides the organiser gets a field, as the form, /me
// and the confirmation mail say it.
func WhoText(f Field, lang string) string {
	var out []string
	for _, r := range f.Recipients {
		out = append(out, RecipientText(r, lang))
	}
	if len(out) == 0 {
		if lang == "en" {
			return "nobody but the organiser"
		}
		return "ingen utenom arrangøren"
	}
	return strings.Join(out, ", ")
}

// PurposesText says a field's purposes, each with its legal basis, and
// where the participant may object (legitimate interest, art. 21).
func PurposesText(f Field, lang string) string {
	if lang != "en" {
		lang = "nb"
	}
	objection := map[string]string{"nb": ", du kan protestere", "en": ", you may object"}[lang]
	var out []string
	for _, p := range f.Purposes {
		t := Purposes[p].NB
		if lang == "en" {
			t = Purposes[p].EN
		}
		b := f.BasisFor(p)
		t += ": " + BasisText(b, lang)
		if b.Objectable() {
			t = strings.TrimSuffix(t, ")") + objection + ")"
		}
		out = append(out, t)
	}
	return strings.Join(out, "; ")
}

// BasisText says a legal basis in words with its article.
func BasisText(b LegalBasis, lang string) string {
	if lang != "en" {
		lang = "nb"
	}
	return basisText[lang][b] + " (" + LegalBases[b] + ")"
}

// Notice builds an event's privacy notice.
func Notice(in NoticeInput) []Section {
	lang := in.Lang
	if lang != "en" {
		lang = "nb"
	}
	w := noticeWords[lang]
	label := func(f Field) string {
		if lang == "en" {
			return f.Label.EN
		}
		return f.Label.NB
	}
	secs := []Section{{
		Heading:    fmt.Sprintf(w.title, in.EventTitle),
		Paragraphs: []string{fmt.Sprintf(w.controllerText, controllerName(in), in.EventTitle, in.PrivacyEmail)},
	}}
	table := [][]string{{w.colField, w.colPurpose, w.colRecipients, w.colRetention}}
	var health []string
	asks := map[string]bool{}
	for _, f := range in.Fields {
		asks[f.Key] = true
		req := w.optional
		if f.Required {
			req = w.required
		}
		var recips []string
		for _, r := range f.Recipients {
			recips = append(recips, recipientText[lang][r])
		}
		if len(recips) == 0 {
			recips = []string{w.nobody}
		}
		ret := RetentionText(f.Retention, lang)
		if f.LegalBasis.NeedsConsent() {
			ret += "; " + RetentionText(Retention{Anchor: UntilWithdrawn}, lang)
		}
		if r := f.RetentionReason; r != nil {
			// A custom field kept longer than its kind's bound says why.
			if lang == "en" {
				ret += " (" + r.EN + ")"
			} else {
				ret += " (" + r.NB + ")"
			}
		}
		table = append(table, []string{label(f.Field) + " (" + req + ")", PurposesText(f.Field, lang), strings.Join(recips, ", "), ret})
		if f.Category.Special() {
			health = append(health, label(f.Field))
		}
	}
	secs = append(secs, Section{Heading: w.what, Paragraphs: []string{w.whatText}, Table: table})
	if len(health) > 0 {
		secs = append(secs, Section{Heading: w.health, Paragraphs: []string{fmt.Sprintf(w.healthText, strings.Join(health, ", "))}})
	}
	sharing := Section{Heading: w.sharing}
	if len(in.Partners) > 0 {
		sharing.Paragraphs = append(sharing.Paragraphs, fmt.Sprintf(w.partnersText, strings.Join(in.Partners, ", ")))
	} else {
		sharing.Paragraphs = append(sharing.Paragraphs, w.noPartners)
	}
	if len(health) > 0 {
		sharing.Paragraphs = append(sharing.Paragraphs, w.cateringText)
	}
	if in.PublicList {
		sharing.Paragraphs = append(sharing.Paragraphs, w.publicText)
	}
	if in.CardPayments {
		sharing.Paragraphs = append(sharing.Paragraphs, w.cardText)
	}
	secs = append(secs, sharing)
	if asks["date_of_birth"] {
		secs = append(secs, Section{Heading: w.minors, Paragraphs: []string{fmt.Sprintf(w.minorsText, in.GuardianAge, in.DigitalConsentAge)}})
	}
	secs = append(secs, Section{Heading: w.rights, Paragraphs: []string{
		w.rightsText, fmt.Sprintf(w.howTo, in.ManageURL, in.PrivacyEmail),
		fmt.Sprintf(w.complaint, in.SupervisoryAuthority, in.SupervisoryAuthorityURL),
	}})
	return secs
}

func controllerName(in NoticeInput) string {
	if in.ControllerOrgNumber != "" {
		return in.ControllerName + " (org.nr. " + in.ControllerOrgNumber + ")"
	}
	return in.ControllerName
}

// Markdown renders sections as Markdown.
func Markdown(secs []Section) string {
	var b strings.Builder
	for i, s := range secs {
		level := "## "
		if i == 0 {
			level = "# "
		}
		b.WriteString(level + s.Heading + "\n\n")
		for _, p := range s.Paragraphs {
			b.WriteString(p + "\n\n")
		}
		for j, row := range s.Table {
			cells := make([]string, len(row))
			for k, c := range row {
				cells[k] = strings.ReplaceAll(c, "|", "\\|")
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
			if j == 0 {
				b.WriteString(strings.Repeat("| --- ", len(row)) + "|\n")
			}
		}
		if len(s.Table) > 0 {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// HTML renders sections as a standalone HTML page, every text escaped.
func HTML(secs []Section, lang string) string {
	var b strings.Builder
	title := ""
	if len(secs) > 0 {
		title = secs[0].Heading
	}
	b.WriteString("<!doctype html>\n<html lang=\"" + html.EscapeString(lang) + "\">\n<head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" +
		html.EscapeString(title) + "</title><link rel=\"stylesheet\" href=\"/assets/style.css\"></head>\n<body>\n<main>\n")
	for i, s := range secs {
		tag := "h2"
		if i == 0 {
			tag = "h1"
		}
		b.WriteString("<" + tag + ">" + html.EscapeString(s.Heading) + "</" + tag + ">\n")
		for _, p := range s.Paragraphs {
			b.WriteString("<p>" + html.EscapeString(p) + "</p>\n")
		}
		if len(s.Table) > 0 {
			// On a narrow screen the rows become cards, each cell named by
			// its column (the stylesheet's table.stack).
			head := s.Table[0]
			b.WriteString("<table class=\"stack\">\n<thead><tr>")
			for _, c := range head {
				b.WriteString("<th scope=\"col\">" + html.EscapeString(c) + "</th>")
			}
			b.WriteString("</tr></thead>\n<tbody>\n")
			for _, row := range s.Table[1:] {
				b.WriteString("<tr>")
				for k, c := range row {
					label := ""
					if k < len(head) {
						label = " data-label=\"" + html.EscapeString(head[k]) + "\""
					}
					b.WriteString("<td" + label + ">" + html.EscapeString(c) + "</td>")
				}
				b.WriteString("</tr>\n")
			}
			b.WriteString("</tbody>\n</table>\n")
		}
	}
	b.WriteString("</main>\n</body>\n</html>\n")
	return b.String()
}
