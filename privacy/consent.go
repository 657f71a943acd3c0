package privacy

import (
	"crypto/sha256"
	"encoding/hex"
)

// ConsentPurpose is something a participant may consent to and withdraw.
type ConsentPurpose string

// The consent purposes.
const (
	// ConsentHealth: explicit consent (art. 9(2)(a)) to process health data
	// such as food allergies.
	ConsentHealth ConsentPurpose = "health"
	// ConsentMarketing: news about coming events (opt-in).
	ConsentMarketing ConsentPurpose = "marketing"
	// ConsentGuardian: a guardian's consent to a minor's registration.
	ConsentGuardian ConsentPurpose = "guardian"
	// ConsentStartList: name, club, class and start number published in a
	// race's public start list.
	ConsentStartList ConsentPurpose = "startlist"
)

// ConsentText is the exact text a participant is shown when asked for a
// consent. Its version and hash are recorded with every consent given or
// refused.
type ConsentText struct {
	Purpose ConsentPurpose `json:"purpose" bson:"purpose"`
	Version string         `json:"version" bson:"version"`
	Text    Text           `json:"text" bson:"text"`
}

// SHA256 is the hex SHA-256 of the texts as shown, nb then en separated by
// a NUL byte.
func (c ConsentText) SHA256() string {
	h := sha256.New()
	h.Write([]byte(c.Text.NB))
	h.Write([]byte{0})
	h.Write([]byte(c.Text.EN))
	return hex.EncodeToString(h.Sum(nil))
}

var consentTexts = map[ConsentPurpose]ConsentText{
	ConsentHealth: {
		Purpose: ConsentHealth, Version: "2026-11-01",
		Text: Text{
			NB: "Jeg samtykker til at arrangøren behandler opplysningene jeg oppgir om matallergier og diett, som kan være helseopplysninger, for å tilpasse serveringen. Opplysningene deles bare med serveringsansvarlig og slettes senest 30 dager etter arrangementet. Jeg kan trekke samtykket når som helst, og da slettes opplysningene straks.",
			EN: "I consent to the organiser processing what I state about food allergies and diet, which may be health data, to adapt the catering. It is shared only with those responsible for catering and deleted at the latest 30 days after the event. I can withdraw this consent at any time, and the information is then deleted at once.",
		},
	},
	ConsentGuardian: {
		Purpose: ConsentGuardian, Version: "2026-11-01",
		Text: Text{
			NB: "Jeg er foresatt for deltakeren og samtykker til påmeldingen og til at opplysningene i skjemaet behandles for dette arrangementet.",
			EN: "I am the participant's guardian and consent to this registration and to the processing of the information in this form for this event.",
		},
	},
	ConsentStartList: {
		Purpose: ConsentStartList, Version: "2026-11-23",
		Text: Text{
			NB: "Jeg samtykker til at navnet mitt, klubben min, klassen min og startnummeret mitt publiseres i den offentlige startlista for løpet. Jeg kan trekke samtykket når som helst, og da fjernes jeg fra lista.",
			EN: "I consent to my name, club, class and start number being published in the race's public start list. I can withdraw this consent at any time, and I am then removed from the list.",
		},
	},
	ConsentMarketing: {
		Purpose: ConsentMarketing, Version: "2026-11-01",
		Text: Text{
			NB: "Ja takk, send meg e-post om kommende arrangementer fra arrangøren. Jeg kan melde meg av når som helst.",
			EN: "Yes please, e-mail me about the organiser's coming events. I can unsubscribe at any time.",
		},
	},
}

// ConsentTextFor returns the current text of a consent purpose.
func ConsentTextFor(p ConsentPurpose) (ConsentText, bool) {
	c, ok := consentTexts[p]
	return c, ok
}

// ConsentTexts returns every consent purpose's current text.
func ConsentTexts() []ConsentText {
	return []ConsentText{consentTexts[ConsentHealth], consentTexts[ConsentMarketing], consentTexts[ConsentGuardian], consentTexts[ConsentStartList]}
}
