package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/authn/authntest"
	"github.com/wardenhq/warden/test/wardentest"
)

// TestConsoleBrowser runs web/console/test (playwright-core driving headless
// Chromium) against a live Warden with simulated traffic: sign-in, finding
// the stolen key, suspending it, the live stream, incidents and evidence.
// It needs the console built into the binary (web/console/build.sh), the
// npm packages of web/console and /usr/bin/chromium; without them it skips,
// except in CI, where it fails. Screenshots land in test/console/artifacts.
func TestConsoleBrowser(t *testing.T) {
	root, web := consoleDirs()
	_, err := os.Stat(filepath.Join(root, "internal", "console", "dist", "index.html"))
	need(t, err == nil, "console not built; run web/console/build.sh")
	chromium, node := browserTools(t, web)

	cfg := filepath.Join(t.TempDir(), "warden.yaml")
	if err := os.WriteFile(cfg, []byte(`trusted_proxies: [127.0.0.1/32]
prices:
  mock-lorem: {input_per_1k: 0.5, output_per_1k: 1.5}
  mock-echo: {input_per_1k: 0.01, output_per_1k: 0.03}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	w := Start(t, "--config", cfg)
	stolenID, stolen := w.CreateKey("--name", "billing-bot", "--owner", "acme-billing", "--budget", "25")
	var others, otherIDs []string
	for _, name := range []string{"support-chat", "search-indexer", "marketing-images"} {
		id, k := w.CreateKey("--name", name, "--owner", "acme-"+strings.Split(name, "-")[0])
		others, otherIDs = append(others, k), append(otherIDs, id)
	}
	// A fifth key leaks into a file; the scanner finds and revokes it.
	_, leaked := w.CreateKey("--name", "ci-deploy", "--owner", "acme-ci")
	leakFile := filepath.Join(t.TempDir(), "deploy.env")
	if err := os.WriteFile(leakFile, []byte("OPENAI_API_KEY="+leaked+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := w.CLI("scan", leakFile, "--revoke"); err != nil && !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("scan --revoke: %v\n%s", err, out)
	}
	token, err := os.ReadFile(filepath.Join(w.Data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	artifacts := filepath.Join(root, "test", "console", "artifacts")
	cmd := exec.Command(node, "--test", "--test-reporter=spec", "--test-concurrency=1", "test/console.test.mjs")
	cmd.Dir = web
	cmd.Env = append(os.Environ(),
		"WARDEN_URL="+w.URL, "WARDEN_ADMIN_URL="+w.AdminURL, "WARDEN_ADMIN_TOKEN="+strings.TrimSpace(string(token)),
		"STOLEN_KEY_ID="+stolenID, "STOLEN_KEY="+stolen, "OTHER_KEYS="+strings.Join(others, ","), "OTHER_KEY_IDS="+strings.Join(otherIDs, ","),
		"CONSOLE_ARTIFACTS="+artifacts, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test (screenshots in %s):\n%s", artifacts, out)
	if err != nil {
		t.Fatalf("console browser tests failed: %v\nwarden log:\n%s", err, w.Log())
	}
}

// TestConsoleSSOBrowser signs in through a local OpenID Connect provider
// (internal/authn/authntest) in headless Chromium: a viewer cannot revoke
// (no button, and the API answers 403), a responder suspends a key, and the
// audit log's entry of the suspension names the responder
// (web/console/test/sso.test.mjs). Same prerequisites as TestConsoleBrowser.
func TestConsoleSSOBrowser(t *testing.T) {
	root, web := consoleDirs()
	chromium, node := browserTools(t, web)

	is, err := authntest.Start("warden", "client-s3cret",
		authntest.Person{Subject: "u-vera", Email: "vera@example.com", Name: "Vera Viewer", Groups: []string{"helpdesk"}},
		authntest.Person{Subject: "u-rick", Email: "rick@example.com", Name: "Rick Responder", Groups: []string{"secops"}})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	// The redirect URL names the admin listener, so this test picks its
	// port instead of wardentest.
	adm := wardentest.FreePort(t)
	cfg := filepath.Join(t.TempDir(), "warden.yaml")
	if err := os.WriteFile(cfg, []byte(`operators:
  oidc:
    issuer: `+is.URL+`
    client_id: warden
    client_secret: client-s3cret
    redirect_url: http://`+adm+`/console/oidc/callback
  roles:
    viewer: [helpdesk]
    responder: [secops]
    admin: [platform]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	adminURL := "http://" + adm
	w := serveAt(t, adm, "--config", cfg)
	keyID, _ := w.CreateKey("--name", "billing-bot")
	token, err := os.ReadFile(filepath.Join(w.Data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(node, "--test", "--test-reporter=spec", "--test-concurrency=1", "test/sso.test.mjs")
	c.Dir = web
	c.Env = append(os.Environ(), "WARDEN_ADMIN_URL="+adminURL, "OIDC_ISSUER="+is.URL, "KEY_ID="+keyID,
		"WARDEN_ADMIN_TOKEN="+strings.TrimSpace(string(token)), "CHROMIUM="+chromium,
		"CONSOLE_ARTIFACTS="+filepath.Join(root, "test", "console", "artifacts"))
	o, err := c.CombinedOutput()
	t.Logf("node --test:\n%s", o)
	if err != nil {
		t.Fatalf("SSO browser test failed: %v\nwarden log:\n%s", err, w.Log())
	}
}

// consoleDirs returns the repository root and web/console.
func consoleDirs() (root, web string) {
	_, file, _, _ := runtime.Caller(0)
	root = filepath.Join(filepath.Dir(file), "..", "..")
	return root, filepath.Join(root, "web", "console")
}

// need skips the test when a prerequisite is missing, except in CI, where
// it fails.
func need(t *testing.T, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// browserTools returns chromium and node, after checking that the console's
// browser driver is installed under web.
func browserTools(t *testing.T, web string) (chromium, node string) {
	t.Helper()
	_, err := os.Stat(filepath.Join(web, "node_modules", "playwright-core"))
	need(t, err == nil, "playwright-core not installed; run npm ci --prefix web/console")
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	_, err = os.Stat(chromium)
	need(t, err == nil, "chromium not installed; run apt-get install -y chromium")
	node, err = exec.LookPath("node")
	need(t, err == nil, "node not found")
	return chromium, node
}
