package store

import (
	"context"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Audit is the storage of the tamper-evident audit log (package audit): its
// entries (leaves of a Merkle tree), the tree's stored hashes, signed
// checkpoints, retained bodies and legal holds.
//
// The store knows nothing about hashing or signing; package audit computes
// every hash and checks what the store returns. A store can therefore not
// forge the log, only lose or damage it, and package audit's Verify notices.
//
// Indexes are dense from 0: entry i is leaf i of the tree. Stored hashes use
// the dense numbering of tlog.StoredHashIndex.
type Audit interface {
	AuditLog
	AuditCheckpoints
	AuditRetention
	AuditHolds
}

// AuditLog holds entries and the tree's stored hashes.
type AuditLog interface {
	// AuditSize returns the number of entries.
	AuditSize(ctx context.Context) (int64, error)

	// AppendAudit appends entries as indexes start, start+1, ... together with
	// hashes, the stored hashes tlog.StoredHashCount(start) up to
	// tlog.StoredHashCount(start+len(entries)), in one transaction: after it
	// returns nil all of it is durable (it survives a crash of the process),
	// and after an error none of it is visible. If the log does not hold
	// exactly start entries (another writer appended first) it fails with
	// ErrConflict and writes nothing. Entries' Index fields are ignored.
	AppendAudit(ctx context.Context, start int64, entries []AuditEntry, hashes []tlog.Hash) error

	// AuditHashes returns the stored hashes with the given indexes, in
	// order. It fails with ErrNotFound if one of them does not exist.
	AuditHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)

	// ScanAudit calls fn for each entry matching f, in index order, and
	// stops at the first error fn returns (which ScanAudit returns). The
	// entry passed to fn is valid only during the call: fn must copy what
	// it keeps.
	ScanAudit(ctx context.Context, f AuditFilter, fn func(*AuditEntry) error) error

	// ScanAuditHashes calls fn for each stored hash with index >= from, in
	// index order, so a verifier can read the whole tree in one pass.
	ScanAuditHashes(ctx context.Context, from int64, fn func(index int64, h tlog.Hash) error) error
}

// AuditStaging is implemented by stores that stage appends: PostgreSQL,
// which several processes append to at once, and SQLite, whose staging
// area is a journal file that costs one write per group commit. Package
// audit uses it instead of AppendAudit when the store has it. An append is split in two, as in Trillian Tessera and the
// Certificate Transparency logs:
//
//   - every process stages its entries (StageAudit): a plain insert into a
//     durable staging area, with no lock that another process's staging
//     waits for, and answers its callers once they are committed there;
//   - one integrator at a time (IntegrateAudit, under a lease in the store)
//     moves staged entries to the end of the log in batches: it assigns
//     their indexes, writes the tree's stored hashes and removes them from
//     staging, all in one transaction.
//
// An entry is therefore never lost once StageAudit returned: if the
// integrator dies mid-batch its transaction rolls back and the entries stay
// staged for the next one.
type AuditStaging interface {
	// StageAudit stores entries in the staging area in one transaction;
	// after it returns nil they are durable. Index fields are ignored.
	StageAudit(ctx context.Context, entries []AuditEntry) error

	// IntegrateAudit moves up to max staged entries, oldest first, to the
	// end of the log in one transaction that holds the integration lease
	// throughout. It reads the log's size n and the staged entries, calls
	// hashes(n, entries, read) for the stored hashes of entries n, n+1, ...
	// (what AppendAudit takes for start n), writes entries and hashes,
	// deletes them from staging, and returns n and how many it moved (0
	// when nothing is staged). The entries passed to hashes carry their
	// Index and everything but the body, which a store may move without
	// reading it. read returns stored hashes as AuditHashes
	// does. With wait false and the lease held by another process it
	// returns ErrConflict at once; with wait true it waits for the lease.
	// A store shared by processes may keep the lease with the process that
	// integrated last while it keeps integrating (wait false), so that one
	// process moves whole batches instead of all in turn.
	// If hashes fails nothing is written and its error is returned.
	IntegrateAudit(ctx context.Context, max int, wait bool, hashes func(start int64, entries []AuditEntry, read func(indexes []int64) ([]tlog.Hash, error)) ([]tlog.Hash, error)) (start int64, n int, err error)

	// AuditStaged returns how many entries are staged and not integrated.
	AuditStaged(ctx context.Context) (int64, error)
}

// AuditEntry is one entry of the audit log as stored.
type AuditEntry struct {
	Index int64
	// Time is the event time, KeyID and Team the key's id and owner: copies
	// of what Leaf says, kept apart so that a store can select by them.
	Time  time.Time
	KeyID string
	Team  string
	// Leaf is the exact record hashed into the tree (see package audit).
	Leaf []byte
	// Body is the retained body (encrypted or plain), nil when there is
	// none or it was pruned. BodyExpires is when retention ends (zero:
	// never); it is read only with AuditFilter.Bodies.
	Body        []byte
	BodyExpires time.Time
	// BodyKeyID and BodyTime are the body row's own copies of KeyID and
	// Time (legal holds select bodies by them), read with the body.
	BodyKeyID string
	BodyTime  time.Time
}

// AuditFilter selects entries for ScanAudit. Zero fields match everything.
type AuditFilter struct {
	From, To int64     // index range [From, To); To 0 means no upper bound
	KeyID    string    // only this key's entries
	Since    time.Time // event time >= Since
	Until    time.Time // event time < Until
	Bodies   bool      // also read retained bodies (slower)
	Limit    int       // at most this many entries
}

// AuditCheckpoints holds signed checkpoints, at most one per tree size.
type AuditCheckpoints interface {
	// AddAuditCheckpoint stores c. If a checkpoint for c.Size exists it
	// fails with ErrConflict.
	AddAuditCheckpoint(ctx context.Context, c AuditCheckpoint) error
	// AuditCheckpoints returns the checkpoints with sizes in [minSize,
	// maxSize] (maxSize < 0: no upper bound), by size, newest last. With
	// latest set it returns only the one of largest size in that range.
	AuditCheckpoints(ctx context.Context, minSize, maxSize int64, latest bool) ([]AuditCheckpoint, error)
}

// AuditCheckpoint is a signed tree head in note form (package audit).
type AuditCheckpoint struct {
	Size int64
	Time time.Time // when it was signed
	Note []byte
}

// AuditRetention removes bodies whose retention ended.
type AuditRetention interface {
	// PruneAuditBodies deletes the bodies whose BodyExpires is before now
	// and which no AuditHold covers, and returns how many it deleted. It
	// keeps the entries and their leaves: the tree stays verifiable.
	PruneAuditBodies(ctx context.Context, now time.Time) (int64, error)
}

// AuditHolds holds legal holds: a hold keeps every body of a key within a
// time range from being pruned, whatever its retention says.
type AuditHolds interface {
	// PutAuditHold adds h, or replaces the hold with the same ID.
	PutAuditHold(ctx context.Context, h AuditHold) error
	// DeleteAuditHold removes a hold; ErrNotFound if there is none.
	DeleteAuditHold(ctx context.Context, id string) error
	// AuditHolds returns every hold, ordered by ID.
	AuditHolds(ctx context.Context) ([]AuditHold, error)
}

// AuditHold is one legal hold on a key's entries with event time in
// [Since, Until]; zero times leave that end open.
type AuditHold struct {
	ID       string    `json:"id"`
	KeyID    string    `json:"key_id"`
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	Incident string    `json:"incident,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Created  time.Time `json:"created"`
}
