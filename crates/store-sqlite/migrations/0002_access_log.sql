-- The Access Log: entries (the leaves), the Merkle tree's perfect-subtree hashes, the
-- tree's current state, and signed checkpoints. Entries are only ever inserted; the
-- application has no UPDATE or DELETE of them anywhere.
-- Keep in step with crates/store-postgres/migrations/0002_access_log.sql.

CREATE TABLE access_log (
    seq                INTEGER PRIMARY KEY,   -- 1, 2, 3, ... with no gaps
    timestamp          INTEGER NOT NULL,      -- UTC microseconds
    "user"             TEXT    NOT NULL,
    activity           TEXT    NOT NULL,
    method             TEXT    NOT NULL,
    export_from        TEXT,
    reference_document TEXT,
    report_name        TEXT,
    print_format       TEXT,
    file_type          TEXT,
    filters            TEXT,                  -- canonical JSON object
    columns            TEXT,                  -- canonical JSON array
    page               TEXT,
    row_count          INTEGER,
    byte_count         INTEGER,
    content_sha256     TEXT,
    outcome            TEXT    NOT NULL,
    reason             TEXT,
    ip                 TEXT,
    user_agent         TEXT,
    request_id         TEXT,
    roles              TEXT    NOT NULL,      -- canonical JSON array, sorted
    auth               TEXT,
    source             TEXT    NOT NULL,
    leaf_hash          BLOB    NOT NULL      -- SHA-256(0x00 || canonical bytes), written with the entry
);

-- The tree's inner nodes (perfect subtrees above the leaves), keyed by their position in
-- creation order (see NodeId::stored_index), so every commit appends at the end of the
-- table. Written in the same transaction as the entries.
CREATE TABLE merkle_nodes (
    id   INTEGER PRIMARY KEY,
    hash BLOB    NOT NULL
);

-- One row: the tree's size and its right edge, so an append needs no other read.
CREATE TABLE log_state (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    size     INTEGER NOT NULL,
    frontier BLOB    NOT NULL
);
INSERT INTO log_state (id, size, frontier) VALUES (1, 0, x'');

CREATE TABLE checkpoints (
    size       INTEGER PRIMARY KEY,
    root       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    note       TEXT    NOT NULL
);
