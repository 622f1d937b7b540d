-- Scale-out appends (store.AuditStaging). Instances no longer lock
-- audit_head to append: each inserts its group commit into audit_staging
-- (ids from a sequence, no lock another instance's insert waits for) and
-- answers once that commit is durable. One integrator at a time, holding a
-- transaction-scoped advisory lock, moves staged rows into audit_entries,
-- audit_bodies and audit_hashes, moves audit_head and deletes them from
-- staging, in one transaction; if it dies mid-batch the transaction rolls
-- back and the rows wait for the next integrator. audit_head is now locked
-- only by the integrator (and by AppendAudit, which the CLI's tests use).
CREATE TABLE audit_staging (
    id      BIGSERIAL PRIMARY KEY,
    ts      BIGINT NOT NULL, -- event time, Unix nanoseconds
    key_id  TEXT NOT NULL DEFAULT '',
    team    TEXT NOT NULL DEFAULT '',
    leaf    BYTEA NOT NULL,
    body    BYTEA,
    expires BIGINT NOT NULL DEFAULT 0
);
