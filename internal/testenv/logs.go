package testenv

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
)

// Logs is what the default slog logger wrote during a test, for tests that
// check a secret never reaches a log line at any level.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// CaptureLogs sends the default logger's output, debug level included, to
// the returned Logs until the test ends. Tests that call it must not run
// in parallel: the default logger is process-wide.
func CaptureLogs(t testing.TB) *Logs {
	l := new(Logs)
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })
	return l
}

// Write implements io.Writer; loggers on several goroutines may call it.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
