package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The built console is committed in dist/ so that a fresh clone serves it
// with no Node (issue 18.5). These tests keep it honest: the bundle must
// record the digest of today's sources, and, where Node and the locked npm
// packages are present, rebuilding must give the same bytes.

const webDir = "../../web/console"

// sourcesDigest mirrors sourcesDigest in web/console/build.mjs.
func sourcesDigest(t *testing.T) string {
	t.Helper()
	files := []string{"build.mjs", "package-lock.json"}
	err := filepath.WalkDir(filepath.Join(webDir, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(webDir, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(webDir, f))
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(f + "\x00" + strconv.Itoa(len(b)) + "\x00"))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestBundleBuiltFromTodaysSources(t *testing.T) {
	got, err := fs.ReadFile(dist, "dist/SOURCES")
	if err != nil {
		t.Fatalf("no dist/SOURCES: the committed console bundle is missing; run web/console/build.sh and commit internal/console/dist: %v", err)
	}
	if want := sourcesDigest(t); strings.TrimSpace(string(got)) != want {
		t.Fatalf("internal/console/dist was built from other sources (%s, sources are %s): run web/console/build.sh and commit internal/console/dist",
			strings.TrimSpace(string(got)), want)
	}
}

func TestBundleServedWithoutBuild(t *testing.T) {
	h := &Handler{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Get(srv.URL + Prefix)
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	page.ReadFrom(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || strings.Contains(page.String(), "built without the console") {
		t.Fatalf("console page is the fallback (status %d):\n%s", res.StatusCode, page.String())
	}
	refs := regexp.MustCompile(`(?:src|href)="(assets/[^"]+)"`).FindAllStringSubmatch(page.String(), -1)
	if len(refs) < 3 {
		t.Fatalf("index.html references %d assets, want script, style and icon:\n%s", len(refs), page.String())
	}
	for _, m := range refs {
		res, err := http.Get(srv.URL + Prefix + m[1])
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: status %d, type %s", m[1], res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}

// TestBundleRebuildsIdentically builds the console again into a temporary
// directory and compares every file with the committed bundle.
func TestBundleRebuildsIdentically(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the console")
	}
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(webDir, "node_modules", "esbuild"))
	if err != nil || modErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node or web/console/node_modules missing (npm ci --prefix web/console)")
		}
		t.Skip("node or web/console/node_modules missing")
	}
	out := t.TempDir()
	cmd := exec.Command(node, "build.mjs")
	cmd.Dir = webDir
	cmd.Env = append(os.Environ(), "WARDEN_CONSOLE_OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	read := func(fsys fs.FS) map[string][]byte {
		m := map[string][]byte{}
		fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				m[p], _ = fs.ReadFile(fsys, p)
			}
			return err
		})
		return m
	}
	sub, _ := fs.Sub(dist, "dist")
	committed, rebuilt := read(sub), read(os.DirFS(out))
	for p, b := range rebuilt {
		if !bytes.Equal(committed[p], b) {
			t.Errorf("%s differs from the committed bundle: run web/console/build.sh and commit internal/console/dist", p)
		}
	}
	for p := range committed {
		if _, ok := rebuilt[p]; !ok {
			t.Errorf("%s is committed but no longer built", p)
		}
	}
}
