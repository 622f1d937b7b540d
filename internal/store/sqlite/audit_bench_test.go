package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store"
)

// BenchmarkAppendAudit measures the store's share of an append, per entry,
// for several batch sizes: what group commit amortises.
func BenchmarkAppendAudit(b *testing.B) {
	benchBatches(b, "batch", []int{1, 16, 256}, func(b *testing.B, db *DB, entries []store.AuditEntry) {
		batch := len(entries)
		var n int64
		for i := 0; i < b.N; i += batch {
			hashes := make([]tlog.Hash, tlog.StoredHashCount(n+int64(batch))-tlog.StoredHashCount(n))
			if err := db.AppendAudit(context.Background(), n, entries, hashes); err != nil {
				b.Fatal(err)
			}
			n += int64(batch)
		}
	})
}

// BenchmarkAppendAuditStaged measures the journal's share of an append, per
// entry: staging (what an answer waits for), and integration, which moves
// staged entries into the log in batches off the request path (25 is what
// 25 ms of integration pace gathers at 1,000 requests/s).
func BenchmarkAppendAuditStaged(b *testing.B) {
	zeroHashes := func(start int64, es []store.AuditEntry, _ func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error) {
		return make([]tlog.Hash, tlog.StoredHashCount(start+int64(len(es)))-tlog.StoredHashCount(start)), nil
	}
	benchBatches(b, "stage/batch", []int{1, 16, 256}, func(b *testing.B, db *DB, es []store.AuditEntry) {
		batch := len(es)
		for i := 0; i < b.N; i += batch {
			if err := db.StageAudit(context.Background(), es); err != nil {
				b.Fatal(err)
			}
			if i%(64*batch) == 0 { // keep the journal small, off the clock
				b.StopTimer()
				for {
					if _, n, err := db.IntegrateAudit(context.Background(), 4096, true, zeroHashes); err != nil || n == 0 {
						break
					}
				}
				b.StartTimer()
			}
		}
	})
	benchBatches(b, "integrate/batch", []int{25, 256}, func(b *testing.B, db *DB, es []store.AuditEntry) {
		batch := len(es)
		for i := 0; i < b.N; i += batch {
			b.StopTimer()
			if err := db.StageAudit(context.Background(), es); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, n, err := db.IntegrateAudit(context.Background(), batch, true, zeroHashes); err != nil || n != batch {
				b.Fatalf("integrated %d, %v", n, err)
			}
		}
	})
}

// benchBatches runs run as one sub-benchmark, name=size, per batch size:
// each on a store in a fresh directory (closed when it ends) with size
// entries to write, counting allocations from the first iteration.
func benchBatches(b *testing.B, name string, sizes []int, run func(b *testing.B, db *DB, es []store.AuditEntry)) {
	for _, size := range sizes {
		b.Run(fmt.Sprintf("%s=%d", name, size), func(b *testing.B) {
			db := openDir(b, b.TempDir())
			b.Cleanup(func() { db.Close() })
			es := benchEntries(size)
			b.ReportAllocs()
			b.ResetTimer()
			run(b, db, es)
		})
	}
}

// benchEntries returns n entries with realistic 1 KB leaves.
func benchEntries(n int) []store.AuditEntry {
	leaf := make([]byte, 1000)
	es := make([]store.AuditEntry, n)
	for i := range es {
		es[i] = store.AuditEntry{Time: time.Now(), KeyID: "k_0001", Team: "t", Leaf: leaf}
	}
	return es
}
