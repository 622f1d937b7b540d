package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/testenv"
)

// The columns PostgreSQL keeps beside each leaf (key_id, team, ts; the body
// row's key_id and ts) are checked by Verify, and a changed key_id cannot
// hide an entry from an export by key: the same tamper tests as on SQLite
// (package audit), on this store.
func TestAuditIndexColumnsTamper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name, sql string
		want      string
	}{
		{"key_id", `UPDATE audit_entries SET key_id = 'k_other' WHERE idx = 3`, "column key_id"},
		{"team", `UPDATE audit_entries SET team = 'elsewhere' WHERE idx = 3`, "column team"},
		{"ts", `UPDATE audit_entries SET ts = ts + 1000 WHERE idx = 3`, "column ts"},
		{"body key_id", `UPDATE audit_bodies SET key_id = 'k_other' WHERE idx = 3`, "body's key_id"},
		{"body ts", `UPDATE audit_bodies SET ts = 1 WHERE idx = 3`, "body's ts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := open(t, testenv.PostgresSchema(t))
			defer db.Close()
			signer, vkey := auditKey(t)
			v, _ := note.NewVerifier(vkey)
			l, err := audit.New(ctx, db, audit.Config{CheckpointInterval: -1, Retention: audit.Retention{Bodies: audit.BodyPlaintext}}, audit.Options{Signer: signer, VerifierKey: vkey})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			for i := range 8 {
				e := auditEvent(fmt.Sprintf("req-%d", i), t0.Add(time.Duration(i)*time.Second))
				e.KeyID = []string{"k_owner", "k_thief"}[i%2]
				if _, err := l.Append(ctx, e, &audit.Bodies{Prompt: []byte("hi"), Answer: []byte("hello")}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if res, err := audit.Verify(ctx, db, v); err != nil || res.Size != 8 || res.Bodies != 8 {
				t.Fatalf("untouched log: %+v, %v", res, err)
			}
			if tag, err := db.Pool().Exec(ctx, tt.sql); err != nil || tag.RowsAffected() != 1 {
				t.Fatalf("%s: %v, %v", tt.sql, tag, err)
			}
			_, err = audit.Verify(ctx, db, v)
			var ve *audit.VerifyError
			if !errors.As(err, &ve) || ve.Index != 3 || !strings.Contains(ve.Reason, tt.want) {
				t.Fatalf("Verify after %s = %v; want entry 3 and %q", tt.sql, err, tt.want)
			}
			// Entry 3 is k_thief's; the export of k_thief must not
			// quietly leave it out when its index column was changed.
			var buf bytes.Buffer
			m, err := l.Export(ctx, &buf, audit.Scope{KeyID: "k_thief"})
			if tt.name == "key_id" && (err == nil || !strings.Contains(err.Error(), "entry 3: column key_id")) {
				t.Fatalf("export after hiding entry 3: %+v, %v; want it refused", m, err)
			}
		})
	}
}

// stallIntegrate holds the first integration transaction open after it has
// read its batch, written its entries and computed their hashes, until
// released: the moment to kill the integrator.
type stallIntegrate struct {
	*DB
	once             sync.Once
	stalled, release chan struct{}
}

func (s *stallIntegrate) IntegrateAudit(ctx context.Context, max int, wait bool, hashes func(int64, []store.AuditEntry, func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error)) (int64, int, error) {
	return s.DB.IntegrateAudit(ctx, max, wait, func(start int64, es []store.AuditEntry, read func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error) {
		hs, err := hashes(start, es, read)
		s.once.Do(func() {
			close(s.stalled)
			<-s.release
		})
		return hs, err
	})
}

// The integrator dies mid-batch: its database session is terminated while
// its transaction holds the lease and the log's head, has read a batch of
// staged entries and written them into the log, but not their hashes. Nothing answered is lost: the batch rolls back,
// stays staged, and another instance integrates every entry exactly once.
func TestAuditIntegratorDiesMidBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	signer, vkey := auditKey(t)
	dying := &stallIntegrate{DB: open(t, dsn), stalled: make(chan struct{}), release: make(chan struct{})}
	defer dying.Close()
	cfg := audit.Config{CheckpointInterval: -1}
	l1, err := audit.New(ctx, dying, cfg, audit.Options{Signer: signer, VerifierKey: vkey})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const n = 200
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range n / 8 {
				if _, err := l1.Append(ctx, auditEvent(fmt.Sprintf("req-%d-%d", w, i), t0), nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	select {
	case <-dying.stalled:
	case <-time.After(30 * time.Second):
		t.Fatal("the integrator never started a batch")
	}
	wg.Wait() // every append is answered while the integrator is stuck
	var schema string
	if err := dying.Pool().QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	// The session holding this schema's integration lease.
	var pid int
	err = dying.Pool().QueryRow(ctx, `WITH k AS (SELECT hashtext('warden.audit.integrate.' || $1::text)::bigint AS v)
		SELECT l.pid FROM pg_locks l, k WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		AND l.classid::bigint = ((k.v >> 32) & 4294967295) AND l.objid::bigint = (k.v & 4294967295)`, schema).Scan(&pid)
	if err != nil {
		t.Fatalf("find the integrator's session: %v", err)
	}
	if _, err := dying.Pool().Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	other := open(t, dsn)
	defer other.Close()
	if size, err := other.AuditSize(ctx); err != nil || size != 0 {
		t.Fatalf("after the integrator died the log holds %d entries (%v), want 0: its batch must roll back", size, err)
	}
	if staged, err := other.AuditStaged(ctx); err != nil || staged != n {
		t.Fatalf("after the integrator died %d entries are staged (%v), want all %d", staged, err, n)
	}
	close(dying.release)

	// Another instance integrates them (and the first one, recovering,
	// may race it for the lease: each entry must land once).
	l2, err := audit.New(ctx, other, cfg, audit.Options{Signer: signer, VerifierKey: vkey})
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l1.Close(); err != nil { // the first instance recovers too
		t.Fatal(err)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.Once(t, eventIDs(t, other), n) // n appends were answered
	if staged, err := other.AuditStaged(ctx); err != nil || staged != 0 {
		t.Fatalf("%d entries still staged (%v)", staged, err)
	}
	v, _ := note.NewVerifier(vkey)
	if res, err := audit.Verify(ctx, other, v); err != nil || res.Size != n {
		t.Fatalf("verify: %+v, %v", res, err)
	}
}
