package mongodb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"time"

	_ "modernc.org/sqlite" // the driver FerretDB itself uses

	"go.mongodb.org/mongo-driver/v2/bson"
)

// collections is every collection pamelding keeps.
var collections = []string{Events, Tokens, Registrations, Leases, Invoices, Counters, StripeEvents, BankEntries, Payouts,
	Disclosures, DisclosureChunks, PrivacyRequests, PurgeReceipts, HookEndpoints, HookDeliveries, WebState, Seats,
	Promises, RetentionChanges, Codes, Orders, StaffAccounts}

// indexPrimaryKeys makes the embedded store find a document by its _id
// without reading the whole table.
//
// FerretDB v1 stores each collection as an SQLite table of JSON documents
// and looks a document up with WHERE _ferretdb_sjson->'$._id' = ?, but the
// unique index it creates on _id is on the expression
// _ferretdb_sjson->"_id", which SQLite does not take for the same one: every
// lookup by _id scanned the table and parsed every document (measured:
// 33 ms per lookup at 20,000 documents, 0.4 ms with this index). This
// adds, once per table, an index on exactly the expression FerretDB
// queries; FerretDB does not know it and needs not (SQLite keeps it
// current and drops it with its table).
func (s *Store) indexPrimaryKeys(ctx context.Context, database string) error {
	// Every table must exist to be indexed: collections are created on
	// first use otherwise.
	names, err := s.db.ListCollectionNames(ctx, bson.M{})
	if err != nil {
		return fmt.Errorf("list collections: %w", mapErr(err))
	}
	want := collections
	if s.keys {
		want = []string{DataKeys}
	}
	for _, c := range want {
		if slices.Contains(names, c) {
			continue
		}
		if err := func() error {
			defer s.Collection(c).write()()
			return s.db.CreateCollection(ctx, c)
		}(); err != nil {
			return fmt.Errorf("create collection %s: %w", c, mapErr(err))
		}
	}
	path := filepath.Join(s.dir, database+".sqlite")
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Opaque: path, RawQuery: "_pragma=busy_timeout(10000)"}).String())
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	s.sqlite = db
	rows, err := db.QueryContext(ctx, `SELECT name, table_name FROM _ferretdb_collections`)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	var tables []string
	byName := map[string]string{}
	for rows.Next() {
		var name, t string
		if err := rows.Scan(&name, &t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
		byName[name] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := func() error {
		defer s.Collection(Seats).write()() // an index build is a write
		for _, t := range tables {
			q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"_pmd_id", t)
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("index primary keys of %s: %w", t, err)
			}
		}
		return nil
	}(); err != nil {
		return err
	}
	// Counts are read on connections of their own, several at once (see
	// pushdown.go); they only read.
	reads, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Opaque: path,
		RawQuery: "_pragma=busy_timeout(10000)&_pragma=query_only(1)"}).String())
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	reads.SetMaxOpenConns(16)
	reads.SetMaxIdleConns(16) // a new connection reads the whole schema first
	s.sql = &embeddedSQL{db: reads, tables: byName, stmts: map[string]*sql.Stmt{}}
	return nil
}

// Checkpoint moves the embedded store's write-ahead log into its file and
// truncates the log to nothing, so that what a write removed (a destroyed
// key: secure_delete zeroed it in the file) is not left in the log either.
// Against MongoDB it does nothing: WiredTiger's files are its own (see the
// README on backups).
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.sqlite == nil {
		return nil
	}
	defer s.Collection(Seats).write()() // no write of ours in between
	for range 50 {
		var busy, logFrames, checkpointed int
		if err := s.sqlite.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if busy == 0 {
			return nil
		}
		// A reader holds a snapshot in the log: wait for it to finish.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("checkpoint: the write-ahead log stayed busy")
}
