-- The review indexes move off the commit path. Migration 0006 indexed access_log itself
-- eight ways, so every durable append wrote nine B-trees and, at each commit, as many
-- scattered pages to the WAL (appends at 64 writers fell to less than half). Now the
-- columns the review filters on are copied into access_log_review, in large batches,
-- after the entries are committed (LogStore::index_for_review, run by the recorder),
-- and the review indexes live there. access_log_review always holds exactly the entries
-- with seq up to its largest seq; the review reads the newer ones (the un-indexed
-- tail) from access_log by seq. The table is derived data: the entries themselves, and
-- their proofs, are only in access_log. The dashboard's sums over a period read it too
-- (hence byte_count), so access_log loses its time index as well: the log itself is then
-- indexed by seq alone, which every commit only appends to.
-- PostgreSQL keeps its indexes on access_log and makes access_log_review a view of it
-- (crates/store-postgres/migrations/0007_access_log_review_table.sql says why); the
-- review's SQL is the same on both.

CREATE TABLE access_log_review (
    seq                BIGINT  PRIMARY KEY,
    timestamp          BIGINT  NOT NULL,
    "user"             TEXT    NOT NULL,
    activity           TEXT    NOT NULL,
    export_from        TEXT,
    reference_document TEXT,
    report_name        TEXT,
    file_type          TEXT,
    outcome            TEXT    NOT NULL,
    byte_count         BIGINT
);

INSERT INTO access_log_review (seq, timestamp, "user", activity, export_from,
    reference_document, report_name, file_type, outcome, byte_count)
SELECT seq, timestamp, "user", activity, export_from, reference_document, report_name,
    file_type, outcome, byte_count
FROM access_log;

CREATE INDEX access_log_review_by_time ON access_log_review (timestamp, seq);
CREATE INDEX access_log_review_by_user ON access_log_review ("user", timestamp, seq);
CREATE INDEX access_log_review_by_activity ON access_log_review (activity, timestamp, seq);
CREATE INDEX access_log_review_by_export_from ON access_log_review (export_from, timestamp, seq);
CREATE INDEX access_log_review_by_report ON access_log_review (report_name, timestamp, seq);
CREATE INDEX access_log_review_by_file_type ON access_log_review (file_type, timestamp, seq);
CREATE INDEX access_log_review_by_outcome ON access_log_review (outcome, timestamp, seq);
CREATE INDEX access_log_review_by_document ON access_log_review (reference_document, timestamp, seq);

DROP INDEX access_log_by_time;
DROP INDEX access_log_by_user;
DROP INDEX access_log_by_activity;
DROP INDEX access_log_by_export_from;
DROP INDEX access_log_by_report;
DROP INDEX access_log_by_file_type;
DROP INDEX access_log_by_outcome;
DROP INDEX access_log_by_document;
