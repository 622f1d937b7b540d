package postgres

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/testenv"
)

// auditKey returns a signer and its verifier key shared by every instance,
// as a deployment configures one signing key for its one log.
func auditKey(t testing.TB) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "warden.test/audit/cluster")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

func auditEvent(id string, at time.Time) *event.Event {
	return &event.Event{ID: id, Time: at, KeyID: "k_shared", KeyOwner: "acme", ClientIP: "203.0.113.7",
		Method: "POST", Path: "/v1/chat/completions", Model: "gpt-4o", Status: 200}
}

// eventIDs reads every entry and returns the event id of each index.
func eventIDs(t *testing.T, st store.Audit) []string {
	t.Helper()
	var ids []string
	err := st.ScanAudit(context.Background(), store.AuditFilter{}, func(e *store.AuditEntry) error {
		if e.Index != int64(len(ids)) {
			return fmt.Errorf("entry %d after %d entries", e.Index, len(ids))
		}
		leaf, err := audit.ParseLeaf(e.Leaf)
		if err != nil {
			return err
		}
		var ev struct{ ID string }
		if err := json.Unmarshal(leaf.Event, &ev); err != nil {
			return err
		}
		ids = append(ids, ev.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// Three instances (each its own pool and audit.Log) append to one log at
// once, checkpointing every few milliseconds with the shared key. Appends
// are staged (Append answers -1) and integrated by whichever instance holds
// the lease; after Close every answered append is in the log exactly once,
// nothing is left staged, and the whole log with its checkpoints verifies.
func TestAuditManyInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	signer, vkey := auditKey(t)
	const instances, writers, each = 3, 4, 60
	var logs []*audit.Log
	for range instances {
		db := open(t, dsn)
		defer db.Close()
		l, err := audit.New(ctx, db, audit.Config{CheckpointInterval: 20 * time.Millisecond}, audit.Options{Signer: signer, VerifierKey: vkey})
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	var (
		mu    sync.Mutex
		index = map[string]int64{} // event id -> what Append returned
		wg    sync.WaitGroup
	)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, l := range logs {
		for w := range writers {
			wg.Go(func() {
				for n := range each {
					id := fmt.Sprintf("req-%d-%d-%d", i, w, n)
					x, err := l.Append(ctx, auditEvent(id, t0.Add(time.Duration(n)*time.Millisecond)), nil)
					if err != nil {
						t.Errorf("instance %d: %v", i, err)
						return
					}
					mu.Lock()
					index[id] = x
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, l := range logs {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	const total = instances * writers * each
	db := open(t, dsn)
	defer db.Close()
	if len(index) != total {
		t.Fatalf("%d appends answered, want %d", len(index), total)
	}
	seen := storetest.Once(t, eventIDs(t, db), total)
	for id, x := range index {
		if _, ok := seen[id]; !ok || x != -1 {
			t.Fatalf("Append of %s answered %d; in the log: %v (want every staged append, answered -1)", id, x, ok)
		}
	}
	if n, err := db.AuditStaged(ctx); err != nil || n != 0 {
		t.Fatalf("%d entries left staged after every instance closed (%v)", n, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	res, err := audit.Verify(ctx, db, v)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != total || res.Checkpoints == 0 {
		t.Errorf("verified %d entries and %d checkpoints, want %d and at least one", res.Size, res.Checkpoints, total)
	}
	var batches, integrated int64
	for _, l := range logs {
		batches, integrated = batches+l.Stats().Batches, integrated+l.Stats().Integrated
	}
	if integrated != total {
		t.Errorf("the instances integrated %d entries in all, want %d", integrated, total)
	}
	t.Logf("%d entries staged in %d batches, %d checkpoints", total, batches, res.Checkpoints)
}

// tailless hides the staging methods, so the log falls back to AppendAudit
// at the size it knows, conflicts and reloads.
type tailless struct{ store.Audit }

// A log that does not know about another instance's appends (a store
// without AuditStaging) meets ErrConflict, reloads and lands after them.
func TestAuditConflictReload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	signer, vkey := auditKey(t)
	a, b := open(t, dsn), open(t, dsn)
	defer a.Close()
	defer b.Close()
	var logs []*audit.Log
	for _, db := range []*DB{a, b} {
		l, err := audit.New(ctx, tailless{db}, audit.Config{CheckpointInterval: -1}, audit.Options{Signer: signer, VerifierKey: vkey})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		logs = append(logs, l)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for n := range 6 {
		l := logs[n%2] // each append finds the other's entry before it
		x, err := l.Append(ctx, auditEvent(fmt.Sprintf("req-%d", n), t0), nil)
		if err != nil || x != int64(n) {
			t.Fatalf("append %d: index %d, %v", n, x, err)
		}
	}
	if _, err := logs[1].Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	v, _ := note.NewVerifier(vkey)
	if res, err := audit.Verify(ctx, a, v); err != nil || res.Size != 6 {
		t.Fatalf("verify: %+v, %v", res, err)
	}
}
