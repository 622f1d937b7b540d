// Package measure reads what a benchmark program costs its own process, for
// the scan benchmarks, which report CPU seconds beside wall time: the
// machine may be shared, and other load skews CPU time less.
package measure

import (
	"log"
	"syscall"
	"time"
)

// CPUTime returns the user and system CPU time this process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
