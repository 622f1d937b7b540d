-- Detector state: learned per-key profiles (opaque, versioned by the
-- detector) and incidents (JSON in data; the columns are what queries filter
-- and sort on).
CREATE TABLE detect_profiles (
    key_id     TEXT PRIMARY KEY,
    updated_at INTEGER NOT NULL,
    data       BLOB NOT NULL
);

CREATE TABLE incidents (
    id        TEXT PRIMARY KEY,
    key_id    TEXT NOT NULL,
    status    TEXT NOT NULL,
    severity  TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    data      TEXT NOT NULL
);
CREATE INDEX incidents_opened ON incidents (opened_at DESC, id DESC);
CREATE INDEX incidents_key ON incidents (key_id, opened_at DESC);
