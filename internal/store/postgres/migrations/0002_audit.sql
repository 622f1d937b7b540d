-- Audit log (package audit). Mirrors sqlite/migrations/0002_audit.sql: times
-- are Unix nanoseconds (BIGINT), exactly as the leaf says, since TIMESTAMPTZ
-- keeps only microseconds.
--
-- audit_head holds the log's size in its single row. Appenders lock that row
-- (SELECT ... FOR UPDATE) first, so appends from every instance commit one at
-- a time in index order, and a reader that sees size n sees entries 0..n-1.
CREATE TABLE audit_head (
    one  BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    size BIGINT NOT NULL
);
INSERT INTO audit_head (size) VALUES (0);

CREATE TABLE audit_entries (
    idx    BIGINT PRIMARY KEY,
    ts     BIGINT NOT NULL, -- event time, Unix nanoseconds
    key_id TEXT NOT NULL DEFAULT '',
    team   TEXT NOT NULL DEFAULT '',
    leaf   BYTEA NOT NULL
);
CREATE INDEX audit_entries_key ON audit_entries (key_id, ts);
CREATE INDEX audit_entries_ts ON audit_entries (ts);

-- Stored hashes of the tree, numbered by tlog.StoredHashIndex.
CREATE TABLE audit_hashes (
    id   BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL
);

-- Retained bodies, apart from entries so that pruning deletes rows here and
-- never touches a leaf.
CREATE TABLE audit_bodies (
    idx     BIGINT PRIMARY KEY,
    key_id  TEXT NOT NULL DEFAULT '',
    ts      BIGINT NOT NULL,
    expires BIGINT NOT NULL DEFAULT 0, -- Unix nanoseconds; 0: kept until removed by hand
    body    BYTEA NOT NULL
);
CREATE INDEX audit_bodies_expires ON audit_bodies (expires) WHERE expires > 0;

CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY,
    ts   BIGINT NOT NULL,
    note BYTEA NOT NULL
);

CREATE TABLE audit_holds (
    id       TEXT PRIMARY KEY,
    key_id   TEXT NOT NULL,
    since    BIGINT NOT NULL DEFAULT 0,
    until    BIGINT NOT NULL DEFAULT 0, -- 0: open
    incident TEXT NOT NULL DEFAULT '',
    reason   TEXT NOT NULL DEFAULT '',
    created  BIGINT NOT NULL
);
CREATE INDEX audit_holds_key ON audit_holds (key_id);
