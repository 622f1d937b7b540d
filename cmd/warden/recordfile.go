package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/wardenhq/warden/internal/record"
)

// recordFile appends records to a file from its own goroutine, so the
// request path only queues. When the queue is full records are dropped and
// counted: recording must never slow the gateway.
type recordFile struct {
	f       *os.File
	bw      *bufio.Writer
	ch      chan *record.Record
	wg      sync.WaitGroup
	dropped atomic.Int64
}

func newRecordFile(path string) (*recordFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("record file: %w", err)
	}
	rf := &recordFile{f: f, bw: bufio.NewWriterSize(f, 256<<10), ch: make(chan *record.Record, 8192)}
	w := record.NewWriter(rf.bw)
	rf.wg.Add(1)
	go func() {
		defer rf.wg.Done()
		for r := range rf.ch {
			if err := w.Write(r); err != nil {
				slog.Error("record: cannot write", "err", err)
			}
			if len(rf.ch) == 0 {
				rf.bw.Flush()
			}
		}
	}()
	return rf, nil
}

func (rf *recordFile) add(r *record.Record) {
	select {
	case rf.ch <- r:
	default:
		if rf.dropped.Add(1)%1000 == 1 {
			slog.Warn("record: queue full, dropping records")
		}
	}
}

func (rf *recordFile) close() {
	close(rf.ch)
	rf.wg.Wait()
	rf.bw.Flush()
	rf.f.Close()
}
