// Package mongodb connects pamelding to its store: a MongoDB deployment when
// MONGODB_URI is set, otherwise FerretDB embedded in the process on SQLite,
// reached over a Unix socket with the same driver code.
//
// Every state change in pamelding is one atomic single-document operation.
// MongoDB gives that; FerretDB v1 does not (its update and findAndModify read
// then write), so in embedded mode every write goes through one process-wide
// lock held by Collection.
package mongodb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// SocketName is the file name of the embedded store's Unix socket inside
// the data directory.
const SocketName = "ferretdb.sock"

// maxSocketPath is the longest Unix socket path Linux accepts (sun_path
// holds 108 bytes including the terminating NUL).
const maxSocketPath = 107

// Options says where the store is.
type Options struct {
	// URI of a MongoDB deployment. Empty: run the embedded store.
	URI string
	// DataDir holds the embedded store's SQLite files and socket.
	DataDir string
	// Database is the database name.
	Database string
	// Logger receives the store's own messages (never document contents).
	Logger *slog.Logger
	// Attach, in embedded mode, connects to the socket of a pamelding
	// already serving DataDir instead of failing; used by CLI commands
	// that run beside a server.
	Attach bool
	// Keys opens the key store rather than the data store: only the
	// DataKeys collection, and in embedded mode SQLite files of its own
	// with secure_delete on, so a destroyed key is overwritten, never
	// left in a free page (see Checkpoint for the write-ahead log).
	Keys bool
}

// Store is an open connection to the database.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	// lock serialises writes in embedded mode; nil against MongoDB.
	lock *sync.Mutex
	// faults, when a test injects them, decide the fate of each write.
	faults *faults

	stopEmbedded func()
	// dir is the embedded store's data directory ("" against MongoDB).
	dir string
	// keys: this is the key store.
	keys bool
	// sqlite is a connection of our own to the embedded store's file
	// (indexes FerretDB does not make; checkpoints).
	sqlite *sql.DB
	// sql counts in SQL what FerretDB would count by decoding every
	// document (see pushdown.go); nil against MongoDB.
	sql *embeddedSQL
}

// Open connects to MongoDB or starts the embedded store, pings it and
// ensures the indexes of the Indexes table.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Database == "" {
		o.Database = "pamelding"
	}
	s := &Store{faults: &faults{}, keys: o.Keys}
	uri := o.URI
	if uri == "" {
		var err error
		uri, s.stopEmbedded, err = startEmbedded(ctx, o)
		if err != nil {
			return nil, err
		}
		s.lock = new(sync.Mutex)
		s.dir, _ = filepath.Abs(o.DataDir)
	}
	// A short server selection: a request waits at most this long for an
	// unreachable store before it is answered 503. The URI may say
	// otherwise (serverSelectionTimeoutMS).
	client, err := mongo.Connect(options.Client().
		SetServerSelectionTimeout(5 * time.Second).
		SetAppName("pamelding").
		ApplyURI(uri))
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("connect to store: %w", err)
	}
	s.client = client
	s.db = client.Database(o.Database)
	if err := s.Ping(ctx); err != nil {
		_ = s.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("ping store: %w", err)
	}
	if err := s.ensureIndexes(ctx); err != nil {
		_ = s.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if s.Embedded() && !o.Attach {
		if err := s.indexPrimaryKeys(ctx, o.Database); err != nil {
			_ = s.Close(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	return s, nil
}

// startEmbedded starts FerretDB on SQLite under o.DataDir, listening only on
// a Unix socket there, and returns the URI to reach it.
func startEmbedded(ctx context.Context, o Options) (uri string, stop func(), err error) {
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return "", nil, fmt.Errorf("data directory: %w", err)
	}
	if err := private(dir); err != nil {
		return "", nil, err
	}
	sock := filepath.Join(dir, SocketName)
	if len(sock) > maxSocketPath {
		return "", nil, fmt.Errorf("data directory %q is too long for a Unix socket path (at most %d bytes with %q)", dir, maxSocketPath-len(SocketName)-1, SocketName)
	}
	uri = "mongodb://" + url.PathEscape(sock) + "/"

	if conn, err := net.DialTimeout("unix", sock, time.Second); err == nil {
		_ = conn.Close()
		if o.Attach {
			return uri, func() {}, nil
		}
		return "", nil, fmt.Errorf("data directory %s is in use by another running pamelding", dir)
	}
	// A socket nobody answers on was left by a process that died.
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", nil, fmt.Errorf("remove stale socket: %w", err)
	}

	sqliteURL := &url.URL{Scheme: "file", Opaque: dir + "/"}
	if o.Keys {
		// A deleted row's bytes are overwritten with zeros, in the table
		// and in free pages.
		sqliteURL.RawQuery = "_pragma=secure_delete(on)"
	}
	fdb, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: sock},
		Handler:   "sqlite",
		SQLiteURL: sqliteURL.String(),
		// FerretDB logs wire messages at WARN; they may hold documents.
		Logger: quietLogger(o.Logger),
	})
	if err != nil {
		return "", nil, fmt.Errorf("start embedded store: %w", err)
	}
	// The store outlives the call that opened it: it stops with Close.
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fdb.Run(ctx)
	}()
	return uri, func() { cancel(); <-done }, nil
}

// private makes the data directory readable by this user alone, whatever
// existed before: the directory 0700, its files 0600.
func private(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := os.Chmod(filepath.Join(dir, e.Name()), 0o600); err != nil {
				return fmt.Errorf("data directory: %w", err)
			}
		}
	}
	return nil
}

// quietLogger passes on only FerretDB's errors, and only their message.
func quietLogger(l *slog.Logger) *slog.Logger {
	return slog.New(messageOnly{l.Handler()})
}

type messageOnly struct{ next slog.Handler }

func (h messageOnly) Enabled(ctx context.Context, lvl slog.Level) bool {
	return lvl >= slog.LevelError && h.next.Enabled(ctx, lvl)
}

func (h messageOnly) Handle(ctx context.Context, r slog.Record) error {
	// Attributes are dropped and the message cut at its first line: FerretDB
	// puts wire messages, documents included, in both.
	msg, _, _ := strings.Cut(r.Message, "\n")
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return h.next.Handle(ctx, slog.NewRecord(r.Time, slog.LevelError, "embedded store: "+msg, 0))
}

func (h messageOnly) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h messageOnly) WithGroup(string) slog.Handler      { return h }

// Embedded reports whether the store runs in this process.
func (s *Store) Embedded() bool { return s.lock != nil }

// Ping checks that the store answers.
func (s *Store) Ping(ctx context.Context) error {
	return mapErr(s.client.Ping(ctx, readpref.Primary()))
}

// Close disconnects and stops the embedded store.
func (s *Store) Close(ctx context.Context) error {
	var err error
	if s.client != nil {
		err = s.client.Disconnect(ctx)
	}
	if s.sqlite != nil {
		_ = s.sqlite.Close()
	}
	if s.sql != nil {
		_ = s.sql.db.Close()
	}
	s.stop()
	return err
}

func (s *Store) stop() {
	if s.stopEmbedded != nil {
		s.stopEmbedded()
		s.stopEmbedded = nil
	}
}

// Collection returns the named collection behind the embedded write lock.
func (s *Store) Collection(name string) *Collection {
	return &Collection{c: s.db.Collection(name), lock: s.lock, faults: s.faults, sql: s.sql}
}

// Drop removes the database; used by tests against a shared MongoDB.
func (s *Store) Drop(ctx context.Context) error {
	return mapErr(s.db.Drop(ctx))
}
