package mongodb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

type status string

// TestCountInSQL: the embedded store counts in SQL exactly what FerretDB
// counts, for every filter it takes, and leaves the others to FerretDB.
func TestCountInSQL(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: shortDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	c := s.Collection(Registrations)
	statuses := []string{"confirmed", "waitlisted", "cancelled"}
	var docs []any
	for i := range 300 {
		d := bson.M{"_id": fmt.Sprint("r", i), "event": fmt.Sprint("e", i%3), "emailKey": fmt.Sprint("k", i%11),
			"status": statuses[i%3], "activeKey": fmt.Sprint("a", i)}
		switch i % 7 {
		case 0:
			delete(d, "emailKey") // a field missing
		case 1:
			d["emailKey"] = "x<y&z" // a value JSON escapes
		case 2:
			d["status"] = 3 // another type under the name
		}
		docs = append(docs, d)
	}
	if err := c.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter bson.M
		sql    bool
	}{
		{bson.M{"event": "e1"}, true},
		{bson.M{"event": "e1", "emailKey": "k4"}, true},
		{bson.M{"emailKey": "k4", "event": "e1", "status": bson.M{"$in": []status{"confirmed", "waitlisted"}}}, true},
		{bson.M{"status": bson.M{"$in": bson.A{"cancelled"}}}, true},
		{bson.M{"_id": "r42"}, true},
		{bson.M{"event": "e9"}, true},
		{bson.M{"event": ""}, true},
		{bson.M{"emailKey": "x<y&z"}, false},
		{bson.M{"status": 3}, false},
		{bson.M{"status": bson.M{"$ne": "confirmed"}}, false},
		{bson.M{"status": bson.M{"$in": bson.A{}}}, false},
		{bson.M{"guardian.confirmedAt": "x"}, false},
		{bson.M{"sealed": "x"}, false}, // not a field known to hold strings
		{bson.M{"$or": bson.A{bson.M{"event": "e1"}, bson.M{"event": "e2"}}}, false},
		{bson.M{}, false},
	} {
		_, _, ok := countSQL(Registrations, "t", tc.filter)
		if ok != tc.sql {
			t.Errorf("%v counted in SQL: %v, want %v", tc.filter, ok, tc.sql)
		}
		got, err := c.Count(ctx, tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		want, err := c.c.CountDocuments(ctx, tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%v: counted %d, FerretDB counts %d", tc.filter, got, want)
		}
		if tc.sql && len(tc.filter) > 0 && tc.filter["event"] != "e9" && tc.filter["event"] != "" && got == 0 {
			t.Errorf("%v matched nothing: the comparison proves nothing", tc.filter)
		}
		// One document found the same way: one FerretDB says matches, or
		// none when FerretDB finds none.
		var doc bson.M
		err = c.FindOne(ctx, tc.filter, &doc)
		switch {
		case want == 0 && !errors.Is(err, ErrNotFound):
			t.Errorf("%v: found %v, %v; FerretDB finds none", tc.filter, doc, err)
		case want > 0 && err != nil:
			t.Errorf("%v: %v; FerretDB finds %d", tc.filter, err, want)
		case want > 0:
			if ok, err := c.matchByID(ctx, doc["_id"].(string), tc.filter); err != nil || !ok {
				t.Errorf("%v: found %v, which does not match (%v)", tc.filter, doc["_id"], err)
			}
		}
	}
	// A field holding an array is left to FerretDB, which matches its
	// elements.
	chunks := s.Collection(DisclosureChunks)
	if err := chunks.InsertOne(ctx, bson.M{"_id": "c1", "registrations": bson.A{"r1", "r2"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := countSQL(DisclosureChunks, "t", bson.M{"registrations": "r2"}); ok {
		t.Error("an array field is matched in SQL")
	}
	if n, err := chunks.Count(ctx, bson.M{"registrations": "r2"}); err != nil || n != 1 {
		t.Errorf("chunks holding r2: %d, %v", n, err)
	}

	// The count uses FerretDB's index rather than reading the table.
	q, args, _ := countSQL(Registrations, s.sql.tables[Registrations], bson.M{"event": "e1", "emailKey": "k4"})
	var id, parent, unused int
	var plan string
	if err := s.sql.db.QueryRowContext(ctx, "EXPLAIN QUERY PLAN "+q, args...).Scan(&id, &parent, &unused, &plan); err != nil {
		t.Fatal(err)
	}
	if want := "USING INDEX"; !strings.Contains(plan, want) {
		t.Errorf("plan %q does not use an index", plan)
	}
}

func shortDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/tmp", "pmd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
