-- Keys: the record is kept as JSON in data; the columns are what queries
-- filter, sort or update on their own.
CREATE TABLE keys (
    id           TEXT PRIMARY KEY,
    hash         BLOB NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    owner        TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    last_used_ip TEXT NOT NULL DEFAULT '',
    data         TEXT NOT NULL
);
CREATE INDEX keys_created ON keys (created_at, id);

-- Every change to a key appends a row, so caches in running servers (and in
-- other processes on the same data dir) can find what changed since they last looked.
CREATE TABLE key_changes (
    rev INTEGER PRIMARY KEY AUTOINCREMENT,
    id  TEXT NOT NULL
);

CREATE TABLE usage (
    key_id   TEXT NOT NULL,
    month    TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    tokens   INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, month)
);
