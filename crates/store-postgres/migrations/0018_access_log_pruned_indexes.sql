-- The review lists archived entries (issue 19) by who and when, newest first: an index
-- for each, ending in seq. Pruning appends to both at their right-hand end for time; the
-- user index also serves a redaction's search for one person's pruned entries.

CREATE INDEX access_log_pruned_by_user ON access_log_pruned ("user", seq);
CREATE INDEX access_log_pruned_by_time ON access_log_pruned (timestamp, seq);
