-- Retention (issue 19): the archive bundles written (each complete and fsynced before it
-- is recorded here, and before any entry in it loses its payload), and legal holds.
-- Keep in step with the other backend's 0015_retention.sql.
CREATE TABLE log_archives (
    sha256     TEXT    PRIMARY KEY,  -- of the bundle file's bytes
    name       TEXT    NOT NULL,
    first_seq  BIGINT  NOT NULL,
    last_seq   BIGINT  NOT NULL,
    tree_size  BIGINT  NOT NULL,     -- the checkpoint the bundle is checked against
    bytes      BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL
);
-- A hold covers every entry matching all of its given criteria; held entries are never
-- pruned or redacted. Holds are lifted, never deleted.
CREATE TABLE legal_holds (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "user"     TEXT,
    doctype    TEXT,
    report     TEXT,
    from_at    BIGINT,
    to_at      BIGINT,
    reason     TEXT    NOT NULL,
    owner      TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT,
    lifted_at  BIGINT,
    lifted_by  TEXT,
    CHECK ("user" IS NOT NULL OR doctype IS NOT NULL OR report IS NOT NULL
           OR from_at IS NOT NULL OR to_at IS NOT NULL)
);
