package registration

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// A manage token is "pmr_" + the registration id + "." + 256 random bits
// (base64url). The id part lets the store find the registration by its
// primary key (the embedded store searches nothing else without a full
// scan); the random part is the secret, and only the SHA-256 of the whole
// token is stored, compared in constant time.
//
// A guardian token is the same with "pmg_": it opens the guardian's page
// of a minor's registration, and a manage token does not.
//
// An address-change token ("pmc_") confirms a new e-mail address, from the
// link mailed to it.
const (
	manageTokenPrefix   = "pmr_"
	guardianTokenPrefix = "pmg_"
	emailTokenPrefix    = "pmc_"
)

func newManageToken(id string) string { return newToken(manageTokenPrefix, id) }

func newGuardianToken(id string) string { return newToken(guardianTokenPrefix, id) }

func newToken(prefix, id string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + id + "." + base64.RawURLEncoding.EncodeToString(b)
}

// tokenID returns the registration id a token of the kind names.
func tokenID(prefix, token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, ".")
	if !ok || id == "" || len(secret) != 43 {
		return "", false
	}
	return id, true
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// oneOf reports, in constant time, whether token's hash is among hashes.
func oneOf(token string, hashes []string) bool {
	h := []byte(hashToken(token))
	ok := 0
	for _, stored := range hashes {
		ok |= subtle.ConstantTimeCompare(h, []byte(stored))
	}
	return ok == 1
}
