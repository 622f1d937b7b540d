package scan_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/fakes"
)

// BenchmarkScan measures the engine alone on Go source text with one secret
// per MB (bench/scan measures the whole file pipeline).
func BenchmarkScan(b *testing.B) {
	var corpus []byte
	filepath.WalkDir(filepath.Join(runtime.GOROOT(), "src", "net"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") && len(corpus) < 8<<20 {
			x, _ := os.ReadFile(p)
			corpus = append(corpus, x...)
		}
		return nil
	})
	pos := fakes.New(1).Positives()
	var buf bytes.Buffer
	for i := 0; i < len(corpus); i += 1 << 20 {
		buf.Write(corpus[i:min(i+1<<20, len(corpus))])
		buf.WriteString(pos[(i>>20)%len(pos)].Text)
	}
	data := buf.Bytes()
	e := newEngine(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		e.Scan(context.Background(), bytes.NewReader(data), scan.Location{}, func(scan.Finding) {})
	}
}

// BenchmarkDenseCandidates measures the worst case of evidence scoring: a
// MB of lines that each hold a 32-hex value under a neutral name next to
// api_key, so every candidate is weighed and none is settled by its name.
// The chunk memo keeps it linear (it was quadratic: 27 s per MB).
func BenchmarkDenseCandidates(b *testing.B) {
	g := fakes.New(5)
	var buf bytes.Buffer
	for buf.Len() < 1<<20 {
		buf.WriteString("user " + g.Hex(32) + " api_key scope=read\n")
	}
	data := buf.Bytes()
	e := newEngine(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		e.ScanText(data, scan.Location{}, nil, func(scan.Finding) {})
	}
}
