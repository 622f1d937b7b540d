package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/test/wardentest"
)

// serve runs `warden serve` with the admin listener on adm (chosen by the
// caller, because the configuration names it) and waits until get(healthz)
// answers 200. It returns the data directory and the log.
func serve(t *testing.T, adm, healthz string, client *http.Client, args ...string) (string, *strings.Builder) {
	t.Helper()
	data := t.TempDir()
	cmd := exec.Command(wardentest.Binary(t), append([]string{"serve", "--data", data, "--listen", wardentest.FreePort(t), "--admin-listen", adm}, args...)...)
	log := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(healthz)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return data, log
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("warden did not start:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createKey(t *testing.T, data string) (id, secret string) {
	t.Helper()
	out, err := exec.Command(wardentest.Binary(t), "keys", "create", "--json", "--name", "billing-bot", "--data", data).Output()
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	var k struct{ ID, Key string }
	if err := json.Unmarshal(out, &k); err != nil || k.ID == "" {
		t.Fatalf("keys create printed %q", out)
	}
	return k.ID, k.Key
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts it.
func selfSigned(t *testing.T) (string, string, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "warden-admin"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	cert, keyFile := filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return cert, keyFile, pool
}

// TestAdminTLSAndMetricsToken: the admin listener serves HTTPS when
// configured, the console's cookie is then Secure, and /metrics can require
// the admin token; it shows key IDs but never a key's secret (issue 15.5).
func TestAdminTLSAndMetricsToken(t *testing.T) {
	cert, key, pool := selfSigned(t)
	adm := wardentest.FreePort(t)
	cfg := filepath.Join(t.TempDir(), "warden.yaml")
	os.WriteFile(cfg, []byte("operators:\n  metrics_token: true\n  tls: {cert_file: "+cert+", key_file: "+key+"}\n"), 0o600)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + adm
	data, log := serve(t, adm, base+"/healthz", client, "--config", cfg)
	if !strings.Contains(log.String(), "admin=https://") {
		t.Errorf("log does not say the admin listener is HTTPS:\n%s", log)
	}
	if resp, err := http.Get("http://" + adm + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("admin listener answers plain HTTP")
		}
	}
	id, secret := createKey(t, data)
	// The CLI reaches the server's data directly; a request with the key
	// puts it in the metrics. Find the API address from the log.
	api := strings.TrimSuffix(strings.SplitN(strings.SplitN(log.String(), "api=", 2)[1], " ", 2)[0], "\n")
	req, _ := http.NewRequest("POST", api+"/v1/chat/completions", strings.NewReader(`{"model":"mock-echo","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("chat with the key: %d", resp.StatusCode)
	}
	token, _ := os.ReadFile(filepath.Join(data, "admin.token"))
	tok := strings.TrimSpace(string(token))
	metrics := func(auth string) (int, string) {
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, auth := range []string{"", "Bearer wadm_wrong", tok} {
		if code, _ := metrics(auth); code != 401 {
			t.Errorf("/metrics with %q: %d, want 401", strings.Replace(auth, tok, "TOKEN", 1), code)
		}
	}
	code, body := metrics("Bearer " + tok)
	if code != 200 {
		t.Fatalf("/metrics with the token: %d", code)
	}
	if !strings.Contains(body, `key="`+id+`"`) {
		t.Errorf("/metrics lacks the key id label %s", id)
	}
	if strings.Contains(body, secret) || strings.Contains(body, secret[len(secret)-12:]) {
		t.Error("/metrics shows the key's secret")
	}
	// Sign-in over HTTPS sets a Secure cookie.
	resp, err = client.Post(base+"/console/session", "application/json", strings.NewReader(`{"token":"`+tok+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cs := resp.Cookies(); resp.StatusCode != 200 || len(cs) != 1 || !cs[0].Secure {
		t.Fatalf("sign-in over HTTPS: %d, cookies %v", resp.StatusCode, cs)
	}
}
