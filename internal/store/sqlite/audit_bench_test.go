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
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			db := benchDB(b)
			entries := benchEntries(batch)
			var n int64
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				hashes := make([]tlog.Hash, tlog.StoredHashCount(n+int64(batch))-tlog.StoredHashCount(n))
				if err := db.AppendAudit(context.Background(), n, entries, hashes); err != nil {
					b.Fatal(err)
				}
				n += int64(batch)
			}
		})
	}
}

// BenchmarkAppendAuditStaged measures the journal's share of an append, per
// entry: staging (what an answer waits for), and integration, which moves
// staged entries into the log in batches off the request path (25 is what
// 25 ms of integration pace gathers at 1,000 requests/s).
func BenchmarkAppendAuditStaged(b *testing.B) {
	zeroHashes := func(start int64, es []store.AuditEntry, _ func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error) {
		return make([]tlog.Hash, tlog.StoredHashCount(start+int64(len(es)))-tlog.StoredHashCount(start)), nil
	}
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("stage/batch=%d", batch), func(b *testing.B) {
			db := benchDB(b)
			es := benchEntries(batch)
			b.ReportAllocs()
			b.ResetTimer()
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
	}
	for _, batch := range []int{25, 256} {
		b.Run(fmt.Sprintf("integrate/batch=%d", batch), func(b *testing.B) {
			db := benchDB(b)
			es := benchEntries(batch)
			b.ReportAllocs()
			b.ResetTimer()
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
}

// benchDB opens a store in a fresh directory, closed when the benchmark ends.
func benchDB(b *testing.B) *DB {
	db := openDir(b, b.TempDir())
	b.Cleanup(func() { db.Close() })
	return db
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
