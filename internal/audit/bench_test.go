package audit

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"
)

var benchPrompt = bytes.Repeat([]byte("Summarise the quarterly figures for the board. "), 25)

// BenchmarkPrepare is the per-entry work done on the appender's goroutine.
func BenchmarkPrepare(b *testing.B) {
	f := newFixture(b, Config{})
	e := testEvent(1, "k_0001")
	bodies := &Bodies{Prompt: benchPrompt, Answer: benchPrompt[:400]}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.log.prepare(e, bodies); err != nil {
			b.Fatal(err)
		}
	}
}

// benchStores are the two ways an append reaches SQLite: staged in the
// journal and integrated in batches (the default), or committed straight
// into the tree (a store without staging).
var benchStores = []struct {
	name string
	open func(testing.TB, Config) *fixture
}{{"journal", newFixture}, {"direct", newDirectFixture}}

// cpuTime is the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportAppends reports the process's CPU time per append (integration
// included: the log is synced first) and the entries per group commit and
// per integration.
func reportAppends(b *testing.B, f *fixture, cpu0 time.Duration) {
	if err := f.log.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	st := f.log.Stats()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(st.Appended), "cpu-µs/op")
	b.ReportMetric(float64(st.Appended)/float64(st.Batches), "entries/commit")
	if st.Integrations > 0 {
		b.ReportMetric(float64(st.Integrated)/float64(st.Integrations), "entries/integration")
	}
}

// BenchmarkAppendParallel appends from many goroutines through group commit.
func BenchmarkAppendParallel(b *testing.B) {
	for _, s := range benchStores {
		b.Run("store="+s.name, func(b *testing.B) {
			f := s.open(b, Config{})
			bodies := &Bodies{Prompt: benchPrompt, Answer: benchPrompt[:400]}
			b.SetParallelism(32)
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := f.log.Append(context.Background(), testEvent(i, "k_0001"), bodies); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			reportAppends(b, f, cpu0)
		})
	}
}

// BenchmarkAppendSerial appends from one goroutine, each append waiting for
// its own commit: what a request waits for at a light load, where a group
// commit carries one entry.
func BenchmarkAppendSerial(b *testing.B) {
	for _, s := range benchStores {
		b.Run("store="+s.name, func(b *testing.B) {
			f := s.open(b, Config{})
			bodies := &Bodies{Prompt: benchPrompt, Answer: benchPrompt[:400]}
			b.ReportAllocs()
			cpu0 := cpuTime()
			i := 0
			for b.Loop() {
				if _, err := f.log.Append(context.Background(), testEvent(i, "k_0001"), bodies); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportAppends(b, f, cpu0)
		})
	}
}
