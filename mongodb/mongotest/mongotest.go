// Package mongotest opens real stores for tests: the embedded FerretDB in a
// temporary directory, or a fresh database on the MongoDB named by
// PAMELDING_TEST_MONGODB_URI.
package mongotest

import (
	"context"
	"crypto/rand"
	"os"
	"testing"

	"github.com/pamelding/pamelding/mongodb"
)

// ShortTempDir is a temporary directory short enough for a Unix socket path
// inside it (t.TempDir() under a long test name can pass 107 bytes).
func ShortTempDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "pmd")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// Open opens a fresh store and closes it when the test ends.
func Open(tb testing.TB) *mongodb.Store {
	tb.Helper()
	// The store outlives the test's context: it is closed in Cleanup, after
	// that context ends.
	ctx := context.WithoutCancel(tb.Context())
	o := mongodb.Options{DataDir: ShortTempDir(tb)}
	if uri := os.Getenv("PAMELDING_TEST_MONGODB_URI"); uri != "" {
		o = mongodb.Options{URI: uri, Database: "pamelding_test_" + rand.Text()[:10]}
	}
	s, err := mongodb.Open(ctx, o)
	if err != nil {
		tb.Fatalf("open test store: %v", err)
	}
	tb.Cleanup(func() {
		if o.URI != "" {
			_ = s.Drop(ctx)
		}
		_ = s.Close(ctx)
	})
	return s
}

// OpenKeys opens a fresh key store (see mongodb.Options.Keys) and closes
// it when the test ends.
func OpenKeys(tb testing.TB) *mongodb.Store {
	tb.Helper()
	ctx := context.WithoutCancel(tb.Context())
	o := mongodb.Options{DataDir: ShortTempDir(tb), Keys: true, Database: "pamelding_keys"}
	if uri := os.Getenv("PAMELDING_TEST_MONGODB_URI"); uri != "" {
		o = mongodb.Options{URI: uri, Database: "pamelding_test_keys_" + rand.Text()[:10], Keys: true}
	}
	s, err := mongodb.Open(ctx, o)
	if err != nil {
		tb.Fatalf("open test key store: %v", err)
	}
	tb.Cleanup(func() {
		if o.URI != "" {
			_ = s.Drop(ctx)
		}
		_ = s.Close(ctx)
	})
	return s
}
