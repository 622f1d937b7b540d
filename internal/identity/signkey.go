package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// signingKey is the Ed25519 key that signs Warden's short-lived tokens.
type signingKey struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	kid  string // base64url of the first 12 bytes of SHA-256(public key)
}

// loadSigningKey reads the key at path, creating it (mode 0600, a
// base64url Ed25519 seed) if it does not exist. A PEM PKCS #8 Ed25519 key,
// such as `openssl genpkey -algorithm ed25519` writes, is accepted too.
func loadSigningKey(path string) (*signingKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createSigningKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: token signing key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		slog.Warn("identity: token signing key is readable by others; chmod 600 it", "path", path, "mode", fi.Mode().Perm().String())
	}
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, "-----BEGIN") {
		blk, _ := pem.Decode([]byte(s))
		if blk == nil {
			return nil, fmt.Errorf("identity: token signing key %s: bad PEM", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("identity: token signing key %s: %w", path, err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("identity: token signing key %s: not an Ed25519 key", path)
		}
		return newSigningKey(priv), nil
	}
	seed, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("identity: token signing key %s: want a base64url 32-byte seed or a PEM PKCS #8 Ed25519 key", path)
	}
	return newSigningKey(ed25519.NewKeyFromSeed(seed)), nil
}

func createSigningKey(path string) (*signingKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadSigningKey(path) // another process won the race
	}
	if err != nil {
		return nil, fmt.Errorf("identity: token signing key: %w", err)
	}
	if _, err := f.WriteString(base64.RawURLEncoding.EncodeToString(seed) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("identity: token signing key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("identity: token signing key: %w", err)
	}
	return newSigningKey(ed25519.NewKeyFromSeed(seed)), nil
}

func newSigningKey(priv ed25519.PrivateKey) *signingKey {
	pub := priv.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	return &signingKey{priv: priv, pub: pub, kid: base64.RawURLEncoding.EncodeToString(sum[:12])}
}
