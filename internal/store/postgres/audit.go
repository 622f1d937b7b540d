package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store"
)

var (
	_ store.Audit        = (*DB)(nil)
	_ store.AuditStaging = (*DB)(nil)
)

// The audit log's total order comes from audit_head, a one-row table holding
// the log's size. Instances do not append to the log directly: they stage
// entries (StageAudit, a plain insert) and one integrator at a time, holding
// an advisory lock for its transaction, locks the head row, moves a batch of
// staged rows to the log's end and moves the head forward, so a reader that
// sees size n sees every entry below n. The head row is thus locked once per
// integrated batch, by one instance, never by an append. Rows go in with one multi-row INSERT per table (unnest of arrays, one
// prepared statement whatever the batch size), pipelined in one round trip.

// querier is what a pool and a transaction share.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// AuditSize implements store.AuditLog.
func (s *DB) AuditSize(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT size FROM audit_head`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: audit size: %w", err)
	}
	return n, nil
}

// lockAuditHead locks the head row until the transaction ends and returns
// the log's size.
func lockAuditHead(ctx context.Context, tx pgx.Tx) (int64, error) {
	var n int64
	if err := tx.QueryRow(ctx, `SELECT size FROM audit_head FOR UPDATE`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: lock audit log: %w", err)
	}
	return n, nil
}

// AppendAudit implements store.AuditLog.
func (s *DB) AppendAudit(ctx context.Context, start int64, entries []store.AuditEntry, hashes []tlog.Hash) error {
	if len(entries) == 0 {
		return nil
	}
	if err := checkHashCount(start, len(entries), len(hashes)); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		size, err := lockAuditHead(ctx, tx)
		if err != nil {
			return err
		}
		if size != start {
			return fmt.Errorf("postgres: append audit at %d, log has %d entries: %w", start, size, store.ErrConflict)
		}
		return insertAudit(ctx, tx, start, entries, hashes)
	})
}

// StageAudit implements store.AuditStaging: one multi-row insert, no lock
// that another instance's staging waits for.
func (s *DB) StageAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	n := len(entries)
	if n == 1 {
		// A lone entry (a quiet instance, or one of many instances
		// each with a share of the load) is a plain one-row insert:
		// encoding and unnesting six one-element arrays cost more
		// than the row.
		e := entries[0]
		_, err := s.pool.Exec(ctx, `INSERT INTO audit_staging (ts, key_id, team, leaf, body, expires) VALUES ($1, $2, $3, $4, $5, $6)`,
			store.Nanos(e.Time), e.KeyID, e.Team, e.Leaf, e.Body, store.Nanos(e.BodyExpires))
		if err != nil {
			return fmt.Errorf("postgres: stage audit entry: %w", err)
		}
		return nil
	}
	var (
		ts, exp       = make([]int64, n), make([]int64, n)
		keyIDs, teams = make([]string, n), make([]string, n)
		leaves, bods  = make([][]byte, n), make([][]byte, n)
	)
	for i, e := range entries {
		ts[i], keyIDs[i], teams[i], leaves[i], bods[i], exp[i] = store.Nanos(e.Time), e.KeyID, e.Team, e.Leaf, e.Body, store.Nanos(e.BodyExpires)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_staging (ts, key_id, team, leaf, body, expires)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::bigint[])`,
		ts, keyIDs, teams, leaves, bods, exp)
	if err != nil {
		return fmt.Errorf("postgres: stage audit entries: %w", err)
	}
	return nil
}

// integrateLock is the advisory lock an integrator holds for its
// transaction. It is derived from the schema, so logs in different schemas
// of one database (tests, benchmarks) integrate independently.
const integrateLock = `hashtext('warden.audit.integrate.' || current_schema())`

// integrationLease is how long the instance that integrated last keeps the
// sole right to integrate without renewing it (audit_integrator). Its loop
// renews it with every pass, at least every 100 ms (audit's idle tick), so
// it lapses only when that instance stops or hangs; another then takes over
// within this time and its own back-off.
const integrationLease = 2 * time.Second

// errLeaseHeld is IntegrateAudit's answer to an instance that does not hold
// the integration lease while another does.
var errLeaseHeld = fmt.Errorf("postgres: audit integration lease is held by another instance: %w", store.ErrConflict)

