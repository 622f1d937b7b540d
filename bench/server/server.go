// Package server runs the real `warden serve` binary for the benchmark
// programs that measure it as an operator would deploy it: build it, find
// free ports, wait until it answers, and create a key through its admin API.
package server

import (
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Build builds ./cmd/warden (pure Go) into dir and returns the binary's
// path. Run it from the repository root.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "warden")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/warden")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building warden (run from the repository root): %v\n%s", err, out)
	}
	return bin, nil
}

// FreePort returns a loopback address with a port nothing listens on now.
func FreePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// WaitUp waits up to 30 s until every URL gives an HTTP answer (any status).
func WaitUp(urls ...string) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, u := range urls {
		for {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s did not come up: %w", u, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// AdminToken reads the admin token a `warden serve` wrote in its data
// directory.
func AdminToken(data string) (string, error) {
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(tok)), nil
}

// CreateKey makes a key with limits no benchmark reaches through the admin
// API at adminURL, as an operator would, and returns its secret.
func CreateKey(bin, token, adminURL string) (string, error) {
	cmd := exec.Command(bin, "keys", "create", "--json", "--name", "bench", "--rpm", "100000000", "--tpm", "100000000", "--admin-url", adminURL)
	cmd.Env = append(os.Environ(), "WARDEN_ADMIN_TOKEN="+token)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("keys create: %w", err)
	}
	var v struct{ Key string }
	if err := json.Unmarshal(out, &v); err != nil || v.Key == "" {
		return "", fmt.Errorf("keys create printed no key")
	}
	return v.Key, nil
}
