package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/wardenhq/warden/test/wardentest"
)

// startConfig runs warden serve with a config file. It waits on the admin
// listener's health check, which stays plain HTTP when the API uses TLS.
func startConfig(t *testing.T, cfg string, scheme string, args ...string) *Warden {
	t.Helper()
	path := filepath.Join(t.TempDir(), "warden.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := wardentest.StartScheme(t, scheme, t.TempDir(), append([]string{"--config", path}, args...)...)
	return &Warden{Server: s, t: t, cmd: s.Cmd}
}

// oidcIssuer is a local OpenID Connect issuer: discovery and JWKS over
// HTTP on loopback, tokens signed with RS256 or ES256.
type oidcIssuer struct {
	*httptest.Server
	rsa, ec jose.JSONWebKey
}

func newOIDCIssuer(t *testing.T) *oidcIssuer {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is := &oidcIssuer{rsa: jose.JSONWebKey{Key: rk, KeyID: "r1", Algorithm: "RS256", Use: "sig"},
		ec: jose.JSONWebKey{Key: ek, KeyID: "e1", Algorithm: "ES256", Use: "sig"}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": is.URL, "jwks_uri": is.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{is.rsa.Public(), is.ec.Public()}})
	})
	is.Server = httptest.NewServer(mux)
	t.Cleanup(is.Close)
	return is
}

