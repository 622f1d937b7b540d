package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/wardenhq/warden/internal/redact"
)

// Bodies are a request's prompt and the answer as the client saw them. The
// log masks credentials in them before it hashes or stores anything. Both
// nil (as opposed to empty) means none was captured: the entry says mode
// none whatever the policy.
type Bodies struct {
	Prompt []byte
	Answer []byte
}

// Body is the stored form of retained bodies: this JSON object, encrypted
// with age (mode encrypted) or as is (mode plaintext). The leaf commits to
// the SHA-256 of Prompt and of Answer, and of the stored bytes.
type Body struct {
	Prompt    []byte `json:"prompt"` // masked, possibly cut
	Answer    []byte `json:"answer"`
	Truncated bool   `json:"truncated,omitempty"`
}

// maxStoredBody bounds what DecryptBody reads from one body.
const maxStoredBody = 64 << 20

type bodiesKey struct{}

// WithBodies returns a context that carries b to the audit Sink, so the
// gateway can hand bodies through event.Bus.Publish.
func WithBodies(ctx context.Context, b *Bodies) context.Context {
	return context.WithValue(ctx, bodiesKey{}, b)
}

// BodiesFrom returns the bodies WithBodies stored in ctx, or nil.
func BodiesFrom(ctx context.Context) *Bodies {
	b, _ := ctx.Value(bodiesKey{}).(*Bodies)
	return b
}

// recordBodies fills l's body fields under mode and returns the bytes to
// store (nil unless the mode retains bodies).
//
// Without bodies (nil, or both texts nil: the gateway had none to give, say for a request
// refused before its body was read) the leaf says none, not the hash of
// an empty text: the record must not claim the prompt was empty.
func recordBodies(l *Leaf, mode BodyMode, b *Bodies, maxBytes int, recips []age.Recipient) ([]byte, error) {
	if mode == BodyNone || b == nil || (b.Prompt == nil && b.Answer == nil) {
		l.Mode = BodyNone
		return nil, nil
	}
	body := Body{Prompt: redact.Bytes(b.Prompt), Answer: redact.Bytes(b.Answer)}
	if len(body.Prompt) > maxBytes {
		body.Prompt, body.Truncated = body.Prompt[:maxBytes], true
	}
	if len(body.Answer) > maxBytes {
		body.Answer, body.Truncated = body.Answer[:maxBytes], true
	}
	l.Mode = mode
	l.Prompt = Digest{sha256.Sum256(body.Prompt), true}
	l.Answer = Digest{sha256.Sum256(body.Answer), true}
	if mode == BodyHash {
		return nil, nil
	}
	plain, err := json.Marshal(&body)
	if err != nil {
		return nil, fmt.Errorf("audit: encode body: %w", err)
	}
	blob := plain
	if mode == BodyEncrypted {
		if len(recips) == 0 {
			return nil, fmt.Errorf("audit: encrypted bodies need recipients")
		}
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, recips...)
		if err != nil {
			return nil, fmt.Errorf("audit: encrypt body: %w", err)
		}
		if _, err := w.Write(plain); err != nil {
			return nil, fmt.Errorf("audit: encrypt body: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("audit: encrypt body: %w", err)
		}
		blob = buf.Bytes()
	}
	l.Blob = Digest{sha256.Sum256(blob), true}
	return blob, nil
}

// DecryptBody opens a stored body with an investigator's identities (for
// mode plaintext, pass none) and checks it against its leaf.
func DecryptBody(l *Leaf, blob []byte, ids ...age.Identity) (*Body, error) {
	if !l.Blob.Set || sha256.Sum256(blob) != l.Blob.Sum {
		return nil, fmt.Errorf("audit: body does not match its leaf")
	}
	plain := blob
	if l.Mode == BodyEncrypted {
		r, err := age.Decrypt(bytes.NewReader(blob), ids...)
		if err != nil {
			return nil, fmt.Errorf("audit: decrypt body: %w", err)
		}
		if plain, err = io.ReadAll(io.LimitReader(r, maxStoredBody)); err != nil {
			return nil, fmt.Errorf("audit: decrypt body: %w", err)
		}
	}
	var b Body
	if err := json.Unmarshal(plain, &b); err != nil {
		return nil, fmt.Errorf("audit: decode body: %w", err)
	}
	if sha256.Sum256(b.Prompt) != l.Prompt.Sum || sha256.Sum256(b.Answer) != l.Answer.Sum {
		return nil, fmt.Errorf("audit: body text does not match the hashes in its leaf")
	}
	return &b, nil
}
