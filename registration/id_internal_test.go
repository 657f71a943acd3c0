package registration

import (
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNewID: ids look like rand.Text's (26 characters of its alphabet,
// as ticket codes expect), sort as their times do, and differ within a
// millisecond.
func TestNewID(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	var ids []string
	seen := map[string]bool{}
	for i := range 2000 {
		id := newID(t0.Add(time.Duration(i/10) * time.Millisecond * 37))
		if len(id) != 26 || strings.Trim(id, idAlphabet) != "" || len(rand.Text()) != 26 {
			t.Fatalf("id %q is not 26 characters of %s", id, idAlphabet)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	prefixes := slices.Clone(ids)
	for i := range prefixes {
		prefixes[i] = prefixes[i][:10]
	}
	if !slices.IsSorted(prefixes) || prefixes[0] == prefixes[len(prefixes)-1] {
		t.Errorf("ids do not sort by time: %s … %s", ids[0], ids[len(ids)-1])
	}
	if a, b := newID(t0), newID(t0); a[:10] != b[:10] || a[10:] == b[10:] {
		t.Errorf("same millisecond: %s %s", a, b)
	}
	if newID(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)) < newID(t0) {
		t.Error("a later id sorts first")
	}
}
