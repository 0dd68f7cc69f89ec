-- Retention (issue 19): the archive bundles written (each complete and fsynced before it
-- is recorded here, and before any entry in it loses its payload), and legal holds.
-- Keep in step with the other backend's 0015_retention.sql.
CREATE TABLE log_archives (
    sha256     TEXT    PRIMARY KEY,  -- of the bundle file's bytes
    name       TEXT    NOT NULL,
    first_seq  INTEGER  NOT NULL,
    last_seq   INTEGER  NOT NULL,
    tree_size  INTEGER  NOT NULL,     -- the checkpoint the bundle is checked against
    bytes      INTEGER  NOT NULL,
    created_at INTEGER  NOT NULL
);
-- A hold covers every entry matching all of its given criteria; held entries are never
-- pruned or redacted. Holds are lifted, never deleted.
CREATE TABLE legal_holds (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    "user"     TEXT,
    doctype    TEXT,
    report     TEXT,
    from_at    INTEGER,
    to_at      INTEGER,
    reason     TEXT    NOT NULL,
    owner      TEXT    NOT NULL,
    created_at INTEGER  NOT NULL,
    expires_at INTEGER,
    lifted_at  INTEGER,
    lifted_by  TEXT,
    CHECK ("user" IS NOT NULL OR doctype IS NOT NULL OR report IS NOT NULL
           OR from_at IS NOT NULL OR to_at IS NOT NULL)
);
