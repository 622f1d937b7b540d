package source_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/fakes"
	"github.com/wardenhq/warden/internal/scan/source"
)

// writeProject writes a generated project tree under a temporary directory.
func writeProject(t *testing.T, p *fakes.Project) string {
	t.Helper()
	dir := t.TempDir()
	for path, text := range p.Files {
		write(t, filepath.Join(dir, filepath.FromSlash(path)), []byte(text))
	}
	return dir
}

// TestProjectCorpus scans realistic project trees (logs, lock files, test
// fixtures, a minified bundle and notebooks full of hashes and identifiers
// next to api-key and Azure words, with keys planted where people leak
// them) through the whole file pipeline. At the default confidence every
// planted key is found, at its path, and nothing else is.
func TestProjectCorpus(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		p := fakes.New(seed).NewProject()
		dir := writeProject(t, p)
		fs, err := newScanner(t, source.Options{}).Collect(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		var want []fakes.Sample
		wantPath := map[string]string{}
		for _, pl := range p.Planted {
			want = append(want, pl.Sample)
			wantPath[scan.Fingerprint(pl.Secret)] = pl.Path
		}
		for _, f := range fs {
			rel := filepath.ToSlash(strings.TrimPrefix(f.Path, dir+string(filepath.Separator)))
			rel, _, _ = strings.Cut(rel, "!")
			if w, ok := wantPath[f.Fingerprint]; !ok {
				t.Errorf("seed %d: false positive %s %s at %s:%d (%s, evidence %q)", seed, f.RuleID, f.Secret, rel, f.Line, f.Confidence, f.Evidence)
			} else if rel != w {
				t.Errorf("seed %d: %s found at %s, planted in %s", seed, f.Secret, rel, w)
			}
		}
		checkExact(t, fs, want)
	}
}

// TestProjectCorpusLowConfidence: asking for low confidence shows the
// identifiers too, each scored low, and still every planted key at its
// own confidence.
func TestProjectCorpusLowConfidence(t *testing.T) {
	p := fakes.New(1).NewProject()
	dir := writeProject(t, p)
	e, err := scan.NewEngine(scan.Builtin(), scan.MinConfidence(scan.Low))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := source.New(e, source.Options{}).Collect(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	planted := map[string]bool{}
	for _, pl := range p.Planted {
		planted[scan.Fingerprint(pl.Secret)] = true
	}
	found, low := 0, 0
	for _, f := range fs {
		switch {
		case planted[f.Fingerprint]:
			found++
			if f.Confidence == scan.Low {
				t.Errorf("planted key %s at %s scored low (%s)", f.Secret, f.Path, f.Evidence)
			}
		case f.Confidence != scan.Low:
			t.Errorf("identifier %s at %s:%d scored %s (%s)", f.Secret, f.Path, f.Line, f.Confidence, f.Evidence)
		default:
			low++
		}
	}
	if found < len(p.Planted) || low < 100 {
		t.Fatalf("found %d of %d planted, %d low-confidence identifiers", found, len(p.Planted), low)
	}
}

// TestProjectCorpusWebAndGit: the same tree served as a web site (every
// file linked from an index page) and committed to git yields the same:
// every planted key, nothing else.
func TestProjectCorpusWebAndGit(t *testing.T) {
	p := fakes.New(6).NewProject()
	var want []fakes.Sample
	for _, pl := range p.Planted {
		want = append(want, pl.Sample)
	}

	var index strings.Builder
	for path := range p.Files {
		fmt.Fprintf(&index, "<a href=\"/%s\">%s</a>\n", path, path)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, index.String())
			return
		}
		text, ok := p.Files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, text)
	}))
	defer srv.Close()
	fs, err := newScanner(t, source.Options{Web: source.WebOptions{Depth: 1, Delay: -1, MaxRequests: 1000}}).Collect(context.Background(), srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	checkExact(t, fs, want)

	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := writeProject(t, p)
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "project")
	fs, err = newScanner(t, source.Options{}).Collect(context.Background(), "git:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	checkExact(t, fs, want)
}
