package postgres

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/testenv"
)

// BenchmarkKeyByHash measures the lookup a key-cache miss costs.
func BenchmarkKeyByHash(b *testing.B) {
	ctx := context.Background()
	db := open(b, testenv.PostgresSchema(b))
	defer db.Close()
	var hs []keys.Hash
	for range 100 {
		k, _ := storetest.NewKey(b, "bench")
		if err := db.CreateKey(ctx, k); err != nil {
			b.Fatal(err)
		}
		hs = append(hs, k.Hash)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := db.KeyByHash(ctx, hs[i%len(hs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkStageAudit measures one instance's group commit of n entries of
// about 1 KB: what every answer waits for on PostgreSQL.
func BenchmarkStageAudit(b *testing.B) {
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			db := open(b, testenv.PostgresSchema(b))
			defer db.Close()
			leaf := bytes.Repeat([]byte("x"), 1000)
			es := make([]store.AuditEntry, n)
			for i := range es {
				es[i] = store.AuditEntry{Time: time.Now(), KeyID: "key_1", Team: "team", Leaf: leaf}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := db.StageAudit(ctx, es); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
