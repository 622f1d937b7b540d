package postgres

import (
	"context"
	"testing"

	"github.com/wardenhq/warden/internal/keys"
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
