package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store"
)

// RunAudit runs the conformance suite of store.Audit. open must return an
// empty store; RunAudit closes it if it has a Close method.
func RunAudit(t *testing.T, open func(t *testing.T) store.Audit) {
	runCases(t, open, []testCase[store.Audit]{
		{"AppendAndScan", testAuditAppendAndScan},
		{"AppendConflict", testAuditAppendConflict},
		{"AppendHashCount", testAuditAppendHashCount},
		{"Hashes", testAuditHashes},
		{"ScanFilter", testAuditScanFilter},
		{"ScanStops", testAuditScanStops},
		{"Checkpoints", testAuditCheckpoints},
		{"Holds", testAuditHolds},
		{"Prune", testAuditPrune},
		{"BodyColumns", testAuditBodyColumns},
		{"Staging", testAuditStaging},
	})
}

// auditTree computes stored hashes the way package audit does, so the
// suite can append realistic batches without importing it.
type auditTree struct{ hashes []tlog.Hash }

func (a *auditTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(a.hashes)) {
			return nil, fmt.Errorf("storetest: no hash %d", x)
		}
		out[i] = a.hashes[x]
	}
	return out, nil
}

// batch returns the stored hashes for appending leaves after the n
// entries a already holds.
func (a *auditTree) batch(t *testing.T, leaves [][]byte) []tlog.Hash {
	t.Helper()
	start := len(a.hashes)
	for _, l := range leaves {
		size := countLeaves(a)
		hs, err := tlog.StoredHashes(size, l, a)
		if err != nil {
			t.Fatal(err)
		}
		a.hashes = append(a.hashes, hs...)
	}
	return append([]tlog.Hash(nil), a.hashes[start:]...)
}

func countLeaves(a *auditTree) int64 {
	// Invert StoredHashCount: the largest n with StoredHashCount(n) <= len.
	var n int64
	for tlog.StoredHashCount(n+1) <= int64(len(a.hashes)) {
		n++
	}
	return n
}

var auditT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// auditEntries makes n entries for key, one minute apart from start.
func auditEntries(key string, start time.Time, n int) []store.AuditEntry {
	out := make([]store.AuditEntry, n)
	for i := range out {
		out[i] = store.AuditEntry{
			Time:  start.Add(time.Duration(i) * time.Minute),
			KeyID: key,
			Team:  "team-" + key,
			Leaf:  fmt.Appendf(nil, "leaf %s %d", key, i),
		}
	}
	return out
}

func appendAudit(t *testing.T, s store.Audit, tree *auditTree, entries []store.AuditEntry) {
	t.Helper()
	ctx := context.Background()
	start, err := s.AuditSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaves := make([][]byte, len(entries))
	for i, e := range entries {
		leaves[i] = e.Leaf
	}
	if err := s.AppendAudit(ctx, start, entries, tree.batch(t, leaves)); err != nil {
		t.Fatalf("AppendAudit at %d: %v", start, err)
	}
}

func scanAll(t *testing.T, s store.Audit, f store.AuditFilter) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	err := s.ScanAudit(context.Background(), f, func(e *store.AuditEntry) error {
		c := *e
		c.Leaf = bytes.Clone(e.Leaf)
		c.Body = bytes.Clone(e.Body)
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanAudit(%+v): %v", f, err)
	}
	return out
}

