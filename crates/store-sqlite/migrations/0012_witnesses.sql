-- Witness cosignatures (issue 18): each witness's cosignature line on a checkpoint, as it
-- answered, and each time a witness refused one. The checkpoint's own note is never
-- changed; a cosigned note is the note followed by its cosignature lines. No foreign key
-- to checkpoints: on SQLite that table lives in the log's own file (log_file.rs).
-- Keep in step with the other backend's 0012_witnesses.sql.
CREATE TABLE checkpoint_cosignatures (
    size        INTEGER NOT NULL,
    witness     TEXT    NOT NULL,
    line        TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (size, witness)
);
CREATE TABLE witness_refusals (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    witness TEXT    NOT NULL,
    size    INTEGER NOT NULL,
    status  INTEGER NOT NULL,
    message TEXT    NOT NULL,
    at      INTEGER NOT NULL
);
