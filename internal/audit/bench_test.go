package audit

import (
	"bytes"
	"context"
	"testing"
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

// BenchmarkAppendParallel appends from many goroutines through group commit.
func BenchmarkAppendParallel(b *testing.B) {
	f := newFixture(b, Config{})
	bodies := &Bodies{Prompt: benchPrompt, Answer: benchPrompt[:400]}
	b.SetParallelism(32)
	b.ReportAllocs()
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
	st := f.log.Stats()
	b.ReportMetric(float64(st.Appended)/float64(st.Batches), "entries/commit")
}

// BenchmarkAppendSerial appends from one goroutine, each append waiting for
// its own commit: what a request waits for at a light load, where a group
// commit carries one entry.
func BenchmarkAppendSerial(b *testing.B) {
	f := newFixture(b, Config{})
	bodies := &Bodies{Prompt: benchPrompt, Answer: benchPrompt[:400]}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := f.log.Append(context.Background(), testEvent(i, "k_0001"), bodies); err != nil {
			b.Fatal(err)
		}
		i++
	}
	st := f.log.Stats()
	b.ReportMetric(float64(st.Appended)/float64(st.Batches), "entries/commit")
}
