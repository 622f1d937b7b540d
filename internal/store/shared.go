package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/keys"
)

// Shared implements what is the same in every SQL backend: key lookups,
// lists and writes, key changes, usage, profile reads, incidents, audit
// checkpoints and legal holds. A backend embeds it, set up with its
// dialect, its driver, its transactions and its key scanner; what differs
// by database (bulk writes, SQL that is not the same) stays in the backend.
type Shared struct {
	Dialect
	Q Querier
	// ScanKey reads the columns of KeyCols: the backends keep the time of
	// last use differently (TIMESTAMPTZ, Unix nanoseconds).
	ScanKey func(Row) (*keys.Key, error)
	// InTx runs fn in one transaction, given a Querier on it, and commits
	// it if fn returns nil; fn's error is returned as it is.
	InTx func(ctx context.Context, fn func(Querier) error) error
	// WriteProfiles upserts a non-empty batch of checked profiles in one
	// transaction (PutProfiles does the rest): how to write many rows at
	// once differs by database.
	WriteProfiles func(ctx context.Context, ps []Profile) error
}

// keyBy returns the one key where col equals v; what names it in errors.
func (r Shared) keyBy(ctx context.Context, col string, v any, what string) (*keys.Key, error) {
	k, err := r.ScanKey(r.Q.QueryRow(ctx, `SELECT `+KeyCols+` FROM keys WHERE `+col+` = `+r.Param(1), v))
	if errors.Is(err, r.NoRows) {
		return nil, fmt.Errorf("%s: %s: %w", r.Name, what, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", r.Name, what, err)
	}
	return k, nil
}

// KeyByID implements Keys.
func (r Shared) KeyByID(ctx context.Context, id string) (*keys.Key, error) {
	return r.keyBy(ctx, "id", id, "key "+id)
}

// KeyByHash implements Keys.
func (r Shared) KeyByHash(ctx context.Context, h keys.Hash) (*keys.Key, error) {
	return r.keyBy(ctx, "hash", h[:], "key by hash")
}

// ListKeys implements Keys.
func (r Shared) ListKeys(ctx context.Context, f KeyFilter) ([]*keys.Key, error) {
	q, args := ListKeysQuery(r.Dialect, f)
	out, err := queryAll(ctx, r.Q, q, args, r.ScanKey)
	if err != nil {
		return nil, fmt.Errorf("%s: list keys: %w", r.Name, err)
	}
	return out, nil
}

// KeysChangedSince implements Keys. With nothing new it returns rev itself:
// reading the maximum in a second query could return a revision that
// committed between the two, and the caller would skip that change for good.
func (r Shared) KeysChangedSince(ctx context.Context, rev int64) ([]string, int64, error) {
	type change struct {
		rev int64
		id  string
	}
	cs, err := queryAll(ctx, r.Q, `SELECT rev, id FROM key_changes WHERE rev > `+r.Param(1)+` ORDER BY rev LIMIT `+r.Param(2),
		[]any{rev, KeyChangesPage}, func(row Row) (c change, err error) {
			err = row.Scan(&c.rev, &c.id)
			return c, err
		})
	if err != nil {
		return nil, rev, fmt.Errorf("%s: key changes: %w", r.Name, err)
	}
	var ids []string
	for _, c := range cs {
		ids, rev = append(ids, c.id), c.rev
	}
	return ids, rev, nil
}

// UsageOf implements Usage: nothing recorded is zero spend.
func (r Shared) UsageOf(ctx context.Context, keyID, month string) (Spend, error) {
	var u Spend
	err := r.Q.QueryRow(ctx, `SELECT requests, tokens, cost_usd FROM usage WHERE key_id = `+r.Param(1)+` AND month = `+r.Param(2), keyID, month).
		Scan(&u.Requests, &u.Tokens, &u.CostUSD)
	if errors.Is(err, r.NoRows) {
		return Spend{}, nil
	}
	if err != nil {
		return u, fmt.Errorf("%s: usage of %s: %w", r.Name, keyID, err)
	}
	return u, nil
}

// AddUsage implements Usage.
func (r Shared) AddUsage(ctx context.Context, keyID, month string, u Spend) error {
	_, err := r.Q.Exec(ctx, `INSERT INTO usage (key_id, month, requests, tokens, cost_usd) VALUES (`+r.params(5)+`)
		ON CONFLICT (key_id, month) DO UPDATE SET requests = usage.requests + excluded.requests,
			tokens = usage.tokens + excluded.tokens, cost_usd = usage.cost_usd + excluded.cost_usd`,
		keyID, month, u.Requests, u.Tokens, u.CostUSD)
	if err != nil {
		return fmt.Errorf("%s: add usage for %s: %w", r.Name, keyID, err)
	}
	return nil
}

// PutProfiles implements Profiles: nothing to write is no transaction, and
// no profile is written unless every one passes CheckProfiles.
func (r Shared) PutProfiles(ctx context.Context, ps []Profile) error {
	if len(ps) == 0 {
		return nil
	}
	if err := CheckProfiles(ps); err != nil {
		return err
	}
	return r.WriteProfiles(ctx, ps)
}

// ProfileOf implements Profiles.
func (r Shared) ProfileOf(ctx context.Context, keyID string) (Profile, error) {
	p := Profile{KeyID: keyID}
	var at int64
	err := r.Q.QueryRow(ctx, `SELECT updated_at, data FROM detect_profiles WHERE key_id = `+r.Param(1), keyID).Scan(&at, &p.Data)
	if errors.Is(err, r.NoRows) {
		return p, fmt.Errorf("%s: profile of %s: %w", r.Name, keyID, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("%s: profile of %s: %w", r.Name, keyID, err)
	}
	p.UpdatedAt = FromNanos(at)
	return p, nil
}

// IncidentByID implements Incidents.
func (r Shared) IncidentByID(ctx context.Context, id string) (*incident.Incident, error) {
	var data []byte
	err := r.Q.QueryRow(ctx, `SELECT data FROM incidents WHERE id = `+r.Param(1), id).Scan(&data)
	if errors.Is(err, r.NoRows) {
		return nil, fmt.Errorf("%s: incident %s: %w", r.Name, id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: incident %s: %w", r.Name, id, err)
	}
	return DecodeIncident(id, data)
}

// ListIncidents implements Incidents. No match is an empty list, not nil.
func (r Shared) ListIncidents(ctx context.Context, f IncidentFilter) ([]*incident.Incident, error) {
	q, args := ListIncidentsQuery(r.Dialect, f)
	out, err := queryAll(ctx, r.Q, q, args, ScanIncident)
	if err != nil {
		return nil, fmt.Errorf("%s: list incidents: %w", r.Name, err)
	}
	if out == nil {
		out = []*incident.Incident{}
	}
	return out, nil
}

// queryAll runs a query and reads every row with scan.
func queryAll[T any](ctx context.Context, q Querier, query string, args []any, scan func(Row) (T, error)) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return Collect(rows, scan)
}
