package web

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMessagesComplete: every key the pages' code and templates name
// exists in nb and in en, both languages have the same keys, and a
// message with a %s placeholder has it in both. (A key missing showed on
// /me as "me.offer%!(EXTRA string=…)".)
func TestMessagesComplete(t *testing.T) {
	nb, en := msgs["nb"], msgs["en"]
	if len(nb) < 100 {
		t.Fatalf("precondition: %d nb messages", len(nb))
	}
	for k, v := range nb {
		w, ok := en[k]
		if !ok {
			t.Errorf("%s: no en text", k)
		} else if strings.Count(v, "%") != strings.Count(w, "%") {
			t.Errorf("%s: placeholders differ: %q / %q", k, v, w)
		}
	}
	for k := range en {
		if _, ok := nb[k]; !ok {
			t.Errorf("%s: no nb text", k)
		}
	}
	used := map[string]bool{}
	for _, pat := range []string{"*.go", "templates/*.html"} {
		files, _ := filepath.Glob(pat)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range regexp.MustCompile(`(?:t\(lang, |\{\{t [.$A-Za-z]+ |\{\{t \(index \. 0\)\.Lang )"([a-z][a-z0-9._]*[a-z0-9])"`).FindAllStringSubmatch(string(b), -1) {
				used[m[1]] = true
			}
		}
	}
	if len(used) < 80 {
		t.Fatalf("precondition: found %d keys in use", len(used))
	}
	for k := range used {
		if _, ok := nb[k]; !ok {
			t.Errorf("%s is used but has no text", k)
		}
	}
}
