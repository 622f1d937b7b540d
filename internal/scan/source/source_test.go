package source_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/fakes"
	"github.com/wardenhq/warden/internal/scan/source"
)

func newScanner(t *testing.T, opts source.Options) *source.Scanner {
	t.Helper()
	e, err := scan.NewEngine(scan.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	return source.New(e, opts)
}

const filler = "The quick brown fox jumps over the lazy dog; func main() { fmt.Println(x) } // comment\n"

// corpus joins samples and negatives with enough filler between them that
// no rule's context reaches from one to the next.
func corpus(texts []string) string {
	var b strings.Builder
	for _, t := range texts {
		b.WriteString(t)
		b.WriteString(strings.Repeat(filler, 12))
	}
	return b.String()
}

type key struct{ rule, fp string }

func wantSet(samples []fakes.Sample) []key {
	var out []key
	for _, s := range samples {
		out = append(out, key{s.RuleID, scan.Fingerprint(s.Secret)})
	}
	slices.SortFunc(out, func(a, b key) int { return strings.Compare(a.rule+a.fp, b.rule+b.fp) })
	return out
}

func gotSet(fs []scan.Finding) []key {
	var out []key
	for _, f := range fs {
		out = append(out, key{f.RuleID, f.Fingerprint})
	}
	slices.SortFunc(out, func(a, b key) int { return strings.Compare(a.rule+a.fp, b.rule+b.fp) })
	return out
}

func checkExact(t *testing.T, fs []scan.Finding, want []fakes.Sample) {
	t.Helper()
	got, w := gotSet(fs), wantSet(want)
	if !slices.Equal(got, w) {
		for _, f := range fs {
			t.Logf("found %s %s at %s", f.RuleID, f.Secret, f.Where())
		}
		t.Fatalf("found %d findings, want %d (recall must be 100%%, no false positives)", len(got), len(w))
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func zipOf(t *testing.T, files map[string][]byte) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zw.Close()
	return b.Bytes()
}

func tarOf(t *testing.T, files map[string][]byte) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, data := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	return b.Bytes()
}

func gz(data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

func notebook(t *testing.T, sourceText, outputText string) []byte {
	nb := map[string]any{
		"nbformat": 4, "nbformat_minor": 5, "metadata": map[string]any{},
		"cells": []any{
			map[string]any{"cell_type": "markdown", "source": []string{"# Analysis\n", "Nothing here.\n"}},
			map[string]any{"cell_type": "code", "source": strings.SplitAfter(sourceText, "\n"),
				"outputs": []any{map[string]any{"output_type": "stream", "name": "stdout", "text": []string{outputText}}}},
		},
	}
	b, err := json.MarshalIndent(nb, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCorpusFiles is the labelled corpus on disk: every positive in plain
// files, archives (zip, tar, tar.gz, nested) and notebooks; every negative
// beside them. Recall must be 100% and there must be no false positive.
func TestCorpusFiles(t *testing.T) {
	g := fakes.New(42)
	pos := g.Positives()
	neg := g.Negatives()
	dir := t.TempDir()

	var want []fakes.Sample
	var texts []string
	for _, p := range pos {
		texts = append(texts, p.Text)
	}
	texts = append(texts, neg...)
	write(t, filepath.Join(dir, "src", "mixed.py"), []byte(corpus(texts)))
	want = append(want, pos...)

	more := g.Positives()
	// A git-ignored .env file.
	write(t, filepath.Join(dir, ".gitignore"), []byte(".env\n"))
	write(t, filepath.Join(dir, ".env"), []byte(more[0].Text))
	want = append(want, more[0])
	// zip with a nested tar.gz.
	inner := gz(tarOf(t, map[string][]byte{"app/settings.py": []byte(corpus([]string{more[2].Text, neg[0]}))}))
	write(t, filepath.Join(dir, "dist", "bundle.zip"), zipOf(t, map[string][]byte{
		"config/.env":      []byte(more[1].Text),
		"vendor/inner.tgz": inner,
		"docs/readme.txt":  []byte(neg[1]),
	}))
	want = append(want, more[1], more[2])
	write(t, filepath.Join(dir, "release.tar.gz"), gz(tarOf(t, map[string][]byte{"srv/config.yaml": []byte(more[3].Text)})))
	want = append(want, more[3])
	write(t, filepath.Join(dir, "plain.tar"), tarOf(t, map[string][]byte{"x.js": []byte(more[4].Text)}))
	want = append(want, more[4])
	// A notebook: one key in a cell's source, one in its output.
	write(t, filepath.Join(dir, "nb", "analysis.ipynb"), notebook(t, "import os\n"+more[5].Text, "token is "+more[6].Text))
	want = append(want, more[5], more[6])
	// A binary file and a .git directory are skipped.
	write(t, filepath.Join(dir, "logo.png"), append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00"), []byte(more[7].Text)...))
	write(t, filepath.Join(dir, ".git", "config"), []byte(more[8].Text))

	s := newScanner(t, source.Options{})
	fs, err := s.Collect(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	checkExact(t, fs, want)

	paths := map[string]bool{}
	for _, f := range fs {
		paths[strings.TrimPrefix(f.Path, dir+string(filepath.Separator))] = true
	}
	for _, p := range []string{".env", "dist/bundle.zip!config/.env", "dist/bundle.zip!vendor/inner.tgz!app/settings.py", "release.tar.gz!srv/config.yaml", "plain.tar!x.js", "nb/analysis.ipynb!cell[1]", "nb/analysis.ipynb!cell[1].output[0]"} {
		if !paths[filepath.FromSlash(p)] && !paths[p] {
			t.Errorf("no finding reported at %s; got %v", p, paths)
		}
	}
}

func TestArchiveBudget(t *testing.T) {
	g := fakes.New(5)
	p := g.Positives()
	dir := t.TempDir()
	big := bytes.Repeat([]byte("aaaaaaaaaaaaaaa\n"), 1<<16) // 1 MiB of text
	write(t, filepath.Join(dir, "bomb.zip"), zipOf(t, map[string][]byte{"a.txt": big, "b.txt": big, "z.txt": []byte(p[0].Text)}))
	s := newScanner(t, source.Options{MaxArchiveBytes: 1 << 20})
	if _, err := s.Collect(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if s.Bytes() > 2<<20 {
		t.Fatalf("read %d bytes despite a 1 MiB budget", s.Bytes())
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// TestCorpusGit is the corpus in git history: a key committed then
// deleted, a key only on another branch, negatives, and a staged key.
func TestCorpusGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	g := fakes.New(77)
	pos := g.Positives()
	neg := g.Negatives()
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	write(t, filepath.Join(dir, "README.md"), []byte("# demo\n"+corpus(neg)))
	write(t, filepath.Join(dir, "config.env"), []byte("A=1\nB=2\n"+pos[0].Text))
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "first")
	os.Remove(filepath.Join(dir, "config.env"))
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "remove leaked key")
	git(t, dir, "checkout", "-q", "-b", "feature")
	var texts []string
	for _, p := range pos[1:] {
		texts = append(texts, p.Text)
	}
	write(t, filepath.Join(dir, "src", "all.txt"), []byte(corpus(texts)))
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "feature work")
	git(t, dir, "checkout", "-q", "main")

	s := newScanner(t, source.Options{})
	fs, err := s.Collect(context.Background(), "git:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	checkExact(t, fs, pos)
	for _, f := range fs {
		if len(f.Commit) != 40 || f.Author != "Ada <ada@example.com>" || f.Date == nil {
			t.Fatalf("git metadata missing: %+v", f)
		}
		if f.Fingerprint == scan.Fingerprint(pos[0].Secret) && (f.Path != "config.env" || f.Line != 3) {
			t.Fatalf("deleted file's key at %s:%d, want config.env:3", f.Path, f.Line)
		}
	}

	// Staged changes only.
	more := fakes.New(78).Positives()
	write(t, filepath.Join(dir, "new.env"), []byte("X=1\n"+more[0].Text))
	git(t, dir, "add", "new.env")
	var staged []scan.Finding
	if err := s.Staged(context.Background(), dir, func(f scan.Finding) { staged = append(staged, f) }); err != nil {
		t.Fatal(err)
	}
	checkExact(t, staged, more[:1])
	if staged[0].Path != "new.env" || staged[0].Line != 2 {
		t.Fatalf("staged finding at %s:%d", staged[0].Path, staged[0].Line)
	}

	if _, err := s.Collect(context.Background(), "git:"+t.TempDir()); err == nil {
		t.Fatal("scanning a directory that is not a repository should fail")
	}
}

// TestCorpusWeb serves the corpus as a website: keys in a page, an inline
// script, a linked page, a stylesheet, a script and its source map. A page
// beyond the depth and another origin must not be fetched.
func TestCorpusWeb(t *testing.T) {
	g := fakes.New(99)
	pos := g.Positives()
	neg := g.Negatives()
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) }))
	defer other.Close()

	mapJSON, _ := json.Marshal(map[string]any{"version": 3, "sources": []string{"src/app.ts"}, "sourcesContent": []string{"// config\nexport const key = \"" + pos[3].Secret + "\";\n" + pos[3].Text}, "mappings": "AAAA"})
	pages := map[string]string{
		"/":                  "<html><head><link rel=stylesheet href=\"/static/site.css\"><script src=\"/static/app.js\"></script></head><body><a href=\"/about.html\">About</a><a href=\"" + other.URL + "/x\">x</a><a href=\"mailto:a@b\">m</a>\n<script>\n" + pos[0].Text + "</script>\n" + corpus(neg) + "</body></html>",
		"/about.html":        "<html><body><p>" + pos[1].Text + "</p><a href=\"deep.html#top\">deeper</a></body></html>",
		"/deep.html":         "<html><body>" + pos[4].Text + "<a href=\"/deeper.html\">x</a></body></html>",
		"/deeper.html":       "<html><body>" + pos[5].Text + "</body></html>",
		"/static/site.css":   "/* " + pos[2].Text + " */ body{}",
		"/static/app.js":     "console.log(1);\n//# sourceMappingURL=app.js.map\n",
		"/static/app.js.map": string(mapJSON),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, ".css"):
			w.Header().Set("Content-Type", "text/css")
		case strings.HasSuffix(r.URL.Path, ".js"):
			w.Header().Set("Content-Type", "application/javascript")
		case strings.HasSuffix(r.URL.Path, ".map"):
			w.Header().Set("Content-Type", "application/json")
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()

	s := newScanner(t, source.Options{Web: source.WebOptions{Depth: 2, Delay: -1}})
	fs, err := s.Collect(context.Background(), srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	// The source map holds its key twice (a JSON string and the sample text).
	want := []fakes.Sample{pos[0], pos[1], pos[2], pos[3], pos[3], pos[4]}
	checkExact(t, fs, want)
	if otherHits.Load() != 0 {
		t.Fatal("the crawl left the origin")
	}
	for _, f := range fs {
		if !strings.HasPrefix(f.URL, srv.URL) {
			t.Fatalf("finding without its URL: %+v", f)
		}
	}

	// A request budget of 2 stops the crawl early.
	s = newScanner(t, source.Options{Web: source.WebOptions{Depth: 2, Delay: -1, MaxRequests: 2}})
	fs, err = s.Collect(context.Background(), srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) > 3 {
		t.Fatalf("budget of 2 requests yet %d findings", len(fs))
	}
}
