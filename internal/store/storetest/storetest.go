// Package storetest is the conformance suite every store backend must pass.
// A backend's test calls Run with a function that returns a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

// testCase is one test of a suite, on a fresh store.
type testCase[S any] struct {
	name string
	fn   func(t *testing.T, s S)
}

// runCases runs each case as a subtest on a fresh store from open, and
// closes that store afterwards if it has a Close method.
func runCases[S any](t *testing.T, open func(t *testing.T) S, cases []testCase[S]) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if c, ok := any(s).(interface{ Close() error }); ok {
				defer c.Close()
			}
			tc.fn(t, s)
		})
	}
}

// Run runs the suite. open must return an empty store; Run closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	runCases(t, open, []testCase[store.Store]{
		{"CreateAndGet", testCreateAndGet},
		{"Conflict", testConflict},
		{"NotFound", testNotFound},
		{"Update", testUpdate},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"List", testList},
		{"Delete", testDelete},
		{"Touch", testTouch},
		{"Changes", testChanges},
		{"Usage", testUsage},
	})
}

// NewKey returns a valid key record and its secret, for tests.
func NewKey(t testing.TB, name string) (*keys.Key, keys.Secret) {
	t.Helper()
	sec, err := keys.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &keys.Key{
		ID:        keys.NewID(),
		Hash:      sec.Hash(),
		Name:      name,
		Kind:      keys.KindStandard,
		Status:    keys.StatusActive,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}, sec
}

func mustCreate(t *testing.T, s store.Store, name string) (*keys.Key, keys.Secret) {
	t.Helper()
	k, sec := NewKey(t, name)
	if err := s.CreateKey(context.Background(), k); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return k, sec
}

func testCreateAndGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	k, sec := NewKey(t, "alpha")
	k.Owner = "team-a"
	k.Models = []string{"gpt-4o"}
	k.CIDRs = []string{"10.0.0.0/8"}
	k.RPM, k.TPM, k.MaxConcurrent, k.MonthlyBudgetUSD = 60, 1000, 2, 12.5
	k.Labels = map[string]string{"env": "prod"}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	for _, get := range []func() (*keys.Key, error){
		func() (*keys.Key, error) { return s.KeyByID(ctx, k.ID) },
		func() (*keys.Key, error) { return s.KeyByHash(ctx, sec.Hash()) },
	} {
		got, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != k.ID || !got.Hash.Equal(k.Hash) || got.Owner != "team-a" || got.RPM != 60 ||
			got.MonthlyBudgetUSD != 12.5 || len(got.Models) != 1 || got.Labels["env"] != "prod" ||
			!got.CreatedAt.Equal(k.CreatedAt) {
			t.Errorf("got %+v, want %+v", got, k)
		}
	}
}

func testConflict(t *testing.T, s store.Store) {
	k, _ := mustCreate(t, s, "a")
	dup := k.Clone()
	dup.ID = keys.NewID()
	if err := s.CreateKey(context.Background(), dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same hash: err = %v, want ErrConflict", err)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.KeyByID(ctx, "key_none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyByID: %v", err)
	}
	if _, err := s.KeyByHash(ctx, keys.HashOf("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyByHash: %v", err)
	}
	if _, err := s.UpdateKey(ctx, "key_none", func(*keys.Key) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateKey: %v", err)
	}
	if err := s.DeleteKey(ctx, "key_none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteKey: %v", err)
	}
}

func testUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	k, _ := mustCreate(t, s, "a")
	got, err := s.UpdateKey(ctx, k.ID, func(k *keys.Key) error {
		k.Status = keys.StatusSuspended
		k.StatusReason = "test"
		k.ID = "key_hijack" // must be ignored
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != k.ID {
		t.Errorf("id changed to %s", got.ID)
	}
	again, err := s.KeyByID(ctx, k.ID)
	if err != nil || again.Status != keys.StatusSuspended || again.StatusReason != "test" {
		t.Errorf("after update: %+v, %v", again, err)
	}
	if list, _ := s.ListKeys(ctx, store.KeyFilter{Status: keys.StatusSuspended}); len(list) != 1 {
		t.Errorf("status column not updated: %d suspended", len(list))
	}
}

func testUpdateRollsBack(t *testing.T, s store.Store) {
	ctx := context.Background()
	k, _ := mustCreate(t, s, "a")
	boom := errors.New("boom")
	if _, err := s.UpdateKey(ctx, k.ID, func(k *keys.Key) error { k.Name = "changed"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.UpdateKey(ctx, k.ID, func(k *keys.Key) error { k.Status = "bogus"; return nil }); err == nil {
		t.Fatal("invalid status accepted")
	}
	got, _ := s.KeyByID(ctx, k.ID)
	if got.Name != "a" || got.Status != keys.StatusActive {
		t.Errorf("changes leaked: %+v", got)
	}
}

func testList(t *testing.T, s store.Store) {
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		k, _ := NewKey(t, fmt.Sprintf("key-%d", i))
		k.CreatedAt = time.Unix(1700000000+int64(i), 0).UTC()
		if i%2 == 0 {
			k.Owner = "even"
		}
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	all, err := s.ListKeys(ctx, store.KeyFilter{})
	if err != nil || len(all) != 5 {
		t.Fatalf("all: %d, %v", len(all), err)
	}
	for i, k := range all {
		if k.ID != ids[i] {
			t.Errorf("order: [%d] = %s, want %s", i, k.ID, ids[i])
		}
	}
	if even, _ := s.ListKeys(ctx, store.KeyFilter{Owner: "even"}); len(even) != 3 {
		t.Errorf("owner filter: %d", len(even))
	}
	page, _ := s.ListKeys(ctx, store.KeyFilter{After: ids[1], Limit: 2})
	if len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[3] {
		t.Errorf("paging: %v", page)
	}
	if found, _ := s.ListKeys(ctx, store.KeyFilter{Search: "KEY-4"}); len(found) != 1 || found[0].ID != ids[4] {
		t.Errorf("search: %v", found)
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	k, sec := mustCreate(t, s, "a")
	if err := s.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KeyByHash(ctx, sec.Hash()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted key still found: %v", err)
	}
}

func testTouch(t *testing.T, s store.Store) {
	ctx := context.Background()
	k, _ := mustCreate(t, s, "a")
	_, rev, _ := s.KeysChangedSince(ctx, 0)
	t1 := time.Unix(1800000000, 0).UTC()
	if err := s.TouchKeys(ctx, []store.KeyUse{{ID: k.ID, At: t1, IP: "192.0.2.1"}, {ID: k.ID, At: t1.Add(-time.Hour), IP: "192.0.2.9"}}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.KeyByID(ctx, k.ID)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(t1) || got.LastUsedIP != "192.0.2.1" {
		t.Errorf("last used = %v from %q", got.LastUsedAt, got.LastUsedIP)
	}
	if ids, _, _ := s.KeysChangedSince(ctx, rev); len(ids) != 0 {
		t.Errorf("touch counted as change: %v", ids)
	}
}

func testChanges(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, rev0, err := s.KeysChangedSince(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := mustCreate(t, s, "a")
	b, _ := mustCreate(t, s, "b")
	ids, rev1, _ := s.KeysChangedSince(ctx, rev0)
	if len(ids) != 2 || rev1 <= rev0 {
		t.Fatalf("after create: %v rev %d -> %d", ids, rev0, rev1)
	}
	s.UpdateKey(ctx, a.ID, func(k *keys.Key) error { k.Name = "a2"; return nil })
	s.DeleteKey(ctx, b.ID)
	ids, rev2, _ := s.KeysChangedSince(ctx, rev1)
	if len(ids) != 2 || ids[0] != a.ID || ids[1] != b.ID || rev2 <= rev1 {
		t.Errorf("after update+delete: %v rev %d", ids, rev2)
	}
	if ids, rev3, _ := s.KeysChangedSince(ctx, rev2); len(ids) != 0 || rev3 != rev2 {
		t.Errorf("no change: %v %d", ids, rev3)
	}
}

func testUsage(t *testing.T, s store.Store) {
	ctx := context.Background()
	for range 3 {
		if err := s.AddUsage(ctx, "key_a", "2026-11", store.Spend{Requests: 1, Tokens: 10, CostUSD: 0.25}); err != nil {
			t.Fatal(err)
		}
	}
	u, err := s.UsageOf(ctx, "key_a", "2026-11")
	if err != nil || u.Requests != 3 || u.Tokens != 30 || u.CostUSD != 0.75 {
		t.Errorf("usage = %+v, %v", u, err)
	}
	if u, _ := s.UsageOf(ctx, "key_a", "2026-10"); u != (store.Spend{}) {
		t.Errorf("other month: %+v", u)
	}
}