// IntegrateAudit implements store.AuditStaging. With wait false it
// integrates only if this instance holds the sticky lease in
// audit_integrator or the lease has lapsed, and renews it: one instance
// integrates the staged entries of all in paced whole batches, with the
// tree's peaks in its memory, instead of every instance in turn. With wait
// true (Sync) it waits for the advisory lock and ignores the lease.
func (s *DB) IntegrateAudit(ctx context.Context, max int, wait bool, hashes func(int64, []store.AuditEntry, func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error)) (int64, int, error) {
	if !wait {
		// A plain read first: an instance that does not hold the lease
		// leaves without a transaction or a lock.
		var free bool
		if err := s.pool.QueryRow(ctx, `SELECT holder = $1 OR until < now() FROM audit_integrator`, s.instance).Scan(&free); err != nil {
			return -1, 0, fmt.Errorf("postgres: audit integration lease: %w", err)
		}
		if !free {
			return -1, 0, errLeaseHeld
		}
	}
	var (
		start int64
		moved int
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if wait {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+integrateLock+`)`); err != nil {
				return fmt.Errorf("postgres: audit integration lease: %w", err)
			}
		} else {
			var got bool
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(`+integrateLock+`)`).Scan(&got); err != nil {
				return fmt.Errorf("postgres: audit integration lease: %w", err)
			}
			if !got {
				return errLeaseHeld
			}
			// Under the advisory lock no other integrator is in the
			// lease's row; take or renew it unless another holds it (two
			// that found it lapsed: the second to get here loses).
			tag, err := tx.Exec(ctx, `UPDATE audit_integrator SET holder = $1, until = now() + $2 * interval '1 millisecond'
				WHERE id = 1 AND (holder = $1 OR until < now())`, s.instance, integrationLease.Milliseconds())
			if err != nil {
				return fmt.Errorf("postgres: audit integration lease: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return errLeaseHeld
			}
		}
		var err error
		if start, err = lockAuditHead(ctx, tx); err != nil {
			return err
		}
		// Bodies (up to a few MiB each) stay on the server: they are
		// moved from staging to audit_bodies by one INSERT ... SELECT.
		rows, err := tx.Query(ctx, `SELECT id, ts, key_id, team, leaf FROM audit_staging ORDER BY id LIMIT $1`, max)
		if err != nil {
			return fmt.Errorf("postgres: read staged audit entries: %w", err)
		}
		var (
			ids     []int64
			entries []store.AuditEntry
			id, t   int64
			e       store.AuditEntry
		)
		_, err = pgx.ForEachRow(rows, []any{&id, &t, &e.KeyID, &e.Team, &e.Leaf}, func() error {
			e.Time = store.FromNanos(t)
			ids, entries = append(ids, id), append(entries, e)
			e.Leaf = nil // the next row scans into a fresh slice
			return nil
		})
		if err != nil {
			return fmt.Errorf("postgres: read staged audit entries: %w", err)
		}
		if len(entries) == 0 {
			return nil
		}
		for i := range entries {
			entries[i].Index = start + int64(i)
		}
		// The entries go in while the hashes are computed; the hashes,
		// the head and the removal from staging follow in one round trip.
		idxs := make([]int64, len(entries))
		for i := range idxs {
			idxs[i] = start + int64(i)
		}
		b := &pgx.Batch{}
		queueEntries(b, start, entries)
		b.Queue(`INSERT INTO audit_bodies (idx, key_id, ts, expires, body)
			SELECT m.idx, s.key_id, s.ts, s.expires, s.body
			FROM unnest($1::bigint[], $2::bigint[]) AS m(id, idx) JOIN audit_staging s ON s.id = m.id
			WHERE s.body IS NOT NULL`, ids, idxs)
		if err := sendAudit(ctx, tx, b, start); err != nil {
			return err
		}
		hs, err := hashes(start, entries, func(ix []int64) ([]tlog.Hash, error) { return auditHashes(ctx, tx, ix) })
		if err != nil {
			return err
		}
		if err := checkHashCount(start, len(entries), len(hs)); err != nil {
			return err
		}
		b = &pgx.Batch{}
		queueHashes(b, start, len(entries), hs)
		b.Queue(`DELETE FROM audit_staging WHERE id = ANY($1)`, ids)
		if err := sendAudit(ctx, tx, b, start); err != nil {
			return err
		}
		moved = len(entries)
		return nil
	})
	if err != nil {
		return -1, 0, err
	}
	return start, moved, nil
}

// releaseIntegration hands the integration lease back, so that another
// instance takes over at once rather than when it lapses. Best effort: a
// lease that is not handed back lapses by itself.
func (s *DB) releaseIntegration() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.pool.Exec(ctx, `UPDATE audit_integrator SET until = 'epoch' WHERE holder = $1`, s.instance)
}

// AuditStaged implements store.AuditStaging.
func (s *DB) AuditStaged(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM audit_staging`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: staged audit entries: %w", err)
	}
	return n, nil
}

