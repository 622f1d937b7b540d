// Package identitytest provides what the tests of workload identity need
// from the other side: a local OpenID Connect issuer that signs tokens, and
// a client's DPoP key that signs proofs. Package identity's tests and the
// end-to-end tests share them instead of each writing its own.
package identitytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer is a local OpenID Connect issuer on loopback: discovery, a JWKS
// of its public keys, and tokens signed with RS256 and ES256 keys it can
// rotate.
type Issuer struct {
	*httptest.Server
	// Now is the clock of the tokens Sign makes; set it before signing.
	Now func() time.Time
	// JWKSFetches counts the requests for the key set.
	JWKSFetches atomic.Int32

	mu   sync.Mutex
	keys []jose.JSONWebKey // private
}

// NewIssuer starts an issuer with an RS256 key "rsa-1" and an ES256 key
// "ec-1", closed when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	is := &Issuer{Now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": is.URL, "jwks_uri": is.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		is.JWKSFetches.Add(1)
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
	is.AddKey(t, "rsa-1", jose.RS256)
	is.AddKey(t, "ec-1", jose.ES256)
	return is
}

// AddKey generates a key for alg (RS256 or ES256) and publishes it as kid.
func (is *Issuer) AddKey(t testing.TB, kid string, alg jose.SignatureAlgorithm) {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("identitytest: no key type for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	is.keys = append(is.keys, jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(alg), Use: "sig"})
	is.mu.Unlock()
}

// RemoveKey drops a key from the published set (rotation).
func (is *Issuer) RemoveKey(kid string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	for i, k := range is.keys {
		if k.KeyID == kid {
			is.keys = append(is.keys[:i], is.keys[i+1:]...)
			return
		}
	}
}

// Sign makes a token with the key kid. Its claims are iss (the issuer),
// aud "warden", the GitHub Actions sub and repository of acme/app's main
// branch, and iat, nbf and exp for five minutes from Now; claims override
// them, and a nil value leaves one out.
func (is *Issuer) Sign(t testing.TB, kid string, claims map[string]any) string {
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
		t.Fatalf("identitytest: no key %s", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	now := is.Now()
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

// DPoPKey is a client's proof-of-possession key (RFC 9449), ES256.
type DPoPKey struct {
	signer jose.Signer
}

// NewDPoPKey generates a DPoP key.
func NewDPoPKey(t testing.TB) *DPoPKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	return &DPoPKey{signer: s}
}

// Proof is a DPoP proof, with a fresh jti, for a request of method to htu
// made at iat; unless token is empty it is bound to that access token
// (its ath claim).
func (d *DPoPKey) Proof(t testing.TB, method, htu, token string, iat time.Time) string {
	t.Helper()
	var jti [8]byte
	rand.Read(jti[:])
	c := map[string]any{"jti": hex.EncodeToString(jti[:]), "htm": method, "htu": htu, "iat": iat.Unix()}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	s, err := jwt.Signed(d.signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
