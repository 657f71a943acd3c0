package privacy_test

import (
	"strings"
	"testing"

	"github.com/pamelding/pamelding/privacy"
)

// TestPurposeBases: the legal basis is per purpose (finding 8): partner
// lists on legitimate interest with the right to object, not contract;
// an event lists only the purposes it has.
func TestPurposeBases(t *testing.T) {
	name, _ := privacy.Lookup("name")
	conf := name.ForEvent(privacy.EventTraits{Kind: "conference", Paid: true, Partners: true})
	if got := conf.BasisFor("partner_sharing"); got != privacy.LegitimateInterest || !got.Objectable() {
		t.Errorf("partner sharing on %s", got)
	}
	if conf.BasisFor("registration") != privacy.Contract || conf.Bases["invoicing"] != privacy.Contract {
		t.Errorf("bases %v", conf.Bases)
	}
	if has(conf.Purposes, "results") {
		t.Error("a conference has start and result lists")
	}
	free := name.ForEvent(privacy.EventTraits{Kind: "conference"})
	if has(free.Purposes, "partner_sharing") || has(free.Purposes, "invoicing") || free.SharedWith(privacy.Partners) || free.SharedWith(privacy.Finance) {
		t.Errorf("a free event without partners: %v %v", free.Purposes, free.Recipients)
	}
	race := name.ForEvent(privacy.EventTraits{Kind: "race"})
	if !has(race.Purposes, "results") || has(race.Purposes, "badge") {
		t.Errorf("a race: %v", race.Purposes)
	}
	diet, _ := privacy.Lookup("dietary")
	if diet.ForEvent(privacy.EventTraits{Kind: "race"}).BasisFor("catering") != privacy.ExplicitConsent {
		t.Error("health data for catering is not under explicit consent")
	}
	inv, _ := privacy.Lookup("invoice_address")
	if inv.BasisFor("bookkeeping") != privacy.LegalObligation || len(inv.ForEvent(privacy.EventTraits{Kind: "course"}).Purposes) != 0 {
		t.Error("invoice fields serve a free event")
	}
	if s := privacy.PurposesText(conf, "nb"); !strings.Contains(s, "Deltakerliste til arrangementets partnere: berettiget interesse (GDPR art. 6(1)(f), du kan protestere)") {
		t.Errorf("text %q", s)
	}
}

func TestParseProcessor(t *testing.T) {
	for _, tc := range []struct {
		in  string
		ok  bool
		out privacy.Processor
	}{
		{"Hetzner Online GmbH|DE", true, privacy.Processor{Role: "hosting", Name: "Hetzner Online GmbH", Country: "DE", Setting: "X"}},
		{"Mailgun|US|EU-US Data Privacy Framework", true, privacy.Processor{Role: "hosting", Name: "Mailgun", Country: "US", Transfer: "EU-US Data Privacy Framework", Setting: "X"}},
		{"Mailgun|US", false, privacy.Processor{}},
		{"Mailgun|usa|x", false, privacy.Processor{}},
		{"none", true, privacy.Processor{Role: "hosting", Setting: "X"}},
		{"", true, privacy.Processor{Role: "hosting", Setting: "X", Missing: true}},
	} {
		p, err := privacy.ParseProcessor("hosting", "X", tc.in)
		if (err == nil) != tc.ok || (tc.ok && p != tc.out) {
			t.Errorf("%q: %+v, %v", tc.in, p, err)
		}
	}
}

func has(ps []privacy.Purpose, p privacy.Purpose) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}
