-- Retention (issue 19): what is left of an entry whose payload was removed, by pruning
-- after it was archived to a bundle, or by redaction on request. Its seq and leaf hash
-- keep its place in the tree, so every proof and checkpoint stays valid; its time, user
-- and activity are kept when the site's retention settings say so (else NULL).
-- Keep in step with the other backend's 0014_access_log_pruned.sql.
CREATE TABLE access_log_pruned (
    seq        BIGINT  PRIMARY KEY,
    timestamp  BIGINT,
    "user"     TEXT,
    activity   TEXT,
    leaf_hash  BYTEA NOT NULL,
    bundle     TEXT,               -- the archive bundle's SHA-256 (hex); NULL when redacted unarchived
    redacted   BIGINT NOT NULL DEFAULT 0
);
