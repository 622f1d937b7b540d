package replay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/store"
)

// Gateway runs records through the real gateway (its ServeAt entry point),
// so replay exercises authentication, limits, the guard, the provider
// adapter (the mock) and every event sink. Register Gateway itself as a
// sync sink on the gateway's bus: that is how it learns each request's event.
//
// Records with key_id get a key with that id, created on the fly the first
// time, whose secret is derived from Salt and the id (HMAC-SHA256 seeding
// the key generator), so replays on the same data directory find the same
// keys again without storing secrets. The credential headers of such
// records are replaced by that secret (an api-key header is added if the
// record had none).
type Gateway struct {
	ServeAt func(w http.ResponseWriter, r *http.Request, t time.Time)
	Keys    store.Keys
	Salt    []byte // secret, per data directory; required for key_id records

	last *event.Event
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
	g.ServeAt(w, req, rec.TS)
	return w.Code, g.last
}

// secretFor returns the derived secret of a key_id record's key, creating
// the key the first time.
func (g *Gateway) secretFor(ctx context.Context, rec *record.Record) (string, error) {
	if len(g.Salt) == 0 {
		return "", errors.New("replay: key_id records need a salt")
	}
	m := hmac.New(sha256.New, g.Salt)
	m.Write([]byte(rec.KeyID))
	var seed [32]byte
	copy(seed[:], m.Sum(nil))
	sec, err := keys.Generate(rand.NewChaCha8(seed))
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
		_, _, m := route(r.Method, r.Path)
		if m == "" {
			_, _, m = featuresOf(r.BodyBytes())
		}
		if m != "" && !seen[m] && len(m) < 200 {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}
