// Package keys defines Warden's API keys: their text format, how they are
// hashed and compared, and the policy record each key carries.
//
// # Format
//
// A Warden key is 40 ASCII characters:
//
//	wdn_ RRRRRRRRRRRRRRRRRRRRRRRRRRRRRR CCCCCC
//	|    |                              |
//	|    30 base62 characters of        6 base62 characters: CRC-32 (IEEE) of
//	|    crypto/rand (178 bits)         prefix+random, big-endian, zero-padded
//	fixed prefix
//
// for example wdn_8Vh2kQ0m1bT9xZ4rL7pC3nY6sJ5aW0dF1eG2h3. The prefix makes a
// leaked key easy to find with no false positives; the checksum lets a scanner
// (Warden's own, or GitHub's secret scanning) reject look-alikes offline,
// without a database. The design follows GitHub's 2021 token format.
//
// Warden never stores a key: only its SHA-256 Hash. The random part carries
// far more entropy than a password, so a slow KDF adds nothing but latency.
// Hashes are compared in constant time.
package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"log/slog"
	"strings"
)

const (
	// Prefix starts every Warden key.
	Prefix = "wdn_"
	// randomLen is the number of random base62 characters.
	randomLen = 30
	// checksumLen is the number of base62 characters of the CRC-32.
	checksumLen = 6
	// Len is the length of a key in characters.
	Len = len(Prefix) + randomLen + checksumLen
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Errors returned by Parse. They are deliberately vague towards clients: the
// gateway answers every failure with the same 401.
var (
	ErrFormat   = errors.New("keys: not a Warden key")
	ErrChecksum = errors.New("keys: checksum mismatch")
)

// Secret is a Warden key in clear text. It is incomparable (== on secrets is
// not constant-time), and its String and LogValue methods redact it, so a
// Secret that slips into a log line or an error reveals nothing usable.
type Secret struct {
	_ [0]func() // incomparable
	s string
}

// Generate makes a new key from r, usually crypto/rand.Reader.
func Generate(r io.Reader) (Secret, error) {
	if r == nil {
		r = rand.Reader
	}
	var buf [randomLen]byte
	out := make([]byte, 0, Len)
	out = append(out, Prefix...)
	// Rejection sampling keeps every base62 character uniformly likely.
	for n := 0; n < randomLen; {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return Secret{}, err
		}
		for _, b := range buf {
			if b >= 248 { // 248 = 4*62: larger values would bias the modulo
				continue
			}
			out = append(out, base62[b%62])
			n++
			if n == randomLen {
				break
			}
		}
	}
	out = appendChecksum(out, crc32.ChecksumIEEE(out))
	return Secret{s: string(out)}, nil
}

// Parse checks that s has the form and checksum of a Warden key. It does not
// say whether the key exists: that takes a store lookup of its Hash.
func Parse(s string) (Secret, error) {
	if len(s) != Len || !strings.HasPrefix(s, Prefix) {
		return Secret{}, ErrFormat
	}
	for i := len(Prefix); i < Len; i++ {
		if !isBase62(s[i]) {
			return Secret{}, ErrFormat
		}
	}
	if !ValidChecksum(s) {
		return Secret{}, ErrChecksum
	}
	return Secret{s: s}, nil
}

// ValidChecksum reports whether s (already of the right length and prefix)
// ends in the right checksum. It runs in constant time for strings of length Len.
func ValidChecksum(s string) bool {
	if len(s) != Len {
		return false
	}
	body := s[:Len-checksumLen]
	want := appendChecksum(nil, crc32.ChecksumIEEE([]byte(body)))
	return subtle.ConstantTimeCompare(want, []byte(s[Len-checksumLen:])) == 1
}

func appendChecksum(dst []byte, sum uint32) []byte {
	var c [checksumLen]byte
	v := uint64(sum)
	for i := checksumLen - 1; i >= 0; i-- {
		c[i] = base62[v%62]
		v /= 62
	}
	return append(dst, c[:]...)
}

func isBase62(b byte) bool {
	return '0' <= b && b <= '9' || 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z'
}

// Reveal returns the key in clear text. Call it only to show a new key to its
// owner once, or to send it as a credential.
func (s Secret) Reveal() string { return s.s }

// IsZero reports whether s holds no key.
func (s Secret) IsZero() bool { return s.s == "" }

// Hash returns the SHA-256 of the key, the only form Warden stores.
func (s Secret) Hash() Hash { return HashOf(s.s) }

// String returns a redacted form that is safe to log.
func (s Secret) String() string { return Redact(s.s) }

// LogValue implements slog.LogValuer so that slog never prints the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redact(s.s)) }

// Hash is the SHA-256 of a credential. Compare hashes with Equal.
type Hash [sha256.Size]byte

// HashOf returns the SHA-256 of any presented credential, valid or not, so
// that unknown and malformed keys cost the same work as real ones.
func HashOf(credential string) Hash { return sha256.Sum256([]byte(credential)) }

// Equal compares two hashes in constant time.
func (h Hash) Equal(o Hash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

// String returns the lowercase hex form used in storage and in findings.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash decodes the lowercase hex form of a Hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, errors.New("keys: malformed hash")
	}
	copy(h[:], b)
	return h, nil
}

// Redact shortens any credential to a form that identifies it to its owner
// without letting anyone use it: the first 4 and last 4 characters of a long
// secret, nothing of a short one.
func Redact(credential string) string {
	switch {
	case credential == "":
		return ""
	case len(credential) < 16:
		return "[REDACTED]"
	default:
		return credential[:4] + "…" + credential[len(credential)-4:]
	}
}
