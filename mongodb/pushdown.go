package mongodb

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Counting on the embedded store.
//
// FerretDB v1 hands SQLite a filter only when it is {_id} alone; a count
// with any other filter reads and decodes every document of the
// collection in Go. A sign-up counts the other registrations its address
// holds for the event: in a 2,000-seat rush that count took 88% of the
// process's CPU, and at 16,000 registrations one count decoded them all.
// SQLite can count them itself, on the indexes FerretDB already keeps for
// the Indexes table (each document is JSON in one column, and
// _ferretdb_sjson->'field' is the expression those indexes are on).
//
// Only a filter whose meaning in SQL is exactly MongoDB's is counted so:
// each key a plain top-level field name, each value a plain string (see
// plain) or {$in: [plain strings]}. A field counted so holds a string in
// every document, never an array of them (MongoDB would also match an
// array holding the value; this does not); the fields counted today
// (event, status, emailKey, _id) do. Any other filter is counted by
// FerretDB, as before.

// embeddedSQL is the embedded store's own read connection to its file.
type embeddedSQL struct {
	db *sql.DB
	// tables maps collection names to FerretDB's tables.
	tables map[string]string
}

// countSQL returns the query counting the documents of table that match
// filter, and false when filter is not one SQL counts exactly.
func countSQL(table string, filter any) (string, []any, bool) {
	m, ok := filter.(bson.M)
	if !ok || len(m) == 0 {
		return "", nil, false
	}
	var (
		where []string
		args  []any
	)
	for _, field := range sortedKeys(m) {
		if !plain(field, false) {
			return "", nil, false
		}
		col := "_ferretdb_sjson->'" + field + "'"
		switch v := m[field].(type) {
		case bson.M:
			in, ok := v["$in"]
			if !ok || len(v) != 1 {
				return "", nil, false
			}
			vals, ok := plainStrings(in)
			if !ok || len(vals) == 0 {
				return "", nil, false
			}
			where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",")+")")
			for _, s := range vals {
				args = append(args, `"`+s+`"`)
			}
		default:
			s, ok := plainString(v)
			if !ok {
				return "", nil, false
			}
			where = append(where, col+" = ?")
			args = append(args, `"`+s+`"`)
		}
	}
	return fmt.Sprintf(`SELECT count(*) FROM %q WHERE %s`, table, strings.Join(where, " AND ")), args, true
}

// count counts the documents of the collection matching filter in SQL;
// false when it cannot (not embedded, or a filter SQL does not count
// exactly).
func (e *embeddedSQL) count(ctx context.Context, collection string, filter any) (int64, bool, error) {
	if e == nil {
		return 0, false, nil
	}
	table, ok := e.tables[collection]
	if !ok {
		return 0, false, nil
	}
	q, args, ok := countSQL(table, filter)
	if !ok {
		return 0, false, nil
	}
	var n int64
	if err := e.db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, true, mapErr(err)
	}
	return n, true, nil
}

// plain reports whether s is stored by FerretDB as itself between quotes
// and read back so by SQLite: letters, digits and a few marks, nothing a
// JSON encoder escapes. Field names take no dot (a path) and no $.
func plain(s string, value bool) bool {
	if s == "" {
		return value
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
		case value && strings.ContainsRune("-.:/+=@~", r):
		default:
			return false
		}
	}
	return true
}

// plainString is v as a plain string value (any type of string kind: a
// status is one).
func plainString(v any) (string, bool) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() != reflect.String {
		return "", false
	}
	s := rv.String()
	return s, plain(s, true)
}

// plainStrings is v as a list of plain string values.
func plainStrings(v any) ([]string, bool) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) {
		return nil, false
	}
	out := make([]string, rv.Len())
	for i := range out {
		s, ok := plainString(rv.Index(i).Interface())
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

func sortedKeys(m bson.M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
