// Package wardentest runs real `warden serve` processes for end-to-end and
// multi-instance tests: it builds the binary once per test run, starts the
// server on ports the kernel picks, learns them from the server's own
// "warden serving" log line (written once both listeners accept
// connections: no polling, no port race) and stops it at the end.
package wardentest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

	ready   chan struct{} // closed when the addresses are known
	exited  chan struct{} // closed when the process has exited
	waitErr error         // the process's exit, set before exited is closed

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
// arguments configure TLS); the scheme the server reports is used.
func StartScheme(t testing.TB, scheme, data string, args ...string) *Server {
	t.Helper()
	s := &Server{Bin: Binary(t), Data: data, ready: make(chan struct{})}
	all := append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}, args...)
	s.Cmd = exec.Command(s.Bin, all...)
	s.Cmd.Stdout, s.Cmd.Stderr = s, s
	if err := s.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	exited := make(chan struct{})
	go func() { s.waitErr = s.Cmd.Wait(); close(exited) }()
	s.exited = exited
	select {
	case <-s.ready:
		if !strings.HasPrefix(s.URL, scheme+"://") {
			t.Fatalf("warden serves %s, want %s", s.URL, scheme)
		}
		return s
	case <-exited:
		t.Fatalf("warden exited before serving:\n%s", s.Log())
	case <-time.After(60 * time.Second): // a bound for a hung start, not a wait
		t.Fatalf("warden did not start serving:\n%s", s.Log())
	}
	return nil
}

// serving matches the line the server logs once both listeners are open,
// in text and JSON log formats.
var serving = regexp.MustCompile(`warden serving"?.*?"?api"?[=:]"?([a-z]+://[^\s"]+)"?.*?"?admin"?[=:]"?(https?://[^\s"]+)`)

// Write collects the server's output (it is the process's stdout and stderr).
func (s *Server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.log.Write(p)
	if s.URL == "" {
		if m := serving.FindSubmatch(s.log.Bytes()); m != nil {
			s.URL, s.AdminURL = string(m[1]), string(m[2])
			close(s.ready)
		}
	}
	return n, err
}

// Log returns what the server printed so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Wait waits until the process has exited and returns how it exited (as
// exec.Cmd.Wait does; the Server owns the one call to Cmd.Wait, so tests
// must not call it themselves).
func (s *Server) Wait() error {
	<-s.exited
	return s.waitErr
}

// Stop sends SIGTERM and waits, killing the process after 15 s.
func (s *Server) Stop() {
	if s.Cmd == nil || s.exited == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.Cmd.Process.Kill()
		<-s.exited
	}
}
