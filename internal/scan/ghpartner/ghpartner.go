// Package ghpartner is Warden's endpoint for GitHub's secret scanning
// partner program: GitHub finds Warden keys in public repositories, gists
// and npm packages and POSTs them here; Warden revokes every active one at
// once and answers which were real.
//
// # Protocol
//
// GitHub sends POST /secret-scanning/github with a JSON array body
//
//	[{"token":"wdn_…","type":"warden_api_key","url":"https://github.com/…","source":"content"}]
//
// signed with ECDSA P-256 over SHA-256 of the raw body: header
// Github-Public-Key-Identifier names the key, Github-Public-Key-Signature
// carries the base64 ASN.1 signature. Public keys come in GitHub's meta
// format, {"public_keys":[{"key_identifier":"…","key":"-----BEGIN PUBLIC KEY-----…","is_current":true}]},
// as served at https://api.github.com/meta/public_keys/secret_scanning; Warden
// reads them from a file (config secret_scanning.github.public_keys_file)
// and optionally from that URL, cached.
//
// The answer is the feedback array GitHub accepts:
//
//	[{"token_hash":"<hex sha256 of token>","token_type":"warden_api_key","label":"true_positive"}]
//
// A request without a valid signature gets 401 with no body, before the body
// is parsed, so it learns nothing about any key. Repeated reports of the same
// token are harmless: revocation is idempotent.
package ghpartner

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/revoke"
)

// Path is where the handler is meant to be mounted.
const Path = "/secret-scanning/github"

// DefaultKeysURL is GitHub's list of secret-scanning signing keys.
const DefaultKeysURL = "https://api.github.com/meta/public_keys/secret_scanning"

// Report is one token GitHub found.
type Report struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// Feedback is Warden's verdict on one reported token.
type Feedback struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"` // true_positive or false_positive
}

// KeySet finds GitHub's public key by identifier.
//
// PublicKey returns an error when it does not know id; the handler answers
// 401 then. Implementations must be safe for concurrent use.
type KeySet interface {
	PublicKey(ctx context.Context, id string) (*ecdsa.PublicKey, error)
}

