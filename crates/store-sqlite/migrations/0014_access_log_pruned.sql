-- Retention (issue 19): what is left of an entry whose payload was removed, by pruning
-- after it was archived to a bundle, or by redaction on request. Its seq and leaf hash
-- keep its place in the tree, so every proof and checkpoint stays valid; its time, user
-- and activity are kept when the site's retention settings say so (else NULL).
-- Made here in the site's file and moved into the log's own file with the other log
-- tables when the store opens (log_file.rs), like migration 0002's.
CREATE TABLE access_log_pruned (
    seq        INTEGER PRIMARY KEY,
    timestamp  INTEGER,
    "user"     TEXT,
    activity   TEXT,
    leaf_hash  BLOB NOT NULL,
    bundle     TEXT,               -- the archive bundle's SHA-256 (hex); NULL when redacted unarchived
    redacted   INTEGER NOT NULL DEFAULT 0
);
