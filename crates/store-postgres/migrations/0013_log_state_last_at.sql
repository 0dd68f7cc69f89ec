-- The last entry's timestamp beside the tree state (issue 18), so that an append settles
-- its time under the row lock it already takes: when that lock was waited for, the row
-- is read again as the winner left it, while a subquery on access_log would still see the
-- statement's older snapshot. NULL until the next append (it then reads access_log once).
-- SQLite needs no column: its writer takes the lock before its first read.
ALTER TABLE log_state ADD COLUMN last_at BIGINT;
