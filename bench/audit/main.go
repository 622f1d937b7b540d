// Command audit measures the audit log on the embedded store: appends per
// second with group commit under many concurrent appenders, and the time to
// verify a log of a million entries. It writes its figures into
// docs/audit.md between the bench markers.
//
//	go run ./bench/audit                # full run: 200k appends, verify 1M
//	go run ./bench/audit -verify 100000 # quicker
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wardenhq/warden/bench/sample"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

func main() {
	var (
		appends = flag.Int("appends", 200_000, "entries for the append benchmark")
		workers = flag.Int("workers", 64, "concurrent appenders")
		verifyN = flag.Int("verify", 1_000_000, "entries in the log to verify")
		doc     = flag.String("doc", "docs/audit.md", "markdown file to write the figures into (empty: print only)")
		mode    = flag.String("bodies", "hash", "body mode for the appended entries")
		prof    = flag.String("cpuprofile", "", "write a CPU profile of the run here")
		keep    = flag.String("keep", "", "fill the verification log in this directory and keep it; if it holds one already, only verify it")
	)
	flag.Parse()
	keepDir = *keep
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()

	r1 := benchAppend(ctx, *appends, *workers, audit.BodyMode(*mode))
	log.Print(r1)
	r2 := benchVerify(ctx, *verifyN, *workers)
	log.Print(r2)

	report := fmt.Sprintf(`Measured %s on %s/%s, %d CPUs (GOMAXPROCS %d), %s, SQLite WAL, synchronous=NORMAL:

| what | result |
|---|---|
%s
%s
`, time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), r1, r2)
	fmt.Print(report)
	if *doc != "" {
		if err := writeBetweenMarkers(*doc, report); err != nil {
			log.Fatal(err)
		}
	}
}

// sampleEvent is the i-th entry, recorded i milliseconds after the start
// of a day by one gateway instance.
func sampleEvent(i int) *event.Event {
	e := sample.Event(i, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Millisecond))
	e.Instance = "gw1"
	return e
}

func openLog(ctx context.Context, dir string, mode audit.BodyMode) (*sqlite.DB, *audit.Log) {
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		log.Fatal(err)
	}
	cfg := audit.Config{Origin: "warden.example/audit/bench", CheckpointInterval: -1, Retention: audit.Retention{Bodies: mode}}
	if mode == audit.BodyEncrypted {
		log.Fatal("bench: encrypted mode needs recipients; use hash or plaintext")
	}
	l, err := audit.Open(ctx, db, cfg, dir)
	if err != nil {
		log.Fatal(err)
	}
	return db, l
}

// appendAll appends n entries from w goroutines and returns the elapsed time.
func appendAll(ctx context.Context, l *audit.Log, n, w int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range w {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if _, err := l.Append(ctx, sampleEvent(i), sample.Bodies()); err != nil {
					log.Fatal(err)
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

func benchAppend(ctx context.Context, n, w int, mode audit.BodyMode) string {
	dir, err := os.MkdirTemp("", "warden-audit-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, l := openLog(ctx, dir, mode)
	defer db.Close()
	cpu0, t0 := cpuTime(), time.Now()
	appendAll(ctx, l, n, w)
	// Appends are answered once staged; the figures count them into the tree.
	if err := l.Sync(ctx); err != nil {
		log.Fatal(err)
	}
	d, cpu := time.Since(t0), cpuTime()-cpu0
	st := l.Stats()
	if err := l.Close(); err != nil {
		log.Fatal(err)
	}
	integ := ""
	if st.Integrations > 0 {
		integ = fmt.Sprintf(" and %.0f per integration", float64(st.Integrated)/float64(st.Integrations))
	}
	return fmt.Sprintf("| append, %d concurrent appenders, bodies %s, integrated | %d entries in %s: **%.0f appends/s**, %.0f entries per group commit%s; %.1f µs CPU per append |",
		w, mode, n, d.Round(time.Millisecond), float64(n)/d.Seconds(), float64(st.Appended)/float64(st.Batches), integ, float64(cpu.Microseconds())/float64(n))
}

var keepDir string

func benchVerify(ctx context.Context, n, w int) string {
	dir := keepDir
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			log.Fatal(err)
		}
	} else {
		var err error
		if dir, err = os.MkdirTemp("", "warden-audit-bench"); err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	db, l := openLog(ctx, dir, audit.BodyHash)
	defer db.Close()
	if l.Size() == 0 {
		fill := appendAll(ctx, l, n, w)
		log.Printf("filled %d entries in %s", n, fill.Round(time.Millisecond))
	}
	if err := l.Close(); err != nil { // signs the checkpoint
		log.Fatal(err)
	}
	db.Close() // reopen, as "warden audit verify" would: a cold handle, the WAL checkpointed
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	// The machine may be shared: run three times, report the best and the
	// median wall time, and the CPU time the process spent, which other
	// load does not inflate.
	var (
		walls []time.Duration
		cpus  []time.Duration
		res   *audit.VerifyResult
	)
	for range 3 {
		cpu0 := cpuTime()
		start := time.Now()
		res, err = audit.Verify(ctx, db, l.Verifier())
		if err != nil {
			log.Fatal(err)
		}
		walls = append(walls, time.Since(start))
		cpus = append(cpus, cpuTime()-cpu0)
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	fi, _ := os.Stat(dir + "/" + sqlite.FileName)
	var size int64
	if fi != nil {
		size = fi.Size()
	}
	return fmt.Sprintf("| full verification (rebuild tree, compare every stored hash, check checkpoints), best and median of 3 | %d entries (%.0f MB database) in **%s** (median %s; %s CPU); %.0f entries/s |",
		res.Size, float64(size)/1e6, walls[0].Round(time.Millisecond), walls[1].Round(time.Millisecond), cpus[1].Round(time.Millisecond), float64(res.Size)/walls[0].Seconds())
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const (
	beginMarker = "<!-- bench:audit:begin -->"
	endMarker   = "<!-- bench:audit:end -->"
)

func writeBetweenMarkers(path, text string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i := bytes.Index(b, []byte(beginMarker))
	j := bytes.Index(b, []byte(endMarker))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s ... %s markers", path, beginMarker, endMarker)
	}
	var out bytes.Buffer
	out.Write(b[:i+len(beginMarker)])
	out.WriteString("\n" + text)
	out.Write(b[j:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}
