package limit

import (
	"context"
	"testing"
	"time"
)

func TestGCRA(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	type step struct {
		at      time.Duration
		n       int
		allowed bool
		retry   time.Duration
	}
	tests := []struct {
		name  string
		limit int
		steps []step
	}{
		{"burst then refill", 60, []step{
			{0, 60, true, 0},
			{0, 1, false, time.Second},
			{time.Second, 1, true, 0},
			{time.Second, 1, false, time.Second},
		}},
		{"larger than bucket", 10, []step{{0, 11, false, time.Minute}}},
		{"give back", 6, []step{
			{0, 6, true, 0},
			{0, 1, false, 10 * time.Second},
			{0, -3, true, 0},
			{0, 3, true, 0},
			{0, 1, false, 10 * time.Second},
		}},
		{"full again after a minute", 2, []step{
			{0, 2, true, 0},
			{time.Minute, 2, true, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Local
			for i, s := range tt.steps {
				d, err := l.Take(ctx, "k", tt.limit, s.n, t0.Add(s.at))
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed != s.allowed || d.RetryAfter != s.retry {
					t.Errorf("step %d: allowed=%v retry=%v, want %v %v", i, d.Allowed, d.RetryAfter, s.allowed, s.retry)
				}
			}
		})
	}
}

func TestUnlimited(t *testing.T) {
	var l Local
	for range 1000 {
		if d, _ := l.Take(context.Background(), "k", 0, 1, time.Now()); !d.Allowed {
			t.Fatal("unlimited refused")
		}
	}
}
