package e2e

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/wardenhq/warden/internal/identity/identitytest"
	"github.com/wardenhq/warden/internal/testenv"
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
	is := identitytest.NewIssuer(t)
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
	jwtRS := is.Sign(t, "rsa-1", nil) // sub repo:acme/app:ref:refs/heads/main, aud warden
	jwtES := is.Sign(t, "ec-1", nil)
	for _, tok := range []string{jwtRS, jwtES} {
		if got, err := chat(client(w, tok), t, "mock-echo"); err != nil || got != "hello from a workload" {
			t.Fatalf("OIDC token through the SDK: %q %v\n%s", got, err, w.Log())
		}
	}
	if _, err := chat(client(w, jwtRS), t, "mock-lorem"); status(err) != 403 {
		t.Fatalf("model outside the policy: %v", err)
	}
	if _, err := chat(client(w, is.Sign(t, "rsa-1", map[string]any{"sub": "repo:acme/app", "aud": "someone-else"})), t, "mock-echo"); status(err) != 401 {
		t.Fatalf("wrong audience: %v", err)
	}
	if _, err := chat(client(w, is.Sign(t, "rsa-1", map[string]any{"sub": "repo:evil/app"})), t, "mock-echo"); status(err) != 401 {
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
func dpopMiddleware(t *testing.T, dk *identitytest.DPoPKey) option.Middleware {
	return func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		u := *r.URL
		u.RawQuery, u.Fragment = "", ""
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", dk.Proof(t, r.Method, u.String(), tok, time.Now()))
		return next(r)
	}
}

// TestKeylessTokenDPoP: a key is exchanged for a DPoP-bound token; the SDK
// proves possession on every request; revoking the key stops the token.
func TestKeylessTokenDPoP(t *testing.T) {
	w := startConfig(t, "identity:\n  tokens: {enabled: true, require_dpop: true}\n", "http")
	id, key := w.CreateKey("--name", "dpop-app")
	dk := identitytest.NewDPoPKey(t)
	if code, _ := exchange(t, http.DefaultClient, w.URL, key, nil); code != 400 {
		t.Fatalf("no proof under require_dpop: %d", code)
	}
	proof := dk.Proof(t, "POST", w.URL+"/v1/warden/token", "", time.Now())
	code, out := exchange(t, http.DefaultClient, w.URL, key, map[string]string{"DPoP": proof})
	tok, _ := out["access_token"].(string)
	if code != 200 || out["token_type"] != "DPoP" {
		t.Fatalf("exchange: %d %v", code, out)
	}
	c := client(w, tok, option.WithMiddleware(dpopMiddleware(t, dk)))
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
	ca := testenv.NewCA(t, "e2e CA")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	_, srvCert, srvKey := ca.Issue(t, true, "warden")
	pair, _, _ := ca.Issue(t, false, "batch", "spiffe://acme.org/ns/ml/sa/batch")
	events := filepath.Join(dir, "events.jsonl")
	w := startConfig(t, `
tls:
  cert_file: `+write("srv.pem", srvCert)+`
  key_file: `+write("srv.key", srvKey)+`
  client_ca_file: `+write("ca.pem", ca.PEM)+`
  client_auth: request
identity:
  mtls:
    clients:
      - match: {spiffe_id: "spiffe://acme.org/ns/ml/*"}
        key_spec: {name: ml-batch, models: [mock-echo, mock-lorem], rpm: 50}
`, "https", "--events", events)
	pool := ca.Pool()
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
