-- Audit log (package audit). Entries are leaves of a Merkle tree; leaf is
-- the exact byte string hashed into it. ts, key_id and team copy what the
-- leaf says so that exports and holds can select without parsing it.
CREATE TABLE audit_entries (
    idx    INTEGER PRIMARY KEY,
    ts     INTEGER NOT NULL, -- event time, Unix nanoseconds
    key_id TEXT NOT NULL DEFAULT '',
    team   TEXT NOT NULL DEFAULT '',
    leaf   BLOB NOT NULL
);
CREATE INDEX audit_entries_key ON audit_entries (key_id, ts);

-- Stored hashes of the tree, numbered by tlog.StoredHashIndex.
CREATE TABLE audit_hashes (
    id   INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);

-- Retained bodies, apart from entries so that pruning deletes rows here
-- and never touches a leaf.
CREATE TABLE audit_bodies (
    idx     INTEGER PRIMARY KEY,
    key_id  TEXT NOT NULL DEFAULT '',
    ts      INTEGER NOT NULL,
    expires INTEGER NOT NULL DEFAULT 0, -- Unix nanoseconds; 0: kept until removed by hand
    body    BLOB NOT NULL
);
CREATE INDEX audit_bodies_expires ON audit_bodies (expires) WHERE expires > 0;

CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY,
    ts   INTEGER NOT NULL,
    note BLOB NOT NULL
);

CREATE TABLE audit_holds (
    id       TEXT PRIMARY KEY,
    key_id   TEXT NOT NULL,
    since    INTEGER NOT NULL DEFAULT 0,
    until    INTEGER NOT NULL DEFAULT 0, -- 0: open
    incident TEXT NOT NULL DEFAULT '',
    reason   TEXT NOT NULL DEFAULT '',
    created  INTEGER NOT NULL
);
CREATE INDEX audit_holds_key ON audit_holds (key_id);
