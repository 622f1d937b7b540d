// Package canary makes decoy keys: credentials that look real, are never
// given to a real client, and so reveal an attacker on first use.
//
// Two styles:
//
//   - warden: a real Warden key (wdn_…) stored with Kind canary.
//   - azure: an Azure OpenAI look-alike, an endpoint plus a 32-hex key. Its
//     SHA-256 is stored as a canary key record, so the gateway's ordinary
//     hash lookup recognises it. The endpoint must lead to Warden: either
//     Warden's own URL (--endpoint), or an *.openai.azure.com name whose DNS
//     you point at Warden.
//
// The gateway answers canary keys from the mock provider (a tarpit: plausible
// answers, nothing upstream) and the detector opens a critical incident on
// every first use, with the request captured.
package canary

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

// Styles.
const (
	StyleWarden = "warden"
	StyleAzure  = "azure"
)

// Options of a new canary.
type Options struct {
	Style    string // warden (default) or azure
	Name     string // record name; default canary-<style>-<random>
	Owner    string
	Endpoint string // where the decoy says to send requests; defaults per style
}

// Canary is a created decoy. Secret is shown once and stored nowhere.
type Canary struct {
	ID       string `json:"id"`
	Style    string `json:"style"`
	Secret   string `json:"key"`
	Endpoint string `json:"endpoint"`
	Note     string `json:"note,omitempty"`
	Planted  string `json:"planted,omitempty"`
}

var resourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// Create makes a canary and stores its record.
func Create(ctx context.Context, ks store.Keys, o Options, now time.Time) (*Canary, error) {
	var tag [3]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return nil, fmt.Errorf("canary: %w", err)
	}
	if o.Style == "" {
		o.Style = StyleWarden
	}
	if o.Name == "" {
		o.Name = "canary-" + o.Style + "-" + hex.EncodeToString(tag[:])
	}
	c := &Canary{Style: o.Style, Endpoint: o.Endpoint}
	var hash keys.Hash
	switch o.Style {
	case StyleWarden:
		sec, err := keys.Generate(nil)
		if err != nil {
			return nil, fmt.Errorf("canary: %w", err)
		}
		c.Secret, hash = sec.Reveal(), sec.Hash()
		if c.Endpoint == "" {
			c.Endpoint = "https://llm-gateway.internal.example.com/v1"
			c.Note = "set --endpoint to this Warden's public URL so that a thief's requests reach it"
		}
	case StyleAzure:
		var raw [16]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, fmt.Errorf("canary: %w", err)
		}
		c.Secret = hex.EncodeToString(raw[:])
		hash = keys.HashOf(c.Secret)
		if c.Endpoint == "" {
			res := strings.ToLower(o.Owner)
			if !resourceName.MatchString(res) {
				res = "contoso"
			}
			c.Endpoint = "https://" + res + "-openai-prod.openai.azure.com/"
			c.Note = "point the DNS name of this endpoint at Warden (or pass --endpoint with Warden's URL); Azure's real servers would reject the key"
		}
	default:
		return nil, fmt.Errorf("canary: unknown style %q (want warden or azure)", o.Style)
	}
	k := keys.FromSpec(keys.Spec{Name: o.Name, Owner: o.Owner, Kind: keys.KindCanary,
		Labels: map[string]string{"canary_style": o.Style, "canary_endpoint": c.Endpoint}}, hash, now)
	if err := ks.CreateKey(ctx, k); err != nil {
		return nil, fmt.Errorf("canary: store: %w", err)
	}
	c.ID = k.ID
	return c, nil
}

// Plant writes a realistic configuration file holding the canary into dir:
// a .env file (or, if one exists, .env.production), never overwriting.
// It returns the path written.
func Plant(dir string, c *Canary) (string, error) {
	var body string
	switch c.Style {
	case StyleAzure:
		body = fmt.Sprintf(`# Azure OpenAI (prod) - do not commit
AZURE_OPENAI_ENDPOINT=%s
AZURE_OPENAI_API_KEY=%s
AZURE_OPENAI_API_VERSION=2024-02-01
AZURE_OPENAI_DEPLOYMENT=gpt-4o
AZURE_OPENAI_IMAGE_DEPLOYMENT=dall-e-3
`, c.Endpoint, c.Secret)
	default:
		body = fmt.Sprintf(`# LLM gateway credentials (prod)
OPENAI_BASE_URL=%s
OPENAI_API_KEY=%s
OPENAI_MODEL=gpt-4o
`, c.Endpoint, c.Secret)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("canary: plant: %w", err)
	}
	for _, name := range []string{".env", ".env.production", ".env.prod.local"} {
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("canary: plant: %w", err)
		}
		if _, err := f.WriteString(body); err != nil {
			f.Close()
			return "", fmt.Errorf("canary: plant: %w", err)
		}
		return p, f.Close()
	}
	return "", fmt.Errorf("canary: plant: %s already has .env, .env.production and .env.prod.local", dir)
}
