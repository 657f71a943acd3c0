package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeWalkthrough runs the README's API walk-through, as written,
// against the real program: a README whose commands stopped working fails
// here. Only the address and /tmp are replaced.
func TestReadmeWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed: run `make test` (it installs it) or `apt-get install curl`")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	var script []string
	for _, b := range blocks {
		// The walk-through: the blocks that talk to the running service.
		if strings.Contains(b[1], "curl -s") && !strings.Contains(b[1], "docker") {
			script = append(script, b[1])
		}
	}
	if len(script) < 3 {
		t.Fatalf("found %d walk-through blocks in the README", len(script))
	}
	env := embeddedEnv(t)
	env["PAMELDING_ADMIN_TOKEN"] = "dev-admin-token-change-me-0123456789"
	env["PAMELDING_SELLER_NAME"] = "Janteloppet AS"
	env["PAMELDING_SELLER_ORG_NUMBER"] = "923609016"
	env["PAMELDING_SELLER_BANK_ACCOUNT"] = "1234.56.78903"
	env["PAMELDING_SELLER_ADDRESS"] = "Storgata 1, 2211 Kongsvinger"
	env["PAMELDING_SELLER_VAT_REGISTERED"] = "true"
	s := startServer(t, env)
	tmp := t.TempDir()
	body := strings.NewReplacer("localhost:8080", strings.TrimPrefix(s.url, "http://"), "/tmp/", tmp+"/").Replace(strings.Join(script, "\n"))
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", body)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walk-through failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		`"slug":"janteloppet-2027"`, `"code":"undeclared"`, `"code":"consent_required"`, `"manageToken":"pmr_`,
		`"kid":"18"`, `"matched":1`, `"name":"Kari Nordmann","organisation":"Acme AS"`, "# Privacy notice for Janteloppet 2027",
		`"type":"access"`, `"kept":[`,
		// The three scenarios: orders placed on one invoice each, a
		// participant of one cancelled by the buyer, the race's start list.
		`"slug":"janteloppet-konferanse"`, `"status":"placed"`, `"orderToken":"pmo_`, `"method":"invoice","status":"invoiced"`,
		`"name":"Jon Jobb","category":"standard","status":"cancelled"`,
		`{"bib":1,"name":"Kari Løper","club":"Kongsvinger IL","class":"35-49","category":"10k"}`,
		`"1","Kari Løper","Kongsvinger IL","35-49","10k",""`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the walk-through's output lacks %s", want)
		}
	}
	if strings.Contains(string(out), "Ola Uoppført") || strings.Contains(string(out), "Lars Løper\",\"club") {
		t.Errorf("the start list shows runners who did not agree to it")
	}
	s.stop()
	if strings.Contains(s.logs.String(), `"status":500`) {
		t.Errorf("the walk-through hit a 500:\n%s", s.logs)
	}
}

// TestReadmeNamesEverySetting: each environment variable the program
// reads has its row in the README's table, and no row names one it does
// not read.
func TestReadmeNamesEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(settings) < 20 {
		t.Fatalf("only %d settings", len(settings))
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.name] = true
		if !strings.Contains(string(readme), "| `"+s.name+"`") && !strings.Contains(string(readme), "`"+s.name+"` |") && !strings.Contains(string(readme), ", `"+s.name+"`") {
			t.Errorf("the README's table has no row for %s", s.name)
		}
	}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z_]+)`").FindAllStringSubmatch(string(readme), -1) {
		if !known[m[1]] {
			t.Errorf("the README documents %s, which the program does not read", m[1])
		}
	}
}

// TestReadmeNamesRealTests: every test the README cites as the proof of a
// promise exists.
func TestReadmeNamesRealTests(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var sources strings.Builder
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, "_test.go") {
			b, _ := os.ReadFile(path)
			sources.Write(b)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cited := regexp.MustCompile("`(Test[A-Za-z0-9]+)`").FindAllStringSubmatch(string(readme), -1)
	if len(cited) < 20 {
		t.Fatalf("only %d tests cited", len(cited))
	}
	for _, m := range cited {
		if !strings.Contains(sources.String(), "func "+m[1]+"(") {
			t.Errorf("the README cites %s, which does not exist", m[1])
		}
	}
}