func checkHashCount(start int64, entries, hashes int) error {
	end := start + int64(entries)
	if want := tlog.StoredHashCount(end) - tlog.StoredHashCount(start); int64(hashes) != want {
		return fmt.Errorf("postgres: append audit: %d hashes for entries [%d, %d), want %d", hashes, start, end, want)
	}
	return nil
}

// insertAudit writes entries from index start, their bodies and hashes, and
// moves the head, in one pipelined round trip. The caller holds the head
// row's lock and has checked that the log has start entries.
func insertAudit(ctx context.Context, tx pgx.Tx, start int64, entries []store.AuditEntry, hashes []tlog.Hash) error {
	b := &pgx.Batch{}
	queueEntries(b, start, entries)
	queueHashes(b, start, len(entries), hashes)
	return sendAudit(ctx, tx, b, start)
}

// queueEntries queues the inserts of entries from index start and of their
// bodies: one multi-row INSERT per table.
func queueEntries(b *pgx.Batch, start int64, entries []store.AuditEntry) {
	n := len(entries)
	var (
		idx             = make([]int64, n)
		ts              = make([]int64, n)
		keyIDs          = make([]string, n)
		teams           = make([]string, n)
		leaves          = make([][]byte, n)
		bIdx, bTS, bExp []int64
		bKeys           []string
		bodies          [][]byte
	)
	for i, e := range entries {
		idx[i], ts[i], keyIDs[i], teams[i], leaves[i] = start+int64(i), store.Nanos(e.Time), e.KeyID, e.Team, e.Leaf
		if e.Body != nil {
			bIdx, bTS, bExp = append(bIdx, idx[i]), append(bTS, ts[i]), append(bExp, store.Nanos(e.BodyExpires))
			bKeys, bodies = append(bKeys, e.KeyID), append(bodies, e.Body)
		}
	}
	b.Queue(`INSERT INTO audit_entries (idx, ts, key_id, team, leaf)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bytea[])`, idx, ts, keyIDs, teams, leaves)
	if len(bodies) > 0 {
		b.Queue(`INSERT INTO audit_bodies (idx, key_id, ts, expires, body)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bytea[])`, bIdx, bKeys, bTS, bExp, bodies)
	}
}

