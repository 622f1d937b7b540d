package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/testenv"
)

// integrateOne stages one entry through from and integrates through by,
// without waiting for the lease, and returns what IntegrateAudit returned.
func integrateOne(t *testing.T, from, by *DB, n int) (int, error) {
	t.Helper()
	ctx := context.Background()
	if err := from.StageAudit(ctx, []store.AuditEntry{{Leaf: fmt.Appendf(nil, "leaf %d", n)}}); err != nil {
		t.Fatal(err)
	}
	_, moved, err := by.IntegrateAudit(ctx, 1, false, oneHash)
	return moved, err
}

// oneHash is IntegrateAudit's hashes callback for a batch of one entry,
// whose predecessors' hashes are all in the store.
func oneHash(start int64, entries []store.AuditEntry, read func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error) {
	return tlog.StoredHashesForRecordHash(start, tlog.RecordHash(entries[0].Leaf), tlog.HashReaderFunc(read))
}

// The instance that integrated last keeps integrating: another is turned
// away (ErrConflict) while the lease is fresh, except for Sync's waiting
// pass, and takes over when the holder closes or its lease lapses.
func TestIntegrationLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	a, b := open(t, dsn), open(t, dsn)
	defer b.Close()

	steps := []struct {
		name     string
		from, by *DB
		conflict bool
	}{
		{"a takes the lapsed lease", a, a, false},
		{"b is turned away while a holds it", b, b, true},
		{"a integrates what b staged", b, a, false},
	}
	n := 0
	for _, s := range steps {
		n++
		moved, err := integrateOne(t, s.from, s.by, n)
		if s.conflict != errors.Is(err, store.ErrConflict) || (!s.conflict && err != nil) {
			t.Fatalf("%s: err %v, want conflict %v", s.name, err, s.conflict)
		}
		if err == nil && moved < 1 {
			t.Fatalf("%s: moved %d", s.name, moved)
		}
	}
	// Sync's pass (wait true) integrates whoever holds the lease.
	if err := b.StageAudit(ctx, []store.AuditEntry{{Leaf: []byte("leaf sync")}}); err != nil {
		t.Fatal(err)
	}
	if _, moved, err := b.IntegrateAudit(ctx, 1, true, oneHash); err != nil || moved != 1 {
		t.Fatalf("b's waiting pass: moved %d, %v", moved, err)
	}
	if _, err := integrateOne(t, b, b, 10); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("after its waiting pass b took the lease from a: %v", err)
	}

	// A holder that stops hands the lease back.
	a.Close()
	if _, moved, err := b.IntegrateAudit(ctx, 1, false, oneHash); err != nil || moved != 1 {
		t.Fatalf("after a closed: b moved %d, %v", moved, err)
	}
	// One that dies lets it lapse; b's lease is made to lapse as a dead
	// holder's would, and a third instance takes over.
	c := open(t, dsn)
	defer c.Close()
	if _, err := integrateOne(t, c, c, 11); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("c integrated while b held the lease: %v", err)
	}
	if _, err := b.pool.Exec(ctx, `UPDATE audit_integrator SET until = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, moved, err := c.IntegrateAudit(ctx, 1, false, oneHash); err != nil || moved != 1 {
			t.Fatalf("after b's lease lapsed: c moved %d, %v", moved, err)
		}
	}
	if staged, err := c.AuditStaged(ctx); err != nil || staged != 0 {
		t.Fatalf("%d entries left staged (%v)", staged, err)
	}
	if size, err := c.AuditSize(ctx); err != nil || size != 6 {
		t.Fatalf("log size %d (%v), want 6", size, err)
	}
}
