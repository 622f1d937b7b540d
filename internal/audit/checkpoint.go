package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is the text of a signed tree head (C2SP tlog-checkpoint).
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	// Extensions are the optional lines after the root, kept as read.
	Extensions []string
}

// maxCheckpointSize bounds a checkpoint note, signatures included.
const maxCheckpointSize = 64 << 10

var errCheckpoint = errors.New("audit: malformed checkpoint")

// Text returns the note text of c.
func (c Checkpoint) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.String()
}

// ParseCheckpoint decodes the text of a checkpoint note (without the
// signatures), strictly: decimal size without leading zeros, a root of
// exactly 32 bytes, no empty lines.
func ParseCheckpoint(text string) (Checkpoint, error) {
	if len(text) > maxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("%w: too long", errCheckpoint)
	}
	if !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, fmt.Errorf("%w: text must end in a newline", errCheckpoint)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, fmt.Errorf("%w: want origin, size and root", errCheckpoint)
	}
	var c Checkpoint
	c.Origin = lines[0]
	if err := checkOrigin(c.Origin); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %w", errCheckpoint, err)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("%w: bad tree size %.30q", errCheckpoint, lines[1])
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("%w: bad root hash", errCheckpoint)
	}
	copy(c.Root[:], root)
	for _, e := range lines[3:] {
		if e == "" {
			return Checkpoint{}, fmt.Errorf("%w: empty extension line", errCheckpoint)
		}
		c.Extensions = append(c.Extensions, e)
	}
	return c, nil
}

// OpenCheckpoint verifies a signed checkpoint note with v and decodes it. It
// fails if the signature does not verify or the origin is not v's name.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	if v == nil {
		return Checkpoint{}, errors.New("audit: no verifier key to check the checkpoint with")
	}
	if len(msg) > maxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("%w: too long", errCheckpoint)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint signature: %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint origin %q is not the key's name %q", c.Origin, v.Name())
	}
	return c, nil
}

// signCheckpoint returns the signed note for c.
func signCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: c.Text()}, s)
	if err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	return msg, nil
}

// Signing keys.

// KeyFileName and PublicKeyFileName are the default key files in the data dir.
const (
	KeyFileName       = "audit.key"
	PublicKeyFileName = "audit.pub"
)

// LoadOrCreateKey reads the note signing key at path, or, if there is none,
// makes one named origin and writes it with mode 0600 (and the verifier key
// next to it as path's base with ".pub"). It returns the signer and the
// verifier key text. An existing key named differently from a non-empty
// origin is an error: checkpoints are signed in the origin's name.
func LoadOrCreateKey(path, origin string) (note.Signer, string, error) {
	s, vkey, err := LoadKey(path)
	if err == nil {
		if origin != "" && s.Name() != origin {
			return nil, "", fmt.Errorf("audit: key %s is for origin %q, configured origin is %q", path, s.Name(), origin)
		}
		return s, vkey, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	if err := checkOrigin(origin); err != nil {
		return nil, "", err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, "", fmt.Errorf("audit: generate key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", fmt.Errorf("audit: key dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process made it first: use theirs
		return LoadOrCreateKey(path, origin)
	}
	if err != nil {
		return nil, "", fmt.Errorf("audit: create key: %w", err)
	}
	_, werr := f.WriteString(skey + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return nil, "", fmt.Errorf("audit: write key: %w", err)
	}
	pub := strings.TrimSuffix(path, filepath.Ext(path)) + ".pub"
	if err := os.WriteFile(pub, []byte(vkey+"\n"), 0o644); err != nil {
		return nil, "", fmt.Errorf("audit: write verifier key: %w", err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", fmt.Errorf("audit: new key: %w", err)
	}
	return signer, vkey, nil
}

// LoadKey reads a signing key file and returns the signer and its verifier
// key. The file must not be readable by group or others.
func LoadKey(path string) (note.Signer, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("audit: signing key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("audit: signing key %s has mode %v; want 0600", path, fi.Mode().Perm())
	}
	if fi.Size() > 4096 {
		return nil, "", fmt.Errorf("audit: signing key %s is not a key file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("audit: signing key: %w", err)
	}
	skey := string(bytes.TrimSpace(b))
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", fmt.Errorf("audit: signing key %s: %w", path, err)
	}
	vkey, err := verifierKey(skey)
	if err != nil {
		return nil, "", err
	}
	return s, vkey, nil
}

// verifierKey derives the verifier key from a signer key text
// "PRIVATE+KEY+name+hash+base64(0x01 || seed)".
func verifierKey(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5) // base64 may hold '+'; names may not
	if len(parts) != 5 {
		return "", errors.New("audit: malformed signing key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		return "", errors.New("audit: signing key is not an Ed25519 note key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[2], pub)
}

// ReadVerifierKey reads a verifier key ("name+hash+base64") from a file or,
// if s does not name a file, takes s itself as the key.
func ReadVerifierKey(s string) (note.Verifier, string, error) {
	text := s
	if fi, err := os.Stat(s); err == nil && fi.Mode().IsRegular() {
		if fi.Size() > 4096 {
			return nil, "", fmt.Errorf("audit: %s is not a verifier key file", s)
		}
		b, err := os.ReadFile(s)
		if err != nil {
			return nil, "", fmt.Errorf("audit: verifier key: %w", err)
		}
		text = string(bytes.TrimSpace(b))
	}
	v, err := note.NewVerifier(text)
	if err != nil {
		return nil, "", fmt.Errorf("audit: verifier key: %w", err)
	}
	return v, text, nil
}
