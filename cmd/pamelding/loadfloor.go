package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pamelding/pamelding/mongodb"
)

// floorResult is the bare server's rush: the floor pamelding's rate is
// compared with.
type floorResult struct {
	Elapsed          time.Duration
	Created, Full    int
	P99              time.Duration
	WrittenPerSignup int64
}

// rushFloor runs the same rush at a bare HTTP server on its own empty
// embedded store: per sign-up it decodes the body, takes a seat by one
// conditional decrement and inserts one document (in a scratch
// collection without indexes), each write on its own, as a naive
// registration service would. Same machine, same run, same clients: the
// ratio to it is what a reader can compare across machines.
func rushFloor(ctx context.Context, seats, requests, clients int, timeout time.Duration) (*floorResult, error) {
	dir, err := os.MkdirTemp("", "pmdfloor")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := mongodb.Open(ctx, mongodb.Options{DataDir: dir, Database: "floor"})
	if err != nil {
		return nil, err
	}
	defer st.Close(context.WithoutCancel(ctx))
	// Its own scratch collections: a floor with no indexes to keep, so a
	// stricter one than pamelding's registrations.
	seatsC, regs := st.Collection(mongodb.Seats), st.Collection("floor_signups")
	if err := seatsC.InsertOne(ctx, bson.M{"_id": "floor", "remaining": seats}); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /signup", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Fields map[string]string `json:"fields"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Fields["email"] == "" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		var doc bson.M
		err := seatsC.FindOneAndUpdate(r.Context(), bson.M{"_id": "floor", "remaining": bson.M{"$gt": 0}}, bson.M{"$inc": bson.M{"remaining": -1}}, &doc)
		if errors.Is(err, mongodb.ErrNotFound) {
			http.Error(w, "sold out", http.StatusConflict)
			return
		} else if err != nil {
			http.Error(w, "store", http.StatusInternalServerError)
			return
		}
		id := "reg_" + strings.ToLower(rand.Text())
		now := time.Now().UTC()
		if err := regs.InsertOne(r.Context(), bson.M{"_id": id, "event": "floor", "status": "confirmed", "seat": true, "activeKey": id,
			"emailKey": body.Fields["email"], "name": body.Fields["name"], "createdAt": now, "updatedAt": now}); err != nil {
			http.Error(w, "store", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"` + id + `"}`))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	client := &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	w0 := mongodb.WrittenBytes()
	res, _, err := fire(ctx, client, "http://"+ln.Addr().String()+"/signup", requests, clients)
	if err != nil {
		return nil, err
	}
	out := &floorResult{Elapsed: res.Elapsed, Created: res.Created, Full: res.Full, P99: res.P99}
	if w1 := mongodb.WrittenBytes(); w0 >= 0 && w1 >= w0 {
		out.WrittenPerSignup = (w1 - w0) / int64(requests)
	}
	if res.Created != seats || res.Other+res.Limited > 0 {
		return out, errors.New("the floor server did not sell exactly its seats: " + strconv.Itoa(res.Created) + " of " + strconv.Itoa(seats))
	}
	return out, nil
}
