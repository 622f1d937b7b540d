package audit

// Group commit: concurrent appends, Close with appends in flight, and two
// writers on one store.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// gatherAppends makes l behave as if a commit were running, so that
// appends queue, and returns a function that waits until n appends wait
// and then lets a leader commit them. Appends that arrive during a commit
// are committed together; this makes them arrive during one whatever the
// scheduler does (with GOMAXPROCS 1 and a fast store a commit may end
// before any other goroutine runs, and every append would commit alone).
func gatherAppends(t *testing.T, l *Log, n int) (release func()) {
	l.mu.Lock()
	l.leading = true
	l.mu.Unlock()
	return func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			l.mu.Lock()
			waiting := len(l.waiting)
			l.mu.Unlock()
			if waiting >= n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d appends waiting after 30 s, want %d", waiting, n)
			}
			time.Sleep(time.Millisecond)
		}
		go l.lead()
	}
}

func TestConcurrentAppendsGroupCommit(t *testing.T) {
	f := newDirectFixture(t, Config{})
	ctx := context.Background()
	const workers, each = 32, 50
	seen := make([]bool, workers*each)
	var mu sync.Mutex
	var wg sync.WaitGroup
	release := gatherAppends(t, f.log, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				idx, err := f.log.Append(ctx, testEvent(w*each+i, fmt.Sprintf("k%d", w)), nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[idx] {
					t.Errorf("index %d handed out twice", idx)
				}
				seen[idx] = true
				mu.Unlock()
			}
		})
	}
	release()
	wg.Wait()
	st := f.log.Stats()
	if st.Appended != workers*each {
		t.Fatalf("appended %d, want %d", st.Appended, workers*each)
	}
	if st.Batches >= st.Appended {
		t.Errorf("%d batches for %d appends: no group commit", st.Batches, st.Appended)
	}
	mustCheckpoint(t, f.log)
	mustVerify(t, f)
}

// TestConcurrentAppendsStaged appends from many goroutines through the
// store's journal (the default on SQLite): every answered append is in the
// log exactly once after Sync, group commits and integration batches carry
// many entries, and the tree verifies.
func TestConcurrentAppendsStaged(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	const workers, each = 32, 50
	var wg sync.WaitGroup
	release := gatherAppends(t, f.log, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if idx, err := f.log.Append(ctx, testEvent(w*each+i, fmt.Sprintf("k%d", w)), nil); err != nil || idx != -1 {
					t.Errorf("staged append = %d, %v; want -1, nil", idx, err)
					return
				}
			}
		})
	}
	release()
	wg.Wait()
	mustSync(t, f.log)
	seen := countEvents(t, f.db)
	for w := range workers {
		for i := range each {
			if k := fmt.Sprintf("k%d req-%d", w, w*each+i); seen[k] != 1 {
				t.Errorf("entry %s is in the log %d times, want once", k, seen[k])
			}
		}
	}
	st := f.log.Stats()
	if st.Appended != workers*each || st.Integrated != workers*each {
		t.Fatalf("stats %+v, want %d appended and integrated", st, workers*each)
	}
	if st.Batches >= st.Appended {
		t.Errorf("%d group commits for %d appends", st.Batches, st.Appended)
	}
	if n, err := f.db.AuditStaged(ctx); err != nil || n != 0 {
		t.Errorf("AuditStaged after Sync = %d, %v", n, err)
	}
	mustCheckpoint(t, f.log)
	mustVerify(t, f)
}

// TestCloseDuringAppends: Close while appends are in flight commits every
// append it let in; each append either is answered and in the log, or is
// refused with ErrClosed. Nothing is answered and lost.
func TestCloseDuringAppends(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	const workers = 16
	var (
		mu       sync.Mutex
		answered []string
		wg       sync.WaitGroup
		started  sync.WaitGroup
	)
	started.Add(workers)
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				_, err := f.log.Append(ctx, testEvent(w*100000+i, fmt.Sprintf("k%d", w)), nil)
				if i == 0 {
					started.Done()
				}
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				answered = append(answered, fmt.Sprintf("k%d req-%d", w, w*100000+i))
				mu.Unlock()
			}
		})
	}
	started.Wait() // every worker has appended once: appends are in flight
	if err := f.log.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	seen := countEvents(t, f.db)
	for _, k := range answered {
		if seen[k] != 1 {
			t.Errorf("answered entry %s is in the log %d times, want once", k, seen[k])
		}
	}
	if len(answered) < workers {
		t.Fatalf("%d appends answered", len(answered))
	}
}

func TestTwoWritersConflict(t *testing.T) {
	f := newDirectFixture(t, Config{})
	ctx := context.Background()
	other, err := Open(ctx, appendOnly{f.db}, Config{Origin: "warden.test/audit/t1", CheckpointInterval: -1}, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// Both logs believe the tree is empty; the second must detect the
	// conflict, reload and place its entries after the first's.
	mustAppend(t, f.log, 3, "a")
	idx, err := other.Append(ctx, testEvent(9, "b"), nil)
	if err != nil || idx != 3 {
		t.Fatalf("append by second writer: %d, %v; want 3", idx, err)
	}
	if idx, err := f.log.Append(ctx, testEvent(10, "a"), nil); err != nil || idx != 4 {
		t.Fatalf("append by first writer after: %d, %v; want 4", idx, err)
	}
	mustCheckpoint(t, f.log)
	mustVerify(t, f)
}

func TestAppendAfterClose(t *testing.T) {
	f := newFixture(t, Config{})
	f.log.Close()
	if _, err := f.log.Append(context.Background(), testEvent(0, "k"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}
