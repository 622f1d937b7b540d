package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/authn/authntest"
	"github.com/wardenhq/warden/internal/testenv"
	"github.com/wardenhq/warden/test/wardentest"
)

// serveAt is Start with the admin listener on adm, chosen by the caller
// because the configuration names it.
func serveAt(t *testing.T, adm string, args ...string) *Warden {
	t.Helper()
	return Start(t, append([]string{"--admin-listen", adm}, args...)...)
}

// serverCert writes a certificate for 127.0.0.1, issued by a fresh CA, and
// its key, and returns their paths and a pool that trusts the CA.
func serverCert(t *testing.T) (string, string, *x509.CertPool) {
	t.Helper()
	ca := testenv.NewCA(t, "e2e CA")
	_, certPEM, keyPEM := ca.Issue(t, true, "warden-admin")
	dir := t.TempDir()
	cert, keyFile := filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key")
	os.WriteFile(cert, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	return cert, keyFile, ca.Pool()
}

// TestAdminTLSAndMetricsToken: the admin listener serves HTTPS when
// configured, the console's cookie is then Secure, and /metrics can require
// the admin token; it shows key IDs but never a key's secret (issue 15.5).
func TestAdminTLSAndMetricsToken(t *testing.T) {
	cert, key, pool := serverCert(t)
	adm := wardentest.FreePort(t)
	cfg := filepath.Join(t.TempDir(), "warden.yaml")
	os.WriteFile(cfg, []byte("operators:\n  metrics_token: true\n  tls: {cert_file: "+cert+", key_file: "+key+"}\n"), 0o600)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + adm
	w := serveAt(t, adm, "--config", cfg)
	if !strings.Contains(w.Log(), "admin=https://") {
		t.Errorf("log does not say the admin listener is HTTPS:\n%s", w.Log())
	}
	if resp, err := http.Get("http://" + adm + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("admin listener answers plain HTTP")
		}
	}
	id, secret := w.CreateKey("--name", "billing-bot")
	// The CLI reaches the server's data directly; a request with the key
	// puts it in the metrics.
	req, _ := http.NewRequest("POST", w.URL+"/v1/chat/completions", strings.NewReader(`{"model":"mock-echo","messages":[{"role":"user","content":"hi"}]}`))
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
	token, _ := os.ReadFile(filepath.Join(w.Data, "admin.token"))
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

// TestCLILoginDeviceFlow: `warden login` signs a person in with the device
// flow of a local OIDC provider, saves their ID token (0600), and the CLI
// then acts as them: a responder suspends a key (named in the key and the
// audit log) and cannot revoke it.
func TestCLILoginDeviceFlow(t *testing.T) {
	rick := authntest.Person{Subject: "u-rick", Email: "rick@example.com", Name: "Rick Responder", Groups: []string{"secops"}}
	is, err := authntest.Start("warden", "client-s3cret", rick)
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	adm := wardentest.FreePort(t)
	cfg := filepath.Join(t.TempDir(), "warden.yaml")
	os.WriteFile(cfg, []byte(`operators:
  oidc:
    issuer: `+is.URL+`
    client_id: warden
    client_secret: client-s3cret
    cli_client_id: `+authntest.CLIClientID+`
    redirect_url: http://`+adm+`/console/oidc/callback
  roles:
    responder: [secops]
`), 0o600)
	base := "http://" + adm
	w := serveAt(t, adm, "--config", cfg)
	id, _ := w.CreateKey("--name", "billing-bot")

	creds := filepath.Join(t.TempDir(), "credentials.json")
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "WARDEN_ADMIN_TOKEN=") && !strings.HasPrefix(e, "WARDEN_ADMIN_URL=") {
			env = append(env, e)
		}
	}
	env = append(env, "WARDEN_CREDENTIALS="+creds)
	login := exec.Command(wardentest.Binary(t), "login", "--admin-url", base)
	login.Env = env
	stdout, _ := login.StdoutPipe()
	var stderr strings.Builder
	login.Stderr = &stderr
	if err := login.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := stdout.Read(buf)
	m := regexp.MustCompile(`enter the code (\S+)`).FindStringSubmatch(string(buf[:n]))
	if m == nil {
		login.Process.Kill()
		t.Fatalf("warden login printed %q (%s)", buf[:n], stderr.String())
	}
	if err := is.Approve(m[1], rick.Subject); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	if err := login.Wait(); err != nil {
		t.Fatalf("warden login: %v\n%s%s", err, rest, stderr.String())
	}
	if st, err := os.Stat(creds); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", st, err)
	}
	cli := func(args ...string) (string, error) {
		c := exec.Command(wardentest.Binary(t), append(args, "--admin-url", base)...)
		c.Env = env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	if out, err := cli("keys", "suspend", id, "--reason", "laptop lost"); err != nil {
		t.Fatalf("suspend as the signed-in responder: %v\n%s", err, out)
	}
	if out, err := cli("keys", "revoke", id, "--reason", "x"); err == nil || !strings.Contains(out, "admin role") {
		t.Fatalf("revoke as a responder: %v\n%s", err, out)
	}
	token, _ := os.ReadFile(filepath.Join(w.Data, "admin.token"))
	req, _ := http.NewRequest("GET", base+"/admin/v1/audit/entries?key="+id, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	var entries []struct {
		Event struct {
			Path   string
			Status int
			Actor  *struct{ Email, Role, Method string }
		}
	}
	for range 50 {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&entries)
		resp.Body.Close()
		if len(entries) >= 2 {
			break
		}
		time.Sleep(100 * time.Millisecond) // the log appends asynchronously
	}
	var ok bool
	for _, e := range entries {
		a := e.Event.Actor
		if strings.HasSuffix(e.Event.Path, "/suspend") && e.Event.Status == 200 && a != nil &&
			a.Email == rick.Email && a.Role == "responder" && a.Method == "bearer-oidc" {
			ok = true
		}
	}
	if !ok {
		t.Fatalf("no audit entry of the suspension by %s: %+v\n%s", rick.Email, entries, w.Log())
	}
}