func (is *oidcIssuer) token(t *testing.T, k jose.JSONWebKey, sub, aud string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.KeyID))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(s).Claims(map[string]any{"iss": is.URL, "aud": aud, "sub": sub, "repository": "acme/app",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func chat(c openai.Client, t *testing.T, model string) (string, error) {
	resp, err := c.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{Model: model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello from a workload")}})
	if err != nil {
		return "", err
	}
	return resp.Choices[0].Message.Content, nil
}

func status(err error) int {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	return 0
}

// exchange calls POST /v1/warden/token with a credential and extra headers.
func exchange(t *testing.T, hc *http.Client, base, cred string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/warden/token", nil)
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestKeylessOIDC: a workload with only an identity token from its
// platform (here a local issuer) uses Warden through the official SDK;
// exchanges it for a short-lived token; a replay of that token from
// another network is refused.
func TestKeylessOIDC(t *testing.T) {
	is := newOIDCIssuer(t)
	w := startConfig(t, `
trusted_proxies: [127.0.0.1/32]
identity:
  oidc:
    issuers:
      - issuer: `+is.URL+`
        audience: warden
        policies:
          - match: {sub: "repo:acme/*", repository: acme/app}
            key_spec: {name: ci, owner: team-ci, models: [mock-echo], rpm: 100}
  tokens:
    enabled: true
    ttl: 5m
`, "http")
	jwtRS := is.token(t, is.rsa, "repo:acme/app:ref:refs/heads/main", "warden")
	jwtES := is.token(t, is.ec, "repo:acme/app:ref:refs/heads/main", "warden")
	for _, tok := range []string{jwtRS, jwtES} {
		if got, err := chat(client(w, tok), t, "mock-echo"); err != nil || got != "hello from a workload" {
			t.Fatalf("OIDC token through the SDK: %q %v\n%s", got, err, w.Log())
		}
	}
	if _, err := chat(client(w, jwtRS), t, "mock-lorem"); status(err) != 403 {
		t.Fatalf("model outside the policy: %v", err)
	}
	if _, err := chat(client(w, is.token(t, is.rsa, "repo:acme/app", "someone-else")), t, "mock-echo"); status(err) != 401 {
		t.Fatalf("wrong audience: %v", err)
	}
	if _, err := chat(client(w, is.token(t, is.rsa, "repo:evil/app", "warden")), t, "mock-echo"); status(err) != 401 {
		t.Fatalf("no policy: %v", err)
	}

	// Exchange the identity for a short-lived token, bound to 127.0.0.1.
	code, out := exchange(t, http.DefaultClient, w.URL, jwtES, nil)
	tok, _ := out["access_token"].(string)
	if code != 200 || out["token_type"] != "Bearer" || !strings.HasPrefix(tok, "wdt_") || out["expires_in"].(float64) != 300 {
		t.Fatalf("exchange: %d %v", code, out)
	}
	if _, err := chat(client(w, tok), t, "mock-echo"); err != nil {
		t.Fatalf("short-lived token: %v", err)
	}
	// The same token replayed from another network (as the trusted proxy
	// reports it) is refused.
	if _, err := chat(client(w, tok, option.WithHeader("X-Forwarded-For", "203.0.113.9")), t, "mock-echo"); status(err) != 401 {
		t.Fatalf("replay from another network: %v", err)
	}
	if _, err := chat(client(w, tok, option.WithHeader("X-Forwarded-For", "127.0.0.1")), t, "mock-echo"); err != nil {
		t.Fatalf("same network through the proxy: %v", err)
	}
}

// dpopMiddleware signs a DPoP proof for every request and sends the
// token in the DPoP scheme, as RFC 9449 asks.
func dpopMiddleware(t *testing.T, signer jose.Signer) option.Middleware {
	return func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(tok))
		var jti [8]byte
		rand.Read(jti[:])
		u := *r.URL
		u.RawQuery, u.Fragment = "", ""
		proof, err := jwt.Signed(signer).Claims(map[string]any{"jti": hex.EncodeToString(jti[:]), "htm": r.Method,
			"htu": u.String(), "iat": time.Now().Unix(), "ath": base64.RawURLEncoding.EncodeToString(sum[:])}).Serialize()
		if err != nil {
			return nil, err
		}
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", proof)
		return next(r)
	}
}

// TestKeylessTokenDPoP: a key is exchanged for a DPoP-bound token; the SDK
// proves possession on every request; revoking the key stops the token.
func TestKeylessTokenDPoP(t *testing.T) {
	w := startConfig(t, "identity:\n  tokens: {enabled: true, require_dpop: true}\n", "http")
	id, key := w.CreateKey("--name", "dpop-app")
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := exchange(t, http.DefaultClient, w.URL, key, nil); code != 400 {
		t.Fatalf("no proof under require_dpop: %d", code)
	}
	proof, _ := jwt.Signed(signer).Claims(map[string]any{"jti": "x1", "htm": "POST", "htu": w.URL + "/v1/warden/token", "iat": time.Now().Unix()}).Serialize()
	code, out := exchange(t, http.DefaultClient, w.URL, key, map[string]string{"DPoP": proof})
	tok, _ := out["access_token"].(string)
	if code != 200 || out["token_type"] != "DPoP" {
		t.Fatalf("exchange: %d %v", code, out)
	}
	c := client(w, tok, option.WithMiddleware(dpopMiddleware(t, signer)))
	for i := 0; i < 3; i++ {
		if _, err := chat(c, t, "mock-echo"); err != nil {
			t.Fatalf("DPoP request %d: %v\n%s", i, err, w.Log())
		}
	}
	// Copied without the private key, the token is useless.
	if _, err := chat(client(w, tok), t, "mock-echo"); status(err) != 401 {
		t.Fatalf("bound token as bearer: %v", err)
	}
	if _, err := w.CLI("keys", "revoke", id, "--reason", "test"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, err := chat(c, t, "mock-echo")
		if status(err) == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token of a revoked key still works: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKeylessMTLS: a client with only a certificate uses Warden over TLS
// through the SDK; header order is still captured under TLS.
func TestKeylessMTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, caPEM := newCA(t)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	srvCert, srvKey := leaf(t, ca, caKey, true, "warden")
	cliCert, cliKey := leaf(t, ca, caKey, false, "batch", "spiffe://acme.org/ns/ml/sa/batch")
	events := filepath.Join(dir, "events.jsonl")
	w := startConfig(t, `
tls:
  cert_file: `+write("srv.pem", srvCert)+`
  key_file: `+write("srv.key", srvKey)+`
  client_ca_file: `+write("ca.pem", caPEM)+`
  client_auth: request
identity:
  mtls:
    clients:
      - match: {spiffe_id: "spiffe://acme.org/ns/ml/*"}
        key_spec: {name: ml-batch, models: [mock-echo, mock-lorem], rpm: 50}
`, "https", "--events", events)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	pair, _ := tls.X509KeyPair(cliCert, cliKey)
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	c := client(w, "", option.WithHTTPClient(withCert))
	if got, err := chat(c, t, "mock-echo"); err != nil || got != "hello from a workload" {
		t.Fatalf("client certificate through the SDK: %q %+v\n%s", got, err, w.Log())
	}
	s := c.Chat.Completions.NewStreaming(ctx(t), openai.ChatCompletionNewParams{Model: "mock-echo",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("one two three")}})
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil || acc.Choices[0].Message.Content != "one two three" {
		t.Fatalf("stream over mTLS: %v", err)
	}
	if _, err := chat(client(w, "", option.WithHTTPClient(noCert)), t, "mock-echo"); status(err) != 401 {
		t.Fatalf("no certificate, no key: %v", err)
	}
	// A Warden key still works over TLS without a certificate.
	_, key := w.CreateKey("--name", "tls-key")
	if _, err := chat(client(w, key, option.WithHTTPClient(noCert)), t, "mock-echo"); err != nil {
		t.Fatalf("key over TLS: %v", err)
	}
	w.Stop()
	b, _ := os.ReadFile(events)
	var sawIdentity, sawOrder bool
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev struct {
			KeyID  string `json:"key_id"`
			Client struct {
				HeaderNames []string `json:"header_names"`
			} `json:"client"`
		}
		json.Unmarshal([]byte(line), &ev)
		if ev.KeyID == "mtls:ml-batch#spiffe://acme.org/ns/ml/sa/batch" {
			sawIdentity = true
			// Arrival order, not sorted: the SDK sends host first.
			if n := ev.Client.HeaderNames; len(n) > 2 && n[0] == "host" {
				sawOrder = true
			}
		}
	}
	if !sawIdentity || !sawOrder {
		t.Fatalf("events: identity %v, header order %v\n%s", sawIdentity, sawOrder, b)
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return ca, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, server bool, cn string, uris ...string) ([]byte, []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	if server {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, u := range uris {
		pu, _ := url.Parse(u)
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}
