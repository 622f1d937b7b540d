// Package source feeds text to the scan engine from where secrets leak:
// files and directories (opening zip, tar and tar.gz archives and Jupyter
// notebooks), the whole history of a git repository, what is staged for the
// next commit, a website crawled within its origin, and standard input.
//
// # Targets
//
//	path/to/file-or-dir   every regular file below, git-ignored files included
//	                      (.env files hide there); .git directories are skipped
//	git:path/to/repo      every commit on every branch and tag, deleted files
//	                      included: the lines each commit added (git log -p)
//	https://host/page     a crawl of the same origin, see Web
//	-                     standard input
//
// Archive members and notebook cells are reported as outer!inner paths, e.g.
// release.tar.gz!app/.env or analysis.ipynb!cell[3].
//
// Every input is bounded: archives by total uncompressed bytes, entries and
// nesting depth; notebooks by size; web pages by size, count and time.
// Anything skipped is logged with its reason, never silently dropped.
package source

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wardenhq/warden/internal/scan"
)

// Options bound and instrument a Scanner. Zero values take the defaults.
type Options struct {
	Workers           int   // files scanned in parallel; default GOMAXPROCS
	MaxArchiveBytes   int64 // uncompressed bytes read from one archive; default 1 GiB
	MaxArchiveEntries int   // entries read from one archive; default 100,000
	MaxArchiveDepth   int   // archives inside archives; default 3
	MaxNotebookBytes  int64 // default 64 MiB
	Web               WebOptions

	// Progress, when not nil, is called (from many goroutines) with the
	// number of bytes just read.
	Progress func(n int64)
	// Logger receives skip reasons at debug and warn levels; nil means slog.Default().
	Logger *slog.Logger
}

// Scanner runs the engine over targets. Emit callbacks it is given are
// called one at a time, never concurrently.
type Scanner struct {
	Engine *scan.Engine
	Opts   Options

	mu sync.Mutex // serialises emit

	scanned atomic.Int64
}

// New returns a Scanner over e.
func New(e *scan.Engine, opts Options) *Scanner {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxArchiveBytes <= 0 {
		opts.MaxArchiveBytes = 1 << 30
	}
	if opts.MaxArchiveEntries <= 0 {
		opts.MaxArchiveEntries = 100_000
	}
	if opts.MaxArchiveDepth <= 0 {
		opts.MaxArchiveDepth = 3
	}
	if opts.MaxNotebookBytes <= 0 {
		opts.MaxNotebookBytes = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Web = opts.Web.withDefaults()
	return &Scanner{Engine: e, Opts: opts}
}

// Bytes returns how many bytes the scanner has read so far.
func (s *Scanner) Bytes() int64 { return s.scanned.Load() }

// Target scans one target, choosing the source by its syntax (see the
// package doc).
func (s *Scanner) Target(ctx context.Context, target string, emit func(scan.Finding)) error {
	switch {
	case target == "-":
		return s.Reader(ctx, "stdin", osStdin(), emit)
	case strings.HasPrefix(target, "git:"):
		return s.Git(ctx, strings.TrimPrefix(target, "git:"), emit)
	case strings.HasPrefix(target, "http://"), strings.HasPrefix(target, "https://"):
		return s.Web(ctx, target, emit)
	default:
		return s.Path(ctx, target, emit)
	}
}

// Collect runs Target for each target and returns all findings. It stops at
// the first error.
func (s *Scanner) Collect(ctx context.Context, targets ...string) ([]scan.Finding, error) {
	var out []scan.Finding
	for _, t := range targets {
		if err := s.Target(ctx, t, func(f scan.Finding) { out = append(out, f) }); err != nil {
			return out, err
		}
	}
	return out, nil
}

// Reader scans r as plain text named name.
func (s *Scanner) Reader(ctx context.Context, name string, r io.Reader, emit func(scan.Finding)) error {
	return s.Engine.Scan(ctx, s.counting(r), scan.Location{Path: name}, s.serial(emit))
}

func (s *Scanner) serial(emit func(scan.Finding)) func(scan.Finding) {
	return func(f scan.Finding) {
		s.mu.Lock()
		defer s.mu.Unlock()
		emit(f)
	}
}

// counting wraps r so reads feed Bytes and Progress.
func (s *Scanner) counting(r io.Reader) io.Reader { return &countReader{r: r, s: s} }

type countReader struct {
	r io.Reader
	s *Scanner
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.s.scanned.Add(int64(n))
		if c.s.Opts.Progress != nil {
			c.s.Opts.Progress(int64(n))
		}
	}
	return n, err
}

var errBudget = errors.New("source: archive exceeds its size budget")
