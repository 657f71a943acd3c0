package registration

import (
	"crypto/rand"
	"time"
)

// idAlphabet is the characters of crypto/rand.Text (RFC 4648 base32) in
// byte order, so that ids sort as their times do.
const idAlphabet = "234567ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// newID is a registration's (or an order's) id: 26 characters like
// rand.Text's, the first 10 the time in milliseconds, the other 16 random
// (80 bits). Ids made close in time sort close together, so a rush's
// inserts add to the same few pages of every index on an id (the
// registration's, its data keys', the submission's) instead of one page
// anywhere in each per sign-up: random ids made those page writes most of
// what a sign-up wrote to disk. An id is no secret: ticket codes carry a
// MAC, manage links a token of their own; it tells no more than the
// registration's createdAt, which whoever sees the id sees too.
func newID(now time.Time) string {
	var b [26]byte
	ms := uint64(now.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i] = idAlphabet[ms&31]
		ms >>= 5
	}
	r := rand.Text() // 26 random characters of the same alphabet
	copy(b[10:], r[:16])
	return string(b[:])
}
