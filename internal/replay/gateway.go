package replay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"

	"github.com/wardenhq/warden/internal/clock"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/store"
)

// Gateway runs records through the real gateway's HTTP handler, the one
// `warden serve` listens with, after setting Clock to the record's time,
// so replay exercises authentication, limits, the guard, the provider
// adapter (the mock), the audit log and every event subscriber. Subscribe
// Gateway itself to the gateway's bus (event.Sync): that is how it learns
// each request's event.
//
// Records with key_id get a key with that id, created on the fly the first
// time, whose secret is derived from Salt and the id (HMAC-SHA256 seeding
// the key generator), so replays on the same data directory find the same
// keys again without storing secrets. The credential headers of such
// records are replaced by that secret (an api-key header is added if the
// record had none).
type Gateway struct {
	Handler http.Handler
	Clock   *clock.Virtual // what every part of the gateway reads as now
	Keys    store.Keys
	Salt    []byte // secret, per data directory; required for key_id records

	last    *event.Event
	secrets map[string]string // key id → secret of keys already checked or made
}

// Handle implements event.Sink: it keeps the event of the request being
// replayed. Replay is sequential, so one slot is enough.
func (g *Gateway) Handle(_ context.Context, e *event.Event) { g.last = e }

// Do implements Pipeline.
func (g *Gateway) Do(ctx context.Context, rec *record.Record) (int, *event.Event) {
	headers := rec.Headers
	if rec.KeyID != "" {
		sec, err := g.secretFor(ctx, rec)
		if err != nil {
			return 500, nil
		}
		headers = withCredential(rec.Headers, sec)
	}
	names := make([]string, 0, len(headers))
	for _, h := range headers {
		names = append(names, strings.ToLower(h.Name))
	}
	// The recorded header order is part of the client's fingerprint.
	ctx = gateway.WithHeaderNames(ctx, names)
	req := httptest.NewRequestWithContext(ctx, rec.Method, rec.Path, bytes.NewReader(rec.BodyBytes()))
	req.Header = http.Header{}
	for _, h := range headers {
		if strings.EqualFold(h.Name, "host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	ip, err := netip.ParseAddr(rec.ClientIP)
	if err != nil {
		ip = netip.MustParseAddr("192.0.2.1")
	}
	req.RemoteAddr = netip.AddrPortFrom(ip, 40000).String()
	g.last = nil
	w := httptest.NewRecorder()
	g.Clock.Set(rec.TS)
	g.Handler.ServeHTTP(w, req)
	return w.Code, g.last
}

// secretFor returns the derived secret of a key_id record's key, creating
// the key the first time.
func (g *Gateway) secretFor(ctx context.Context, rec *record.Record) (string, error) {
	if s, ok := g.secrets[rec.KeyID]; ok {
		return s, nil
	}
	s, err := g.makeSecret(ctx, rec)
	if err != nil {
		return "", err
	}
	if g.secrets == nil {
		g.secrets = map[string]string{}
	}
	g.secrets[rec.KeyID] = s
	return s, nil
}

// makeSecret derives the secret of a key_id record's key, checks the key
// in the store against it and creates the key if it is not there.
func (g *Gateway) makeSecret(ctx context.Context, rec *record.Record) (string, error) {
	sec, err := Secret(g.Salt, rec.KeyID)
	if err != nil {
		return "", err
	}
	k, err := g.Keys.KeyByID(ctx, rec.KeyID)
	switch {
	case err == nil:
		if !k.Hash.Equal(sec.Hash()) {
			return "", fmt.Errorf("replay: key %s exists but was not made by replay with this salt", rec.KeyID)
		}
		return sec.Reveal(), nil
	case !errors.Is(err, store.ErrNotFound):
		return "", err
	}
	spec := keys.Spec{Name: rec.KeyID, Owner: rec.KeyOwner, Labels: map[string]string{"created_by": "replay"}}
	if rec.KeyKind == string(keys.KindCanary) {
		spec.Kind = keys.KindCanary
	}
	k = keys.FromSpec(spec, sec.Hash(), rec.TS)
	k.ID = rec.KeyID
	k.RotatedFrom = rec.KeyRotatedFrom
	if err := g.Keys.CreateKey(ctx, k); err != nil {
		return "", err
	}
	return sec.Reveal(), nil
}

// Secret returns the secret replay uses for the key with id keyID under
// salt. A key created with it (keys.FromSpec with its hash, ID keyID) is
// found and used by replay as it is, policy and all.
func Secret(salt []byte, keyID string) (keys.Secret, error) {
	if len(salt) == 0 {
		return keys.Secret{}, errors.New("replay: key_id records need a salt")
	}
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(keyID))
	var seed [32]byte
	copy(seed[:], m.Sum(nil))
	return keys.Generate(rand.NewChaCha8(seed))
}

func withCredential(h record.Headers, secret string) record.Headers {
	out := make(record.Headers, 0, len(h)+1)
	found := false
	for _, x := range h {
		switch strings.ToLower(x.Name) {
		case "api-key":
			x.Value, found = secret, true
		case "authorization":
			x.Value, found = "Bearer "+secret, true
		}
		out = append(out, x)
	}
	if !found {
		out = append(out, record.Header{Name: "api-key", Value: secret})
	}
	return out
}

// Models returns the model and deployment names the records ask for, so a
// replay configuration can route them all to the mock provider.
func Models(recs []*record.Record) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range recs {
		m := modelOf(r)
		if m != "" && !seen[m] && len(m) < 200 {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// modelOf is the deployment of an Azure deployment path, or else the
// body's "model". It only names models for the configuration: the gateway
// does all the parsing that decides anything.
func modelOf(r *record.Record) string {
	p, _, _ := strings.Cut(r.Path, "?")
	if rest, ok := strings.CutPrefix(p, "/openai/deployments/"); ok {
		dep, _, _ := strings.Cut(rest, "/")
		return dep
	}
	var b struct {
		Model string `json:"model"`
	}
	if json.Unmarshal(r.BodyBytes(), &b) != nil {
		return ""
	}
	return b.Model
}
