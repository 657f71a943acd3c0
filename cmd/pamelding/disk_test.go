package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/pamelding/pamelding/app"
	"github.com/pamelding/pamelding/mongodb"
	"github.com/pamelding/pamelding/mongodb/mongotest"
	"github.com/pamelding/pamelding/privacy"
)

// forms lists the ways a value could lie in a file: UTF-8 as BSON and
// SQLite hold it, JSON with its non-ASCII letters escaped, and UTF-16.
func forms(v string) [][]byte {
	out := [][]byte{[]byte(v)}
	var esc strings.Builder
	for _, r := range v {
		if r < 0x80 {
			esc.WriteRune(r)
		} else {
			fmt.Fprintf(&esc, `\u%04x`, r)
		}
	}
	out = append(out, []byte(esc.String()))
	var u16 bytes.Buffer
	for _, c := range utf16.Encode([]rune(v)) {
		u16.WriteByte(byte(c))
		u16.WriteByte(byte(c >> 8))
	}
	return append(out, u16.Bytes())
}

// findOnDisk reads every byte of every file under the directories and
// says which of the values it finds, in any of their forms.
func findOnDisk(t *testing.T, values []string, dirs ...string) []string {
	t.Helper()
	var found []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Type()&fs.ModeSocket != 0 {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, v := range values {
				for _, f := range forms(v) {
					if bytes.Contains(b, f) {
						found = append(found, v+" in "+filepath.Base(path))
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return found
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		if d.Type()&fs.ModeSocket != 0 {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeletionTrueOnDisk: every personal value is sealed under a key of
// its own in the key store, so the data directory never holds one in
// clear; a withdrawal and an erasure destroy the keys, and a copy of the
// data directory taken before the erasure, opened with the key store
// after it, cannot be read for the erased person. The master key is not
// in the data directory, and the directories are the user's alone.
// Before, the dietary text was recovered from the SQLite files after a
// withdrawal, and erased values stayed in free pages.
func TestDeletionTrueOnDisk(t *testing.T) {
	env := embeddedEnv(t)
	dataDir := env["PAMELDING_DATA_DIR"]
	keyDir := dataDir + "-keys"
	s := startServer(t, env)
	ev := event("disk")
	ev["fields"] = []map[string]any{{"key": "name", "required": true}, {"key": "email", "required": true},
		{"key": "phone"}, {"key": "dietary"}, {"key": "emergency_contact"}}
	if st, b := s.call(t, "POST", "/api/v1/events", testAdminToken, ev); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	type person struct{ name, email, phone, diet, emergency, token, id string }
	people := map[string]*person{
		"kept":      {name: "Åshild Kjærnes", email: "ashild.kjaernes@example.no", phone: "+4791234501", diet: "laktoseintoleranse", emergency: "Trygve Kjærnes 91234502"},
		"withdrawn": {name: "Bjørnar Østgård", email: "bjornar.ostgard@example.no", phone: "+4791234503", diet: "cøliaki og nøtteallergi", emergency: "Gunn Østgård 91234504"},
		"erased":    {name: "Cecilie Ødegård", email: "cecilie.odegard@example.no", phone: "+4791234505", diet: "skalldyrallergi", emergency: "Per Ødegård 91234506"},
	}
	for _, p := range people {
		st, b := s.call(t, "POST", "/api/v1/events/disk/registrations", "", map[string]any{
			"fields":   map[string]string{"name": p.name, "email": p.email, "phone": p.phone, "dietary": p.diet, "emergency_contact": p.emergency},
			"consents": map[string]bool{"health": true}})
		var r struct{ ID, ManageToken string }
		if err := json.Unmarshal(b, &r); st != 201 || err != nil {
			t.Fatalf("sign-up: %d %s", st, b)
		}
		p.id, p.token = r.ID, r.ManageToken
	}
	if st, b := s.call(t, "POST", "/api/v1/me/consents/health/withdraw", people["withdrawn"].token, nil); st != 200 {
		t.Fatalf("withdraw: %d %s", st, b)
	}
	s.stop()

	// The scan sees the store's files: the event's title is there in clear.
	if found := findOnDisk(t, []string{"Kongsvingerløpet"}, dataDir); len(found) == 0 {
		t.Fatal("the event's title is not found on disk: the scan reads nothing")
	}
	// Never in clear: every value of every person is sealed.
	var all []string
	for _, p := range people {
		all = append(all, p.name, p.email, p.phone, p.emergency)
	}
	if found := findOnDisk(t, all, dataDir, keyDir); len(found) > 0 {
		t.Errorf("values in clear on disk: %v", found)
	}
	if found := findOnDisk(t, []string{people["withdrawn"].diet}, dataDir, keyDir); len(found) > 0 {
		t.Errorf("withdrawn health data on disk: %v", found)
	}

	backup := mongotest.ShortTempDir(t) + "/data"
	copyDir(t, dataDir, backup)

	s = startServer(t, env)
	if st, b := s.call(t, "DELETE", "/api/v1/me", people["erased"].token, nil); st != 200 {
		t.Fatalf("erase: %d %s", st, b)
	}
	// A correction: the old phone number's key goes with it.
	const newPhone = "+4791234599"
	if st, b := s.call(t, "PATCH", "/api/v1/me", people["kept"].token, map[string]any{"fields": map[string]string{"phone": newPhone}}); st != 200 {
		t.Fatalf("rectify: %d %s", st, b)
	}
	s.stop()
	erased := people["erased"]
	if found := findOnDisk(t, []string{erased.name, erased.email, erased.phone, erased.diet, erased.emergency}, dataDir, keyDir); len(found) > 0 {
		t.Errorf("erased values on disk: %v", found)
	}

	t.Run("OKBackupBeforeErasure", func(t *testing.T) {
		ctx := context.Background()
		raw, err := os.ReadFile(filepath.Join(filepath.Dir(dataDir), "pamelding.key"))
		if err != nil {
			t.Fatal(err)
		}
		master, err := privacy.ParseMasterKey(string(raw))
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := privacy.NewKeyring(master)
		store, err := mongodb.Open(ctx, mongodb.Options{DataDir: backup})
		if err != nil {
			t.Fatal(err)
		}
		keyStore, err := mongodb.Open(ctx, mongodb.Options{DataDir: keyDir, Database: "pamelding_keys", Keys: true})
		if err != nil {
			t.Fatal(err)
		}
		a := app.New(store, keyStore, keys, slog.New(slog.DiscardHandler), time.Now, app.Config{})
		defer a.Close(ctx)
		open := func(p *person) map[string]string {
			reg, err := a.Registrations.Get(ctx, p.id)
			if err != nil {
				t.Fatal(err)
			}
			v, err := a.Registrations.Open(ctx, reg)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if v := open(people["kept"]); v["name"] != people["kept"].name || v["dietary"] != people["kept"].diet {
			t.Fatalf("the backup with the key store does not open a kept registration: %v", v)
		} else if v["phone"] != "" {
			t.Errorf("the phone number corrected since opens from the backup: %v", v["phone"])
		}
		if v := open(erased); len(v) != 0 {
			t.Errorf("the backup with the key store opens the erased person: %v", v)
		}
		if v := open(people["withdrawn"]); v["dietary"] != "" || v["name"] != people["withdrawn"].name {
			t.Errorf("withdrawn health data opened from the backup: %v", v)
		}
	})
	t.Run("OKPrivateFiles", func(t *testing.T) {
		for _, dir := range []string{dataDir, keyDir} {
			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				want := fs.FileMode(0o600)
				if d.IsDir() {
					want = 0o700
				}
				if d.Type()&fs.ModeSocket == 0 && fi.Mode().Perm() != want {
					t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := os.Stat(filepath.Join(dataDir, "encryption.key")); err == nil {
			t.Error("a master key in the data directory")
		}
	})

}
