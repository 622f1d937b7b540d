package source

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/wardenhq/warden/internal/scan"
)

func fuzzScanner(t testing.TB) *Scanner {
	e, err := scan.NewEngine(scan.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	return New(e, Options{MaxArchiveBytes: 4 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// FuzzDecoders feeds arbitrary bytes to the archive and notebook decoders
// as a file of each kind: no panic, no hang, bounded reads.
func FuzzDecoders(f *testing.F) {
	f.Add([]byte("PK\x03\x04garbage"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add(append(make([]byte, 257), []byte("ustar\x0000")...))
	f.Add([]byte(`{"cells":[{"source":["a\n","wdn_x"],"outputs":[{"text":"b","data":{"text/plain":["c"]}}]}]}`))
	s := fuzzScanner(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		budget := int64(4 << 20)
		for _, name := range []string{"x.bin", "x.ipynb"} {
			// Corrupt input may give an error (the walker logs and skips
			// it); it must not panic or hang.
			_ = s.stream(context.Background(), name, bytes.NewReader(data), 0, &budget, func(scan.Finding) {})
		}
		s.zip(context.Background(), "x.zip", bytes.NewReader(data), int64(len(data)), 1, &budget, func(scan.Finding) {})
	})
}

// FuzzDiff feeds arbitrary text to the git diff parser.
func FuzzDiff(f *testing.F) {
	f.Add([]byte("\x01abc\x1fA <a@b>\x1f2024-01-01T00:00:00Z\n\ndiff --git a/x b/x\n+++ b/x\n@@ -0,0 +1,2 @@\n+hello\n+wdn_\n"))
	f.Add([]byte("diff --git a/x b/x\n+++ \"b/sp ace\"\n@@ -1 +99999999999999999999 @@\n+x\n"))
	s := fuzzScanner(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := s.parseDiff(context.Background(), bytes.NewReader(data), func(fd scan.Finding) {
			if fd.Line < 1 {
				t.Fatalf("line %d", fd.Line)
			}
		}); err != nil {
			t.Fatal(err)
		}
	})
}
