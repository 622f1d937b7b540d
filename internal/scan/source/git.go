package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/scan"
)

// maxDiffBuffer bounds the added lines of one file in one commit held at a
// time; a larger addition is scanned in pieces of this size.
const maxDiffBuffer = 8 << 20

// Git scans the history of the repository at dir: every commit reachable
// from any ref (all branches and tags), each file's lines as that commit
// added them. A secret added and deleted later is still found, at the commit
// that added it. Each secret is reported where it was introduced, not once
// per later commit. It runs the git command-line tool.
//
// Not covered: binary files and archives in history (git shows no text for
// them), and lines introduced only by a merge commit's conflict resolution.
func (s *Scanner) Git(ctx context.Context, dir string, emit func(scan.Finding)) error {
	return s.gitDiff(ctx, dir, emit, "log", "-p", "-U0", "--all", "--full-history", "--no-color",
		"--no-ext-diff", "--no-textconv", "--format=%x01%H%x1f%an <%ae>%x1f%aI")
}

// Staged scans what is staged for the next commit in the repository at dir:
// the lines the commit would add. It is what a pre-commit hook runs.
func (s *Scanner) Staged(ctx context.Context, dir string, emit func(scan.Finding)) error {
	return s.gitDiff(ctx, dir, emit, "diff", "--cached", "-U0", "--no-color", "--no-ext-diff", "--no-textconv")
}

func (s *Scanner) gitDiff(ctx context.Context, dir string, emit func(scan.Finding), args ...string) error {
	if dir == "" {
		dir = "."
	}
	full := append([]string{"-C", dir, "-c", "core.quotePath=false", "-c", "diff.renames=true"}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("source: git: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("source: git: %w", err)
	}
	perr := s.parseDiff(ctx, s.counting(out), s.serial(emit))
	if perr != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return perr
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("source: git %s in %s: %w: %s", args[0], dir, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// diffFile accumulates the added lines of one file in one commit.
type diffFile struct {
	loc   scan.Location
	text  []byte
	lines []int // file line number of each line of text
}

// parseDiff reads `git log -p -U0` or `git diff -U0` output and scans the
// added lines of each file.
func (s *Scanner) parseDiff(ctx context.Context, r io.Reader, emit func(scan.Finding)) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var (
		commit   scan.Location
		cur      diffFile
		inHeader bool
		skip     bool // deleted or binary file
		next     int  // file line number of the next added line
		long     []byte
	)
	flush := func() {
		if len(cur.text) > 0 {
			lines := cur.lines
			s.Engine.ScanText(cur.text, cur.loc, func(l int) int {
				if l-1 < len(lines) {
					return lines[l-1]
				}
				return l
			}, emit)
		}
		cur.text, cur.lines = cur.text[:0], cur.lines[:0]
	}
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it, bounded.
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				if len(long) < maxDiffBuffer {
					long = append(long, line...)
				}
			}
			line = long
		}
		if len(line) == 0 && err != nil {
			break
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		switch {
		case len(line) > 0 && line[0] == 0x01:
			flush()
			commit = parseCommitLine(string(line[1:]))
			inHeader, skip = false, true
		case bytes.HasPrefix(line, []byte("diff --git ")):
			flush()
			inHeader, skip = true, false
			cur.loc = commit
		case inHeader:
			switch {
			case bytes.HasPrefix(line, []byte("+++ ")):
				p := string(line[4:])
				if p == "/dev/null" {
					skip = true
					break
				}
				if strings.HasPrefix(p, "\"") {
					if u, err := strconv.Unquote(p); err == nil {
						p = u
					}
				}
				cur.loc.Path = strings.TrimPrefix(p, "b/")
			case bytes.HasPrefix(line, []byte("Binary files ")):
				skip = true
			case bytes.HasPrefix(line, []byte("@@ ")):
				inHeader = false
				next = hunkStart(line)
			}
		case skip:
		case bytes.HasPrefix(line, []byte("@@ ")):
			next = hunkStart(line)
		case len(line) > 0 && line[0] == '+':
			if len(cur.text)+len(line) > maxDiffBuffer {
				flush()
			}
			cur.text = append(cur.text, line[1:]...)
			cur.text = append(cur.text, '\n')
			cur.lines = append(cur.lines, next)
			next++
		}
		if err != nil {
			break
		}
	}
	flush()
	return nil
}

// parseCommitLine parses "hash \x1f author \x1f date".
func parseCommitLine(s string) scan.Location {
	parts := strings.SplitN(s, "\x1f", 3)
	loc := scan.Location{Commit: parts[0]}
	if len(parts) > 1 {
		loc.Author = parts[1]
	}
	if len(parts) > 2 {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(parts[2])); err == nil {
			loc.Date = &t
		}
	}
	return loc
}

// hunkStart returns c from "@@ -a,b +c,d @@".
func hunkStart(line []byte) int {
	i := bytes.Index(line, []byte(" +"))
	if i < 0 {
		return 1
	}
	rest := line[i+2:]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.Atoi(string(rest[:j]))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
