package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store"
)

// testAuditBodyColumns: a scan with bodies returns the body row's own key
// and time (what legal holds select by), which Verify checks against the
// leaf; entries without a body have none.
func testAuditBodyColumns(t *testing.T, s store.Audit) {
	tree := new(auditTree)
	es := auditEntries("k1", auditT0, 3)
	es[1].Body = []byte("body")
	appendAudit(t, s, tree, es)
	got := scanAll(t, s, store.AuditFilter{Bodies: true})
	if len(got) != 3 {
		t.Fatalf("scan: %d entries, want 3", len(got))
	}
	for i, e := range got {
		wantKey, wantTime := "", time.Time{}
		if i == 1 {
			wantKey, wantTime = "k1", es[1].Time
		}
		if e.BodyKeyID != wantKey || !e.BodyTime.Equal(wantTime) {
			t.Errorf("entry %d: body columns %q %v, want %q %v", i, e.BodyKeyID, e.BodyTime, wantKey, wantTime)
		}
	}
}

// testAuditStaging runs on stores with store.AuditStaging: staged entries
// are invisible to the log until integrated, integration takes them oldest
// first in batches at the log's end with the hashes the callback gives, a
// failed callback writes nothing, and one integrator at a time holds the
// lease.
func testAuditStaging(t *testing.T, s store.Audit) {
	sg, ok := s.(store.AuditStaging)
	if !ok {
		t.Skip("the store has no staging")
	}
	ctx := context.Background()
	tree := new(auditTree)
	hashes := func(start int64, es []store.AuditEntry, read func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error) {
		if start > 0 { // the callback can read the tree it extends
			if _, err := read([]int64{tlog.StoredHashIndex(0, start-1)}); err != nil {
				return nil, err
			}
		}
		leaves := make([][]byte, len(es))
		for i, e := range es {
			if e.Index != start+int64(i) {
				return nil, fmt.Errorf("staged entry %d has index %d", i, e.Index)
			}
			leaves[i] = e.Leaf
		}
		return tree.batch(t, leaves), nil
	}
	a, b := auditEntries("k1", auditT0, 3), auditEntries("k2", auditT0, 3)
	a[2].Body, a[2].BodyExpires = []byte("kept"), auditT0.Add(time.Hour)
	for _, es := range [][]store.AuditEntry{a, b} {
		if err := sg.StageAudit(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := sg.AuditStaged(ctx); err != nil || n != 6 {
		t.Fatalf("AuditStaged = %d, %v; want 6", n, err)
	}
	if n, err := s.AuditSize(ctx); err != nil || n != 0 {
		t.Fatalf("AuditSize with entries only staged = %d, %v; want 0", n, err)
	}
	// A failing callback writes nothing and leaves everything staged.
	boom := errors.New("boom")
	if _, _, err := sg.IntegrateAudit(ctx, 10, false, func(int64, []store.AuditEntry, func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error) {
		return nil, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("IntegrateAudit with a failing callback = %v, want boom", err)
	}
	if n, _ := s.AuditSize(ctx); n != 0 {
		t.Fatalf("a failed integration left %d entries", n)
	}
	start, n, err := sg.IntegrateAudit(ctx, 4, false, hashes)
	if err != nil || start != 0 || n != 4 {
		t.Fatalf("IntegrateAudit(4) = %d, %d, %v; want 0, 4", start, n, err)
	}
	// While one integrator holds the lease, another without wait is
	// refused at once, and one with wait gets it after.
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	if err := sg.StageAudit(ctx, auditEntries("k3", auditT0, 1)); err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _, err := sg.IntegrateAudit(ctx, 1, false, func(st int64, es []store.AuditEntry, r func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error) {
			close(held)
			<-release
			return hashes(st, es, r)
		})
		done <- err
	}()
	<-held
	if _, _, err := sg.IntegrateAudit(ctx, 10, false, hashes); !errors.Is(err, store.ErrConflict) {
		t.Errorf("IntegrateAudit while the lease is held = %v, want ErrConflict", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	start, n, err = sg.IntegrateAudit(ctx, 10, true, hashes)
	if err != nil || start != 5 || n != 2 {
		t.Fatalf("IntegrateAudit(10) = %d, %d, %v; want 5, 2", start, n, err)
	}
	if _, n, err := sg.IntegrateAudit(ctx, 10, false, hashes); err != nil || n != 0 {
		t.Fatalf("IntegrateAudit with nothing staged = %d, %v", n, err)
	}
	if n, err := sg.AuditStaged(ctx); err != nil || n != 0 {
		t.Fatalf("AuditStaged after integrating = %d, %v", n, err)
	}
	got := scanAll(t, s, store.AuditFilter{Bodies: true})
	want := []string{"leaf k1 0", "leaf k1 1", "leaf k1 2", "leaf k2 0", "leaf k2 1", "leaf k2 2", "leaf k3 0"} // oldest staged first
	if len(got) != len(want) {
		t.Fatalf("log holds %d entries, want %d", len(got), len(want))
	}
	for i, e := range got {
		if string(e.Leaf) != want[i] || e.Index != int64(i) {
			t.Errorf("entry %d = %d %q, want %q", i, e.Index, e.Leaf, want[i])
		}
	}
	if e := got[2]; string(e.Body) != "kept" || !e.BodyExpires.Equal(auditT0.Add(time.Hour)) || e.BodyKeyID != "k1" || !e.Time.Equal(a[2].Time) {
		t.Errorf("integrated entry 2 = %+v; want its body, expiry, key and time kept", e)
	}
	hs, err := s.AuditHashes(ctx, []int64{tlog.StoredHashIndex(0, 6)})
	if err != nil || hs[0] != tree.hashes[tlog.StoredHashIndex(0, 6)] {
		t.Fatalf("stored hash of entry 6 = %v, %v", hs, err)
	}

	// Staging from several goroutines while integration runs: every
	// entry is integrated exactly once, each stager's in its order.
	const stagers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, stagers)
	for g := range stagers {
		wg.Go(func() {
			for i := range each {
				e := store.AuditEntry{Time: auditT0, KeyID: fmt.Sprintf("c%d", g), Leaf: fmt.Appendf(nil, "conc %d %d", g, i)}
				if err := sg.StageAudit(ctx, []store.AuditEntry{e}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	staged := make(chan struct{})
	go func() { wg.Wait(); close(staged) }()
	moved := 0
	for {
		finished := false
		select {
		case <-staged:
			finished = true
		default:
		}
		_, n, err := sg.IntegrateAudit(ctx, 16, true, hashes)
		if err != nil {
			t.Fatal(err)
		}
		moved += n
		if finished && n == 0 {
			break
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if moved != stagers*each {
		t.Fatalf("integrated %d entries staged concurrently, want %d", moved, stagers*each)
	}
	next := make([]int, stagers)
	err = s.ScanAudit(ctx, store.AuditFilter{From: int64(len(want))}, func(e *store.AuditEntry) error {
		var g, i int
		if _, err := fmt.Sscanf(string(e.Leaf), "conc %d %d", &g, &i); err != nil || g < 0 || g >= stagers || i != next[g] {
			return fmt.Errorf("entry %d = %q; stager %d's next is %d", e.Index, e.Leaf, g, next[g])
		}
		next[g]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Once fails t unless the log entries got (event ids or leaves, in log
// order) are want distinct values, and returns each one's position. It is
// the check every backend's crash and concurrency tests end with: each
// answered append is in the log exactly once.
func Once(t testing.TB, got []string, want int) map[string]int {
	t.Helper()
	at := make(map[string]int, len(got))
	for i, v := range got {
		if j, dup := at[v]; dup {
			t.Fatalf("%q is in the log twice (%d and %d)", v, j, i)
		}
		at[v] = i
	}
	if len(got) != want {
		t.Fatalf("log holds %d entries, want %d", len(got), want)
	}
	return at
}
