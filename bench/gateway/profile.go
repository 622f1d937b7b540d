package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"
)

// profiles loads t at 1,000 req/s for 20 s and writes the process's CPU,
// allocation, mutex and block profiles into dir. The load generator and
// upstream share the process; their frames are easy to tell apart
// (net/http client, mock) and are left out of the budget.
func profiles(dir string, c *http.Client, t target) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	runtime.SetMutexProfileFraction(5)
	runtime.SetBlockProfileRate(int(10 * time.Microsecond))
	runtime.MemProfileRate = 64 << 10
	f, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	l := openLoop(c, t, 1000, 20*time.Second)
	pprof.StopCPUProfile()
	for _, name := range []string{"allocs", "mutex", "block"} {
		pf, err := os.Create(filepath.Join(dir, name+".pprof"))
		if err != nil {
			return err
		}
		if err := pprof.Lookup(name).WriteTo(pf, 0); err != nil {
			return err
		}
		pf.Close()
	}
	s := l.summary()
	fmt.Printf("profiled %s at 1000 req/s for 20 s: p50 %s, p99 %s, %d errors; profiles in %s\n", t.name, fmtDur(s.p50), fmtDur(s.p99), s.errors, dir)
	return nil
}
