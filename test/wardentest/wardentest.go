// Package wardentest runs real `warden serve` processes for end-to-end and
// multi-instance tests: it builds the binary once per test run, picks free
// ports, waits until the server is healthy and stops it at the end.
package wardentest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

// Binary builds cmd/warden once per test binary (CGO_ENABLED=0, as
// shipped) and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "warden-test-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "warden")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/warden")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
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

// FreePort returns a loopback address with a port free at the time.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Server is one running `warden serve`.
type Server struct {
	Bin      string
	Data     string
	URL      string // API base, e.g. http://127.0.0.1:PORT
	AdminURL string
	Cmd      *exec.Cmd

	mu  sync.Mutex
	log bytes.Buffer
}

// Start runs `warden serve` on fresh ports with data dir data and extra
// arguments, waits until it is healthy, and stops it when the test ends.
func Start(t testing.TB, data string, args ...string) *Server {
	t.Helper()
	return StartScheme(t, "http", data, args...)
}

// StartScheme is Start for an API served over scheme (https when the
// arguments configure TLS). Health is checked on the admin listener, which
// is plain HTTP either way.
func StartScheme(t testing.TB, scheme, data string, args ...string) *Server {
	t.Helper()
	s := &Server{Bin: Binary(t), Data: data}
	api, adm := FreePort(t), FreePort(t)
	s.URL, s.AdminURL = scheme+"://"+api, "http://"+adm
	all := append([]string{"serve", "--data", data, "--listen", api, "--admin-listen", adm}, args...)
	s.Cmd = exec.Command(s.Bin, all...)
	s.Cmd.Stdout, s.Cmd.Stderr = s, s
	if err := s.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.AdminURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("warden did not become healthy:\n%s", s.Log())
	return nil
}

// Write collects the server's output (it is the process's stdout and stderr).
func (s *Server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Write(p)
}

// Log returns what the server printed so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Stop sends SIGTERM and waits, killing the process after 15 s.
func (s *Server) Stop() {
	if s.Cmd == nil || s.Cmd.Process == nil || s.Cmd.ProcessState != nil {
		return
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		s.Cmd.Process.Kill()
		<-done
	}
}
