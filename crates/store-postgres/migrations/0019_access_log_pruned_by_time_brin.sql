-- The pruned entries' time index becomes BRIN: a few pages for millions of rows and next to
-- nothing to keep up as pruning appends them, since timestamps never decrease with seq
-- (the append takes its time under the log's lock). Measured against the B-tree of 0018
-- in the retention bench (BENCHMARKS.md, "Indexes for the archived entries' list"): the
-- B-tree slowed the removal of payloads and took 32 more bytes a pruned entry.

DROP INDEX access_log_pruned_by_time;
CREATE INDEX access_log_pruned_by_time ON access_log_pruned USING brin (timestamp);
