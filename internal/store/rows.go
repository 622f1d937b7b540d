package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/keys"
)

// This file holds what the SQL backends share: how a record is encoded in
// its row and read back, and how the list queries are built. The backends
// keep their own drivers (database/sql and pgx), transactions and the SQL
// that differs by dialect; what is the same logic lives here once, with the
// dialect's differences passed in as data.

// Row is one result row: a *sql.Row, a *sql.Rows, a pgx.Row or pgx.Rows.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set of either driver (a *sql.Rows behind a wrapper
// whose Close drops the error, which database/sql also reports via Err).
type Rows interface {
	Row
	Next() bool
	Err() error
	Close()
}

// Querier runs statements on a backend's driver; each backend adapts its
// own.
type Querier interface {
	QueryRow(ctx context.Context, query string, args ...any) Row
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// Exec runs a statement and returns the number of rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// Collect reads every row of rows with scan, stopping at the first error.
func Collect[T any](rows Rows, scan func(Row) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Nanos stores a time as Unix nanoseconds, the zero time as 0. Both
// backends keep times this way: the audit leaf's times have nanoseconds,
// PostgreSQL's TIMESTAMPTZ only microseconds.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromNanos reverses Nanos, in UTC.
func FromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Dialect is what the shared queries need to know of a backend's SQL.
type Dialect struct {
	// Name prefixes the backend's errors: "postgres" or "sqlite".
	Name string
	// NoRows is the driver's error for a single-row query that found none.
	NoRows error
	// IsUnique reports whether an error is a unique constraint violation.
	IsUnique func(error) bool
	// Param returns the placeholder of the n-th argument (from 1): "$1"
	// or "?". Every call adds an argument, so a value used twice is passed
	// twice.
	Param func(n int) string
	// Instr names the function that returns the 1-based position of a
	// substring, 0 when absent, called as Instr(haystack, needle): strpos
	// in PostgreSQL, instr in SQLite.
	Instr string
	// Timestamp is the argument for a time column such as keys.created_at:
	// the time itself for PostgreSQL's TIMESTAMPTZ, Unix nanoseconds for
	// SQLite's INTEGER.
	Timestamp func(time.Time) any
	// ForUpdate ends a read that the transaction will write back: " FOR
	// UPDATE" in PostgreSQL, so concurrent updates from several instances
	// apply one after the other; empty in SQLite, whose write transactions
	// take the database lock when they begin.
	ForUpdate string
	// LockKeyChanges, when set, runs before an append to key_changes and
	// holds key_changes until commit, so revisions commit in the order they
	// are numbered (see KeysChangedSince); SQLite has one writer and needs
	// none.
	LockKeyChanges string
}

// query collects the conditions and arguments of one SELECT.
type query struct {
	d     Dialect
	where []string
	args  []any
}

// arg adds v as an argument and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return q.d.Param(len(q.args))
}

// build returns the statement: base, the conditions, order and limit.
func (q *query) build(base, order string, limit int) (string, []any) {
	s := base
	if len(q.where) > 0 {
		s += " WHERE " + strings.Join(q.where, " AND ")
	}
	s += " ORDER BY " + order
	if limit > 0 {
		s += fmt.Sprintf(" LIMIT %d", limit)
	}
	return s, q.args
}

// KeyCols are the columns ScanKey reads, in order: id, hash, data (the
// key's JSON), the time of last use (NULL if never) and the address of it.
const KeyCols = `id, hash, data, last_used_at, last_used_ip`

// ListKeysQuery returns ListKeys' statement and arguments for f.
func ListKeysQuery(d Dialect, f KeyFilter) (string, []any) {
	q := query{d: d}
	if f.Status != "" {
		q.where = append(q.where, "status = "+q.arg(string(f.Status)))
	}
	if f.Owner != "" {
		q.where = append(q.where, "owner = "+q.arg(f.Owner))
	}
	if f.Kind != "" {
		q.where = append(q.where, "kind = "+q.arg(string(f.Kind)))
	}
	if f.Search != "" {
		q.where = append(q.where, "("+d.Instr+"(id, "+q.arg(f.Search)+") > 0 OR "+
			d.Instr+"(lower(name), lower("+q.arg(f.Search)+")) > 0)")
	}
	if f.After != "" {
		q.where = append(q.where, "(created_at, id) > (SELECT created_at, id FROM keys WHERE id = "+q.arg(f.After)+")")
	}
	return q.build(`SELECT `+KeyCols+` FROM keys`, "created_at, id", f.Limit)
}

// ScanKeyTime reads the columns of KeyCols from a row whose time of last
// use is a TIMESTAMPTZ (PostgreSQL).
func ScanKeyTime(row Row) (*keys.Key, error) {
	return scanKey(row, func(t *time.Time) *time.Time { return t })
}

// ScanKeyNanos reads the columns of KeyCols from a row whose time of last
// use is Unix nanoseconds (SQLite).
func ScanKeyNanos(row Row) (*keys.Key, error) {
	return scanKey(row, func(n sql.NullInt64) *time.Time {
		if !n.Valid {
			return nil
		}
		t := time.Unix(0, n.Int64)
		return &t
	})
}

// scanKey reads the columns of KeyCols from row, the time of last use
// scanned into a T, which at turns into the time, nil if never used.
func scanKey[T any](row Row, at func(T) *time.Time) (*keys.Key, error) {
	var (
		id, ip     string
		hash, data []byte
		lastUsed   T
	)
	if err := row.Scan(&id, &hash, &data, &lastUsed, &ip); err != nil {
		return nil, err
	}
	return decodeKey(id, hash, data, at(lastUsed), ip)
}

// decodeKey builds a key from the columns of KeyCols; lastUsed is nil when
// the key was never used.
func decodeKey(id string, hash, data []byte, lastUsed *time.Time, ip string) (*keys.Key, error) {
	k := new(keys.Key)
	if err := json.Unmarshal(data, k); err != nil {
		return nil, fmt.Errorf("store: decode key %s: %w", id, err)
	}
	if len(hash) != len(k.Hash) {
		return nil, fmt.Errorf("store: key %s has a malformed hash", id)
	}
	copy(k.Hash[:], hash)
	if lastUsed != nil {
		t := lastUsed.UTC()
		k.LastUsedAt = &t
		k.LastUsedIP = ip
	}
	return k, nil
}

// EncodeKey validates k and returns the JSON stored in its data column.
func EncodeKey(k *keys.Key) ([]byte, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("store: encode key: %w", err)
	}
	return data, nil
}

