package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/google/pprof/profile"

	"github.com/wardenhq/warden/bench/measure"
)

// profileFor is how long a profiled load runs.
const profileFor = 20 * time.Second

// profiles loads t at rate req/s (0: saturated by 64 closed-loop clients)
// for 20 s and writes profiles into dir, then prints the CPU time per
// request of each stage of the request path. At saturation the figures say
// what limits throughput; at 1,000 req/s, what a request costs in a gateway
// that is idle half the time (cold caches, more wake-ups).
// For the in-process target they are this process's profiles (CPU,
// allocations, mutex, block; the load generator and the upstream are in
// them too). For the binary they come from its admin API (CPU and
// allocations: only Warden's own work).
func profiles(dir string, c *http.Client, t target, rate int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var cpu bytes.Buffer
	var l latency
	load := func() {
		if rate > 0 {
			l = openLoop(c, t, rate, profileFor)
			return
		}
		l = saturate(c, t, 64, profileFor)
	}
	if t.admin == "" {
		runtime.SetMutexProfileFraction(5)
		runtime.SetBlockProfileRate(int(10 * time.Microsecond))
		if err := pprof.StartCPUProfile(&cpu); err != nil {
			return err
		}
		load()
		pprof.StopCPUProfile()
		for _, name := range []string{"allocs", "mutex", "block"} {
			var b bytes.Buffer
			if err := pprof.Lookup(name).WriteTo(&b, 0); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, name+".pprof"), b.Bytes(), 0o644); err != nil {
				return err
			}
		}
	} else {
		got := make(chan error, 1)
		go func() {
			got <- t.adminGet(fmt.Sprintf("/admin/v1/debug/pprof/profile?seconds=%d", int(profileFor.Seconds())), &cpu)
		}()
		load()
		if err := <-got; err != nil {
			return err
		}
		var allocs bytes.Buffer
		if err := t.adminGet("/admin/v1/debug/pprof/allocs", &allocs); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "allocs.pprof"), allocs.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cpu.pprof"), cpu.Bytes(), 0o644); err != nil {
		return err
	}
	s := l.summary()
	at := fmt.Sprintf("%d req/s", rate)
	if rate <= 0 {
		at = fmt.Sprintf("saturation (%.0f req/s)", float64(len(l.lat))/profileFor.Seconds())
	}
	fmt.Printf("profiled %s at %s for %s: p50 %s, p99 %s, %d errors; profiles in %s\n\n",
		t.name, at, profileFor, fmtDur(s.p50), fmtDur(s.p99), s.errors, dir)
	p, err := profile.Parse(&cpu)
	if err != nil {
		return err
	}
	measure.Budget(os.Stdout, len(l.lat), p)
	return nil
}
