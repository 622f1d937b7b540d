package source

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/wardenhq/warden/internal/scan"
)

var osStdin = func() io.Reader { return os.Stdin }

// sniffLen bytes are peeked to tell archives and binaries from text.
const sniffLen = 8000

// maxNestedZip bounds a zip held in memory because it sits inside another
// archive (zip needs random access).
const maxNestedZip = 64 << 20

// Path scans a file or every regular file below a directory, in parallel.
// Symbolic links are not followed; .git directories are skipped (scan
// history with git:PATH). Files git ignores are scanned.
func (s *Scanner) Path(ctx context.Context, root string, emit func(scan.Finding)) error {
	info, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	emit = s.serial(emit)
	if !info.IsDir() {
		return s.file(ctx, root, emit)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	paths := make(chan string, 256)
	var wg sync.WaitGroup
	for range s.Opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range paths {
				if err := s.file(ctx, p, emit); err != nil {
					if ctx.Err() != nil {
						return
					}
					s.Opts.Logger.Warn("scan: skipping file", "path", p, "err", err)
				}
			}
		}()
	}
	walkErr := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			s.Opts.Logger.Warn("scan: cannot read", "path", p, "err", err)
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		select {
		case paths <- p:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(paths)
	wg.Wait()
	if walkErr != nil {
		return fmt.Errorf("source: walking %s: %w", root, walkErr)
	}
	return ctx.Err()
}

// file scans one file on disk.
func (s *Scanner) file(ctx context.Context, p string, emit func(scan.Finding)) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if n == 4 && string(head[:]) == "PK\x03\x04" {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		budget := s.Opts.MaxArchiveBytes
		return s.zip(ctx, p, f, st.Size(), 1, &budget, emit)
	}
	budget := s.Opts.MaxArchiveBytes
	return s.stream(ctx, p, f, 0, &budget, emit)
}

// stream scans r named name, opening it if it is an archive or a notebook.
// depth counts enclosing archives; budget is what the outermost archive may
// still decompress.
func (s *Scanner) stream(ctx context.Context, name string, r io.Reader, depth int, budget *int64, emit func(scan.Finding)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(sniffLen)
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		if depth >= s.Opts.MaxArchiveDepth {
			s.Opts.Logger.Warn("scan: archive nested too deep, skipped", "path", name)
			return nil
		}
		// zip needs random access: hold a nested zip in memory, bounded.
		b, err := io.ReadAll(io.LimitReader(br, maxNestedZip+1))
		if err != nil {
			return err
		}
		if len(b) > maxNestedZip {
			s.Opts.Logger.Warn("scan: nested zip larger than 64 MiB, skipped", "path", name)
			return nil
		}
		return s.zip(ctx, name, bytes.NewReader(b), int64(len(b)), depth+1, budget, emit)
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		if depth >= s.Opts.MaxArchiveDepth {
			s.Opts.Logger.Warn("scan: archive nested too deep, skipped", "path", name)
			return nil
		}
		zr, err := gzip.NewReader(br)
		if err != nil {
			s.Opts.Logger.Warn("scan: bad gzip, skipped", "path", name, "err", err)
			return nil
		}
		defer zr.Close()
		return s.stream(ctx, name, &budgetReader{r: zr, left: budget}, depth+1, budget, emit)
	case isTar(head):
		if depth >= s.Opts.MaxArchiveDepth {
			s.Opts.Logger.Warn("scan: archive nested too deep, skipped", "path", name)
			return nil
		}
		return s.tar(ctx, name, br, depth+1, budget, emit)
	case strings.HasSuffix(strings.ToLower(name), ".ipynb"):
		return s.notebook(ctx, name, br, emit)
	case bytes.IndexByte(head, 0) >= 0:
		s.Opts.Logger.Debug("scan: binary file skipped", "path", name)
		return nil
	}
	err := s.Engine.Scan(ctx, s.counting(br), scan.Location{Path: name}, emit)
	if errors.Is(err, errBudget) {
		s.Opts.Logger.Warn("scan: archive size budget exhausted, rest skipped", "path", name)
		return nil
	}
	return err
}

func isTar(head []byte) bool {
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

func (s *Scanner) tar(ctx context.Context, name string, r io.Reader, depth int, budget *int64, emit func(scan.Finding)) error {
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		if n >= s.Opts.MaxArchiveEntries {
			s.Opts.Logger.Warn("scan: archive has too many entries, rest skipped", "path", name)
			return nil
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			s.Opts.Logger.Warn("scan: bad tar, rest skipped", "path", name, "err", err)
			return nil
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		member := name + "!" + h.Name
		// A tar's bytes are already counted by whatever decompresses it.
		if err := s.stream(ctx, member, tr, depth, budget, emit); err != nil {
			if errors.Is(err, errBudget) {
				s.Opts.Logger.Warn("scan: archive size budget exhausted, rest skipped", "path", name)
				return nil
			}
			return err
		}
		if *budget <= 0 {
			s.Opts.Logger.Warn("scan: archive size budget exhausted, rest skipped", "path", name)
			return nil
		}
	}
}

func (s *Scanner) zip(ctx context.Context, name string, ra io.ReaderAt, size int64, depth int, budget *int64, emit func(scan.Finding)) error {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		s.Opts.Logger.Warn("scan: bad zip, skipped", "path", name, "err", err)
		return nil
	}
	for i, zf := range zr.File {
		if i >= s.Opts.MaxArchiveEntries {
			s.Opts.Logger.Warn("scan: archive has too many entries, rest skipped", "path", name)
			return nil
		}
		if zf.FileInfo().IsDir() || !zf.Mode().IsRegular() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rc, err := zf.Open()
		if err != nil {
			s.Opts.Logger.Warn("scan: bad zip member, skipped", "path", name+"!"+zf.Name, "err", err)
			continue
		}
		err = s.stream(ctx, name+"!"+zf.Name, &budgetReader{r: rc, left: budget}, depth, budget, emit)
		rc.Close()
		if errors.Is(err, errBudget) || *budget <= 0 {
			s.Opts.Logger.Warn("scan: archive size budget exhausted, rest skipped", "path", name)
			return nil
		}
		if err != nil {
			s.Opts.Logger.Warn("scan: zip member unreadable, skipped", "path", name+"!"+zf.Name, "err", err)
		}
	}
	return nil
}

// budgetReader stops with errBudget once the archive's shared budget of
// decompressed bytes is spent: the defence against zip bombs.
type budgetReader struct {
	r    io.Reader
	left *int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if *b.left <= 0 {
		return 0, errBudget
	}
	if int64(len(p)) > *b.left {
		p = p[:*b.left]
	}
	n, err := b.r.Read(p)
	*b.left -= int64(n)
	return n, err
}
