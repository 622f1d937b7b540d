package canary

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
)

func TestCreateAndPlant(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	tests := []struct {
		style string
		check func(string) bool
	}{
		{StyleWarden, func(s string) bool { _, err := keys.Parse(s); return err == nil }},
		{StyleAzure, func(s string) bool { return len(s) == 32 && strings.Trim(s, "0123456789abcdef") == "" }},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		c, err := Create(ctx, db, Options{Style: tt.style, Owner: "acme"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !tt.check(c.Secret) {
			t.Errorf("%s secret %q has the wrong shape", tt.style, c.Secret)
		}
		k, err := db.KeyByHash(ctx, keys.HashOf(c.Secret))
		if err != nil || k.ID != c.ID || k.Kind != keys.KindCanary {
			t.Errorf("%s: stored %+v, %v", tt.style, k, err)
		}
		p, err := Plant(dir, c)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		if !strings.Contains(string(b), c.Secret) || !strings.Contains(string(b), c.Endpoint) {
			t.Errorf("planted file %s lacks the canary", p)
		}
	}
	if _, err := Create(ctx, db, Options{Style: "gcp"}, time.Now()); err == nil {
		t.Error("unknown style accepted")
	}
}
