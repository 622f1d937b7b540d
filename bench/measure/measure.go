// Package measure is how Warden's benchmark programs measure: a closed-loop
// load of concurrent callers with its throughput and latency percentiles,
// and the CPU time of the program's own process (the scan benchmarks report
// it beside wall time: the machine may be shared, and other load skews CPU
// time less).
package measure

import (
	"log"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Result is one measurement.
type Result struct {
	Ops      float64 // operations per second, failed ones included
	P50, P99 time.Duration
	Done     int64 // operations, failed ones included
	Errors   int64 // failed operations
}

// Load calls op from conc goroutines, each as fast as it answers, for d and
// returns the throughput and latency percentiles. worker is the goroutine's
// number, i the call's number within it.
func Load(d time.Duration, conc int, op func(worker, i int) error) Result {
	var (
		mu    sync.Mutex
		lat   []time.Duration
		total atomic.Int64
		errs  atomic.Int64
		wg    sync.WaitGroup
	)
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			var mine []time.Duration
			for i := 0; time.Since(start) < d; i++ {
				t0 := time.Now()
				if err := op(w, i); err != nil {
					errs.Add(1)
				}
				mine = append(mine, time.Since(t0))
				total.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lat)
	r := Result{Ops: float64(total.Load()) / el.Seconds(), Done: total.Load(), Errors: errs.Load()}
	if len(lat) > 0 {
		r.P50 = lat[len(lat)/2]
		r.P99 = lat[len(lat)*99/100]
	}
	return r
}

// CPUTime returns the user and system CPU time this process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
