package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/testenv"
)

// open opens the store at dsn, failing the test or benchmark if it cannot;
// the caller closes it.
func open(t testing.TB, dsn string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	t.Parallel()
	testenv.PostgresURL(t) // skip (or fail in CI) once, not in every subtest
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, testenv.PostgresSchema(t))
	})
}

// Instances that start at the same time must not trip over each other's
// migrations, and a second start must find nothing to do.
func TestConcurrentMigrations(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			db, err := Open(context.Background(), dsn)
			if err == nil {
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	db := open(t, dsn)
	defer db.Close()
	var n int
	if err := db.Pool().QueryRow(context.Background(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("schema_migrations: %d rows, %v", n, err)
	}
}

// Updates of one key from several instances at once apply one after the
// other: none is lost, and every one is logged as a change.
func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	a, b := open(t, dsn), open(t, dsn) // two instances
	defer a.Close()
	defer b.Close()
	k, _ := storetest.NewKey(t, "shared")
	k.RPM = 0
	if err := a.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	_, rev, err := a.KeysChangedSince(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	const each = 20
	var wg sync.WaitGroup
	for _, db := range []*DB{a, b} {
		wg.Go(func() {
			for range each {
				if _, err := db.UpdateKey(ctx, k.ID, func(k *keys.Key) error { k.RPM++; return nil }); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := b.KeyByID(ctx, k.ID)
	if err != nil || got.RPM != 2*each {
		t.Fatalf("RPM = %d, want %d (%v)", got.RPM, 2*each, err)
	}
	ids, _, err := b.KeysChangedSince(ctx, rev)
	if err != nil || len(ids) != 2*each {
		t.Errorf("changes: %d, want %d (%v)", len(ids), 2*each, err)
	}
}

// A reader that follows KeysChangedSince while several writers commit must
// see every change exactly once, in revision order: no revision may become
// visible after a larger one was read.
func TestChangesNeverSkip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	db := open(t, dsn)
	defer db.Close()
	const writers, each = 4, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				k, _ := storetest.NewKey(t, fmt.Sprintf("w%d-%d", w, i))
				if err := db.CreateKey(ctx, k); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[string]bool{}
	var rev int64
	for finished := false; ; {
		select {
		case <-done:
			finished = true
		default:
		}
		ids, now, err := db.KeysChangedSince(ctx, rev)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("id %s reported twice", id)
			}
			seen[id] = true
		}
		rev = now
		if finished && len(ids) == 0 {
			break
		}
	}
	if len(seen) != writers*each {
		t.Errorf("saw %d changes, want %d", len(seen), writers*each)
	}
}

// Touches from several instances with overlapping batches in opposite orders
// must not deadlock, and the newest use wins.
func TestConcurrentTouch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, testenv.PostgresSchema(t))
	defer db.Close()
	var ks []*keys.Key
	for i := range 10 {
		k, _ := storetest.NewKey(t, fmt.Sprintf("k%d", i))
		if err := db.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	t0 := time.Unix(1_800_000_000, 0).UTC()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for round := range 20 {
				uses := make([]store.KeyUse, len(ks))
				for i, k := range ks {
					j := i
					if w%2 == 1 {
						j = len(ks) - 1 - i
					}
					uses[j] = store.KeyUse{ID: k.ID, At: t0.Add(time.Duration(round*4+w) * time.Second), IP: "192.0.2.1"}
				}
				if err := db.TouchKeys(ctx, uses); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := t0.Add(time.Duration(19*4+3) * time.Second)
	for _, k := range ks {
		got, err := db.KeyByID(ctx, k.ID)
		if err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(want) {
			t.Errorf("%s: last used %v, want %v (%v)", k.ID, got.LastUsedAt, want, err)
		}
	}
}

// Killing the pool's connections on the server (a restart, a failover, an
// idle timeout in a proxy) costs at most the calls in flight: the pool
// reconnects without a restart of Warden.
func TestRecoversFromKilledConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, testenv.PostgresSchema(t))
	defer db.Close()
	k, sec := storetest.NewKey(t, "survivor")
	if err := db.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	admin := open(t, testenv.PostgresSchema(t))
	defer admin.Close()
	// Hold three connections, so the pool has at least three, then give them
	// back and kill them all on the server.
	var conns []*pgxpool.Conn
	for range 3 {
		c, err := db.Pool().Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var pids []int32
	for _, c := range conns {
		pids = append(pids, int32(c.Conn().PgConn().PID()))
		c.Release()
	}
	if _, err := admin.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid`, pids); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	failures := 0
	for {
		_, err := db.KeyByHash(ctx, sec.Hash())
		if err == nil {
			break
		}
		if errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		failures++
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after %d failures: %v", failures, err)
		}
	}
	t.Logf("recovered after %d failed calls", failures)
}

func TestBadDSN(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, dsn := range []string{
		"postgres://user:hunter2@[::1:5432/db",                     // malformed
		"postgres://user:hunter2@127.0.0.1:1/db?connect_timeout=2", // nothing listens
	} {
		_, err := Open(ctx, dsn)
		if err == nil {
			t.Fatalf("%q: no error", dsn)
		}
		if msg := err.Error(); strings.Contains(msg, "hunter2") {
			t.Errorf("error leaks the password: %s", msg)
		}
	}
}

func TestAuditConformance(t *testing.T) {
	t.Parallel()
	testenv.PostgresURL(t)
	storetest.RunAudit(t, func(t *testing.T) store.Audit {
		return open(t, testenv.PostgresSchema(t))
	})
}

func TestDetectConformance(t *testing.T) {
	t.Parallel()
	testenv.PostgresURL(t)
	storetest.RunDetect(t, func(t *testing.T) storetest.DetectStore {
		return open(t, testenv.PostgresSchema(t))
	})
}
