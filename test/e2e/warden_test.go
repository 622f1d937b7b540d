// Package e2e runs the real warden binary and drives it with the official
// OpenAI SDKs (the Go module here, the npm package from node_sdk_test.go),
// exactly as users would, with only the base URL changed.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/warden once per test run (CGO_ENABLED=0, as shipped).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "warden-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "warden")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/warden")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Warden is a running `warden serve`.
type Warden struct {
	t        *testing.T
	Bin      string
	Data     string
	URL      string // API base, e.g. http://127.0.0.1:PORT
	AdminURL string
	cmd      *exec.Cmd
	log      *bytes.Buffer
	mu       sync.Mutex
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start runs warden serve with extra arguments on fresh ports and data dir.
func Start(t *testing.T, args ...string) *Warden {
	t.Helper()
	w := &Warden{t: t, Bin: binary(t), Data: t.TempDir(), log: &bytes.Buffer{}}
	return w.start(args...)
}

func (w *Warden) start(args ...string) *Warden {
	t := w.t
	api, adm := freePort(t), freePort(t)
	w.URL, w.AdminURL = "http://"+api, "http://"+adm
	all := append([]string{"serve", "--data", w.Data, "--listen", api, "--admin-listen", adm}, args...)
	w.cmd = exec.Command(w.Bin, all...)
	w.cmd.Stdout = &lockedWriter{w: w.log, mu: &w.mu}
	w.cmd.Stderr = w.cmd.Stdout
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(w.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return w
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("warden did not become healthy:\n%s", w.Log())
	return nil
}

// Stop sends SIGTERM and waits.
func (w *Warden) Stop() {
	if w.cmd == nil || w.cmd.Process == nil || w.cmd.ProcessState != nil {
		return
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { w.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		w.cmd.Process.Kill()
		<-done
	}
}

// Log returns what the server printed so far.
func (w *Warden) Log() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.String()
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// CLI runs a warden command on the server's data dir and returns stdout.
func (w *Warden) CLI(args ...string) (string, error) {
	cmd := exec.Command(w.Bin, append(args, "--data", w.Data)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("warden %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// CreateKey makes a key with the CLI and returns its id and secret.
func (w *Warden) CreateKey(args ...string) (id, secret string) {
	w.t.Helper()
	out, err := w.CLI(append([]string{"keys", "create", "--json"}, args...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	var v struct{ ID, Key string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.ID == "" || v.Key == "" {
		w.t.Fatalf("keys create printed %q: %v", out, err)
	}
	return v.ID, v.Key
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}
