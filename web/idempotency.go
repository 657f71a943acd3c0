package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/idempotency"

	"github.com/pamelding/pamelding/privacy"
)

// IdempotencyTTL is how long a POST's answer is kept for its
// Idempotency-Key.
const IdempotencyTTL = 24 * time.Hour

// idemScope is the header the idempotency middleware keys on: set here
// only, never taken from the client.
const idemScope = "X-Pamelding-Idempotency-Scope"

// idempotent makes a POST that creates something safe to retry: with an
// Idempotency-Key, the first successful answer (a sign-up's manage token,
// a staff token's secret included) is kept for 24 hours and a retry gets
// it again instead of a second resource or a 409. The key is scoped to
// who asks, the route and the exact body, so another client's key, or the
// same key with another body, never returns someone else's answer. Kept
// answers are sealed under a key derived from the master key (they can
// hold secrets) in the store's web_state, so every instance replays
// them; two copies of one request racing on two instances at the same
// instant are not serialised (the sign-up's own submission key still
// makes one registration of them).
func idempotent(d Deps, st *stateStore) fiber.Handler {
	mac := d.App.Keys.Derive("pamelding idempotency v1")
	mw := idempotency.New(idempotency.Config{
		Next:                func(*fiber.Ctx) bool { return false },
		Lifetime:            IdempotencyTTL,
		KeyHeader:           idemScope,
		KeyHeaderValidate:   func(string) error { return nil },
		KeepResponseHeaders: []string{fiber.HeaderContentType, fiber.HeaderLocation, fiber.HeaderCacheControl},
		Storage:             &sealedStorage{inner: st, keys: d.App.Keys},
	})
	return func(c *fiber.Ctx) error {
		c.Request().Header.Del(idemScope)
		key := c.Get("Idempotency-Key")
		if key == "" {
			return c.Next()
		}
		if len(key) > 255 || !privacy.SingleLine(key) {
			return problem(fiber.StatusBadRequest, "bad_header", "Idempotency-Key is one line of at most 255 characters.")
		}
		body := sha256.Sum256(c.BodyRaw())
		m := hmac.New(sha256.New, mac)
		for _, part := range []string{idemActor(c), c.Method(), c.Path(), hex.EncodeToString(body[:]), key} {
			m.Write([]byte(part))
			m.Write([]byte{0})
		}
		c.Request().Header.Set(idemScope, hex.EncodeToString(m.Sum(nil)))
		return mw(c)
	}
}

// idemActor is who asks: the staff token's id, or nobody (public
// sign-ups, whose key is theirs alone by its randomness).
func idemActor(c *fiber.Ctx) string {
	return principal(c).ID
}

// sealedStorage seals what it keeps: a kept answer can carry a manage
// token or a staff token's secret.
type sealedStorage struct {
	inner *stateStore
	keys  *privacy.Keyring
}

func (s *sealedStorage) Get(key string) ([]byte, error) {
	raw, err := s.inner.Get("idem:" + key)
	if err != nil || raw == nil {
		return nil, err
	}
	// Kept as the nonce's length, the nonce, the sealed answer.
	if len(raw) < 1 || len(raw) < 1+int(raw[0]) {
		return nil, errors.New("idempotency: a kept answer is cut short")
	}
	n := 1 + int(raw[0])
	plain, err := s.keys.OpenSecret("idempotency:"+key, privacy.Sealed{Nonce: raw[1:n], Data: raw[n:]})
	if err != nil {
		return nil, err
	}
	return []byte(plain), nil
}

func (s *sealedStorage) Set(key string, val []byte, exp time.Duration) error {
	sealed := s.keys.SealSecret("idempotency:"+key, string(val))
	kept := append([]byte{byte(len(sealed.Nonce))}, sealed.Nonce...)
	return s.inner.Set("idem:"+key, append(kept, sealed.Data...), exp)
}

func (s *sealedStorage) Delete(key string) error { return s.inner.Delete("idem:" + key) }
func (s *sealedStorage) Reset() error            { return s.inner.Reset() }
func (s *sealedStorage) Close() error            { return nil }