// queueHashes queues the insert of the stored hashes of n entries from
// index start and the move of the head past them.
func queueHashes(b *pgx.Batch, start int64, n int, hashes []tlog.Hash) {
	hashIDs := make([]int64, len(hashes))
	hashVals := make([][]byte, len(hashes))
	first := tlog.StoredHashCount(start)
	for i := range hashes {
		hashIDs[i], hashVals[i] = first+int64(i), hashes[i][:]
	}
	b.Queue(`INSERT INTO audit_hashes (id, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, hashIDs, hashVals)
	b.Queue(`UPDATE audit_head SET size = $1`, start+int64(n))
}

func sendAudit(ctx context.Context, tx pgx.Tx, b *pgx.Batch, start int64) error {
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		if isUnique(err) {
			// Rows beyond the head: the tables disagree with audit_head,
			// which only a hand edit can cause. Refuse rather than mix.
			return fmt.Errorf("postgres: append audit at %d: rows past the log's end exist: %w: %w", start, store.ErrConflict, err)
		}
		return fmt.Errorf("postgres: append audit at %d: %w", start, err)
	}
	return nil
}

// AuditHashes implements store.AuditLog.
func (s *DB) AuditHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return auditHashes(ctx, s.pool, indexes)
}

// maxHashesPerQuery bounds one ANY($1) lookup; package audit asks for a few
// dozen at a time, a proof for a few hundred at most.
const maxHashesPerQuery = 10000

func auditHashes(ctx context.Context, q querier, indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	pos := make(map[int64][]int, len(indexes))
	for i, x := range indexes {
		pos[x] = append(pos[x], i)
	}
	ids := make([]int64, 0, len(pos))
	for x := range pos {
		ids = append(ids, x)
	}
	found := 0
	for lo := 0; lo < len(ids); lo += maxHashesPerQuery {
		hi := min(lo+maxHashesPerQuery, len(ids))
		rows, err := q.Query(ctx, `SELECT id, hash FROM audit_hashes WHERE id = ANY($1)`, ids[lo:hi])
		if err != nil {
			return nil, fmt.Errorf("postgres: audit hashes: %w", err)
		}
		var (
			id int64
			h  []byte
		)
		_, err = pgx.ForEachRow(rows, []any{&id, &h}, func() error {
			if len(h) != tlog.HashSize {
				return fmt.Errorf("postgres: audit hash %d has %d bytes", id, len(h))
			}
			for _, i := range pos[id] {
				copy(out[i][:], h)
				found++
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("postgres: audit hashes: %w", err)
		}
	}
	if found != len(indexes) {
		return nil, fmt.Errorf("postgres: audit hashes: %d of %d missing: %w", len(indexes)-found, len(indexes), store.ErrNotFound)
	}
	return out, nil
}

// Scans read in pages, each its own statement, so a scan of the whole log
// holds no statement open for longer than a page takes (statement_timeout
// applies per page) and memory stays bounded whatever fn does.
const (
	scanPage       = 1000
	scanBodiesPage = 64 // bodies may be up to a few MiB each
	hashPage       = 20000
)

// ScanAudit implements store.AuditLog.
func (s *DB) ScanAudit(ctx context.Context, f store.AuditFilter, fn func(*store.AuditEntry) error) error {
	var (
		where []string
		args  = []any{nil} // $1: the page's first index, set per page
	)
	where = append(where, "e.idx >= $1")
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.To > 0 {
		add("e.idx < $%d", f.To)
	}
	if f.KeyID != "" {
		add("e.key_id = $%d", f.KeyID)
	}
	if !f.Since.IsZero() {
		add("e.ts >= $%d", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("e.ts < $%d", f.Until.UnixNano())
	}
	page := scanPage
	q := `SELECT e.idx, e.ts, e.key_id, e.team, e.leaf`
	if f.Bodies {
		page = scanBodiesPage
		q += `, b.body, b.expires, b.key_id, b.ts FROM audit_entries e LEFT JOIN audit_bodies b ON b.idx = e.idx`
	} else {
		q += ` FROM audit_entries e`
	}
	q += ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY e.idx LIMIT `
	var (
		e       store.AuditEntry
		ts      int64
		expires *int64
		bKey    *string
		bTS     *int64
	)
	dest := []any{&e.Index, &ts, &e.KeyID, &e.Team, &e.Leaf}
	if f.Bodies {
		dest = append(dest, &e.Body, &expires, &bKey, &bTS)
	}
	cursor, left := max(f.From, 0), f.Limit
	for {
		n := page
		if f.Limit > 0 {
			n = min(n, left)
		}
		args[0] = cursor
		got, err := s.eachRow(ctx, "scan audit", func(rows pgx.Rows) error {
			e.Body, expires, bKey, bTS = nil, nil, nil, nil
			return rows.Scan(dest...)
		}, func() error {
			e.Time = store.FromNanos(ts)
			e.BodyExpires = time.Time{}
			if expires != nil {
				e.BodyExpires = store.FromNanos(*expires)
			}
			e.BodyKeyID, e.BodyTime = "", time.Time{}
			if bKey != nil && bTS != nil {
				e.BodyKeyID, e.BodyTime = *bKey, store.FromNanos(*bTS)
			}
			cursor = e.Index + 1
			return fn(&e)
		}, q+fmt.Sprint(n), args...)
		if err != nil {
			return err
		}
		if f.Limit > 0 {
			left -= got
		}
		if got < n || (f.Limit > 0 && left <= 0) {
			return nil
		}
	}
}

// ScanAuditHashes implements store.AuditLog.
func (s *DB) ScanAuditHashes(ctx context.Context, from int64, fn func(int64, tlog.Hash) error) error {
	var (
		id  int64
		raw []byte
		h   tlog.Hash
	)
	for {
		got, err := s.eachRow(ctx, "scan audit hashes", func(rows pgx.Rows) error {
			return rows.Scan(&id, &raw)
		}, func() error {
			from = id + 1
			// A damaged hash of the wrong length is handed on zero-padded or
			// cut and marked: the caller's comparison fails, which is the point.
			h = tlog.Hash{}
			copy(h[:], raw)
			if len(raw) != tlog.HashSize {
				h[0] ^= 0xff
			}
			return fn(id, h)
		}, `SELECT id, hash FROM audit_hashes WHERE id >= $1 ORDER BY id LIMIT $2`, from, hashPage)
		if err != nil {
			return err
		}
		if got < hashPage {
			return nil
		}
	}
}

// eachRow runs one page's query and, row by row, scan and then visit,
// until one fails. It returns the number of rows visited. An error of the
// query or of scan is wrapped as what; visit's (the caller's callback)
// is returned as it is.
func (s *DB) eachRow(ctx context.Context, what string, scan func(pgx.Rows) error, visit func() error, q string, args ...any) (int, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", what, err)
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		if err := scan(rows); err != nil {
			return got, fmt.Errorf("postgres: %s: %w", what, err)
		}
		got++
		if err := visit(); err != nil {
			return got, err
		}
	}
	if err := rows.Err(); err != nil {
		return got, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return got, nil
}
