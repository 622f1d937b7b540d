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
	leaf := make([]byte, 1000)
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			db, err := Open(context.Background(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			entries := make([]store.AuditEntry, batch)
			for i := range entries {
				entries[i] = store.AuditEntry{Time: time.Now(), KeyID: "k_0001", Team: "t", Leaf: leaf}
			}
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
