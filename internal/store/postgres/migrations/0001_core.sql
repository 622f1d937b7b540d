-- Keys: the record is kept as JSON in data; the columns are what queries
-- filter, sort or update on their own. Mirrors sqlite/migrations/0001_core.sql.
CREATE TABLE keys (
    id           TEXT PRIMARY KEY,
    hash         BYTEA NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    owner        TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    last_used_ip TEXT NOT NULL DEFAULT '',
    data         JSONB NOT NULL
);
CREATE INDEX keys_created ON keys (created_at, id);
CREATE INDEX keys_owner ON keys (owner);
CREATE INDEX keys_status ON keys (status);

-- Every change to a key appends a row, so the caches of all running
-- instances can find what changed since they last looked. Writers take an
-- EXCLUSIVE lock on this table before appending (see logChange), so revisions
-- become visible in the order they were handed out: a reader that has seen
-- rev N never later finds a smaller rev committed behind it.
CREATE TABLE key_changes (
    rev BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id  TEXT NOT NULL,
    at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE usage (
    key_id   TEXT NOT NULL,
    month    TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    tokens   BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, month)
);
