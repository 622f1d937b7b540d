// Package store declares where Warden keeps its durable state, as small
// interfaces that every backend implements: SQLite (package sqlite, the
// embedded default) and PostgreSQL (package postgres, for many instances).
// Package storetest holds the conformance suite every backend must pass.
// What the two SQL backends do alike is written once here (rows.go,
// shared.go, shared_keys.go, shared_audit.go): row encodings, the list
// queries, the reads, the key writes and the simple writes, with each
// backend's SQL dialect passed in as data (Dialect) and its driver behind
// Querier (on a transaction, through Shared.InTx). What differs by database
// (bulk writes, the audit log's locking) stays in the backends.
//
// Each domain owns its interface here; a backend implements them all. Methods
// return ErrNotFound (wrapped or not) when the named record does not exist and
// ErrConflict when a unique value is taken.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/wardenhq/warden/internal/keys"
)

var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflict")
)

// Keys stores key records. The secret itself is never stored, only its hash.
type Keys interface {
	// CreateKey inserts k. It fails with ErrConflict if the id or hash exists.
	CreateKey(ctx context.Context, k *keys.Key) error
	// KeyByID returns the key with the given id.
	KeyByID(ctx context.Context, id string) (*keys.Key, error)
	// KeyByHash returns the key whose secret hashes to h.
	KeyByHash(ctx context.Context, h keys.Hash) (*keys.Key, error)
	// ListKeys returns keys matching f, ordered by creation time then id.
	ListKeys(ctx context.Context, f KeyFilter) ([]*keys.Key, error)
	// UpdateKey reads the key, lets fn change it, validates and writes it back
	// in one transaction. If fn returns an error nothing is written.
	UpdateKey(ctx context.Context, id string, fn func(*keys.Key) error) (*keys.Key, error)
	// DeleteKey removes the key record.
	DeleteKey(ctx context.Context, id string) error
	// TouchKeys records last use for many keys at once (batched by the gateway).
	TouchKeys(ctx context.Context, uses []KeyUse) error
	// KeysChangedSince returns the ids of keys updated after the given
	// revision (a page of them) and the revision to ask from next: that of
	// the last id returned, or rev itself when there is none. It never
	// returns a revision read apart from the ids (a change committing in
	// between would be skipped for good), so caches can invalidate cheaply
	// and completely.
	KeysChangedSince(ctx context.Context, rev int64) (ids []string, now int64, err error)
}

// KeyFilter selects keys for ListKeys. Zero fields match everything.
type KeyFilter struct {
	Status keys.Status
	Owner  string
	Kind   keys.Kind
	Search string // substring of id or name
	After  string // id to continue after (paging)
	Limit  int    // 0 means no limit
}

// KeyUse is one last-used record.
type KeyUse struct {
	ID string
	At time.Time
	IP string
}

// Usage accumulates what keys spend, per calendar month (UTC, "2006-01").
type Usage interface {
	AddUsage(ctx context.Context, keyID, month string, u Spend) error
	UsageOf(ctx context.Context, keyID, month string) (Spend, error)
}

// Spend is an amount of use.
type Spend struct {
	Requests int64   `json:"requests"`
	Tokens   int64   `json:"tokens"`
	CostUSD  float64 `json:"cost_usd"`
}

// Store is everything a backend provides: keys and usage, the audit log
// and the detector's profiles and incidents. Both backends (SQLite and
// PostgreSQL) provide all of it, so callers need no type assertions and no
// raw handles to reach a capability.
type Store interface {
	Keys
	Usage
	Audit
	Detect
	Close() error
}
