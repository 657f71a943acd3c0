package privacy

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the size of the master key and of data keys (AES-256).
const KeySize = 32

// Keyring holds the keys derived from the master key. Every personal value
// of a registration is sealed with AES-256-GCM under a data key of its
// own; the data key is stored wrapped by a key derived from the master
// key, in a key store apart from the data. Destroying the wrapped data key
// makes the sealed value unrecoverable, wherever a copy of it lies.
type Keyring struct {
	wrap     cipher.AEAD
	emailMAC []byte
	// macRoot derives keys for other uses (Derive).
	macRoot []byte
}

// Sealed is a value encrypted with AES-GCM: nonce and ciphertext.
type Sealed struct {
	Nonce []byte `bson:"n" json:"-"`
	Data  []byte `bson:"d" json:"-"`
}

// NewKeyring derives the keyring from a 32-byte master key.
func NewKeyring(master []byte) (*Keyring, error) {
	if len(master) != KeySize {
		return nil, fmt.Errorf("master key: want %d bytes, got %d", KeySize, len(master))
	}
	wrapKey, err := hkdf.Key(sha256.New, master, nil, "pamelding data-key wrapping v1", KeySize)
	if err != nil {
		return nil, err
	}
	macKey, err := hkdf.Key(sha256.New, master, nil, "pamelding e-mail index v1", KeySize)
	if err != nil {
		return nil, err
	}
	wrap, err := newGCM(wrapKey)
	if err != nil {
		return nil, err
	}
	root, err := hkdf.Key(sha256.New, master, nil, "pamelding derived keys v1", KeySize)
	if err != nil {
		return nil, err
	}
	return &Keyring{wrap: wrap, emailMAC: macKey, macRoot: root}, nil
}

// Derive returns a key for one named use (the pages' CSRF tokens, say),
// derived from the master key: every instance with the same master key
// derives the same, and no other use learns it.
func (k *Keyring) Derive(purpose string) []byte {
	key, err := hkdf.Key(sha256.New, k.macRoot, nil, purpose, KeySize)
	if err != nil {
		panic(err) // only for lengths HKDF cannot give
	}
	return key
}

// ParseMasterKey reads a base64-encoded 32-byte key.
func ParseMasterKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("not base64")
	}
	if len(b) != KeySize {
		return nil, fmt.Errorf("want %d bytes, got %d", KeySize, len(b))
	}
	return b, nil
}

// LoadOrCreateKeyFile reads the base64 master key in path, creating it with
// a new random key (mode 0600) when it does not exist. created says which.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseMasterKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("key file %s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	key = make([]byte, KeySize)
	_, _ = rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return key, true, err
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// NewValueKey makes the data key of one value of a registration and
// returns it with its wrapped form, the only form ever stored (in the key
// store, apart from the data).
func (k *Keyring) NewValueKey(id, field string) (dek []byte, wrapped Sealed) {
	dek = make([]byte, KeySize)
	_, _ = rand.Read(dek)
	return dek, seal(k.wrap, dek, []byte("dek:"+id+":"+field))
}

// UnwrapValueKey recovers the data key of one value of a registration.
func (k *Keyring) UnwrapValueKey(id, field string, wrapped Sealed) ([]byte, error) {
	dek, err := k.wrap.Open(nil, wrapped.Nonce, wrapped.Data, []byte("dek:"+id+":"+field))
	if err != nil {
		return nil, errors.New("unwrap data key: authentication failed")
	}
	return dek, nil
}

// NewLegacyDataKey makes a data key of the first scheme (tests of the
// migration from it).
func (k *Keyring) NewLegacyDataKey(id string) (dek []byte, wrapped Sealed) {
	dek = make([]byte, KeySize)
	_, _ = rand.Read(dek)
	return dek, seal(k.wrap, dek, []byte("dek:"+id))
}

// UnwrapLegacyDataKey recovers a data key of the first scheme, one key
// per registration for its health values; only the migration to a key
// per value reads it.
func (k *Keyring) UnwrapLegacyDataKey(id string, wrapped Sealed) ([]byte, error) {
	dek, err := k.wrap.Open(nil, wrapped.Nonce, wrapped.Data, []byte("dek:"+id))
	if err != nil {
		return nil, errors.New("unwrap data key: authentication failed")
	}
	return dek, nil
}

// SealValue encrypts a field's value under a data key, bound to the
// registration and the field so a sealed value cannot be moved to another.
func SealValue(dek []byte, id, key, value string) (Sealed, error) {
	aead, err := newGCM(dek)
	if err != nil {
		return Sealed{}, err
	}
	return seal(aead, []byte(value), []byte("val:"+id+":"+key)), nil
}

// ErrSealedValue: the key does not open the value (it was sealed under
// another key, or altered).
var ErrSealedValue = errors.New("open sealed value: authentication failed")

// OpenValue decrypts a value sealed by SealValue.
func OpenValue(dek []byte, id, key string, s Sealed) (string, error) {
	aead, err := newGCM(dek)
	if err != nil {
		return "", err
	}
	b, err := aead.Open(nil, s.Nonce, s.Data, []byte("val:"+id+":"+key))
	if err != nil {
		return "", ErrSealedValue
	}
	return string(b), nil
}

func seal(aead cipher.AEAD, plaintext, ad []byte) Sealed {
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return Sealed{Nonce: nonce, Data: aead.Seal(nil, nonce, plaintext, ad)}
}

// NormaliseEmail is the form of an address used to tell whether two
// sign-ups are the same person: trimmed and lower-cased.
func NormaliseEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// EmailKey is a keyed hash (HMAC-SHA256) of a normalised address: it lets
// the store enforce one registration per person and find a person's
// registrations without an index of addresses in clear.
func (k *Keyring) EmailKey(email string) string {
	m := hmac.New(sha256.New, k.emailMAC)
	m.Write([]byte(NormaliseEmail(email)))
	return hex.EncodeToString(m.Sum(nil))
}

// SealSecret encrypts a short-lived secret (a manage token waiting in the
// outbox to be mailed) under the master key, bound to context.
func (k *Keyring) SealSecret(context, secret string) Sealed {
	return seal(k.wrap, []byte(secret), []byte("secret:"+context))
}

// OpenSecret decrypts a secret sealed by SealSecret.
func (k *Keyring) OpenSecret(context string, s Sealed) (string, error) {
	b, err := k.wrap.Open(nil, s.Nonce, s.Data, []byte("secret:"+context))
	if err != nil {
		return "", errors.New("open secret: authentication failed")
	}
	return string(b), nil
}