func testAuditAppendAndScan(t *testing.T, s store.Audit) {
	ctx := context.Background()
	if n, err := s.AuditSize(ctx); err != nil || n != 0 {
		t.Fatalf("empty AuditSize = %d, %v; want 0", n, err)
	}
	tree := new(auditTree)
	a := auditEntries("k1", auditT0, 5)
	a[2].Body = []byte("body two")
	a[2].BodyExpires = auditT0.Add(time.Hour)
	appendAudit(t, s, tree, a[:3])
	appendAudit(t, s, tree, a[3:])
	if n, err := s.AuditSize(ctx); err != nil || n != 5 {
		t.Fatalf("AuditSize = %d, %v; want 5", n, err)
	}
	got := scanAll(t, s, store.AuditFilter{Bodies: true})
	if len(got) != 5 {
		t.Fatalf("scanned %d entries, want 5", len(got))
	}
	for i, e := range got {
		if e.Index != int64(i) || !e.Time.Equal(a[i].Time) || e.KeyID != "k1" || e.Team != "team-k1" || !bytes.Equal(e.Leaf, a[i].Leaf) {
			t.Errorf("entry %d = %+v, want %+v", i, e, a[i])
		}
		if !bytes.Equal(e.Body, a[i].Body) || !e.BodyExpires.Equal(a[i].BodyExpires) {
			t.Errorf("entry %d body = %q (expires %v), want %q (%v)", i, e.Body, e.BodyExpires, a[i].Body, a[i].BodyExpires)
		}
	}
	// Without Bodies, no body is read.
	for _, e := range scanAll(t, s, store.AuditFilter{}) {
		if e.Body != nil {
			t.Errorf("entry %d has a body without AuditFilter.Bodies", e.Index)
		}
	}
}

func testAuditAppendConflict(t *testing.T, s store.Audit) {
	ctx := context.Background()
	tree := new(auditTree)
	appendAudit(t, s, tree, auditEntries("k1", auditT0, 3))
	for _, start := range []int64{0, 2, 4} {
		e := auditEntries("k2", auditT0, 1)
		err := s.AppendAudit(ctx, start, e, make([]tlog.Hash, tlog.StoredHashCount(start+1)-tlog.StoredHashCount(start)))
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("AppendAudit at %d on a log of 3: %v, want ErrConflict", start, err)
		}
	}
	if n, _ := s.AuditSize(ctx); n != 3 {
		t.Fatalf("after conflicts AuditSize = %d, want 3", n)
	}
	if got := scanAll(t, s, store.AuditFilter{KeyID: "k2"}); len(got) != 0 {
		t.Fatalf("a conflicting append left %d entries", len(got))
	}
}

func testAuditAppendHashCount(t *testing.T, s store.Audit) {
	ctx := context.Background()
	err := s.AppendAudit(ctx, 0, auditEntries("k1", auditT0, 2), make([]tlog.Hash, 1))
	if err == nil {
		t.Fatal("AppendAudit accepted the wrong number of hashes")
	}
	if n, _ := s.AuditSize(ctx); n != 0 {
		t.Fatalf("a failed append left %d entries", n)
	}
}

func testAuditHashes(t *testing.T, s store.Audit) {
	ctx := context.Background()
	tree := new(auditTree)
	appendAudit(t, s, tree, auditEntries("k1", auditT0, 7))
	appendAudit(t, s, tree, auditEntries("k1", auditT0, 6))
	total := int64(len(tree.hashes))
	if total != tlog.StoredHashCount(13) {
		t.Fatalf("test tree has %d hashes, want %d", total, tlog.StoredHashCount(13))
	}
	idx := []int64{total - 1, 0, 5, 5, 3}
	got, err := s.AuditHashes(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range idx {
		if got[i] != tree.hashes[x] {
			t.Errorf("hash %d = %v, want %v", x, got[i], tree.hashes[x])
		}
	}
	if _, err := s.AuditHashes(ctx, []int64{0, total}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AuditHashes past the end: %v, want ErrNotFound", err)
	}
	// The root computed through the store matches the one computed in memory.
	r := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) { return s.AuditHashes(ctx, ix) })
	th, err := tlog.TreeHash(13, r)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := tlog.TreeHash(13, tree)
	if th != want {
		t.Errorf("TreeHash via store = %v, want %v", th, want)
	}
	var scanned []tlog.Hash
	err = s.ScanAuditHashes(ctx, 4, func(i int64, h tlog.Hash) error {
		if i != 4+int64(len(scanned)) {
			return fmt.Errorf("ScanAuditHashes gave index %d after %d hashes from 4", i, len(scanned))
		}
		scanned = append(scanned, h)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(scanned)) != total-4 || scanned[0] != tree.hashes[4] {
		t.Errorf("ScanAuditHashes from 4 gave %d hashes, want %d", len(scanned), total-4)
	}
}

