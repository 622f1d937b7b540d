package identity

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
)

// testStore is a real SQLite store with look-ups shaped as the gateway
// passes them.
type testStore struct {
	store.Store
}

func newTestStore(t testing.TB) *testStore {
	t.Helper()
	db := sqlitetest.Open(t)
	return &testStore{db}
}

func (s *testStore) byHash(ctx context.Context, h keys.Hash) (*keys.Key, error) {
	k, err := s.KeyByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return k, err
}

func (s *testStore) create(t testing.TB, spec keys.Spec) (*keys.Key, string) {
	t.Helper()
	k, sec, err := keys.Create(context.Background(), s, spec, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k, sec.Reveal()
}
