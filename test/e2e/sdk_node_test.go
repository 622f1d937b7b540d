package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestNodeSDK runs test/sdk/node (the official openai npm package) against
// a live Warden. scripts/test.sh installs the package; without it the test
// skips, except in CI, where it fails.
func TestNodeSDK(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "sdk", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the openai npm package is not installed in test/sdk/node (run: npm ci --prefix test/sdk/node)")
		}
		t.Skip("npm package openai not installed; run: npm ci --prefix test/sdk/node")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node not found")
		}
		t.Skip("node not found")
	}
	w := Start(t)
	_, key := w.CreateKey("--name", "node-sdk")
	_, narrow := w.CreateKey("--name", "node-narrow", "--models", "mock-echo", "--rpm", "3") // 3: the 403 of the errors test counts too (every request of an authenticated key is charged)
	cmd := exec.Command(node, "--test", "--test-reporter=spec", "sdk.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WARDEN_URL="+w.URL, "WARDEN_KEY="+key, "WARDEN_NARROW_KEY="+narrow)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test:\n%s", out)
	if err != nil {
		t.Fatalf("node SDK tests failed: %v", err)
	}
}