func testAuditScanFilter(t *testing.T, s store.Audit) {
	tree := new(auditTree)
	appendAudit(t, s, tree, auditEntries("k1", auditT0, 4))                // 0-3
	appendAudit(t, s, tree, auditEntries("k2", auditT0, 4))                // 4-7
	appendAudit(t, s, tree, auditEntries("k1", auditT0.Add(time.Hour), 2)) // 8-9
	indexes := func(es []store.AuditEntry) []int64 {
		var out []int64
		for _, e := range es {
			out = append(out, e.Index)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.AuditFilter
		want []int64
	}{
		{"all", store.AuditFilter{}, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"range", store.AuditFilter{From: 3, To: 6}, []int64{3, 4, 5}},
		{"key", store.AuditFilter{KeyID: "k1"}, []int64{0, 1, 2, 3, 8, 9}},
		{"since", store.AuditFilter{KeyID: "k1", Since: auditT0.Add(2 * time.Minute)}, []int64{2, 3, 8, 9}},
		{"until exclusive", store.AuditFilter{KeyID: "k2", Until: auditT0.Add(2 * time.Minute)}, []int64{4, 5}},
		{"window", store.AuditFilter{Since: auditT0.Add(time.Minute), Until: auditT0.Add(3 * time.Minute)}, []int64{1, 2, 5, 6}},
		{"limit", store.AuditFilter{KeyID: "k1", Limit: 2}, []int64{0, 1}},
		{"none", store.AuditFilter{KeyID: "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := indexes(scanAll(t, s, tt.f))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ScanAudit(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		})
	}
}

func testAuditScanStops(t *testing.T, s store.Audit) {
	tree := new(auditTree)
	appendAudit(t, s, tree, auditEntries("k1", auditT0, 5))
	stop := errors.New("stop")
	n := 0
	err := s.ScanAudit(context.Background(), store.AuditFilter{}, func(*store.AuditEntry) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Fatalf("ScanAudit after fn error: %v after %d calls, want stop after 2", err, n)
	}
}

func testAuditCheckpoints(t *testing.T, s store.Audit) {
	ctx := context.Background()
	if cs, err := s.AuditCheckpoints(ctx, 0, -1, true); err != nil || len(cs) != 0 {
		t.Fatalf("empty AuditCheckpoints = %v, %v", cs, err)
	}
	for _, size := range []int64{10, 3, 7} {
		c := store.AuditCheckpoint{Size: size, Time: auditT0.Add(time.Duration(size) * time.Second), Note: fmt.Appendf(nil, "note %d", size)}
		if err := s.AddAuditCheckpoint(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddAuditCheckpoint(ctx, store.AuditCheckpoint{Size: 7, Time: auditT0, Note: []byte("other")}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second checkpoint for size 7: %v, want ErrConflict", err)
	}
	sizes := func(cs []store.AuditCheckpoint) string {
		var out []int64
		for _, c := range cs {
			out = append(out, c.Size)
		}
		return fmt.Sprint(out)
	}
	tests := []struct {
		min, max int64
		latest   bool
		want     string
	}{
		{0, -1, false, "[3 7 10]"},
		{0, -1, true, "[10]"},
		{4, 10, false, "[7 10]"},
		{0, 9, true, "[7]"},
		{7, 7, false, "[7]"},
		{11, -1, false, "[]"},
	}
	for _, tt := range tests {
		cs, err := s.AuditCheckpoints(ctx, tt.min, tt.max, tt.latest)
		if err != nil {
			t.Fatal(err)
		}
		if got := sizes(cs); got != tt.want {
			t.Errorf("AuditCheckpoints(%d, %d, %v) = %s, want %s", tt.min, tt.max, tt.latest, got, tt.want)
		}
	}
	cs, _ := s.AuditCheckpoints(ctx, 7, 7, false)
	if len(cs) != 1 || string(cs[0].Note) != "note 7" || !cs[0].Time.Equal(auditT0.Add(7*time.Second)) {
		t.Errorf("checkpoint 7 = %+v", cs)
	}
}

func testAuditHolds(t *testing.T, s store.Audit) {
	ctx := context.Background()
	h := store.AuditHold{ID: "h2", KeyID: "k1", Since: auditT0, Incident: "inc-1", Reason: "court order", Created: auditT0}
	if err := s.PutAuditHold(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAuditHold(ctx, store.AuditHold{ID: "h1", KeyID: "*", Created: auditT0}); err != nil {
		t.Fatal(err)
	}
	h.Until = auditT0.Add(time.Hour) // replace
	if err := s.PutAuditHold(ctx, h); err != nil {
		t.Fatal(err)
	}
	hs, err := s.AuditHolds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].ID != "h1" || hs[1].ID != "h2" {
		t.Fatalf("AuditHolds = %+v, want h1, h2", hs)
	}
	got := hs[1]
	if got.KeyID != "k1" || !got.Since.Equal(h.Since) || !got.Until.Equal(h.Until) || got.Incident != "inc-1" || got.Reason != "court order" || !got.Created.Equal(auditT0) {
		t.Errorf("hold = %+v, want %+v", got, h)
	}
	if !hs[0].Since.IsZero() || !hs[0].Until.IsZero() {
		t.Errorf("open hold came back with times %v, %v", hs[0].Since, hs[0].Until)
	}
	if err := s.DeleteAuditHold(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAuditHold(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting a deleted hold: %v, want ErrNotFound", err)
	}
	if hs, _ := s.AuditHolds(ctx); len(hs) != 1 {
		t.Errorf("after delete %d holds, want 1", len(hs))
	}
}

func testAuditPrune(t *testing.T, s store.Audit) {
	ctx := context.Background()
	tree := new(auditTree)
	var all []store.AuditEntry
	for _, key := range []string{"k1", "k2", "k3"} {
		es := auditEntries(key, auditT0, 3) // minutes 0, 1, 2
		for i := range es {
			es[i].Body = fmt.Appendf(nil, "body %s %d", key, i)
			es[i].BodyExpires = es[i].Time.Add(24 * time.Hour)
		}
		all = append(all, es...)
	}
	all[8].BodyExpires = time.Time{} // k3 minute 2: kept for ever
	appendAudit(t, s, tree, all)
	// k2 is held for minute 1 only; later k1 is held in full.
	if err := s.PutAuditHold(ctx, store.AuditHold{ID: "h", KeyID: "k2", Since: auditT0.Add(time.Minute), Until: auditT0.Add(time.Minute), Created: auditT0}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneAuditBodies(ctx, auditT0.Add(24*time.Hour+90*time.Second)) // minutes 0 and 1 expired
	if err != nil {
		t.Fatal(err)
	}
	// Expired: k1 0,1; k2 0,1 (1 held); k3 0,1 => 5 deleted.
	if n != 5 {
		t.Errorf("pruned %d bodies, want 5", n)
	}
	kept := map[int64]bool{}
	for _, e := range scanAll(t, s, store.AuditFilter{Bodies: true}) {
		if e.Body != nil {
			kept[e.Index] = true
		}
		if !bytes.Equal(e.Leaf, all[e.Index].Leaf) {
			t.Errorf("pruning changed the leaf of entry %d", e.Index)
		}
	}
	want := map[int64]bool{2: true, 4: true, 5: true, 8: true}
	if fmt.Sprint(kept) != fmt.Sprint(want) {
		t.Errorf("bodies kept at %v, want %v", kept, want)
	}
	if n, _ := s.AuditSize(ctx); n != 9 {
		t.Errorf("pruning changed the size to %d", n)
	}
	// A hold on every key stops all pruning.
	if err := s.PutAuditHold(ctx, store.AuditHold{ID: "all", KeyID: "*", Created: auditT0}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneAuditBodies(ctx, auditT0.Add(1000*time.Hour)); err != nil || n != 0 {
		t.Errorf("prune under a hold on everything: %d, %v; want 0", n, err)
	}
	if err := s.DeleteAuditHold(ctx, "all"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneAuditBodies(ctx, auditT0.Add(1000*time.Hour)); err != nil || n != 2 {
		t.Errorf("prune after lifting the hold: %d, %v; want 2 (k1 2 and k2 2; k2 1 still held)", n, err)
	}
}