// EditKey is the middle of UpdateKey: it lets fn change k, which was read
// as key id, puts back its identity (id and hash never change) and returns
// the encoding to write. An error from fn is returned as it is.
func EditKey(k *keys.Key, id string, fn func(*keys.Key) error) ([]byte, error) {
	hash := k.Hash
	if err := fn(k); err != nil {
		return nil, err
	}
	k.ID, k.Hash = id, hash
	return EncodeKey(k)
}

// KeyChangesPage bounds one KeysChangedSince answer.
const KeyChangesPage = 10000

// MaxProfile is the largest profile a backend takes, in bytes.
const MaxProfile = 1 << 20

// CheckProfiles reports the first profile that has no key id or is larger
// than MaxProfile.
func CheckProfiles(ps []Profile) error {
	for _, p := range ps {
		if p.KeyID == "" || len(p.Data) > MaxProfile {
			return fmt.Errorf("store: profile of %q: missing key id or larger than %d bytes", p.KeyID, MaxProfile)
		}
	}
	return nil
}

// ListIncidentsQuery returns ListIncidents' statement and arguments for f;
// its rows are (id, data) for DecodeIncident.
func ListIncidentsQuery(d Dialect, f IncidentFilter) (string, []any) {
	q := query{d: d}
	if f.KeyID != "" {
		q.where = append(q.where, "key_id = "+q.arg(f.KeyID))
	}
	if f.Status != "" {
		q.where = append(q.where, "status = "+q.arg(f.Status))
	}
	if !f.Since.IsZero() {
		q.where = append(q.where, "opened_at >= "+q.arg(f.Since.UnixNano()))
	}
	return q.build(`SELECT id, data FROM incidents`, "opened_at DESC, id DESC", f.Limit)
}

// EncodeIncident checks that in can be stored and returns its encoding.
func EncodeIncident(in *incident.Incident) ([]byte, error) {
	if in.ID == "" || in.KeyID == "" {
		return nil, errors.New("store: incident needs an id and a key id")
	}
	data, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("store: encode incident %s: %w", in.ID, err)
	}
	return data, nil
}

// DecodeIncident reads the data column of incident id.
func DecodeIncident(id string, data []byte) (*incident.Incident, error) {
	in := new(incident.Incident)
	if err := json.Unmarshal(data, in); err != nil {
		return nil, fmt.Errorf("store: decode incident %s: %w", id, err)
	}
	return in, nil
}

// ScanIncident reads one (id, data) row of ListIncidentsQuery.
func ScanIncident(row Row) (*incident.Incident, error) {
	var id string
	var data []byte
	if err := row.Scan(&id, &data); err != nil {
		return nil, err
	}
	return DecodeIncident(id, data)
}
