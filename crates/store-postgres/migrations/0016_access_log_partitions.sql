-- Retention (issue 19): access_log is partitioned by seq range, 1,000,000 entries a
-- partition (log_partitioning.entries), so that a prune can detach and drop a whole
-- archived range at once instead of deleting it row by row and waiting for VACUUM.
--
-- Why by seq and not by month: seq is the primary key and what every read of the log
-- goes by (verify's walk, proofs, the review's tail), and a partitioned table's primary
-- key must contain the partition key; by month it would have to be (seq, timestamp).
-- Nothing is lost for age-based pruning: an entry's time never goes back as seq goes up
-- (verify checks it), so a seq range is a time range too.
--
-- The table as it is becomes the first partition, covering the seqs it holds; the
-- appender makes each next partition as the log reaches it (src/partitions.rs).
DROP VIEW access_log_review;
ALTER TABLE access_log RENAME TO access_log_s0;
ALTER INDEX access_log_pkey RENAME TO access_log_s0_pkey;
ALTER INDEX access_log_by_time RENAME TO access_log_s0_by_time;
ALTER INDEX access_log_by_user RENAME TO access_log_s0_by_user;
ALTER INDEX access_log_by_activity RENAME TO access_log_s0_by_activity;
ALTER INDEX access_log_by_export_from RENAME TO access_log_s0_by_export_from;
ALTER INDEX access_log_by_report RENAME TO access_log_s0_by_report;
ALTER INDEX access_log_by_file_type RENAME TO access_log_s0_by_file_type;
ALTER INDEX access_log_by_outcome RENAME TO access_log_s0_by_outcome;
ALTER INDEX access_log_by_document RENAME TO access_log_s0_by_document;

CREATE TABLE access_log (LIKE access_log_s0 INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (seq);
ALTER TABLE access_log ADD PRIMARY KEY (seq);
CREATE INDEX access_log_by_time ON access_log (timestamp, seq);
CREATE INDEX access_log_by_user ON access_log ("user", timestamp, seq);
CREATE INDEX access_log_by_activity ON access_log (activity, timestamp, seq);
CREATE INDEX access_log_by_export_from ON access_log (export_from, timestamp, seq);
CREATE INDEX access_log_by_report ON access_log (report_name, timestamp, seq);
CREATE INDEX access_log_by_file_type ON access_log (file_type, timestamp, seq);
CREATE INDEX access_log_by_outcome ON access_log (outcome, timestamp, seq);
CREATE INDEX access_log_by_document ON access_log (reference_document, timestamp, seq);

-- Each partition: the seqs [first_seq, end_seq) it holds (first_seq 0: from MINVALUE).
CREATE TABLE log_partitions (
    name      TEXT   PRIMARY KEY,
    first_seq BIGINT NOT NULL,
    end_seq   BIGINT NOT NULL
);
CREATE TABLE log_partitioning (
    id      INT    PRIMARY KEY CHECK (id = 1),
    entries BIGINT NOT NULL CHECK (entries > 0)
);
INSERT INTO log_partitioning (id, entries) VALUES (1, 1000000);

DO $$
DECLARE
    bound BIGINT;
BEGIN
    SELECT COALESCE(MAX(seq), 0) + 1 INTO bound FROM access_log_s0;
    EXECUTE format(
        'ALTER TABLE access_log ATTACH PARTITION access_log_s0 FOR VALUES FROM (MINVALUE) TO (%s)',
        bound);
    INSERT INTO log_partitions (name, first_seq, end_seq) VALUES ('access_log_s0', 0, bound);
END $$;

CREATE VIEW access_log_review AS
SELECT seq, timestamp, "user", activity, export_from, reference_document, report_name,
    file_type, outcome, byte_count
FROM access_log;
