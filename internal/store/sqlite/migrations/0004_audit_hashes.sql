-- The tree's stored hashes move to one row per entry: hashes is the
-- concatenation of what tlog.StoredHashes returned when entry idx was
-- appended (the leaf hash, then one hash per level the entry completed),
-- 32 bytes each. One row per entry instead of one per hash halves the rows
-- an append writes and a verification reads. Rows of the old layout are
-- moved over by upgradeAuditHashes (audit.go) right after migrating.
ALTER TABLE audit_hashes RENAME TO audit_hashes_v1;
CREATE TABLE audit_hashes (
    idx    INTEGER PRIMARY KEY,
    hashes BLOB NOT NULL
);