// Handler serves the partner endpoint.
type Handler struct {
	Keys    KeySet
	Lookup  scan.KeyLookup
	Revoker revoke.Revoker
	// MaxBody bounds the request body; default 8 MiB (tens of thousands of tokens).
	MaxBody int64
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

var errUnsigned = errors.New("ghpartner: missing or bad signature")

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	limit := h.MaxBody
	if limit <= 0 {
		limit = 8 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if err := h.verify(r.Context(), r.Header, body); err != nil {
		log.Warn("ghpartner: rejected unsigned or badly signed request", "remote", r.RemoteAddr, "err", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var reports []Report
	if err := json.Unmarshal(body, &reports); err != nil {
		http.Error(w, "body must be a JSON array of reports", http.StatusBadRequest)
		return
	}
	fb, err := h.Handle(r.Context(), reports)
	if err != nil {
		log.Error("ghpartner: handling reports", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(fb)
}

func (h *Handler) verify(ctx context.Context, hdr http.Header, body []byte) error {
	id := hdr.Get("Github-Public-Key-Identifier")
	sig64 := hdr.Get("Github-Public-Key-Signature")
	if id == "" || sig64 == "" || len(id) > 256 || len(sig64) > 512 {
		return errUnsigned
	}
	sig, err := base64.StdEncoding.DecodeString(sig64)
	if err != nil {
		return errUnsigned
	}
	pub, err := h.Keys.PublicKey(ctx, id)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnsigned, err)
	}
	sum := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(pub, sum[:], sig) {
		return errUnsigned
	}
	return nil
}

// Handle decides on reports already authenticated: every active Warden key
// among them is revoked. It returns one feedback per distinct token. An
// error means the store could not answer; nothing is labelled then, so
// GitHub retries.
func (h *Handler) Handle(ctx context.Context, reports []Report) ([]Feedback, error) {
	out := make([]Feedback, 0, len(reports))
	seen := make(map[keys.Hash]bool, len(reports))
	for _, rep := range reports {
		hash := keys.HashOf(rep.Token)
		if seen[hash] {
			continue
		}
		seen[hash] = true
		fb := Feedback{TokenHash: hex.EncodeToString(hash[:]), TokenType: rep.Type, Label: "false_positive"}
		if _, err := keys.Parse(rep.Token); err == nil {
			info, err := h.Lookup.LookupHash(ctx, hash)
			switch {
			case errors.Is(err, scan.ErrUnknownKey):
			case err != nil:
				return nil, err
			default:
				fb.Label = "true_positive"
				if info.Kind != keys.KindCanary && (info.Status == keys.StatusActive || info.Status == keys.StatusSuspended) {
					where := rep.URL
					if where == "" {
						where = "GitHub (" + rep.Source + ")"
					}
					if err := h.Revoker.Revoke(ctx, info.ID, "leaked: reported by GitHub secret scanning", where); err != nil {
						return nil, err
					}
				}
			}
		}
		out = append(out, fb)
	}
	return out, nil
}

// Keys is a KeySet read from a file in GitHub's meta format and, when URL is
// set, from GitHub, refreshed after TTL. An unknown identifier triggers a
// refresh at most once a minute, so forged identifiers cannot make Warden
// hammer GitHub.
type Keys struct {
	File    string
	URL     string
	Client  *http.Client  // nil: a client with Timeout
	TTL     time.Duration // default 1h
	Timeout time.Duration // default 5s

	mu      sync.Mutex
	keys    map[string]*ecdsa.PublicKey
	loaded  time.Time
	tried   time.Time
	lastErr error
}

// PublicKey implements KeySet.
func (k *Keys) PublicKey(ctx context.Context, id string) (*ecdsa.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ttl := k.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	now := time.Now()
	_, known := k.keys[id]
	needLoad := k.keys == nil || now.Sub(k.loaded) > ttl || !known
	if needLoad && (k.tried.IsZero() || now.Sub(k.tried) > time.Minute) {
		k.tried = now
		if m, err := k.loadLocked(ctx); err != nil {
			k.lastErr = err
		} else {
			k.keys, k.loaded, k.lastErr = m, now, nil
		}
	}
	if pub, ok := k.keys[id]; ok {
		return pub, nil
	}
	if k.lastErr != nil {
		return nil, k.lastErr
	}
	return nil, fmt.Errorf("ghpartner: unknown key identifier")
}

func (k *Keys) loadLocked(ctx context.Context) (map[string]*ecdsa.PublicKey, error) {
	all := map[string]*ecdsa.PublicKey{}
	add := func(b []byte) error { // keys from the file and the URL together
		m, err := ParseMeta(b)
		if err != nil {
			return err
		}
		maps.Copy(all, m)
		return nil
	}
	if k.File != "" {
		b, err := os.ReadFile(k.File)
		if err != nil {
			return nil, fmt.Errorf("ghpartner: public keys: %w", err)
		}
		if err := add(b); err != nil {
			return nil, err
		}
	}
	if k.URL != "" {
		timeout := k.Timeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		c := k.Client
		if c == nil {
			c = &http.Client{Timeout: timeout}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.URL, nil)
		if err != nil {
			return nil, fmt.Errorf("ghpartner: public keys: %w", err)
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("ghpartner: fetching public keys: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("ghpartner: fetching public keys: HTTP %d", resp.StatusCode)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("ghpartner: fetching public keys: %w", err)
		}
		if err := add(b); err != nil {
			return nil, err
		}
	}
	if len(all) == 0 {
		return nil, errors.New("ghpartner: no public keys configured")
	}
	return all, nil
}

// ParseMeta decodes GitHub's public-key document. Only ECDSA P-256 keys
// are accepted.
func ParseMeta(b []byte) (map[string]*ecdsa.PublicKey, error) {
	var doc struct {
		PublicKeys []struct {
			ID        string `json:"key_identifier"`
			Key       string `json:"key"`
			IsCurrent bool   `json:"is_current"`
		} `json:"public_keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("ghpartner: public keys: %w", err)
	}
	if len(doc.PublicKeys) > 100 {
		return nil, errors.New("ghpartner: public keys: more than 100 keys")
	}
	out := map[string]*ecdsa.PublicKey{}
	for _, pk := range doc.PublicKeys {
		blk, _ := pem.Decode([]byte(pk.Key))
		if blk == nil || pk.ID == "" {
			return nil, fmt.Errorf("ghpartner: public key %q: no PEM block", pk.ID)
		}
		pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ghpartner: public key %q: %w", pk.ID, err)
		}
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok || ec.Curve.Params().Name != "P-256" {
			return nil, fmt.Errorf("ghpartner: public key %q is not ECDSA P-256", pk.ID)
		}
		out[pk.ID] = ec
	}
	return out, nil
}
