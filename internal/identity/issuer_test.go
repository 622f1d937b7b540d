package identity

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
)

// testIssuer is a local OpenID Connect issuer: discovery, JWKS, and token
// signing with RS256 and ES256 keys it can rotate.
type testIssuer struct {
	*httptest.Server
	mu         sync.Mutex
	keys       []jose.JSONWebKey // private
	jwksFetch  atomic.Int32
	discovered atomic.Int32
	now        func() time.Time // clock of the tokens it signs
}

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	is := &testIssuer{now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		is.discovered.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"issuer": is.URL, "jwks_uri": is.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		is.jwksFetch.Add(1)
		is.mu.Lock()
		var set jose.JSONWebKeySet
		for _, k := range is.keys {
			set.Keys = append(set.Keys, k.Public())
		}
		is.mu.Unlock()
		w.Header().Set("Cache-Control", "public, max-age=3600")
		json.NewEncoder(w).Encode(set)
	})
	is.Server = httptest.NewServer(mux)
	t.Cleanup(is.Close)
	is.addKey(t, "rsa-1", jose.RS256)
	is.addKey(t, "ec-1", jose.ES256)
	return is
}

func (is *testIssuer) addKey(t testing.TB, kid string, alg jose.SignatureAlgorithm) {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	is.keys = append(is.keys, jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(alg), Use: "sig"})
	is.mu.Unlock()
}

// removeKey drops a key from the published set (rotation).
func (is *testIssuer) removeKey(kid string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	for i, k := range is.keys {
		if k.KeyID == kid {
			is.keys = append(is.keys[:i], is.keys[i+1:]...)
			return
		}
	}
}

// sign makes a token with the key kid; claims override the defaults.
func (is *testIssuer) sign(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	is.mu.Lock()
	var k jose.JSONWebKey
	for _, c := range is.keys {
		if c.KeyID == kid {
			k = c
		}
	}
	is.mu.Unlock()
	if k.Key == nil {
		t.Fatalf("no key %s", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	now := is.now()
	c := map[string]any{"iss": is.URL, "aud": "warden", "sub": "repo:acme/app:ref:refs/heads/main",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "repository": "acme/app"}
	for a, b := range claims {
		if b == nil {
			delete(c, a)
		} else {
			c[a] = b
		}
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// testStore is a real SQLite store with look-ups shaped as the gateway
// passes them.
type testStore struct {
	store.Store
}

func newTestStore(t testing.TB) *testStore {
	t.Helper()
	db := sqlitetest.Open(t)
	return &testStore{db}
}

func (s *testStore) byHash(ctx context.Context, h keys.Hash) (*keys.Key, error) {
	k, err := s.KeyByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return k, err
}

func (s *testStore) create(t testing.TB, spec keys.Spec) (*keys.Key, string) {
	t.Helper()
	k, sec, err := keys.Create(context.Background(), s, spec, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k, sec.Reveal()
}
