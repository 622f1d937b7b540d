package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Limits on what an issuer's endpoints may make Warden do.
const (
	maxDocBytes   = 1 << 20 // discovery document or JWKS
	maxJWKSKeys   = 100
	fetchTimeout  = 10 * time.Second
	defaultKeyTTL = time.Hour
	minKeyTTL     = time.Minute
	maxKeyTTL     = 24 * time.Hour
	// minRefetch is how often at most a token naming an unknown kid may
	// make Warden refetch an issuer's keys: rotation at the issuer works
	// without restart, and a flood of made-up kids costs one fetch.
	minRefetch = 30 * time.Second
	minRSABits = 2048
)

var errNoKey = errors.New("identity: no key of the issuer verifies this token")

// keySource fetches and caches one issuer's signing keys (its JWKS), found
// through OpenID Connect discovery unless the URL is configured.
type keySource struct {
	issuer  string
	jwksURL string // configured; "" means discover
	client  *http.Client

	fetchMu sync.Mutex // one fetch at a time; waiters re-check the cache

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	loaded  bool
	expires time.Time
	lastTry time.Time
}

// candidates returns the cached keys that may verify a token signed with
// alg under kid ("" matches every key of the right type).
func (s *keySource) candidates(kid, alg string) ([]jose.JSONWebKey, bool, time.Time, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []jose.JSONWebKey
	for _, k := range s.keys {
		if (kid == "" || k.KeyID == kid) && keyFits(k, alg) {
			out = append(out, k)
		}
	}
	return out, s.loaded, s.expires, s.lastTry
}

// keysFor returns the keys that may verify a token, fetching the JWKS when
// none is cached, the cache expired, or kid is unknown (at most once per
// minRefetch). When a fetch fails, the keys fetched before stay in use.
func (s *keySource) keysFor(ctx context.Context, kid, alg string, now time.Time) ([]jose.JSONWebKey, error) {
	ks, loaded, expires, lastTry := s.candidates(kid, alg)
	if loaded && now.Before(expires) && len(ks) > 0 {
		return ks, nil
	}
	if loaded && now.Sub(lastTry) < minRefetch {
		if len(ks) == 0 {
			return nil, fmt.Errorf("%w (kid %q unknown; refetched %s ago)", errNoKey, kid, now.Sub(lastTry).Round(time.Second))
		}
		return ks, nil
	}
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	// Another request may have fetched while this one waited.
	ks, loaded, expires, lastTry = s.candidates(kid, alg)
	if loaded && now.Before(expires) && len(ks) > 0 {
		return ks, nil
	}
	if loaded && now.Sub(lastTry) < minRefetch {
		if len(ks) == 0 {
			return nil, fmt.Errorf("%w (kid %q unknown)", errNoKey, kid)
		}
		return ks, nil
	}
	s.mu.Lock()
	s.lastTry = now
	s.mu.Unlock()
	fetched, ttl, err := s.fetch(ctx)
	if err != nil {
		slog.Warn("identity: cannot fetch issuer keys; using cached ones", "issuer", s.issuer, "err", err)
		if len(ks) > 0 {
			return ks, nil
		}
		if !loaded {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errNoKey, err)
	}
	s.mu.Lock()
	s.keys, s.loaded, s.expires = fetched, true, now.Add(ttl)
	s.mu.Unlock()
	ks, _, _, _ = s.candidates(kid, alg)
	if len(ks) == 0 {
		return nil, fmt.Errorf("%w (kid %q, alg %s)", errNoKey, kid, alg)
	}
	return ks, nil
}

// fetch reads the JWKS, discovering its URL first if needed, and returns
// the usable signing keys and how long to cache them.
func (s *keySource) fetch(ctx context.Context) ([]jose.JSONWebKey, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	u := s.jwksURL
	if u == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if _, err := s.getJSON(ctx, strings.TrimSuffix(s.issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
			return nil, 0, fmt.Errorf("identity: discovery for %s: %w", s.issuer, err)
		}
		// OpenID Connect Discovery 1.0 section 4.3: the document must name
		// the issuer it was fetched for.
		if doc.Issuer != s.issuer {
			return nil, 0, fmt.Errorf("identity: discovery for %s names issuer %q", s.issuer, doc.Issuer)
		}
		if err := checkFetchURL(doc.JWKSURI); err != nil {
			return nil, 0, fmt.Errorf("identity: discovery for %s: jwks_uri: %w", s.issuer, err)
		}
		u = doc.JWKSURI
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	ttl, err := s.getJSON(ctx, u, &set)
	if err != nil {
		return nil, 0, fmt.Errorf("identity: keys of %s: %w", s.issuer, err)
	}
	if len(set.Keys) > maxJWKSKeys {
		return nil, 0, fmt.Errorf("identity: keys of %s: %d keys, more than %d", s.issuer, len(set.Keys), maxJWKSKeys)
	}
	var out []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue // RFC 7517 section 5: ignore keys we cannot use
		}
		if usable(k) {
			out = append(out, k.Public())
		}
	}
	if len(out) == 0 {
		return nil, 0, fmt.Errorf("identity: keys of %s: no usable signing key", s.issuer)
	}
	return out, ttl, nil
}

// getJSON GETs u into v, bounded in size and time, and returns how long
// the answer may be cached (Cache-Control max-age, clamped).
func (s *keySource) getJSON(ctx context.Context, u string, v any) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocBytes+1))
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(b) > maxDocBytes {
		return 0, fmt.Errorf("GET %s: answer larger than %d bytes", u, maxDocBytes)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return 0, fmt.Errorf("GET %s: %w", u, err)
	}
	return cacheTTL(resp.Header.Get("Cache-Control")), nil
}

func cacheTTL(cc string) time.Duration {
	for _, d := range strings.Split(cc, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(strings.ToLower(d)), "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return min(max(time.Duration(n)*time.Second, minKeyTTL), maxKeyTTL)
			}
		}
	}
	return defaultKeyTTL
}

// usable reports whether k is a public signing key of a kind and size
// Warden accepts.
func usable(k jose.JSONWebKey) bool {
	if !k.Valid() || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
		return false
	}
	switch pk := k.Key.(type) {
	case *rsa.PublicKey:
		return pk.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}

// keyFits reports whether k may verify a signature made with alg: the key
// type must be the algorithm's, and a key that names its algorithm must
// name this one (no key is ever used with an algorithm it was not made for).
func keyFits(k jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch k.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}

// checkFetchURL allows https, and plain http only to this machine
// (development and tests): keys fetched in clear from elsewhere could be
// swapped on the way.
func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if h == "localhost" {
			return nil
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%q: plain http is allowed only to localhost; use https", raw)
	}
	return fmt.Errorf("%q: scheme must be https", raw)
}
