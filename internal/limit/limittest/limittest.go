// Package limittest holds the contract every limit.Gate keeps, so that the
// in-process gate and the shared one (package redis) are checked by one
// test rather than by two copies of it.
package limittest

import (
	"context"
	"testing"

	"github.com/wardenhq/warden/internal/limit"
)

// Gate checks a concurrency limit of 2 on one key over three gates that
// share their count: the same gate three times, or three instances on one
// backend. Two acquire and the third is refused; a release frees one slot
// and calling the same release again frees nothing; a max of 0 is no limit.
func Gate(t *testing.T, a, b, c limit.Gate) {
	t.Helper()
	ctx := context.Background()
	ra, ok1, err1 := a.Acquire(ctx, "k", 2)
	_, ok2, err2 := b.Acquire(ctx, "k", 2)
	_, ok3, err3 := c.Acquire(ctx, "k", 2)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquire: %v %v %v", ok1, ok2, ok3)
	}
	ra()
	ra() // a second release must not free another slot
	if _, ok, _ := c.Acquire(ctx, "k", 2); !ok {
		t.Fatal("slot not released")
	}
	if _, ok, _ := a.Acquire(ctx, "k", 2); ok {
		t.Fatal("double release freed two slots")
	}
	if rel, ok, err := a.Acquire(ctx, "other", 0); !ok || err != nil {
		t.Fatal("unlimited gate refused")
	} else {
		rel()
	}
}
