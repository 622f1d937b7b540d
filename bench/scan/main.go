// Command scan measures the leak scanner's throughput: MB/s over a
// generated directory of mixed source text with about one secret per MB,
// and over the history of a generated git repository. Run it with
//
//	go run ./bench/scan             # all cores
//	GOMAXPROCS=1 go run ./bench/scan -mb 128 -git-mb 0 -runs 7  # the one-core figure in docs/scanner.md
//
// The text is Go's own standard library source (from GOROOT), so it is
// realistic and needs no download; secrets come from package fakes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/bench/measure"
	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/fakes"
	"github.com/wardenhq/warden/internal/scan/source"
)

func main() {
	mb := flag.Int("mb", 256, "size of the generated directory in MB")
	gitMB := flag.Int("git-mb", 32, "size of the generated git history in MB (0: skip)")
	runs := flag.Int("runs", 5, "directory scans to time; the median is reported")
	flag.Parse()
	e, err := scan.NewEngine(scan.Builtin())
	if err != nil {
		log.Fatal(err)
	}
	tmp, err := os.MkdirTemp("", "warden-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	dir := filepath.Join(tmp, "tree")
	secrets := generate(dir, *mb<<20, 1)
	ctx := context.Background()
	sc := source.New(e, source.Options{})
	// Warm the page cache, then measure.
	sc.Collect(ctx, dir)
	// Wall-clock MB/s depends on what else the machine runs; MB per second
	// of CPU time this process used is the per-core figure, steadier on a
	// shared machine. Both are reported.
	var rates, cpuRates []float64
	for i := range *runs {
		sc = source.New(e, source.Options{})
		start, cpu0 := time.Now(), measure.CPUTime()
		found, err := sc.Collect(ctx, dir)
		if err != nil {
			log.Fatal(err)
		}
		el, cpu := time.Since(start), measure.CPUTime()-cpu0
		mb := float64(sc.Bytes()) / 1e6
		rates = append(rates, mb/el.Seconds())
		cpuRates = append(cpuRates, mb/cpu.Seconds())
		fmt.Printf("directory run %d: %d MB in %v = %.0f MB/s wall, %.0f MB per CPU second (GOMAXPROCS=%d), %d findings for %d secrets planted\n",
			i+1, sc.Bytes()>>20, el.Round(time.Millisecond), mb/el.Seconds(), mb/cpu.Seconds(), runtime.GOMAXPROCS(0), len(found), secrets)
	}
	slices.Sort(rates)
	slices.Sort(cpuRates)
	fmt.Printf("directory: median %.0f MB/s wall (min %.0f, max %.0f), median %.0f MB per CPU second (min %.0f, max %.0f), %d runs, GOMAXPROCS=%d\n",
		rates[len(rates)/2], rates[0], rates[len(rates)-1], cpuRates[len(cpuRates)/2], cpuRates[0], cpuRates[len(cpuRates)-1], len(rates), runtime.GOMAXPROCS(0))
	if *gitMB <= 0 {
		return
	}

	repo := filepath.Join(tmp, "repo")
	n := gitRepo(repo, *gitMB<<20)
	sc = source.New(e, source.Options{})
	start := time.Now()
	found, err := sc.Collect(ctx, "git:"+repo)
	if err != nil {
		log.Fatal(err)
	}
	el := time.Since(start)
	fmt.Printf("git history: %d commits, %d MB of diff in %v = %.1f MB/s, %d findings for %d secrets planted\n",
		n, sc.Bytes()>>20, el.Round(time.Millisecond), float64(sc.Bytes())/1e6/el.Seconds(), len(found), n)
}

// generate writes about size bytes of Go source from GOROOT into dir as
// files of ~256 KB, each with one secret per MB planted, and returns how
// many secrets it planted.
func generate(dir string, size int, seed uint64) int {
	var corpus []byte
	root := filepath.Join(runtime.GOROOT(), "src")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || len(corpus) > 32<<20 {
			return nil
		}
		if strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".s") || strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".html") {
			b, _ := os.ReadFile(p)
			corpus = append(corpus, b...)
		}
		return nil
	})
	if len(corpus) == 0 {
		log.Fatal("no source text found under GOROOT")
	}
	g := fakes.New(seed)
	pos := g.Positives()
	written, planted, file, off := 0, 0, 0, 0
	for written < size {
		var b strings.Builder
		for b.Len() < 256<<10 {
			end := min(off+64<<10, len(corpus))
			b.Write(corpus[off:end])
			off = end % len(corpus)
			if (written+b.Len())/(1<<20) > planted {
				b.WriteString("\n" + pos[planted%len(pos)].Text)
				planted++
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("d%03d", file/100), fmt.Sprintf("f%05d.go", file))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			log.Fatal(err)
		}
		written += b.Len()
		file++
	}
	return planted
}

// gitRepo makes a repository whose history adds about size bytes, one
// secret per commit of ~1 MB, and returns the number of commits.
func gitRepo(dir string, size int) int {
	os.MkdirAll(dir, 0o755)
	run := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@b", "GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@b", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			log.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	run("init", "-q", "-b", "main")
	n := 0
	for n*(1<<20) < size {
		sub := filepath.Join(dir, fmt.Sprintf("c%03d", n))
		generate(sub, 1<<20, uint64(n+100))
		run("add", ".")
		run("commit", "-q", "-m", fmt.Sprintf("commit %d", n))
		n++
	}
	return n
}
