package mongodb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

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
// each key a field of stringFields (or _id), each value a plain string
// (see plain) or {$in: [plain strings]}. Any other filter is counted by
// FerretDB, as before.

// stringFields are the fields SQL may match, by collection: each holds a
// string in every document, never an array of them (MongoDB also matches
// an array holding the value; SQL would not: a disclosure chunk's
// registrations, say, are not here). A field left out is only slower.
var stringFields = map[string][]string{
	Registrations:  {"event", "status", "emailKey", "activeKey", "order"},
	Orders:         {"event", "submission", "status"},
	Invoices:       {"registration", "kind", "event"},
	Codes:          {"event"},
	Tokens:         {"role"},
	StaffAccounts:  {"email", "linkHash"},
	HookDeliveries: {"endpoint"},
}

// stringField says whether SQL may match the collection's field.
func stringField(collection, field string) bool {
	return field == "_id" || slices.Contains(stringFields[collection], field)
}

// embeddedSQL is the embedded store's own read connection to its file.
type embeddedSQL struct {
	db *sql.DB
	// tables maps collection names to FerretDB's tables.
	tables map[string]string

	mu sync.Mutex
	// stmts are the queries prepared so far, by text: preparing one took
	// most of its time (SQLite reads the schema of every table).
	stmts map[string]*sql.Stmt
}

// maxStmts bounds the prepared queries (a handful of filter shapes are
// counted; the bound only guards against a caller making many).
const maxStmts = 256

// queryRow runs q, prepared once.
func (e *embeddedSQL) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	e.mu.Lock()
	st, ok := e.stmts[q]
	if !ok && len(e.stmts) < maxStmts {
		var err error
		if st, err = e.db.PrepareContext(ctx, q); err == nil {
			e.stmts[q] = st
			ok = true
		}
	}
	e.mu.Unlock()
	if !ok {
		return e.db.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// countSQL returns the query counting the documents of table that match
// filter, and false when filter is not one SQL counts exactly.
func countSQL(collection, table string, filter any) (string, []any, bool) {
	where, args, ok := whereSQL(collection, filter)
	if !ok {
		return "", nil, false
	}
	return fmt.Sprintf(`SELECT count(*) FROM %q WHERE %s`, table, where), args, true
}

// whereSQL is filter as an SQL condition on FerretDB's JSON column, and
// false when SQL cannot say exactly what it says.
func whereSQL(collection string, filter any) (string, []any, bool) {
	m, ok := filter.(bson.M)
	if !ok || len(m) == 0 {
		return "", nil, false
	}
	var (
		where []string
		args  []any
	)
	for _, field := range sortedKeys(m) {
		if !plain(field, false) || !stringField(collection, field) {
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
	return strings.Join(where, " AND "), args, true
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
	q, args, ok := countSQL(collection, table, filter)
	if !ok {
		return 0, false, nil
	}
	var n int64
	if err := e.queryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, true, mapErr(err)
	}
	return n, true, nil
}

// findOne decodes into out a document of the collection matching filter,
// found in SQL; false when it cannot (as count). The document is then
// read by its _id with the filter applied again by the store itself, so
// that one changed in between is not returned; it is looked for by
// FerretDB then, as before.
func (c *Collection) findOne(ctx context.Context, filter, out any) (bool, error) {
	e := c.sql
	if e == nil {
		return false, nil
	}
	table, ok := e.tables[c.c.Name()]
	if !ok {
		return false, nil
	}
	if m, ok := filter.(bson.M); ok && len(m) == 1 && m["_id"] != nil {
		return false, nil // FerretDB finds it by its key
	}
	where, args, ok := whereSQL(c.c.Name(), filter)
	if !ok {
		return false, nil
	}
	var id sql.NullString
	err := e.queryRow(ctx, fmt.Sprintf(`SELECT _ferretdb_sjson->>'_id' FROM %q WHERE %s LIMIT 1`, table, where), args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return true, ErrNotFound
	}
	if err != nil {
		return true, mapErr(err)
	}
	cur, err := c.c.Aggregate(ctx, bson.A{bson.M{"$match": bson.M{"_id": id.String}}, bson.M{"$match": filter}})
	if err != nil {
		return true, mapErr(err)
	}
	defer cur.Close(ctx)
	if !cur.Next(ctx) {
		return false, mapErr(cur.Err())
	}
	return true, mapErr(cur.Decode(out))
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

// Version reads one integer field of the document with the id (a
// version counter), in SQL on the embedded store, without FerretDB
// decoding the document: so a copy of a document that is read often and
// changes seldom can be checked for a fraction of a read. ok is false
// when it cannot tell (against MongoDB, whose reads are cheap; or no such
// document, or no such field): read the document instead.
func (c *Collection) Version(ctx context.Context, id, field string) (v int64, ok bool, err error) {
	e := c.sql
	if e == nil || !plain(id, true) || !plain(field, false) {
		return 0, false, nil
	}
	table, found := e.tables[c.c.Name()]
	if !found {
		return 0, false, nil
	}
	var n sql.NullInt64
	q := fmt.Sprintf(`SELECT _ferretdb_sjson->>'%s' FROM %q WHERE _ferretdb_sjson->'$._id' = ?`, field, table)
	switch err := e.queryRow(ctx, q, `"`+id+`"`).Scan(&n); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, mapErr(err)
	}
	return n.Int64, n.Valid, nil
}
