package detect

import (
	"context"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/event"
)

// An event with no usable time is bad input: it is ignored, never a panic.
func TestEventWithoutTimeIgnored(t *testing.T) {
	d, err := New(Config{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range []time.Time{{}, time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC)} {
		d.Handle(context.Background(), &event.Event{KeyID: "k", Status: 200, Time: ts})
	}
	d.Handle(context.Background(), nil)
	if r := d.Risk("k", time.Now()); r != 0 {
		t.Errorf("risk %v after events without a time, want 0", r)
	}
}
