package web

import (
	"github.com/gofiber/fiber/v2"
	"golang.org/x/text/language"
)

// The pages speak Norwegian bokmål unless the browser prefers English or
// the visitor chose it (?lang=en on links and forms).
var (
	supported = []language.Tag{language.MustParse("nb"), language.English}
	matcher   = language.NewMatcher(supported)
)

// pageLang is the language of a page request.
func pageLang(c *fiber.Ctx) string {
	switch c.Query("lang", c.FormValue("lang")) {
	case "nb":
		return "nb"
	case "en":
		return "en"
	}
	tags, _, err := language.ParseAcceptLanguage(c.Get(fiber.HeaderAcceptLanguage))
	if err != nil || len(tags) == 0 {
		return "nb"
	}
	// Norwegian in any written form (no, nn, nb) reads bokmål.
	for _, t := range tags {
		if b, _ := t.Base(); b.String() == "no" || b.String() == "nn" || b.String() == "nb" {
			return "nb"
		}
		if b, _ := t.Base(); b.String() == "en" {
			return "en"
		}
	}
	_, i, _ := matcher.Match(tags...)
	if i == 1 {
		return "en"
	}
	return "nb"
}

// msgs are the pages' words. Field labels, purposes and consent texts come
// from the catalog.
var msgs = map[string]map[string]string{
	"nb": {
		"lang.other": "English", "lang.other.code": "en",
		"window": "Påmelding åpen", "refund.by": "Avmelding med pengene tilbake til", "organiser": "Arrangør",
		"register": "Påmelding", "when": "Tid", "where": "Sted", "price": "Pris", "free": "Gratis", "price.from": "fra",
		"me.ticket": "Billett", "me.ticket.alt": "QR-kode for billetten din; vis den i døra", "me.ticket.code": "Billettkode (hvis koden ikke kan skannes)",
		"category.legend": "Billett", "code.label": "Har du en kode?", "code.hint": "En rabattkode, eller koden en partner ga deg for gjestebilletter.",
		"code.apply": "Bruk koden", "code.applied": "Koden %s er brukt: %s rabatt på billetter den gjelder for.", "err.code": "Koden finnes ikke, gjelder ikke nå eller ikke for denne billetten.",
		"err.code_used_up": "Koden er brukt opp.", "category.waitlist": "utsolgt, venteliste", "category.until": "til %s",
		"err.not_on_sale": "Denne billetten er ikke til salgs nå.", "err.outside_age_range": "Alderen på løpsdagen passer ikke klassen du valgte.",
		"seats.left": "ledige plasser", "soldout": "Utsolgt", "closed": "Påmeldingen er ikke åpen.", "cancelled": "Arrangementet er avlyst.",
		"required": "påkrevd", "why": "Hvorfor vi spør", "who": "Hvem får det", "submit": "Meld meg på", "submit.waitlist": "Sett meg på ventelisten",
		"startlist.legend": "Offentlig startliste",
		"addons.legend":    "Tillegg", "addons.left": "igjen", "addons.option": "Valg for %s",
		"people.label": "Antall deltakere", "people.apply": "Vis skjema", "people.hint": "Melder du på flere, får hver sin egen e-post og lenke.",
		"buyer.legend": "Deg som bestiller", "order.participant": "Deltaker %d", "order.team": "Lagnavn",
		"order.own":  "Hver deltaker får en e-post med sin egen lenke. Der legger de selv til det som krever deres samtykke, som matallergier.",
		"order.done": "Bestillingen er registrert", "order.done.count": "%d deltakere er meldt på.",
		"order.done.invoice":   "Faktura %d på %s sendes til fakturaadressen (KID %s).",
		"submit.order":         "Meld på deltakerne",
		"err.team_size":        "Et stafettlag må ha riktig antall deltakere, alle på samme stafett.",
		"err.participant_only": "Dette kan bare deltakeren selv oppgi, gjennom sin egen lenke.",
		"err.unknown":          "Finnes ikke.", "err.duplicate": "Valgt to ganger.",
		"health.legend": "Matallergier og diett (helseopplysninger)", "health.consent": "(Samtykketekst versjon %s.)",
		"consent.health": "Helseopplysninger (matallergier og diett)", "consent.marketing": "Nyheter på e-post", "consent.guardian": "Foresattes samtykke",
		"me.source.text": "Du ga opplysningene selv da du meldte deg på %s (%s).", "channel.web": "på påmeldingssiden", "channel.api": "gjennom påmeldings-API-et",
		"partners.legend":  "Deling med partnere",
		"partners.text":    "Navn og organisasjon på bekreftede deltakere deles med arrangementets partnere: %s. Ikke noe mer.",
		"partners.object":  "Jeg vil ikke at navnet mitt deles med partnerne",
		"marketing.legend": "Nyheter", "guardian.legend": "Foresatt",
		"payment.legend": "Betaling", "payment.card": "Kort (på Stripes betalingsside; vi ser aldri kortet ditt)", "payment.invoice": "Faktura til organisasjonen",
		"payment.ehf": "Send fakturaen også som EHF (e-faktura)", "payment.ehf.hint": "For offentlige virksomheter og andre som tar imot EHF. Fyll da inn fakturareferansen (bestillings- eller innkjøpsordrenummer).",
		"notice.link":  "Personvernerklæring for arrangementet",
		"errors.title": "Noe må rettes før du kan melde deg på",
		"err.required": "Fyll ut dette feltet.", "err.invalid": "Verdien er ikke gyldig.",
		"err.consent_required":   "Kryss av for samtykket for å gi oss disse opplysningene, eller la feltet stå tomt.",
		"err.undeclared":         "Dette feltet hører ikke til skjemaet.",
		"err.already_registered": "Denne e-postadressen er allerede påmeldt. Bruk lenken i bekreftelsen du fikk på e-post.",
		"err.sold_out":           "Arrangementet ble utsolgt mens du fylte ut skjemaet.",
		"err.not_registered":     "Du er ikke påmeldt.", "err.sold_out.waitlist": "Du kan sette deg på ventelisten med skjemaet under (uten tilleggsvalg): får noen andre forfall, får du tilbud om plassen på e-post.",
		"err.unavailable": "Vi får ikke kontakt med betalingstjenesten akkurat nå. Ingenting er lagret; prøv igjen om litt.",
		"done.title":      "Du er påmeldt", "done.received": "Påmeldingen er mottatt", "pay.title": "Til betaling", "pay.text": "Betalingen skjer på Stripes side, som åpnes i hele vinduet. Plassen holdes for deg mens du betaler.",
		"terms": "Vilkår", "terms.link": "Arrangørens salgsvilkår", "done.waitlist": "Du står på ventelisten", "done.status": "Status",
		"done.mail":   "Vi har sendt en bekreftelse med en personlig lenke til e-postadressen din.",
		"email.title": "Ny e-postadresse", "email.text": "Bekreft at påmeldingen til %s skal bruke denne e-postadressen. Til da går e-post om påmeldingen til den gamle adressen.",
		"email.confirm": "Bekreft adressen",
		"open.text":     "Trykk på knappen for å åpne påmeldingen på denne enheten.", "open.button": "Åpne påmeldingen",
		"me.newlink": "Send meg en ny lenke (de gamle slutter å virke)",
		"me.offer":   "En plass er ledig for deg. Den holdes til %s.", "me.offer.accept": "Ta plassen",
		"me.pay":      "Betal med kort",
		"errpage.404": "Siden finnes ikke", "errpage.404.text": "Vi fant ikke det du lette etter. Sjekk adressen, eller bruk lenken i e-posten fra arrangøren.",
		"errpage.410": "Borte", "errpage.410.text": "Dette finnes ikke lenger: opplysningene er slettet.",
		"errpage.429": "For mange forsøk", "errpage.429.text": "Du har prøvd mange ganger på kort tid. Vent litt og prøv igjen.",
		"errpage.other": "Noe gikk galt", "errpage.other.text": "Det gikk ikke denne gangen. Prøv igjen om litt; det du sendte, er ikke lagret.",
		"errpage.ref":  "Oppgi referansen %s hvis du kontakter arrangøren.",
		"logout.title": "Du er logget ut", "logout.text": "Lenken i e-posten din åpner påmeldingen igjen.",
		"link.title": "Få lenken til påmeldingen din", "link.email": "E-postadressen du meldte deg på med", "link.send": "Send meg lenken",
		"link.text":    "Finner du ikke e-posten med lenken? Skriv adressen du meldte deg på med, så sender vi lenken dit.",
		"link.sent":    "Er adressen meldt på, er lenken på vei dit nå. Finner du den ikke om noen minutter, se i søppelposten.",
		"link.lost":    "Mistet lenken til påmeldingen din?",
		"newlink.sent": "En ny lenke er sendt til e-postadressen din. Lenker du har fått før, virker ikke lenger.", "email.done": "Adressen er bekreftet. E-post om påmeldingen går hit fra nå av.",
		"email.invalid": "Lenken er ugyldig eller utløpt. Endre adressen på nytt fra lenken i bekreftelsen din.",
		"email.pending": "Vi har sendt en lenke til %s. Den nye adressen tas i bruk når du bekrefter den der, innen %s.",
		"done.guardian": "Påmeldingen venter på foresatt", "done.guardian.text": "Vi har sendt en e-post til foresatt. Plassen din holdes til foresatt har bekreftet påmeldingen; gjør de ikke det innen fristen i e-posten, faller den bort.",
		"g.title": "Påmelding av en mindreårig", "g.intro": "%s er meldt på %s og har oppgitt deg som foresatt. Her er det som er registrert.",
		"g.pending": "Bekreft påmeldingen innen %s. Bekrefter du ikke, faller den bort: plassen går videre og opplysningene slettes.",
		"g.consent": "Ved å bekrefte gir du dette samtykket:", "g.confirm": "Bekreft påmeldingen", "g.decline": "Avslå påmeldingen",
		"g.confirmed": "Du bekreftet påmeldingen %s.", "g.withdrawn": "Du trakk tilbake samtykkene %s. Opplysningene som krevde samtykke, er slettet, og arrangøren er varslet.",
		"g.withdraw": "Trekk tilbake samtykkene", "g.withdraw.text": "Opplysninger som bare behandles med samtykke (for eksempel allergier), slettes straks, og arrangøren får beskjed. Påmeldingen står til du eventuelt melder av.",
		"g.cancel": "Meld av deltakeren", "g.lapsed": "Påmeldingen er ikke lenger aktiv. Opplysningene er slettet.",
		"g.done.confirm": "Påmeldingen er bekreftet.", "g.done.decline": "Påmeldingen er avslått, og opplysningene er slettet.",
		"g.done.withdraw": "Samtykkene er trukket tilbake, opplysningene som krevde dem er slettet, og arrangøren er varslet.", "g.done.cancel": "Deltakeren er meldt av.",
		"g.pay":   "Påmeldingen er bekreftet. Betal her for å holde plassen",
		"done.me": "Se og endre opplysningene dine", "paid.title": "Takk for betalingen",
		"paid.text": "Betalingen behandles. Du får en bekreftelse på e-post når den er registrert.",
		"me.title":  "Mine data", "me.event": "Arrangement", "me.value": "Opplysning", "me.purpose": "Formål og rettslig grunnlag",
		"me.recipients": "Mottakere", "me.deleted": "Slettes", "me.consents": "Samtykker",
		"me.given": "gitt", "me.refused": "ikke gitt", "me.withdrawn": "trukket", "me.withdraw": "Trekk samtykket",
		"me.disclosures": "Utleveringer", "me.nodisclosures": "Ingen opplysninger om deg er utlevert.",
		"me.correct": "Rett opplysninger", "me.save": "Lagre", "me.object": "Protester mot deling med partnere",
		"me.unobject": "Trekk protesten", "me.restrict": "Begrens behandlingen", "me.unrestrict": "Opphev begrensningen",
		"me.restricted": "Behandlingen er begrenset: du er tatt ut av lister og e-post.",
		"me.export":     "Last ned dataene mine (JSON)", "me.cancel": "Meld meg av", "me.delete": "Slett alt om meg",
		"me.logout": "Logg ut", "me.saved": "Endringen er lagret.", "me.source": "Kilde",
		"me.expired":   "Lenken er ugyldig eller utløpt. Bruk lenken i den siste e-posten fra oss.",
		"delete.title": "Slette alt om deg?", "delete.removed": "Dette slettes", "delete.kept": "Dette beholder vi, og hvorfor",
		"delete.confirm": "Ja, slett alt", "delete.back": "Avbryt", "delete.done": "Opplysningene dine er slettet.",
		"delete.kept.fields":  "Organisasjonsnummer, fakturaadresse og fakturareferanse står på en utstedt faktura. Dem må vi oppbevare etter bokføringsloven § 13, til %s; da slettes de.",
		"delete.kept.payment": "Betalingsopplysningene (beløp, datoer, faktura- og kreditnotanummer, KID) må vi oppbevare etter bokføringsloven § 13, til %s.",
		"delete.kept.invoice": "Faktura nr. %d, og eventuell kreditnota, med navn, organisasjon, organisasjonsnummer, adresse og referanse. Regnskapsbilag må oppbevares etter bokføringsloven § 13 og bokføringsforskriften § 5-1-1, til %s.",
		"delete.oninvoice":    "(slettes fra påmeldingen, men står på fakturaen; se under)",
		"delete.kept.none":    "Vi beholder bare at det fantes en påmelding (uten personopplysninger), for å telle plasser.",
		"cancel.done":         "Du er meldt av.", "cancel.title": "Vil du melde deg av?", "cancel.final": "Avmeldingen kan ikke angres: vil du delta likevel, må du melde deg på igjen om det er plass.",
		"cancel.button": "Ja, meld meg av", "cancel.back": "Nei, tilbake til påmeldingen", "continue": "Fortsett",
		"csrf": "Skjemaet var utløpt. Last siden på nytt og prøv igjen.",
	},
	"en": {
		"lang.other": "Norsk", "lang.other.code": "nb",
		"window": "Registration open", "refund.by": "Cancel with a refund until", "organiser": "Organiser",
		"register": "Registration", "when": "When", "where": "Where", "price": "Price", "free": "Free", "price.from": "from",
		"me.ticket": "Ticket", "me.ticket.alt": "QR code of your ticket; show it at the door", "me.ticket.code": "Ticket code (if the QR code cannot be scanned)",
		"category.legend": "Ticket", "code.label": "Do you have a code?", "code.hint": "A discount code, or the code a partner gave you for guest tickets.",
		"code.apply": "Use the code", "code.applied": "The code %s is applied: %s off the tickets it is for.", "err.code": "The code does not exist, is not valid now, or not for this ticket.",
		"err.code_used_up": "The code is used up.", "category.waitlist": "sold out, waiting list", "category.until": "until %s",
		"err.not_on_sale": "This ticket is not on sale now.", "err.outside_age_range": "The age on race day does not fit the class you chose.",
		"seats.left": "seats left", "soldout": "Sold out", "closed": "Registration is not open.", "cancelled": "The event is cancelled.",
		"required": "required", "why": "Why we ask", "who": "Who gets it", "submit": "Register", "submit.waitlist": "Put me on the waiting list",
		"startlist.legend": "Public start list",
		"addons.legend":    "Add-ons", "addons.left": "left", "addons.option": "Option for %s",
		"people.label": "Number of participants", "people.apply": "Show form", "people.hint": "Registering several? Each gets their own e-mail and link.",
		"buyer.legend": "You, the buyer", "order.participant": "Participant %d", "order.team": "Team name",
		"order.own":  "Each participant gets an e-mail with their own link. There they add what needs their consent, such as food allergies.",
		"order.done": "The order is registered", "order.done.count": "%d participants are registered.",
		"order.done.invoice":   "Invoice %d of %s goes to the invoice address (KID %s).",
		"submit.order":         "Register the participants",
		"err.team_size":        "A relay team must have the right number of members, all in the same relay.",
		"err.participant_only": "Only the participant can give this, through their own link.",
		"err.unknown":          "Does not exist.", "err.duplicate": "Chosen twice.",
		"health.legend": "Food allergies and diet (health data)", "health.consent": "(Consent text version %s.)",
		"consent.health": "Health data (food allergies and diet)", "consent.marketing": "News by e-mail", "consent.guardian": "Guardian's consent",
		"me.source.text": "You gave this data yourself when you registered on %s (%s).", "channel.web": "on the registration page", "channel.api": "through the registration API",
		"partners.legend":  "Sharing with partners",
		"partners.text":    "The name and organisation of confirmed participants are shared with the event's partners: %s. Nothing more.",
		"partners.object":  "Do not share my name with the partners",
		"marketing.legend": "News", "guardian.legend": "Guardian",
		"payment.legend": "Payment", "payment.card": "Card (on Stripe's payment page; we never see your card)", "payment.invoice": "Invoice to the organisation",
		"payment.ehf": "Also send the invoice as EHF (e-invoice)", "payment.ehf.hint": "For public bodies and others who receive EHF. Then fill in the invoice reference (order or purchase-order number).",
		"notice.link":  "The event's privacy notice",
		"errors.title": "Please correct the following before registering",
		"err.required": "Please fill in this field.", "err.invalid": "This value is not valid.",
		"err.consent_required":   "Tick the consent to give us this information, or leave the field empty.",
		"err.undeclared":         "This field is not part of the form.",
		"err.already_registered": "This e-mail address is already registered. Use the link in the confirmation you received by e-mail.",
		"err.sold_out":           "The event sold out while you were filling in the form.",
		"err.not_registered":     "You are not registered.", "err.sold_out.waitlist": "You can join the waiting list with the form below (without extras): if someone cancels, you are offered the seat by e-mail.",
		"err.unavailable": "We cannot reach the payment service right now. Nothing was kept; please try again shortly.",
		"done.title":      "You are registered", "done.received": "Your registration is received", "pay.title": "On to payment", "pay.text": "You pay on Stripe's page, which opens in the whole window. Your seat is held while you pay.",
		"terms": "Terms", "terms.link": "The organiser's terms of sale", "done.waitlist": "You are on the waiting list", "done.status": "Status",
		"done.mail":   "We have e-mailed you a confirmation with a personal link.",
		"email.title": "New e-mail address", "email.text": "Confirm that the registration for %s is to use this e-mail address. Until then, mail about it goes to the old address.",
		"email.confirm": "Confirm the address",
		"open.text":     "Press the button to open the registration on this device.", "open.button": "Open the registration",
		"me.newlink": "Send me a new link (the old ones stop working)",
		"me.offer":   "A seat is free for you. It is held until %s.", "me.offer.accept": "Take the seat",
		"me.pay":      "Pay by card",
		"errpage.404": "Page not found", "errpage.404.text": "We could not find what you were looking for. Check the address, or use the link in the organiser's e-mail.",
		"errpage.410": "Gone", "errpage.410.text": "This no longer exists: the data was deleted.",
		"errpage.429": "Too many attempts", "errpage.429.text": "You tried many times in a short while. Wait a little and try again.",
		"errpage.other": "Something went wrong", "errpage.other.text": "It did not work this time. Try again shortly; what you sent was not kept.",
		"errpage.ref":  "Quote the reference %s if you contact the organiser.",
		"logout.title": "You are logged out", "logout.text": "The link in your e-mail opens your registration again.",
		"link.title": "Get the link to your registration", "link.email": "The e-mail address you registered with", "link.send": "Send me the link",
		"link.text":    "Cannot find the e-mail with your link? Enter the address you registered with and we send the link there.",
		"link.sent":    "If the address is registered, the link is on its way to it now. If you cannot find it in a few minutes, look in your spam folder.",
		"link.lost":    "Lost the link to your registration?",
		"newlink.sent": "A new link is on its way to your e-mail address. Links you were sent before no longer work.", "email.done": "The address is confirmed. Mail about the registration comes here from now on.",
		"email.invalid": "The link is invalid or expired. Change the address again from the link in your confirmation.",
		"email.pending": "We have sent a link to %s. The new address is used once you confirm it there, by %s.",
		"done.guardian": "The registration waits for your guardian", "done.guardian.text": "We have e-mailed your guardian. Your seat is held until they confirm the registration; if they do not by the deadline in the e-mail, it lapses.",
		"g.title": "Registration of a minor", "g.intro": "%s is registered for %s and named you as their guardian. This is what was registered.",
		"g.pending": "Please confirm the registration by %s. If you do not, it lapses: the seat goes to others and the information is deleted.",
		"g.consent": "By confirming you give this consent:", "g.confirm": "Confirm the registration", "g.decline": "Decline the registration",
		"g.confirmed": "You confirmed the registration on %s.", "g.withdrawn": "You withdrew the consents on %s. The information that needed consent was deleted, and the organiser was told.",
		"g.withdraw": "Withdraw the consents", "g.withdraw.text": "Information processed only with consent (allergies, say) is deleted at once, and the organiser is told. The registration stands unless you cancel it.",
		"g.cancel": "Cancel the registration", "g.lapsed": "The registration is no longer active. The information was deleted.",
		"g.done.confirm": "The registration is confirmed.", "g.done.decline": "The registration is declined, and the information deleted.",
		"g.done.withdraw": "The consents are withdrawn, the information that needed them deleted, and the organiser told.", "g.done.cancel": "The registration is cancelled.",
		"g.pay":   "The registration is confirmed. Pay here to keep the seat",
		"done.me": "See and change your data", "paid.title": "Thank you for paying",
		"paid.text": "The payment is being processed. You will get a confirmation by e-mail once it is recorded.",
		"me.title":  "My data", "me.event": "Event", "me.value": "Data", "me.purpose": "Purpose and legal basis",
		"me.recipients": "Recipients", "me.deleted": "Deleted", "me.consents": "Consents",
		"me.given": "given", "me.refused": "not given", "me.withdrawn": "withdrawn", "me.withdraw": "Withdraw consent",
		"me.disclosures": "Disclosures", "me.nodisclosures": "No data about you has been disclosed.",
		"me.correct": "Correct your data", "me.save": "Save", "me.object": "Object to sharing with partners",
		"me.unobject": "Withdraw the objection", "me.restrict": "Restrict processing", "me.unrestrict": "Lift the restriction",
		"me.restricted": "Processing is restricted: you are left out of lists and e-mail.",
		"me.export":     "Download my data (JSON)", "me.cancel": "Cancel my registration", "me.delete": "Delete everything about me",
		"me.logout": "Log out", "me.saved": "Your change is saved.", "me.source": "Source",
		"me.expired":   "The link is invalid or expired. Use the link in our latest e-mail.",
		"delete.title": "Delete everything about you?", "delete.removed": "What is deleted", "delete.kept": "What we keep, and why",
		"delete.confirm": "Yes, delete everything", "delete.back": "Cancel", "delete.done": "Your data has been deleted.",
		"delete.kept.fields":  "The organisation number, invoice address and invoice reference are on an issued invoice. We must keep them under the Norwegian Bookkeeping Act § 13 until %s; then they are deleted.",
		"delete.kept.payment": "The payment record (amounts, dates, invoice and credit note numbers, KID) must be kept under the Norwegian Bookkeeping Act § 13 until %s.",
		"delete.kept.invoice": "Invoice no. %d, and any credit note, with name, organisation, organisation number, address and reference. Accounting records must be kept under the Norwegian Bookkeeping Act § 13 and Bookkeeping Regulation § 5-1-1 until %s.",
		"delete.oninvoice":    "(deleted from the registration, but on the invoice; see below)",
		"delete.kept.none":    "We keep only that a registration existed (without personal data), to count seats.",
		"cancel.done":         "Your registration is cancelled.", "cancel.title": "Do you want to cancel?", "cancel.final": "A cancellation cannot be undone: to take part after all, you register again if there is a seat.",
		"cancel.button": "Yes, cancel my registration", "cancel.back": "No, back to my registration", "continue": "Continue",
		"csrf": "The form had expired. Reload the page and try again.",
	},
}

// T is the template function that translates a key.
// known is the text of key, and whether there is one (t answers a key
// without one with the key itself).
func known(lang, key string) (string, bool) {
	m, ok := msgs[lang][key]
	return m, ok
}

func t(lang, key string) string {
	if m, ok := msgs[lang][key]; ok {
		return m
	}
	return key
}
