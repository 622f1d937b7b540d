package event

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"
)

// JSONL writes events as JSON lines. It buffers and flushes at least every
// second, so use it as an async sink. Close flushes.
type JSONL struct {
	mu    sync.Mutex
	w     *bufio.Writer
	c     io.Closer
	enc   *json.Encoder
	timer *time.Timer
}

// NewJSONL returns a sink writing to w; Close closes w if it is an io.Closer.
func NewJSONL(w io.Writer) *JSONL {
	bw := bufio.NewWriterSize(w, 64<<10)
	j := &JSONL{w: bw, enc: json.NewEncoder(bw)}
	j.enc.SetEscapeHTML(false)
	if c, ok := w.(io.Closer); ok {
		j.c = c
	}
	return j
}

// Handle implements Sink.
func (j *JSONL) Handle(_ context.Context, e *Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.enc.Encode(e); err != nil {
		slog.Error("event: cannot write event", "err", err)
	}
	if j.timer == nil {
		j.timer = time.AfterFunc(time.Second, j.flush)
	}
}

func (j *JSONL) flush() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.w.Flush()
	j.timer = nil
}

// Close flushes and closes the underlying writer.
func (j *JSONL) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.timer != nil {
		j.timer.Stop()
		j.timer = nil
	}
	err := j.w.Flush()
	if j.c != nil {
		if cerr := j.c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
