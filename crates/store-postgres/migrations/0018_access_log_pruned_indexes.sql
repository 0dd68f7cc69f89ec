-- The review lists archived entries (issue 19) by who and when, newest first. By user: a
-- B-tree ending in seq, which also serves a redaction's search for one person's pruned
-- entries. By time: a BRIN index, a few pages for millions of rows and next to nothing to
-- keep up as pruning appends them, since timestamps never decrease with seq (the append
-- takes its time under the log's lock). Measured against a B-tree on time in the
-- retention bench (BENCHMARKS.md, "Indexes for the archived entries' list").

CREATE INDEX access_log_pruned_by_user ON access_log_pruned ("user", seq);
CREATE INDEX access_log_pruned_by_time ON access_log_pruned USING brin (timestamp);
